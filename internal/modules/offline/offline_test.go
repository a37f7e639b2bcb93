package offline_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

func start(t *testing.T, cfg string) (*xmpptest.Server, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, cfg)
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	return s, xmpptest.Login(t, s, "alice", "secret", "phone")
}

// pong checks that the next element c receives is the answer to a ping,
// i.e. that nothing else was sent to it before.
func pong(t *testing.T, c *xmpptest.Client, id string) {
	t.Helper()
	c.Send(`<iq type='get' id='` + id + `' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if r := c.Expect(stanza.NSClient, "iq"); r.Attr("id") != id || r.Attr("type") != "result" {
		t.Fatalf("want the ping result, got %s", r)
	}
}

// TestStoredAndDelivered: chat and normal messages to an account with no
// available resource wait for its next initial presence, stamped with the
// time the server received them (XEP-0160, XEP-0203); headlines do not.
func TestStoredAndDelivered(t *testing.T) {
	s, a := start(t, "")
	before := time.Now().UTC().Add(-time.Second)
	a.Send(`<message to='bob@localhost' type='chat' id='m1'><body>one</body></message>`)
	a.Send(`<message to='bob@localhost/gone' id='m2'><body>two</body></message>`)
	a.Send(`<message to='bob@localhost' type='headline' id='m3'><body>news</body></message>`)
	pong(t, a, "p1") // no error came back for any of them

	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	pong(t, b, "p2") // nothing before initial presence
	b.Send(`<presence><priority>-1</priority></presence>`)
	b.Expect(stanza.NSClient, "presence")
	pong(t, b, "p3") // nor to a negative priority
	b.Send(`<presence/>`)
	b.Expect(stanza.NSClient, "presence")
	for i, want := range []string{"one", "two"} {
		m := b.Expect(stanza.NSClient, "message")
		if m.Attr("id") != fmt.Sprintf("m%d", i+1) || m.Attr("from") != "alice@localhost/phone" || m.Child(stanza.NSClient, "body").Text() != want {
			t.Fatalf("message %d: %s", i, m)
		}
		d := m.Child("urn:xmpp:delay", "delay")
		if d == nil || d.Attr("from") != "localhost" {
			t.Fatalf("no delay stamp: %s", m)
		}
		ts, err := time.Parse(time.RFC3339, d.Attr("stamp"))
		if err != nil || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
			t.Fatalf("stamp %q: %v", d.Attr("stamp"), err)
		}
	}
	pong(t, b, "p4") // the headline was not stored

	// Delivered once: the next login finds nothing.
	b.Close()
	b = xmpptest.Login(t, s, "bob", "secret", "sensor")
	b.Send(`<presence/>`)
	b.Expect(stanza.NSClient, "presence")
	pong(t, b, "p5")
}

// TestQuota: over the quota the sender gets an error; nothing is dropped
// silently.
func TestQuota(t *testing.T) {
	s, a := start(t, "modules: {offline: {max_messages: 2}}")
	for i := range 3 {
		a.Send(fmt.Sprintf(`<message to='bob@localhost' type='chat' id='q%d'><body>%d</body></message>`, i, i))
	}
	r := a.Expect(stanza.NSClient, "message")
	e, ok := stanza.ErrorFromElement(r)
	if r.Attr("id") != "q2" || r.Attr("type") != "error" || !ok || e.Condition != stanza.ServiceUnavailable {
		t.Fatalf("want service-unavailable for q2, got %s", r)
	}
	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	b.Send(`<presence/>`)
	b.Expect(stanza.NSClient, "presence")
	for _, id := range []string{"q0", "q1"} {
		if m := b.Expect(stanza.NSClient, "message"); m.Attr("id") != id {
			t.Fatalf("want %s, got %s", id, m)
		}
	}
	pong(t, b, "p")
}

// TestUnknownAccount: a message to an account that does not exist is
// refused, not stored.
func TestUnknownAccount(t *testing.T) {
	_, a := start(t, "")
	a.Send(`<message to='nobody@localhost' type='chat' id='n1'><body>x</body></message>`)
	r := a.Expect(stanza.NSClient, "message")
	if e, ok := stanza.ErrorFromElement(r); !ok || e.Condition != stanza.ServiceUnavailable {
		t.Fatalf("got %s", r)
	}
}

// TestDeletedAccountInheritsNothing: an account deleted and registered
// again under the same name gets none of the old account's messages.
func TestDeletedAccountInheritsNothing(t *testing.T) {
	s, a := start(t, "")
	a.Send(`<message to='bob@localhost' type='chat' id='old'><body>for the old bob</body></message>`)
	pong(t, a, "p1")
	if err := s.Store().Users().DeleteUser(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	s.AddUser(t, "bob", "secret")
	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	b.Send(`<presence/>`)
	b.Expect(stanza.NSClient, "presence")
	pong(t, b, "p2")
}

// TestSurvivesRestart: messages stored before a restart are delivered
// after it (the server's memory of who has messages is rebuilt).
func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := "data_dir: " + dir
	s, a := start(t, cfg)
	a.Send(`<message to='bob@localhost' type='chat' id='r1'><body>before</body></message>`)
	pong(t, a, "p1")
	s.Stop(t)

	s2 := xmpptest.Start(t, cfg)
	b := xmpptest.Login(t, s2, "bob", "secret", "sensor")
	b.Send(`<presence/>`)
	b.Expect(stanza.NSClient, "presence")
	if m := b.Expect(stanza.NSClient, "message"); m.Attr("id") != "r1" {
		t.Fatalf("got %s", m)
	}
}

// TestLargeBacklog: a backlog much larger than the outbound queue limits
// is delivered whole, in bursts, without the session being taken for a
// slow consumer.
func TestLargeBacklog(t *testing.T) {
	s, a := start(t, "c2s: {outbound_queue_bytes: 16384, outbound_queue: 64}\nmodules: {offline: {max_messages: 500}}")
	body := strings.Repeat("x", 900)
	const n = 300
	for i := range n {
		a.Send(fmt.Sprintf(`<message to='bob@localhost' type='chat' id='b%d'><body>%s</body></message>`, i, body))
	}
	pong(t, a, "p1")
	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	b.Send(`<presence/>`)
	b.Expect(stanza.NSClient, "presence")
	for i := range n {
		if m := b.Expect(stanza.NSClient, "message"); m.Attr("id") != fmt.Sprintf("b%d", i) {
			t.Fatalf("message %d: %s", i, m)
		}
	}
	pong(t, b, "p2")
}

// TestBlockedSenderNotDelivered: a message stored before its sender was
// blocked is not delivered afterwards (XEP-0191).
func TestBlockedSenderNotDelivered(t *testing.T) {
	s, a := start(t, "")
	a.Send(`<message to='bob@localhost' type='chat' id='spam'><body>buy</body></message>`)
	pong(t, a, "p1")
	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	b.Send(`<iq type='set' id='bl'><block xmlns='urn:xmpp:blocking'><item jid='alice@localhost'/></block></iq>`)
	if r := b.Expect(stanza.NSClient, "iq"); r.Attr("type") != "result" {
		t.Fatal(r)
	}
	b.Send(`<presence/>`)
	b.Expect(stanza.NSClient, "presence")
	pong(t, b, "p2")
}
