package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage/pgtest"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPostgresOutage: mote on PostgreSQL. While the database is down, a
// message that must be stored (to an offline account) is refused with a
// wait error, not acknowledged as delivered; the sessions stay up; once
// the database is back the pool reconnects by itself and the next message
// is stored and delivered.
func TestPostgresOutage(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := xmpptest.Start(t, fmt.Sprintf("storage: {driver: postgres, dsn: %q, max_conns: 4}\n", dsn))
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	a := xmpptest.Login(t, s, "alice", "pw", "r")

	pgtest.Restart(t, func() {
		a.Send(`<message to='bob@localhost' type='chat' id='down'><body>lost?</body></message>`)
		for {
			el := a.NextElement()
			if el.Local == "message" && el.Attr("id") == "down" {
				e := el.Child(stanza.NSClient, "error")
				if el.Attr("type") != "error" || e == nil || e.Attr("type") != "wait" {
					t.Fatalf("a message that could not be stored: %s", el)
				}
				break
			}
		}
	})

	// The session survived; the database is back: the next message is
	// stored (the pool reconnects on its own, within a few tries).
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		id := fmt.Sprint("up", i)
		a.Send(`<message to='bob@localhost' type='chat' id='` + id + `'><body>stored</body></message>`)
		a.Send(`<iq type='get' id='p` + id + `' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
		bounced := false
		for {
			el := a.NextElement()
			if el.Local == "message" && el.Attr("id") == id && el.Attr("type") == "error" {
				bounced = true
			}
			if el.Local == "iq" && el.Attr("id") == "p"+id {
				break
			}
		}
		if !bounced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the database is back but messages are still refused")
		}
		time.Sleep(200 * time.Millisecond)
	}
	b := xmpptest.Login(t, s, "bob", "pw", "r")
	b.Send(`<presence/>`)
	for {
		el := b.NextElement()
		if el.Local == "message" {
			if body := el.Child(stanza.NSClient, "body"); body == nil || !strings.Contains(body.Text(), "stored") {
				t.Fatalf("offline message: %s", el)
			}
			break
		}
	}
}
