package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mote-xmpp/mote/internal/storage/pgtest"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// TestMigrateToPostgres: a deployment on the embedded SQLite database
// (accounts, a roster, an offline message, an archived message, a vCard,
// a pubsub item, a provisioned device) is copied with `mote migrate` into
// an empty PostgreSQL database; the counts are verified, and mote on
// PostgreSQL serves the same data.
func TestMigrateToPostgres(t *testing.T) {
	dir, addr, srv := startFleetServer(t, "")
	mote(t, dir, "", "user", "add", "alice", "--password", "pw-a", "-c", "mote.yaml")
	mote(t, dir, "", "user", "add", "bob", "--password", "pw-b", "-c", "mote.yaml")
	mote(t, dir, "", "device", "provision", "meter", "--group", "lab", "--out", "certs", "-c", "mote.yaml")

	login := func(user, pw, res string) *xmpptest.Client {
		t.Helper()
		c := xmpptest.NewClient(t, xmpptest.DialTCP(t, addr), "localhost")
		c.OpenStream()
		c.StartTLS()
		if el := c.AuthSCRAM("SCRAM-SHA-256", user, pw); el.Local != "success" {
			t.Fatalf("login %s: %s", user, el)
		}
		c.Restart()
		c.Bind(res)
		return c
	}
	iq := func(c *xmpptest.Client, id, typ, to, payload string) *stanza.Element {
		t.Helper()
		c.Send(fmt.Sprintf(`<iq type='%s' id='%s'%s>%s</iq>`, typ, id, map[bool]string{true: "", false: " to='" + to + "'"}[to == ""], payload))
		for {
			el := c.NextElement()
			if el.Local == "iq" && el.Attr("id") == id {
				if el.Attr("type") != "result" {
					t.Fatalf("iq %s: %s", id, el)
				}
				return el
			}
		}
	}
	a := login("alice", "pw-a", "r")
	iq(a, "r1", "set", "", `<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query>`)
	iq(a, "v1", "set", "", `<vCard xmlns='vcard-temp'><FN>Alice A.</FN></vCard>`)
	iq(a, "p1", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><create node='notes'/></pubsub>`)
	iq(a, "p2", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><publish node='notes'><item id='n1'><note xmlns='urn:x'>kept</note></item></publish></pubsub>`)
	a.Send(`<message to='bob@localhost' type='chat' id='m1'><body>while you were away</body></message>`) // bob is offline: stored and archived
	iq(a, "ping", "get", "localhost", `<ping xmlns='urn:xmpp:ping'/>`)
	a.Send(`</stream:stream>`)

	// Stop the server, copy, and serve from PostgreSQL.
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	dsn := pgtest.DSN(t)
	out := mote(t, dir, "", "migrate", "--from", "sqlite:"+filepath.Join(dir, "mote-data", "mote.db"), "--to", dsn)
	if !strings.Contains(out, "copied and verified") {
		t.Fatalf("migrate:\n%s", out)
	}
	t.Logf("migrate:\n%s", out)
	cfg, err := os.ReadFile(filepath.Join(dir, "mote.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf("storage: {driver: postgres, dsn: %q}\n", dsn)...)
	if err := os.WriteFile(filepath.Join(dir, "mote.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	serveMote(t, dir)

	b := login("bob", "pw-b", "r")
	b.Send(`<presence/>`)
	for el := b.NextElement(); ; el = b.NextElement() {
		if el.Local == "message" && el.Child(stanza.NSClient, "body") != nil {
			if el.Child(stanza.NSClient, "body").Text() != "while you were away" {
				t.Fatalf("offline message: %s", el)
			}
			break
		}
	}
	a = login("alice", "pw-a", "again")
	if r := iq(a, "r2", "get", "", `<query xmlns='jabber:iq:roster'/>`); !strings.Contains(r.String(), "bob@localhost") || !strings.Contains(r.String(), "Friends") {
		t.Fatalf("roster: %s", r)
	}
	if r := iq(a, "v2", "get", "", `<vCard xmlns='vcard-temp'/>`); !strings.Contains(r.String(), "Alice A.") {
		t.Fatalf("vCard: %s", r)
	}
	if r := iq(a, "p3", "get", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><items node='notes'/></pubsub>`); !strings.Contains(r.String(), "kept") {
		t.Fatalf("pubsub items: %s", r)
	}
	a.Send(`<iq type='set' id='mam'><query xmlns='urn:xmpp:mam:2' queryid='q'/></iq>`)
	found := false
	for el := a.NextElement(); ; el = a.NextElement() {
		if el.Local == "message" && strings.Contains(el.String(), "while you were away") {
			found = true
		}
		if el.Local == "iq" && el.Attr("id") == "mam" {
			break
		}
	}
	if !found {
		t.Fatal("the archived message is not in alice's archive after the migration")
	}
	bundle, err := os.ReadFile(filepath.Join(dir, "certs", "meter.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c := xmpptest.NewClient(t, xmpptest.DialTCP(t, addr), "localhost")
	cert := mustPair(t, bundle)
	c.Certificate = &cert
	c.OpenStream()
	c.StartTLS()
	if el := c.AuthExternal(""); el.Local != "success" {
		t.Fatalf("device after the migration: %s", el)
	}
}
