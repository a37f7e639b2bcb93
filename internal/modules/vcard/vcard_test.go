package vcard_test

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

func start(t *testing.T, cfg string) (*xmpptest.Server, *xmpptest.Client, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, cfg)
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	return s, xmpptest.Login(t, s, "alice", "secret", "phone"), xmpptest.Login(t, s, "bob", "secret", "desk")
}

var seq atomic.Int64

// iq sends an IQ of type typ (to omitted when empty) with payload and
// returns the reply, which must carry the same id.
func iq(t *testing.T, c *xmpptest.Client, typ, to, payload string) *stanza.Element {
	t.Helper()
	id := fmt.Sprintf("v%d", seq.Add(1))
	attrTo := ""
	if to != "" {
		attrTo = ` to='` + to + `'`
	}
	c.Send(`<iq type='` + typ + `' id='` + id + `'` + attrTo + `>` + payload + `</iq>`)
	r := c.Expect(stanza.NSClient, "iq")
	if r.Attr("id") != id {
		t.Fatalf("want the reply to %s, got %s", id, r)
	}
	return r
}

// vcard checks that r is a result carrying a vCard and returns it.
func vcard(t *testing.T, r *stanza.Element) *stanza.Element {
	t.Helper()
	v := r.Child("vcard-temp", "vCard")
	if r.Attr("type") != "result" || v == nil || r.CountChildElements() != 1 {
		t.Fatalf("want a vCard result, got %s", r)
	}
	return v
}

func wantError(t *testing.T, r *stanza.Element, cond stanza.Condition) {
	t.Helper()
	e, ok := stanza.ErrorFromElement(r)
	if r.Attr("type") != "error" || !ok || e.Condition != cond {
		t.Fatalf("want %s, got %s", cond, r)
	}
}

func wantResult(t *testing.T, r *stanza.Element) {
	t.Helper()
	if r.Attr("type") != "result" || r.CountChildElements() != 0 {
		t.Fatalf("want an empty result, got %s", r)
	}
}

func parse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := xmlstream.ParseStanza([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return el
}

const card = `<vCard xmlns='vcard-temp' version='3.0'>` +
	`<FN>Alice &amp; &lt;Bob&gt; &quot;O&apos;Hara&quot;</FN>` +
	`<N><FAMILY>O'Hara</FAMILY><GIVEN>Alice</GIVEN><MIDDLE/></N>` +
	`<DESC>line one
line two ]]&gt; &#x10000;</DESC>` +
	`<TEL><HOME/><VOICE/><NUMBER>+1 (555) 0100</NUMBER></TEL>` +
	`<X xmlns='urn:example:ext' xmlns:e='urn:example:attr' e:a='&lt;&amp;&quot;&#9;'><Y>z</Y></X>` +
	`</vCard>`

// TestRoundTrip: a vCard set is returned as it was sent, to its owner
// (with no 'to' and to its own bare JID) and to another user, escaping,
// nesting, foreign namespaces and attributes included (XEP-0054 §3.1–3.3).
func TestRoundTrip(t *testing.T) {
	_, a, b := start(t, "")
	wantResult(t, iq(t, a, "set", "", card))
	want := parse(t, card).String()
	for _, r := range []*stanza.Element{
		iq(t, a, "get", "", `<vCard xmlns='vcard-temp'/>`),
		iq(t, a, "get", "alice@localhost", `<vCard xmlns='vcard-temp'/>`),
		iq(t, b, "get", "Alice@localhost", `<vCard xmlns='vcard-temp'/>`),
	} {
		if got := vcard(t, r).String(); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	if v := vcard(t, iq(t, b, "get", "alice@localhost", `<vCard xmlns='vcard-temp'/>`)); v.Child("", "FN").Text() != `Alice & <Bob> "O'Hara"` {
		t.Fatalf("FN: %q", v.Child("", "FN").Text())
	}

	// A set replaces the whole vCard (no partial updates, §3.2).
	wantResult(t, iq(t, a, "set", "alice@localhost", `<vCard xmlns='vcard-temp'><NICKNAME>al</NICKNAME></vCard>`))
	v := vcard(t, iq(t, b, "get", "alice@localhost", `<vCard xmlns='vcard-temp'/>`))
	if v.CountChildElements() != 1 || v.Child("vcard-temp", "NICKNAME").Text() != "al" {
		t.Fatalf("not replaced: %s", v)
	}
}

// TestNone: with no vCard stored, the owner gets an empty one (§3.1);
// anyone else gets service-unavailable, exactly as for an account that does
// not exist (§3.3).
func TestNone(t *testing.T) {
	_, a, b := start(t, "")
	for _, to := range []string{"", "alice@localhost"} {
		if v := vcard(t, iq(t, a, "get", to, `<vCard xmlns='vcard-temp'/>`)); len(v.Children) != 0 || len(v.Attrs) != 0 {
			t.Fatalf("want an empty vCard, got %s", v)
		}
	}
	wantError(t, iq(t, b, "get", "alice@localhost", `<vCard xmlns='vcard-temp'/>`), stanza.ServiceUnavailable)
	wantError(t, iq(t, b, "get", "nobody@localhost", `<vCard xmlns='vcard-temp'/>`), stanza.ServiceUnavailable)

	// An empty vCard set removes the stored one.
	wantResult(t, iq(t, a, "set", "", `<vCard xmlns='vcard-temp'><FN>A</FN></vCard>`))
	vcard(t, iq(t, b, "get", "alice@localhost", `<vCard xmlns='vcard-temp'/>`))
	wantResult(t, iq(t, a, "set", "", `<vCard xmlns='vcard-temp'> </vCard>`))
	wantError(t, iq(t, b, "get", "alice@localhost", `<vCard xmlns='vcard-temp'/>`), stanza.ServiceUnavailable)
	if v := vcard(t, iq(t, a, "get", "", `<vCard xmlns='vcard-temp'/>`)); len(v.Children) != 0 {
		t.Fatalf("want an empty vCard, got %s", v)
	}
}

// TestOthersReadOnly: setting another account's vCard is forbidden, whether
// the account exists or not, and changes nothing (§3.2).
func TestOthersReadOnly(t *testing.T) {
	_, a, b := start(t, "")
	wantResult(t, iq(t, b, "set", "", `<vCard xmlns='vcard-temp'><FN>Bob</FN></vCard>`))
	wantError(t, iq(t, a, "set", "bob@localhost", `<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>`), stanza.Forbidden)
	wantError(t, iq(t, a, "set", "nobody@localhost", `<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>`), stanza.Forbidden)
	if v := vcard(t, iq(t, a, "get", "bob@localhost", `<vCard xmlns='vcard-temp'/>`)); v.Child("", "FN").Text() != "Bob" {
		t.Fatalf("bob's vCard changed: %s", v)
	}
	if v := vcard(t, iq(t, a, "get", "", `<vCard xmlns='vcard-temp'/>`)); len(v.Children) != 0 {
		t.Fatalf("alice got a vCard: %s", v)
	}
	// The server's own vCard is not served.
	wantError(t, iq(t, a, "get", "localhost", `<vCard xmlns='vcard-temp'/>`), stanza.ServiceUnavailable)
}

// TestSizeLimit: a vCard larger than max_bytes is refused with
// not-acceptable and the stored one stays.
func TestSizeLimit(t *testing.T) {
	_, a, _ := start(t, "modules: {vcard: {max_bytes: 200}}")
	wantResult(t, iq(t, a, "set", "", `<vCard xmlns='vcard-temp'><FN>small</FN></vCard>`))
	big := `<vCard xmlns='vcard-temp'><DESC>` + strings.Repeat("x", 200) + `</DESC></vCard>`
	wantError(t, iq(t, a, "set", "", big), stanza.NotAcceptable)
	// Escaping counts: 40 '&' are 200 bytes stored.
	wantError(t, iq(t, a, "set", "", `<vCard xmlns='vcard-temp'><FN>`+strings.Repeat("&amp;", 40)+`</FN></vCard>`), stanza.NotAcceptable)
	if v := vcard(t, iq(t, a, "get", "", `<vCard xmlns='vcard-temp'/>`)); v.Child("", "FN").Text() != "small" {
		t.Fatalf("got %s", v)
	}
}

// TestDisco: the server advertises vcard-temp (§4).
func TestDisco(t *testing.T) {
	_, a, _ := start(t, "")
	r := iq(t, a, "get", "localhost", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)
	for _, f := range r.Child("http://jabber.org/protocol/disco#info", "query").ChildElements() {
		if f.Local == "feature" && f.Attr("var") == "vcard-temp" {
			return
		}
	}
	t.Fatalf("no vcard-temp feature: %s", r)
}

// TestReRegisteredInheritsNothing: an account deleted and registered again
// under the same name has no vCard.
func TestReRegisteredInheritsNothing(t *testing.T) {
	s, a, b := start(t, "")
	wantResult(t, iq(t, b, "set", "", `<vCard xmlns='vcard-temp'><FN>Old Bob</FN></vCard>`))
	vcard(t, iq(t, a, "get", "bob@localhost", `<vCard xmlns='vcard-temp'/>`))
	if err := s.Store().Users().DeleteUser(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	wantError(t, iq(t, a, "get", "bob@localhost", `<vCard xmlns='vcard-temp'/>`), stanza.ServiceUnavailable)
	s.AddUser(t, "bob", "secret")
	wantError(t, iq(t, a, "get", "bob@localhost", `<vCard xmlns='vcard-temp'/>`), stanza.ServiceUnavailable)
	b = xmpptest.Login(t, s, "bob", "secret", "desk2")
	if v := vcard(t, iq(t, b, "get", "", `<vCard xmlns='vcard-temp'/>`)); len(v.Children) != 0 {
		t.Fatalf("the new bob inherited %s", v)
	}
}
