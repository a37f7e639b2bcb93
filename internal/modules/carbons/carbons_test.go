package carbons_test

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const (
	ns        = "urn:xmpp:carbons:2"
	nsForward = "urn:xmpp:forward:0"
	nsInfo    = "http://jabber.org/protocol/disco#info"
)

var seq atomic.Int64

// quiet checks that nothing else is on its way to c: a ping to the server
// must be answered next (one session's stanzas are delivered in order).
func quiet(t *testing.T, cs ...*xmpptest.Client) {
	t.Helper()
	for _, c := range cs {
		id := fmt.Sprintf("q%d", seq.Add(1))
		c.Send(`<iq type='get' id='` + id + `' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
		el := c.NextElement()
		if el.Local != "iq" || el.Attr("id") != id || el.Attr("type") != "result" {
			t.Fatalf("%s: expected nothing more, got %s", c.JID, el)
		}
	}
}

// online logs in user/res and sends initial presence with prio; the
// account's resources already online (others) see it, and it sees theirs.
func online(t *testing.T, s *xmpptest.Server, user, res string, prio int, others ...*xmpptest.Client) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Login(t, s, user, "secret", res)
	c.Send(fmt.Sprintf(`<presence><priority>%d</priority></presence>`, prio))
	for range len(others) + 1 {
		c.Expect(stanza.NSClient, "presence")
	}
	for _, o := range others {
		o.Expect(stanza.NSClient, "presence")
	}
	return c
}

// iq sends an IQ and returns the reply with the same id.
func iq(t *testing.T, c *xmpptest.Client, id, attrs, payload string) *stanza.Element {
	t.Helper()
	c.Send(`<iq type='set' id='` + id + `'` + attrs + `>` + payload + `</iq>`)
	r := c.Expect(stanza.NSClient, "iq")
	if r.Attr("id") != id {
		t.Fatalf("%s: want reply to %s, got %s", c.JID, id, r)
	}
	return r
}

func enable(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	if r := iq(t, c, "en", "", `<enable xmlns='urn:xmpp:carbons:2'/>`); r.Attr("type") != "result" {
		t.Fatalf("enable: %s", r)
	}
}

type fixture struct {
	phone, laptop, desktop, bob *xmpptest.Client
}

// setup: alice/phone (carbons, priority 1), alice/laptop (no carbons,
// priority 0), alice/desktop (carbons, priority 1), and bob/pc.
func setup(t *testing.T) fixture {
	t.Helper()
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	var f fixture
	f.phone = online(t, s, "alice", "phone", 1)
	f.laptop = online(t, s, "alice", "laptop", 0, f.phone)
	f.desktop = online(t, s, "alice", "desktop", 1, f.phone, f.laptop)
	f.bob = online(t, s, "bob", "pc", 0)
	enable(t, f.phone)
	enable(t, f.desktop)
	return f
}

// message reads the next element of c, which must be the message id.
func message(t *testing.T, c *xmpptest.Client, id string) *stanza.Element {
	t.Helper()
	m := c.Expect(stanza.NSClient, "message")
	if m.Attr("id") != id {
		t.Fatalf("%s: want message %s, got %s", c.JID, id, m)
	}
	return m
}

// carbon reads the next element of c, which must be a dir ("sent" or
// "received") carbon from alice's bare JID of type typ, and returns the
// forwarded message.
func carbon(t *testing.T, c *xmpptest.Client, dir, typ string) *stanza.Element {
	t.Helper()
	m := c.Expect(stanza.NSClient, "message")
	if m.Attr("from") != "alice@localhost" || m.Attr("to") != c.JID || m.Attr("type") != typ || m.CountChildElements() != 1 {
		t.Fatalf("%s: want a %s carbon of type %q, got %s", c.JID, dir, typ, m)
	}
	fwd := m.Child(ns, dir).Child(nsForward, "forwarded")
	if fwd == nil || fwd.CountChildElements() != 1 {
		t.Fatalf("%s: want <%s><forwarded>, got %s", c.JID, dir, m)
	}
	orig := fwd.Child(stanza.NSClient, "message")
	if orig == nil {
		t.Fatalf("%s: the forwarded message is not in jabber:client: %s", c.JID, m)
	}
	return orig
}

// check verifies the forwarded original's addresses, id, type and body.
func check(t *testing.T, orig *stanza.Element, from, to, id, typ, body string) {
	t.Helper()
	b := orig.Child(stanza.NSClient, "body")
	if orig.Attr("from") != from || orig.Attr("to") != to || orig.Attr("id") != id || orig.Attr("type") != typ || b == nil || b.Text() != body {
		t.Fatalf("forwarded message: want %s→%s id %s type %q body %q, got %s", from, to, id, typ, body, orig)
	}
}

// TestEnableDisable: enable and disable answer with a result, repeatedly
// (§4, §5, §9.1); nobody toggles another account's carbons; the server and
// the account advertise the feature (§3).
func TestEnableDisable(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	for i, p := range []string{"enable", "enable", "disable", "disable", "enable"} {
		id := fmt.Sprintf("t%d", i)
		r := iq(t, a, id, "", `<`+p+` xmlns='urn:xmpp:carbons:2'/>`)
		if r.Attr("type") != "result" || r.Attr("from") != "alice@localhost" || r.Attr("to") != a.JID || r.FirstChild() != nil {
			t.Fatalf("%s: %s", p, r)
		}
	}
	if r := iq(t, a, "own", " to='alice@localhost'", `<disable xmlns='urn:xmpp:carbons:2'/>`); r.Attr("type") != "result" {
		t.Fatalf("disable to own bare JID: %s", r)
	}
	r := iq(t, a, "other", " to='bob@localhost'", `<enable xmlns='urn:xmpp:carbons:2'/>`)
	if e, ok := stanza.ErrorFromElement(r); !ok || r.Attr("type") != "error" || e.Condition != stanza.NotAllowed {
		t.Fatalf("enable for another account: %s", r)
	}
	r = iq(t, a, "again", "", `<enable xmlns='urn:xmpp:carbons:2'/>`)
	if r.Attr("type") != "result" {
		t.Fatalf("enable: %s", r)
	}
	for _, to := range []string{"localhost", "alice@localhost"} {
		a.Send(`<iq type='get' id='d' to='` + to + `'><query xmlns='` + nsInfo + `'/></iq>`)
		q := a.Expect(stanza.NSClient, "iq").Child(nsInfo, "query")
		var feats []string
		for _, f := range q.ChildElements() {
			feats = append(feats, f.Attr("var"))
		}
		if !slices.Contains(feats, ns) {
			t.Fatalf("disco#info of %s lacks %s: %s", to, ns, q)
		}
	}
	quiet(t, a)
}

// TestReceived: a message to a full JID is copied to the account's other
// carbons-enabled resources only (§7), with the original intact.
func TestReceived(t *testing.T) {
	f := setup(t)
	f.bob.Send(`<message to='alice@localhost/phone' type='chat' id='r1'><body>hi &amp; bye</body><thread>th</thread></message>`)
	check(t, message(t, f.phone, "r1"), "bob@localhost/pc", "alice@localhost/phone", "r1", "chat", "hi & bye")
	orig := carbon(t, f.desktop, "received", "chat")
	check(t, orig, "bob@localhost/pc", "alice@localhost/phone", "r1", "chat", "hi & bye")
	if th := orig.Child(stanza.NSClient, "thread"); th == nil || th.Text() != "th" {
		t.Fatalf("thread lost: %s", orig)
	}
	quiet(t, f.bob, f.laptop, f.phone, f.desktop)

	// A resource without carbons got the original: both others a copy.
	f.bob.Send(`<message to='alice@localhost/laptop' type='chat' id='r2'><body>two</body></message>`)
	message(t, f.laptop, "r2")
	check(t, carbon(t, f.phone, "received", "chat"), "bob@localhost/pc", "alice@localhost/laptop", "r2", "chat", "two")
	check(t, carbon(t, f.desktop, "received", "chat"), "bob@localhost/pc", "alice@localhost/laptop", "r2", "chat", "two")
	quiet(t, f.bob, f.laptop, f.phone, f.desktop)
}

// TestReceivedBare: a message to the bare JID goes to the resources of the
// highest priority (RFC 6121 §8.5.2.1.1); only carbons-enabled resources
// that did not get it get a copy (§7).
func TestReceivedBare(t *testing.T) {
	f := setup(t)
	f.bob.Send(`<message to='alice@localhost' type='chat' id='b1'><body>both</body></message>`)
	message(t, f.phone, "b1")
	message(t, f.desktop, "b1")
	quiet(t, f.bob, f.laptop, f.phone, f.desktop)

	// The desktop drops to priority 0: now it gets a carbon instead.
	f.desktop.Send(`<presence><priority>0</priority></presence>`)
	for _, c := range []*xmpptest.Client{f.desktop, f.phone, f.laptop} {
		c.Expect(stanza.NSClient, "presence")
	}
	f.bob.Send(`<message to='alice@localhost' type='chat' id='b2'><body>one</body></message>`)
	message(t, f.phone, "b2")
	check(t, carbon(t, f.desktop, "received", "chat"), "bob@localhost/pc", "alice@localhost", "b2", "chat", "one")
	quiet(t, f.bob, f.laptop, f.phone, f.desktop)

	// A full JID with no session is treated as the bare JID (§8.5.3.2.1).
	f.bob.Send(`<message to='alice@localhost/gone' type='chat' id='b3'><body>lost</body></message>`)
	message(t, f.phone, "b3")
	check(t, carbon(t, f.desktop, "received", "chat"), "bob@localhost/pc", "alice@localhost/gone", "b3", "chat", "lost")
	quiet(t, f.bob, f.laptop, f.phone, f.desktop)
}

// TestSent: what a resource sends is copied to the account's other
// carbons-enabled resources, whether or not the sender enabled carbons
// (§8).
func TestSent(t *testing.T) {
	f := setup(t)
	f.phone.Send(`<message to='bob@localhost' type='chat' id='s1'><body>from phone</body></message>`)
	message(t, f.bob, "s1")
	check(t, carbon(t, f.desktop, "sent", "chat"), "alice@localhost/phone", "bob@localhost", "s1", "chat", "from phone")
	quiet(t, f.phone, f.bob, f.laptop, f.desktop)

	f.laptop.Send(`<message to='bob@localhost/pc' id='s2'><body>from laptop</body></message>`)
	message(t, f.bob, "s2")
	check(t, carbon(t, f.phone, "sent", ""), "alice@localhost/laptop", "bob@localhost/pc", "s2", "", "from laptop")
	check(t, carbon(t, f.desktop, "sent", ""), "alice@localhost/laptop", "bob@localhost/pc", "s2", "", "from laptop")
	quiet(t, f.laptop, f.bob, f.phone, f.desktop)
}

// TestToSelf: a message to the account itself reaches each resource once:
// the original, or one received carbon, never one back to the sender.
func TestToSelf(t *testing.T) {
	f := setup(t)
	f.phone.Send(`<message to='alice@localhost' type='chat' id='n1'><body>note</body></message>`)
	message(t, f.phone, "n1")
	message(t, f.desktop, "n1")
	quiet(t, f.phone, f.laptop, f.desktop)

	f.phone.Send(`<message to='alice@localhost/laptop' type='chat' id='n2'><body>note 2</body></message>`)
	message(t, f.laptop, "n2")
	check(t, carbon(t, f.desktop, "received", "chat"), "alice@localhost/phone", "alice@localhost/laptop", "n2", "chat", "note 2")
	quiet(t, f.phone, f.laptop, f.desktop)
}

// TestEligible: normal messages with a body or an IM payload and
// invitations are copied (§6.1); the wrapper keeps the type.
func TestEligible(t *testing.T) {
	f := setup(t)
	for i, m := range []struct{ typ, payload string }{
		{"", `<body>plain</body>`},
		{" type='normal'", `<body>normal</body>`},
		{"", `<active xmlns='http://jabber.org/protocol/chatstates'/>`},
		{"", `<received xmlns='urn:xmpp:receipts' id='x'/>`},
		{"", `<displayed xmlns='urn:xmpp:chat-markers:0' id='x'/>`},
		{"", `<x xmlns='jabber:x:conference' jid='room@conference.localhost'/>`},
		{"", `<x xmlns='http://jabber.org/protocol/muc#user'><invite from='carol@localhost'/></x>`},
		{" type='chat'", `<active xmlns='http://jabber.org/protocol/chatstates'/>`},
	} {
		id := fmt.Sprintf("e%d", i)
		f.bob.Send(`<message to='alice@localhost/phone' id='` + id + `'` + m.typ + `>` + m.payload + `</message>`)
		message(t, f.phone, id)
		want := map[string]string{"": "", " type='normal'": "normal", " type='chat'": "chat"}[m.typ]
		if orig := carbon(t, f.desktop, "received", want); orig.Attr("id") != id || orig.FirstChild() == nil {
			t.Fatalf("%s: forwarded %s", id, orig)
		}
	}
	quiet(t, f.bob, f.laptop, f.phone, f.desktop)
}

// TestNotCopied: private messages (§10), groupchat (§6.1), headline,
// error, bodiless normal messages, private messages from MUC participants
// (§6.1) and messages that already are carbons get no copies.
func TestNotCopied(t *testing.T) {
	f := setup(t)
	hint := `<private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/>`
	fake := `<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='carol@localhost/x' to='alice@localhost/phone' type='chat'><body>fake</body></message></forwarded></received>`
	for i, m := range []string{
		`type='chat'><body>secret</body>` + hint,
		`type='chat'><body>private</body><private xmlns='urn:xmpp:carbons:2'/>`,
		`type='chat'><body>no copy</body><no-copy xmlns='urn:xmpp:hints'/>`,
		`type='headline'><body>news</body>`,
		`type='groupchat'><body>room</body>`,
		`type='error'><body>oops</body><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`,
		`type='normal'><subject>no body</subject>`,
		`><x xmlns='jabber:x:oob'><url>https://localhost/</url></x>`,
		`type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/>`,
		`type='chat'>` + fake,
		`type='chat'><sent xmlns='urn:xmpp:carbons:2'/>`,
	} {
		id := fmt.Sprintf("x%d", i)
		f.bob.Send(`<message to='alice@localhost/phone' id='` + id + `' ` + m + `</message>`)
		message(t, f.phone, id)
	}
	quiet(t, f.bob, f.laptop, f.phone, f.desktop)

	f.phone.Send(`<message to='bob@localhost' type='chat' id='p1'><body>secret</body>` + hint + `</message>`)
	message(t, f.bob, "p1")
	f.phone.Send(`<message to='bob@localhost/pc' type='headline' id='p2'><body>news</body></message>`)
	message(t, f.bob, "p2")
	f.phone.Send(`<message to='bob@localhost/pc' type='chat' id='p3'>` + fake + `</message>`)
	message(t, f.bob, "p3")
	quiet(t, f.phone, f.bob, f.laptop, f.desktop)
}

// TestDisable: after disable a resource gets no more carbons (§5); the
// others still do.
func TestDisable(t *testing.T) {
	f := setup(t)
	if r := iq(t, f.desktop, "dis", "", `<disable xmlns='urn:xmpp:carbons:2'/>`); r.Attr("type") != "result" {
		t.Fatalf("disable: %s", r)
	}
	f.bob.Send(`<message to='alice@localhost/phone' type='chat' id='d1'><body>1</body></message>`)
	message(t, f.phone, "d1")
	f.phone.Send(`<message to='bob@localhost' type='chat' id='d2'><body>2</body></message>`)
	message(t, f.bob, "d2")
	quiet(t, f.bob, f.phone, f.laptop, f.desktop)

	f.bob.Send(`<message to='alice@localhost/desktop' type='chat' id='d3'><body>3</body></message>`)
	message(t, f.desktop, "d3")
	check(t, carbon(t, f.phone, "received", "chat"), "bob@localhost/pc", "alice@localhost/desktop", "d3", "chat", "3")
	f.desktop.Send(`<message to='bob@localhost' type='chat' id='d4'><body>4</body></message>`)
	message(t, f.bob, "d4")
	check(t, carbon(t, f.phone, "sent", "chat"), "alice@localhost/desktop", "bob@localhost", "d4", "chat", "4")
	quiet(t, f.bob, f.desktop, f.laptop, f.phone)
}
