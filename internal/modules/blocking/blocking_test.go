package blocking_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const ns = "urn:xmpp:blocking"

var seq atomic.Int64

// next reads the next element, skipping presence when skipPresence.
func next(t *testing.T, c *xmpptest.Client, skipPresence bool) *stanza.Element {
	t.Helper()
	for {
		el := c.NextElement()
		if skipPresence && el.Local == "presence" {
			continue
		}
		return el
	}
}

// quiet checks that nothing is on its way to c.
func quiet(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	id := fmt.Sprintf("q%d", seq.Add(1))
	c.Send(`<iq type='get' id='` + id + `' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if el := c.NextElement(); el.Attr("id") != id {
		t.Fatalf("%s: expected nothing more, got %s", c.JID, el)
	}
}

func errorOf(t *testing.T, el *stanza.Element, cond stanza.Condition) stanza.Error {
	t.Helper()
	e, ok := stanza.ErrorFromElement(el)
	if el.Attr("type") != "error" || !ok || e.Condition != cond {
		t.Fatalf("want %s error, got %s", cond, el)
	}
	return e
}

// friends logs alice and bob in with a mutual presence subscription, both
// available, and drains what setting it up sent them.
func friends(t *testing.T) (*xmpptest.Server, *xmpptest.Client, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	a.Send(`<presence/>`)
	b.Send(`<presence/>`)
	for _, step := range []struct {
		from, to *xmpptest.Client
		toUser   string
		typ      string
	}{{a, b, "bob", "subscribe"}, {b, a, "alice", "subscribed"}, {b, a, "alice", "subscribe"}, {a, b, "bob", "subscribed"}} {
		step.from.Send(`<presence to='` + step.toUser + `@localhost' type='` + step.typ + `'/>`)
		for {
			el := step.to.NextElement()
			if el.Local == "presence" && el.Attr("type") == step.typ {
				break
			}
		}
	}
	// Drain the presence that followed the approvals.
	for _, c := range []*xmpptest.Client{a, b} {
		for {
			id := fmt.Sprintf("d%d", seq.Add(1))
			c.Send(`<iq type='get' id='` + id + `' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
			el := next(t, c, true)
			if el.Attr("id") == id {
				break
			}
		}
	}
	return s, a, b
}

func TestBlockAndUnblock(t *testing.T) {
	_, a, b := friends(t)
	a.Send(`<iq type='get' id='g1'><blocklist xmlns='` + ns + `'/></iq>`)
	if r := a.Expect(stanza.NSClient, "iq"); r.Child(ns, "blocklist") == nil || r.Child(ns, "blocklist").FirstChild() != nil {
		t.Fatalf("empty blocklist: %s", r)
	}
	a.Send(`<iq type='set' id='b0'><block xmlns='` + ns + `'/></iq>`)
	errorOf(t, a.Expect(stanza.NSClient, "iq"), stanza.BadRequest)

	a.Send(`<iq type='set' id='b1'><block xmlns='` + ns + `'><item jid='bob@localhost'/></block></iq>`)
	for got := 0; got < 2; got++ {
		el := a.Expect(stanza.NSClient, "iq")
		switch {
		case el.Attr("id") == "b1" && el.Attr("type") == "result":
		case el.Attr("type") == "set" && el.Child(ns, "block") != nil && el.Child(ns, "block").FirstChild().Attr("jid") == "bob@localhost":
		default:
			t.Fatalf("want result and push, got %s", el)
		}
	}
	// Bob stops receiving alice's presence, with an unavailable first.
	if el := b.Expect(stanza.NSClient, "presence"); el.Attr("type") != "unavailable" || el.Attr("from") != "alice@localhost/phone" {
		t.Fatalf("want unavailable from alice, got %s", el)
	}
	a.Send(`<presence><show>away</show></presence>`)
	a.Expect(stanza.NSClient, "presence") // her own echo
	quiet(t, b)

	// Inbound from the blocked JID: messages and IQs bounce as if alice
	// were not there, presence vanishes.
	b.Send(`<message to='alice@localhost/phone' type='chat' id='m1'><body>hi</body></message>`)
	errorOf(t, b.Expect(stanza.NSClient, "message"), stanza.ServiceUnavailable)
	b.Send(`<iq to='alice@localhost/phone' type='get' id='i1'><query xmlns='urn:example'/></iq>`)
	errorOf(t, b.Expect(stanza.NSClient, "iq"), stanza.ServiceUnavailable)
	b.Send(`<presence><show>dnd</show></presence>`)
	b.Expect(stanza.NSClient, "presence") // his own echo
	quiet(t, a)

	// Outbound to the blocked JID: not-acceptable with <blocked/>.
	a.Send(`<message to='bob@localhost' type='chat' id='m2'><body>hi</body></message>`)
	el := a.Expect(stanza.NSClient, "message")
	errorOf(t, el, stanza.NotAcceptable)
	if el.Child(stanza.NSClient, "error").Child("urn:xmpp:blocking:errors", "blocked") == nil {
		t.Fatalf("no <blocked/> condition: %s", el)
	}
	quiet(t, b)

	// Unblocking all restores delivery and sends alice's current presence.
	a.Send(`<iq type='set' id='u1'><unblock xmlns='` + ns + `'/></iq>`)
	for got := 0; got < 2; got++ {
		el := a.Expect(stanza.NSClient, "iq")
		if !(el.Attr("id") == "u1" && el.Attr("type") == "result") && el.Child(ns, "unblock") == nil {
			t.Fatalf("want result and push, got %s", el)
		}
	}
	if el := b.Expect(stanza.NSClient, "presence"); el.Attr("from") != "alice@localhost/phone" || el.Attr("type") != "" {
		t.Fatalf("want alice's presence, got %s", el)
	}
	b.Send(`<message to='alice@localhost/phone' type='chat' id='m3'><body>back</body></message>`)
	if el := a.Expect(stanza.NSClient, "message"); el.Attr("id") != "m3" {
		t.Fatalf("got %s", el)
	}
}

// TestBlockedWhileOffline: a message from a blocked JID to an account with
// no session is refused, not stored.
func TestBlockedWhileOffline(t *testing.T) {
	s, a, b := friends(t)
	a.Send(`<iq type='set' id='b1'><block xmlns='` + ns + `'><item jid='localhost'/></block></iq>`)
	if el := a.Expect(stanza.NSClient, "iq"); el.Attr("type") != "result" {
		t.Fatalf("block the whole domain: %s", el)
	}
	a.Close()
	b.Send(`<message to='alice@localhost' type='chat' id='m1'><body>hi</body></message>`)
	for {
		el := b.NextElement()
		if el.Local == "presence" {
			continue
		}
		errorOf(t, el, stanza.ServiceUnavailable)
		break
	}
	a = xmpptest.Login(t, s, "alice", "secret", "phone")
	a.Send(`<presence/>`)
	a.Expect(stanza.NSClient, "presence")
	quiet(t, a)
}

// TestRecreatedAccountInheritsNoBlocklist: an account deleted in storage
// (as `mote user del` does) and created again starts with no blocklist.
func TestRecreatedAccountInheritsNoBlocklist(t *testing.T) {
	s, a, b := friends(t)
	a.Send(`<iq type='set' id='b1'><block xmlns='` + ns + `'><item jid='bob@localhost'/></block></iq>`)
	if el := a.Expect(stanza.NSClient, "iq"); el.Attr("type") != "result" {
		t.Fatal(el)
	}
	a.Close()
	if err := s.Store().Users().DeleteUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	s.AddUser(t, "alice", "secret")
	a = xmpptest.Login(t, s, "alice", "secret", "phone")
	a.Send(`<iq type='get' id='g'><blocklist xmlns='` + ns + `'/></iq>`)
	if el := a.Expect(stanza.NSClient, "iq"); el.Child(ns, "blocklist") == nil || el.Child(ns, "blocklist").FirstChild() != nil {
		t.Fatalf("the new alice inherited a blocklist: %s", el)
	}
	b.Send(`<message to='alice@localhost/phone' type='chat' id='m'><body>hello again</body></message>`)
	if el := a.Expect(stanza.NSClient, "message"); el.Attr("id") != "m" {
		t.Fatalf("got %s", el)
	}
}

// TestNoPresenceLeakAfterBlockedCancellation: when a block drops a
// contact's cancellation, the two rosters disagree; the contact's roster
// (which says the user may no longer see it) decides, so a new resource
// of the user is not sent the contact's presence (RFC 6121 §4.3.2).
func TestNoPresenceLeakAfterBlockedCancellation(t *testing.T) {
	s, a, b := friends(t)
	a.Send(`<iq type='set' id='b1'><block xmlns='` + ns + `'><item jid='bob@localhost'/></block></iq>`)
	if el := next(t, a, true); el.Attr("id") != "b1" {
		t.Fatal(el)
	}
	if el := b.Expect(stanza.NSClient, "presence"); el.Attr("type") != "unavailable" {
		t.Fatalf("want alice's unavailable, got %s", el)
	}
	b.Send(`<presence to='alice@localhost' type='unsubscribed'/>`) // dropped by the block
	quiet(t, b)
	a.Send(`<iq type='set' id='u1'><unblock xmlns='` + ns + `'/></iq>`)
	if el := next(t, a, true); el.Attr("id") != "u1" {
		t.Fatal(el)
	}
	a2 := xmpptest.Login(t, s, "alice", "secret", "laptop")
	a2.Send(`<presence/>`)
	for range 2 { // its own echo and the other resource's presence
		if el := a2.Expect(stanza.NSClient, "presence"); el.Attr("from") == "bob@localhost/sensor" {
			t.Fatalf("bob's presence leaked: %s", el)
		}
	}
	quiet(t, a2)
}

// TestBlockedRequestNotRedelivered: a subscription request from a JID
// blocked since it was stored is not delivered at login.
func TestBlockedRequestNotRedelivered(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "spam", "secret")
	sp := xmpptest.Login(t, s, "spam", "secret", "x")
	sp.Send(`<presence to='alice@localhost' type='subscribe'/>`)
	quiet(t, sp)
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	a.Send(`<iq type='set' id='b1'><block xmlns='` + ns + `'><item jid='spam@localhost'/></block></iq>`)
	if el := a.Expect(stanza.NSClient, "iq"); el.Attr("type") != "result" {
		t.Fatal(el)
	}
	a.Send(`<presence/>`)
	a.Expect(stanza.NSClient, "presence") // its own echo
	quiet(t, a)
}
