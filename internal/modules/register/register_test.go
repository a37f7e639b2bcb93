package register_test

import (
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

func TestPasswordChange(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "old-secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "old-secret", "phone")

	for _, tc := range []struct{ name, query string }{
		{"empty password", `<username>alice</username><password/>`},
		{"someone else's account", `<username>bob</username><password>stolen-pw</password>`},
		{"no username", `<password>new-secret</password>`},
	} {
		a.Send(`<iq type='set' id='bad' to='localhost'><query xmlns='jabber:iq:register'>` + tc.query + `</query></iq>`)
		r := a.Expect(stanza.NSClient, "iq")
		if e, ok := stanza.ErrorFromElement(r); r.Attr("type") != "error" || !ok || e.Condition != stanza.BadRequest {
			t.Fatalf("%s: want bad-request, got %s", tc.name, r)
		}
		if strings.Contains(r.String(), "stolen-pw") || strings.Contains(r.String(), "new-secret") {
			t.Fatalf("%s: the error echoes the password: %s", tc.name, r)
		}
	}

	a.Send(`<iq type='set' id='ch1' to='localhost'><query xmlns='jabber:iq:register'><username>alice</username><password>new-secret</password></query></iq>`)
	if r := a.Expect(stanza.NSClient, "iq"); r.Attr("type") != "result" {
		t.Fatalf("password change: %s", r)
	}
	xmpptest.Login(t, s, "alice", "new-secret", "laptop")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	if el := c.AuthSCRAM("SCRAM-SHA-256", "alice", "old-secret"); el.Local != "failure" {
		t.Fatalf("the old password still works: %s", el)
	}
}

// TestRemoveAccount: the account's sessions end with not-authorized, its
// contacts lose their subscriptions, and an account registered again under
// the same name starts empty (XEP-0077 §3.2).
func TestRemoveAccount(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	a2 := xmpptest.Login(t, s, "alice", "secret", "laptop")
	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	for _, c := range []*xmpptest.Client{a, a2, b} {
		c.Send(`<presence/>`)
	}
	// A mutual subscription.
	subscribe(t, a, b, "alice", "bob")
	subscribe(t, b, a, "bob", "alice")

	a.Send(`<iq type='set' id='rm'><query xmlns='jabber:iq:register'><remove/></query></iq>`)
	for {
		r := a.NextElement()
		if r.Local == "presence" || (r.Local == "iq" && r.Attr("type") == "set") {
			continue // what the subscriptions set up still sends
		}
		if r.Attr("type") != "result" || r.Attr("id") != "rm" {
			t.Fatalf("remove: %s", r)
		}
		break
	}
	a.ExpectStreamError(stanza.StreamNotAuthorized)
	a2.ExpectStreamError(stanza.StreamNotAuthorized)

	// Bob's roster keeps the item, without any subscription.
	b.Send(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	for {
		el := b.NextElement()
		if el.Local != "iq" || el.Attr("id") != "r" {
			continue // the pushes and presence of the cancellation
		}
		it := el.FirstChild().Child("jabber:iq:roster", "item")
		if it == nil || it.Attr("jid") != "alice@localhost" || it.Attr("subscription") != "none" || it.Attr("ask") != "" {
			t.Fatalf("bob's roster after alice left: %s", el)
		}
		break
	}

	s.AddUser(t, "alice", "secret")
	a = xmpptest.Login(t, s, "alice", "secret", "phone")
	a.Send(`<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>`)
	if r := a.Expect(stanza.NSClient, "iq"); r.FirstChild() == nil || r.FirstChild().FirstChild() != nil {
		t.Fatalf("the new alice inherited a roster: %s", r)
	}
}

// subscribe makes from's account subscribed to to's (from sends
// subscribe, to approves), with both clients having requested their roster
// and being available, and drains what the exchange sends them.
func subscribe(t *testing.T, from, to *xmpptest.Client, fromUser, toUser string) {
	t.Helper()
	from.Send(`<presence to='` + toUser + `@localhost' type='subscribe'/>`)
	for {
		if el := to.NextElement(); el.Local == "presence" && el.Attr("type") == "subscribe" {
			break
		}
	}
	to.Send(`<presence to='` + fromUser + `@localhost' type='subscribed'/>`)
	for {
		if el := from.NextElement(); el.Local == "presence" && el.Attr("type") == "subscribed" {
			break
		}
	}
}
