package private_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const NS = "jabber:iq:private"

func start(t *testing.T, cfg string) (*xmpptest.Server, *xmpptest.Client, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, cfg)
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	return s, xmpptest.Login(t, s, "alice", "secret", "phone"), xmpptest.Login(t, s, "bob", "secret", "desk")
}

var seq atomic.Int64

// iq sends an IQ of type typ (to omitted when empty) with a private query
// holding inner and returns the reply, which must carry the same id.
func iq(t *testing.T, c *xmpptest.Client, typ, to, inner string) *stanza.Element {
	t.Helper()
	id := fmt.Sprintf("p%d", seq.Add(1))
	attrTo := ""
	if to != "" {
		attrTo = ` to='` + to + `'`
	}
	c.Send(`<iq type='` + typ + `' id='` + id + `'` + attrTo + `><query xmlns='jabber:iq:private'>` + inner + `</query></iq>`)
	r := c.Expect(stanza.NSClient, "iq")
	if r.Attr("id") != id {
		t.Fatalf("want the reply to %s, got %s", id, r)
	}
	return r
}

func set(t *testing.T, c *xmpptest.Client, inner string) {
	t.Helper()
	if r := iq(t, c, "set", "", inner); r.Attr("type") != "result" || r.CountChildElements() != 0 {
		t.Fatalf("want an empty result, got %s", r)
	}
}

// get checks that a get for inner returns a query holding exactly want.
func get(t *testing.T, c *xmpptest.Client, to, inner, want string) {
	t.Helper()
	r := iq(t, c, "get", to, inner)
	q := r.Child(NS, "query")
	if r.Attr("type") != "result" || q == nil || r.CountChildElements() != 1 {
		t.Fatalf("want a query result, got %s", r)
	}
	w, err := xmlstream.ParseStanza([]byte(`<query xmlns='jabber:iq:private'>` + want + `</query>`))
	if err != nil {
		t.Fatal(err)
	}
	if q.String() != w.String() {
		t.Fatalf("got  %s\nwant %s", q, w)
	}
}

func wantError(t *testing.T, r *stanza.Element, cond stanza.Condition) {
	t.Helper()
	e, ok := stanza.ErrorFromElement(r)
	if r.Attr("type") != "error" || !ok || e.Condition != cond {
		t.Fatalf("want %s, got %s", cond, r)
	}
}

const prefs = `<exodus xmlns='exodus:prefs' v='&lt;1&amp;2&gt;'>` +
	`<defaultnick>Hamlet &amp; &lt;Ophelia&gt; &quot;'</defaultnick>` +
	`<deep><deeper a='b'><deepest/>text &#x10000;</deeper></deep>` +
	`<x xmlns='urn:example:other' xmlns:p='urn:example:attr' p:q='r'/>` +
	`</exodus>`

// TestRoundTrip: what is set is returned as sent, for a get with no 'to'
// or to the own bare JID (XEP-0049 §2.3), keyed by namespace only.
func TestRoundTrip(t *testing.T) {
	_, a, _ := start(t, "")
	set(t, a, prefs)
	get(t, a, "", `<exodus xmlns='exodus:prefs'/>`, prefs)
	get(t, a, "alice@localhost", `<exodus xmlns='exodus:prefs'/>`, prefs)
	get(t, a, "", `<other xmlns='exodus:prefs'/>`, prefs)

	// A set may hold several elements of one namespace (§2.3); it
	// replaces what was stored.
	two := `<a xmlns='urn:example:two'>1</a><b xmlns='urn:example:two'>2</b>`
	set(t, a, two)
	get(t, a, "", `<a xmlns='urn:example:two'/>`, two)
	set(t, a, `<a xmlns='urn:example:two'>3</a>`)
	get(t, a, "", `<a xmlns='urn:example:two'/>`, `<a xmlns='urn:example:two'>3</a>`)
}

// TestEmpty: a get for a namespace with nothing stored returns the
// requested element, empty.
func TestEmpty(t *testing.T) {
	_, a, _ := start(t, "")
	get(t, a, "", `<storage xmlns='storage:bookmarks'/>`, `<storage xmlns='storage:bookmarks'/>`)
	get(t, a, "", `<storage xmlns='storage:bookmarks' x='y'><junk/></storage>`, `<storage xmlns='storage:bookmarks'/>`)
}

// TestIsolation: namespaces and accounts do not see each other's data.
func TestIsolation(t *testing.T) {
	_, a, b := start(t, "")
	set(t, a, `<one xmlns='urn:example:one'>alice 1</one>`)
	set(t, a, `<two xmlns='urn:example:two'>alice 2</two>`)
	set(t, b, `<one xmlns='urn:example:one'>bob 1</one>`)
	set(t, a, `<one xmlns='urn:example:one'>alice 1b</one>`)
	get(t, a, "", `<one xmlns='urn:example:one'/>`, `<one xmlns='urn:example:one'>alice 1b</one>`)
	get(t, a, "", `<two xmlns='urn:example:two'/>`, `<two xmlns='urn:example:two'>alice 2</two>`)
	get(t, b, "", `<one xmlns='urn:example:one'/>`, `<one xmlns='urn:example:one'>bob 1</one>`)
	get(t, b, "", `<two xmlns='urn:example:two'/>`, `<two xmlns='urn:example:two'/>`)
	get(t, a, "", `<one xmlns='urn:example:one:x'/>`, `<one xmlns='urn:example:one:x'/>`)
}

// TestOthersForbidden: another account's storage can be neither read nor
// written, whether the account exists or not (§2.3, §3, §4).
func TestOthersForbidden(t *testing.T) {
	_, a, b := start(t, "")
	set(t, b, `<one xmlns='urn:example:one'>bob</one>`)
	for _, to := range []string{"bob@localhost", "nobody@localhost"} {
		wantError(t, iq(t, a, "get", to, `<one xmlns='urn:example:one'/>`), stanza.Forbidden)
		wantError(t, iq(t, a, "set", to, `<one xmlns='urn:example:one'>alice</one>`), stanza.Forbidden)
	}
	get(t, b, "", `<one xmlns='urn:example:one'/>`, `<one xmlns='urn:example:one'>bob</one>`)
	get(t, a, "", `<one xmlns='urn:example:one'/>`, `<one xmlns='urn:example:one'/>`)
}

// TestErrors: the error cases of §2.3 and §3.
func TestErrors(t *testing.T) {
	_, a, _ := start(t, "")
	for _, typ := range []string{"get", "set"} {
		// No child element.
		wantError(t, iq(t, a, typ, "", ``), stanza.BadRequest)
		wantError(t, iq(t, a, typ, "", `text only`), stanza.BadRequest)
		// Two namespaces.
		wantError(t, iq(t, a, typ, "", `<a xmlns='urn:example:a'/><b xmlns='urn:example:b'/>`), stanza.BadRequest)
		// Reserved namespaces; a child with no xmlns of its own is in
		// jabber:iq:private.
		for _, el := range []string{
			`<x/>`,
			`<x xmlns='jabber:iq:private'/>`,
			`<x xmlns='jabber:client'/>`,
			`<x xmlns='jabber:server'/>`,
			`<x xmlns='jabber:x:data'/>`,
			`<x xmlns='http://jabber.org/protocol/disco#info'/>`,
			`<vCard xmlns='vcard-temp'><FN>Hamlet</FN></vCard>`,
		} {
			wantError(t, iq(t, a, typ, "", el), stanza.NotAcceptable)
		}
	}
	// A get asks for one element only.
	wantError(t, iq(t, a, "get", "", `<a xmlns='urn:example:a'/><b xmlns='urn:example:a'/>`), stanza.BadRequest)
	// Nothing was stored by the failed sets.
	get(t, a, "", `<a xmlns='urn:example:a'/>`, `<a xmlns='urn:example:a'/>`)
}

// TestSizeLimit: more than max_bytes under one namespace is refused with
// not-acceptable, and what was stored stays.
func TestSizeLimit(t *testing.T) {
	_, a, _ := start(t, "modules: {private: {max_bytes: 200}}")
	set(t, a, `<a xmlns='urn:example:a'>small</a>`)
	wantError(t, iq(t, a, "set", "", `<a xmlns='urn:example:a'>`+strings.Repeat("x", 200)+`</a>`), stanza.NotAcceptable)
	wantError(t, iq(t, a, "set", "", strings.Repeat(`<a xmlns='urn:example:a'>0123456789</a>`, 6)), stanza.NotAcceptable)
	get(t, a, "", `<a xmlns='urn:example:a'/>`, `<a xmlns='urn:example:a'>small</a>`)
}

// TestDisco: the server advertises jabber:iq:private.
func TestDisco(t *testing.T) {
	_, a, _ := start(t, "")
	a.Send(`<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	r := a.Expect(stanza.NSClient, "iq")
	for _, f := range r.Child("http://jabber.org/protocol/disco#info", "query").ChildElements() {
		if f.Local == "feature" && f.Attr("var") == NS {
			return
		}
	}
	t.Fatalf("no %s feature: %s", NS, r)
}

// TestReRegisteredInheritsNothing: an account deleted and registered again
// under the same name has no private data.
func TestReRegisteredInheritsNothing(t *testing.T) {
	s, _, b := start(t, "")
	set(t, b, `<one xmlns='urn:example:one'>old bob</one>`)
	if err := s.Store().Users().DeleteUser(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	s.AddUser(t, "bob", "secret")
	b = xmpptest.Login(t, s, "bob", "secret", "desk2")
	get(t, b, "", `<one xmlns='urn:example:one'/>`, `<one xmlns='urn:example:one'/>`)
}
