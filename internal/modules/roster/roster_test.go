package roster_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// want is one element a client must receive, in any order among others
// expected at the same time (pushes, presence and results of one step race
// with each other by design; their relative order is not specified).
type want struct {
	desc string
	ok   func(*stanza.Element) bool
}

// expect reads exactly len(ws) elements and matches each to a distinct want.
func expect(t *testing.T, c *xmpptest.Client, ws ...want) []*stanza.Element {
	t.Helper()
	got := make([]*stanza.Element, 0, len(ws))
	used := make([]bool, len(ws))
	for range ws {
		el := c.NextElement()
		matched := false
		for i, w := range ws {
			if !used[i] && w.ok(el) {
				used[i], matched = true, true
				break
			}
		}
		if !matched {
			var missing []string
			for i, w := range ws {
				if !used[i] {
					missing = append(missing, w.desc)
				}
			}
			t.Fatalf("%s got unexpected %s\nstill expecting: %s", c.JID, el, strings.Join(missing, "; "))
		}
		got = append(got, el)
	}
	return got
}

var seq atomic.Int64

// quiet checks that nothing else is on its way to c: a ping to the server
// must be answered next (one session's stanzas are delivered in order).
func quiet(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	id := fmt.Sprintf("q%d", seq.Add(1))
	c.Send(`<iq type='get' id='` + id + `' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	el := c.NextElement()
	if el.Local != "iq" || el.Attr("id") != id || el.Attr("type") != "result" {
		t.Fatalf("%s: expected nothing more, got %s", c.JID, el)
	}
}

func result(id string) want {
	return want{"result " + id, func(e *stanza.Element) bool {
		return e.Local == "iq" && e.Attr("type") == "result" && e.Attr("id") == id
	}}
}

func iqError(id, cond string) want {
	return want{"error " + id + " " + cond, func(e *stanza.Element) bool {
		if e.Local != "iq" || e.Attr("type") != "error" || e.Attr("id") != id {
			return false
		}
		se, ok := stanza.ErrorFromElement(e)
		return ok && string(se.Condition) == cond
	}}
}

// push matches a roster push of the item jid with attributes attrs
// ("subscription=both", "ask=subscribe", "approved=true", "name=X";
// absent attributes must be absent unless listed).
func push(jid string, attrs ...string) want {
	return want{"push " + jid + " " + strings.Join(attrs, " "), func(e *stanza.Element) bool {
		if e.Local != "iq" || e.Attr("type") != "set" {
			return false
		}
		q := e.Child("jabber:iq:roster", "query")
		if q == nil || q.Attr("ver") == "" {
			return false
		}
		it := q.Child("jabber:iq:roster", "item")
		return it != nil && itemIs(it, jid, attrs...)
	}}
}

func itemIs(it *stanza.Element, jid string, attrs ...string) bool {
	if it.Attr("jid") != jid {
		return false
	}
	m := map[string]string{"ask": "", "approved": ""}
	for _, a := range attrs {
		k, v, _ := strings.Cut(a, "=")
		m[k] = v
	}
	for k, v := range m {
		if it.Attr(k) != v {
			return false
		}
	}
	return true
}

func presence(typ, from string) want {
	return want{"presence " + typ + " from " + from, func(e *stanza.Element) bool {
		return e.Local == "presence" && e.Attr("type") == typ && e.Attr("from") == from
	}}
}

func start(t *testing.T, cfg string, users ...string) *xmpptest.Server {
	t.Helper()
	s := xmpptest.Start(t, cfg)
	for _, u := range users {
		s.AddUser(t, u, "secret")
	}
	return s
}

// online logs in, fetches the roster (checking its items) and sends
// initial presence, consuming the server's echo of it.
func online(t *testing.T, s *xmpptest.Server, user, res string, items ...string) *xmpptest.Client {
	t.Helper()
	return onlineWith(t, s, user, res, items)
}

// onlineWith is online that also expects the elements also after the
// initial presence (the presence of other resources, waiting requests).
func onlineWith(t *testing.T, s *xmpptest.Server, user, res string, items []string, also ...want) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Login(t, s, user, "secret", res)
	c.Send(`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	r := c.Expect(stanza.NSClient, "iq")
	q := r.Child("jabber:iq:roster", "query")
	if r.Attr("type") != "result" || q == nil {
		t.Fatalf("roster get: %s", r)
	}
	var got []string
	for _, it := range q.ChildElements() {
		got = append(got, it.Attr("jid")+":"+it.Attr("subscription"))
	}
	if strings.Join(got, ",") != strings.Join(items, ",") {
		t.Fatalf("%s roster = %v, want %v", user, got, items)
	}
	c.Send(`<presence/>`)
	expect(t, c, append([]want{presence("", c.JID)}, also...)...)
	return c
}

func TestRosterGetSetRemove(t *testing.T) {
	s := start(t, "", "alice")
	a1 := online(t, s, "alice", "one")
	a2 := onlineWith(t, s, "alice", "two", nil, presence("", "alice@localhost/one"))
	expect(t, a1, presence("", "alice@localhost/two"))
	a1.Send(`<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='Nurse@Example.com' name='Nurse'><group>Servants</group><group>Staff</group></item></query></iq>`)
	expect(t, a1, result("s1"), push("nurse@example.com", "subscription=none", "name=Nurse"))
	expect(t, a2, push("nurse@example.com", "subscription=none", "name=Nurse"))

	// A resource that never asked for the roster gets no pushes (§2.1.6).
	a3 := xmpptest.Login(t, s, "alice", "secret", "three")
	a1.Send(`<iq type='set' id='s2'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' name='Angelica'/></query></iq>`)
	els := expect(t, a1, result("s2"), push("nurse@example.com", "subscription=none", "name=Angelica"))
	expect(t, a2, push("nurse@example.com", "subscription=none", "name=Angelica"))
	quiet(t, a3)

	var ver string
	for _, e := range els {
		if q := e.Child("jabber:iq:roster", "query"); q != nil {
			ver = q.Attr("ver")
		}
	}
	// Versioning (§2.6): the current version gets an empty result, an
	// old one the whole roster with the current version.
	a3.Send(`<iq type='get' id='g1'><query xmlns='jabber:iq:roster' ver='` + ver + `'/></iq>`)
	if r := a3.Expect(stanza.NSClient, "iq"); r.Attr("type") != "result" || r.FirstChild() != nil {
		t.Fatalf("get with current ver: %s", r)
	}
	a3.Send(`<iq type='get' id='g2'><query xmlns='jabber:iq:roster' ver='0'/></iq>`)
	r := a3.Expect(stanza.NSClient, "iq")
	q := r.Child("jabber:iq:roster", "query")
	if q == nil || q.Attr("ver") != ver {
		t.Fatalf("get with old ver: %s", r)
	}
	it := q.Child("jabber:iq:roster", "item")
	if it == nil || !itemIs(it, "nurse@example.com", "subscription=none", "name=Angelica") || it.FirstChild() != nil {
		t.Fatalf("item after update (groups replaced by none): %s", r)
	}

	a1.Send(`<iq type='set' id='s3'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' subscription='remove'/></query></iq>`)
	expect(t, a1, result("s3"), push("nurse@example.com", "subscription=remove"))
	expect(t, a2, push("nurse@example.com", "subscription=remove"))
	expect(t, a3, push("nurse@example.com", "subscription=remove"))
	a1.Send(`<iq type='get' id='g3'><query xmlns='jabber:iq:roster'/></iq>`)
	if r := a1.Expect(stanza.NSClient, "iq"); r.FirstChild() == nil || r.FirstChild().FirstChild() != nil {
		t.Fatalf("roster after remove: %s", r)
	}
}

func TestRosterErrors(t *testing.T) {
	s := start(t, "modules: {roster: {max_items: 2}}", "alice", "bob")
	a := online(t, s, "alice", "one")
	for _, tc := range []struct{ iq, cond string }{
		{`<iq type='set' id='e1'><query xmlns='jabber:iq:roster'><item jid='a@example.com'/><item jid='b@example.com'/></query></iq>`, "bad-request"},
		{`<iq type='set' id='e2'><query xmlns='jabber:iq:roster'><item jid='a@example.com'><group></group></item></query></iq>`, "not-acceptable"},
		{`<iq type='set' id='e3'><query xmlns='jabber:iq:roster'><item jid='a@example.com'><group>x</group><group>x</group></item></query></iq>`, "bad-request"},
		{`<iq type='set' id='e4'><query xmlns='jabber:iq:roster'><item jid='nobody@example.com' subscription='remove'/></query></iq>`, "item-not-found"},
		{`<iq type='get' id='e5' to='bob@localhost'><query xmlns='jabber:iq:roster'/></iq>`, "forbidden"},
		{`<iq type='set' id='e6'><query xmlns='jabber:iq:roster'><item jid='a@example.com/res'/></query></iq>`, "bad-request"},
		{`<iq type='set' id='e7'><query xmlns='jabber:iq:roster'><item jid='a@example.com' name='` + strings.Repeat("n", 1024) + `'/></query></iq>`, "not-acceptable"},
	} {
		a.Send(tc.iq)
		expect(t, a, iqError(tc.iq[strings.Index(tc.iq, "id='")+4:strings.Index(tc.iq, "id='")+6], tc.cond))
	}
	for i := range 2 {
		id := fmt.Sprintf("ok%d", i)
		a.Send(`<iq type='set' id='` + id + `'><query xmlns='jabber:iq:roster'><item jid='c` + id + `@example.com'/></query></iq>`)
		expect(t, a, result(id), push("c"+id+"@example.com", "subscription=none"))
	}
	a.Send(`<iq type='set' id='full'><query xmlns='jabber:iq:roster'><item jid='third@example.com'/></query></iq>`)
	expect(t, a, iqError("full", "not-allowed"))
	quiet(t, a)
}

// TestSubscriptionHandshake walks both directions of a mutual
// subscription between two online accounts and then presence over it.
func TestSubscriptionHandshake(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := online(t, s, "alice", "phone")
	b := online(t, s, "bob", "sensor")

	a.Send(`<presence to='bob@localhost' type='subscribe'><status>hi</status></presence>`)
	expect(t, a, push("bob@localhost", "subscription=none", "ask=subscribe"))
	req := expect(t, b, presence("subscribe", "alice@localhost"))[0]
	if st := req.Child(stanza.NSClient, "status"); st == nil || st.Text() != "hi" {
		t.Fatalf("request lost its status: %s", req)
	}
	quiet(t, b) // no push: bob has no item for alice yet

	b.Send(`<presence to='alice@localhost' type='subscribed'/>`)
	expect(t, b, push("alice@localhost", "subscription=from"))
	// Alice: the push, the approval and bob's current presence.
	expect(t, a, push("bob@localhost", "subscription=to"), presence("subscribed", "bob@localhost"), presence("", "bob@localhost/sensor"))

	b.Send(`<presence to='alice@localhost' type='subscribe'/>`)
	expect(t, b, push("alice@localhost", "subscription=from", "ask=subscribe"))
	expect(t, a, presence("subscribe", "bob@localhost"))
	a.Send(`<presence to='bob@localhost' type='subscribed'/>`)
	expect(t, a, push("bob@localhost", "subscription=both"))
	expect(t, b, push("alice@localhost", "subscription=both"), presence("subscribed", "alice@localhost"), presence("", "alice@localhost/phone"))

	// Presence now flows both ways, to contacts and own resources.
	a.Send(`<presence><show>away</show></presence>`)
	expect(t, a, presence("", "alice@localhost/phone"))
	expect(t, b, presence("", "alice@localhost/phone"))
	// A second resource of bob is probed for at initial presence.
	b2 := xmpptest.Login(t, s, "bob", "secret", "laptop")
	b2.Send(`<presence/>`)
	expect(t, b2, presence("", "bob@localhost/laptop"), presence("", "alice@localhost/phone"), presence("", "bob@localhost/sensor"))
	expect(t, b, presence("", "bob@localhost/laptop"))
	expect(t, a, presence("", "bob@localhost/laptop"))

	// A dropped connection is an unavailable presence (§4.5.2).
	b2.Conn.Close()
	expect(t, a, presence("unavailable", "bob@localhost/laptop"))
	expect(t, b, presence("unavailable", "bob@localhost/laptop"))

	// Unsubscribing stops the flow and tells the other side.
	a.Send(`<presence to='bob@localhost' type='unsubscribe'/>`)
	expect(t, a, push("bob@localhost", "subscription=from"), presence("unavailable", "bob@localhost/sensor"))
	expect(t, b, push("alice@localhost", "subscription=to"), presence("unsubscribe", "alice@localhost"))
	a.Send(`<presence><show>xa</show></presence>`)
	expect(t, a, presence("", "alice@localhost/phone"))
	expect(t, b, presence("", "alice@localhost/phone"))
	b.Send(`<presence><show>dnd</show></presence>`)
	expect(t, b, presence("", "bob@localhost/sensor"))
	quiet(t, a) // alice no longer receives bob's presence
}

// TestPendingRequestWaitsForLogin: a request to an offline account is
// stored and delivered at its next initial presence (§3.1.3).
func TestPendingRequestWaitsForLogin(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := online(t, s, "alice", "phone")
	a.Send(`<presence to='bob@localhost' type='subscribe'/>`)
	expect(t, a, push("bob@localhost", "subscription=none", "ask=subscribe"))

	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	b.Send(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	if r := b.Expect(stanza.NSClient, "iq"); r.FirstChild() == nil || r.FirstChild().FirstChild() != nil {
		t.Fatalf("a pending request is not a roster item: %s", r)
	}
	b.Send(`<presence/>`)
	expect(t, b, presence("", "bob@localhost/sensor"), presence("subscribe", "alice@localhost"))
	b.Send(`<presence to='alice@localhost' type='subscribed'/>`)
	expect(t, b, push("alice@localhost", "subscription=from"))
	expect(t, a, push("bob@localhost", "subscription=to"), presence("subscribed", "bob@localhost"), presence("", "bob@localhost/sensor"))

	// Answered, it is not delivered again.
	b.Conn.Close()
	expect(t, a, presence("unavailable", "bob@localhost/sensor"))
	b = online(t, s, "bob", "sensor", "alice@localhost:from")
	expect(t, a, presence("", "bob@localhost/sensor"))
	quiet(t, b)
}

// TestPreApproval: a contact approved in advance is subscribed without
// asking the user (§3.4).
func TestPreApproval(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := online(t, s, "alice", "phone")
	b := online(t, s, "bob", "sensor")
	b.Send(`<presence to='alice@localhost' type='subscribed'/>`)
	expect(t, b, push("alice@localhost", "subscription=none", "approved=true"))
	quiet(t, a)
	a.Send(`<presence to='bob@localhost' type='subscribe'/>`)
	expect(t, b, push("alice@localhost", "subscription=from"))
	expect(t, a, push("bob@localhost", "subscription=none", "ask=subscribe"), push("bob@localhost", "subscription=to"),
		presence("subscribed", "bob@localhost"), presence("", "bob@localhost/sensor"))
	quiet(t, b)
}

// TestSubscribeToUnknownAccount: the requester is told at once.
func TestSubscribeToUnknownAccount(t *testing.T) {
	s := start(t, "", "alice")
	a := online(t, s, "alice", "phone")
	a.Send(`<presence to='ghost@localhost' type='subscribe'/>`)
	expect(t, a, push("ghost@localhost", "subscription=none", "ask=subscribe"),
		push("ghost@localhost", "subscription=none"), presence("unsubscribed", "ghost@localhost"))
}

// TestDirectedPresence: an entity that got directed presence hears the
// unavailable when the session ends (§4.6).
func TestDirectedPresence(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := online(t, s, "alice", "phone")
	b := online(t, s, "bob", "sensor")
	a.Send(`<presence to='bob@localhost/sensor'/>`)
	expect(t, b, presence("", "alice@localhost/phone"))
	a.Send(`</stream:stream>`)
	expect(t, b, presence("unavailable", "alice@localhost/phone"))
}
