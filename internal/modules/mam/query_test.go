package mam_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// conversation: alice/phone sends "a1".."a<n>" to bob/pc, carol/tab sends
// "c1" to alice, and bob/pc "b1" to alice; everything is received.
type conversation struct {
	s                 *xmpptest.Server
	alice, bob, carol *xmpptest.Client
}

func converse(t *testing.T, n int, yaml string) conversation {
	t.Helper()
	s := start(t, yaml)
	c := conversation{s: s, alice: online(t, s, "alice", "phone"), bob: online(t, s, "bob", "pc"), carol: online(t, s, "carol", "tab")}
	for i := 1; i <= n; i++ {
		receive(t, c.bob, send(c.alice, "bob@localhost/pc", fmt.Sprintf("a%d", i)))
	}
	receive(t, c.alice, send(c.carol, "alice@localhost", "c1"))
	receive(t, c.alice, send(c.bob, "alice@localhost/phone", "b1"))
	return c
}

// TestQueryWith: §4.1.1, bare JIDs match any resource, full JIDs
// exactly.
func TestQueryWith(t *testing.T) {
	c := converse(t, 3, "")
	for _, tc := range []struct{ with, want string }{
		{"", "a1 a2 a3 c1 b1"},
		{"bob@localhost", "a1 a2 a3 b1"},
		{"BOB@localhost", "a1 a2 a3 b1"},
		{"bob@localhost/pc", "a1 a2 a3 b1"},
		{"bob@localhost/other", ""},
		{"carol@localhost", "c1"},
		{"carol@localhost/tab", "c1"},
		{"dave@localhost", ""},
	} {
		inner := ""
		if tc.with != "" {
			inner = form(field("with", tc.with))
		}
		p := query(t, c.alice, "", inner).ok(t)
		if got := p.bodies(t); got != tc.want || !p.complete() {
			t.Errorf("with %q: %q (complete %v), want %q", tc.with, got, p.complete(), tc.want)
		}
	}
}

// TestQueryTime: §4.1.2, start and end are inclusive, to the
// millisecond; the expected results are computed from the results' own
// delay stamps.
func TestQueryTime(t *testing.T) {
	c := converse(t, 4, "")
	all := query(t, c.alice, "", "").ok(t)
	stamps := make([]time.Time, len(all.results))
	for i, r := range all.results {
		ts, err := time.Parse(time.RFC3339Nano, r.Child(nsForward, "forwarded").Child(nsDelay, "delay").Attr("stamp"))
		if err != nil {
			t.Fatal(err)
		}
		stamps[i] = ts
	}
	bodies := strings.Fields(all.bodies(t))
	expect := func(start, end time.Time) string {
		var want []string
		for i, ts := range stamps {
			if (start.IsZero() || !ts.Before(start)) && (end.IsZero() || !ts.After(end)) {
				want = append(want, bodies[i])
			}
		}
		return strings.Join(want, " ")
	}
	f := func(tm time.Time) string { return tm.UTC().Format("2006-01-02T15:04:05.000Z") }
	hour := time.Hour
	for _, tc := range []struct{ start, end time.Time }{
		{stamps[0], time.Time{}},
		{stamps[2], time.Time{}},
		{time.Time{}, stamps[1]},
		{stamps[1], stamps[3]},
		{stamps[0].Add(-hour), stamps[len(stamps)-1].Add(hour)},
		{stamps[len(stamps)-1].Add(hour), time.Time{}},
		{time.Time{}, stamps[0].Add(-hour)},
	} {
		fields := ""
		if !tc.start.IsZero() {
			fields += field("start", f(tc.start))
		}
		if !tc.end.IsZero() {
			// Another time zone, the same instant (XEP-0082).
			fields += field("end", tc.end.In(time.FixedZone("", -5*3600)).Format("2006-01-02T15:04:05.000-07:00"))
		}
		if got, want := query(t, c.alice, "", form(fields)).ok(t).bodies(t), expect(tc.start, tc.end); got != want {
			t.Errorf("start %v end %v: %q, want %q", tc.start, tc.end, got, want)
		}
	}
}

// TestPaging: §4.3, pages forwards with <after/> until complete, the last
// page with an empty <before/> and backwards (§4.3.3), the count and
// first and last (XEP-0059 §2.2), flipped pages (§4.3.4), and the server's
// page size limit (§4.3.1).
func TestPaging(t *testing.T) {
	c := converse(t, 5, "    max_page_size: 4\n")
	a := c.alice
	// a1..a5 c1 b1: 7 messages.
	p := query(t, a, "", rsm(`<max>3</max>`)).ok(t)
	if p.bodies(t) != "a1 a2 a3" || p.complete() || p.set("count") != "7" || p.set("first") != p.ids()[0] || p.set("last") != p.ids()[2] {
		t.Fatalf("page 1: %q %s", p.bodies(t), p.fin)
	}
	p = query(t, a, "", rsm(`<max>3</max><after>`+p.set("last")+`</after>`)).ok(t)
	if p.bodies(t) != "a4 a5 c1" || p.complete() {
		t.Fatalf("page 2: %q %s", p.bodies(t), p.fin)
	}
	p = query(t, a, "", rsm(`<max>3</max><after>`+p.set("last")+`</after>`)).ok(t)
	if p.bodies(t) != "b1" || !p.complete() {
		t.Fatalf("page 3: %q %s", p.bodies(t), p.fin)
	}
	p = query(t, a, "", rsm(`<max>3</max><after>`+p.set("last")+`</after>`)).ok(t)
	if len(p.results) != 0 || !p.complete() || p.set("first") != "" || p.set("count") != "7" {
		t.Fatalf("past the end: %s", p.fin)
	}

	// The last page, then backwards.
	p = query(t, a, "", rsm(`<max>3</max><before/>`)).ok(t)
	if p.bodies(t) != "a5 c1 b1" || p.complete() {
		t.Fatalf("last page: %q %s", p.bodies(t), p.fin)
	}
	p = query(t, a, "", rsm(`<max>3</max><before>`+p.set("first")+`</before>`)).ok(t)
	if p.bodies(t) != "a2 a3 a4" || p.complete() {
		t.Fatalf("before the last page: %q %s", p.bodies(t), p.fin)
	}
	p = query(t, a, "", rsm(`<max>3</max><before>`+p.set("first")+`</before>`)).ok(t)
	if p.bodies(t) != "a1" || !p.complete() {
		t.Fatalf("first page backwards: %q %s", p.bodies(t), p.fin)
	}

	// The server's limit: 4 per page, asked or not.
	for _, inner := range []string{"", rsm(`<max>100</max>`)} {
		p = query(t, a, "", inner).ok(t)
		if p.bodies(t) != "a1 a2 a3 a4" || p.complete() {
			t.Fatalf("capped page: %q %s", p.bodies(t), p.fin)
		}
	}
	// <max>0</max>: the count alone (XEP-0059 §2.7).
	p = query(t, a, "", rsm(`<max>0</max>`)).ok(t)
	if len(p.results) != 0 || p.set("count") != "7" {
		t.Fatalf("count only: %s", p.fin)
	}

	// Flipped: the same page, newest first, same first and last.
	plain := query(t, a, "", rsm(`<max>3</max><before/>`)).ok(t)
	flipped := query(t, a, "", rsm(`<max>3</max><before/>`)+`<flip-page/>`).ok(t)
	if flipped.bodies(t) != "b1 c1 a5" || flipped.set("first") != plain.set("first") || flipped.set("last") != plain.set("last") {
		t.Fatalf("flipped: %q %s", flipped.bodies(t), flipped.fin)
	}
}

// TestQueryIDs: the extended fields before-id, after-id and ids
// (§4.1.3), with RSM, and item-not-found for an ID not in the archive
// (§4.1.3, §4.3.2).
func TestQueryIDs(t *testing.T) {
	c := converse(t, 5, "")
	a := c.alice
	all := query(t, a, "", "").ok(t)
	id := all.ids() // a1 a2 a3 a4 a5 c1 b1
	for _, tc := range []struct{ inner, want string }{
		{form(field("after-id", id[4])), "c1 b1"},
		{form(field("before-id", id[2])), "a1 a2"},
		{form(field("after-id", id[0]) + field("before-id", id[4])), "a2 a3 a4"},
		{form(field("ids", id[6], id[1])), "a2 b1"},
		{form(field("ids", id[3])), "a4"},
		{form(field("after-id", id[0])) + rsm(`<max>2</max>`), "a2 a3"},
		{form(field("after-id", id[0])) + rsm(`<max>2</max><after>`+id[2]+`</after>`), "a4 a5"},
		{form(field("after-id", id[0])) + rsm(`<max>2</max><before/>`), "c1 b1"},
		{form(field("before-id", id[5])) + rsm(`<max>2</max><before/>`), "a4 a5"},
		{form(field("with", "bob@localhost") + field("after-id", id[2])), "a4 a5 b1"},
	} {
		if got := query(t, a, "", tc.inner).ok(t).bodies(t); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.inner, got, tc.want)
		}
	}
	for _, inner := range []string{
		rsm(`<after>nope</after>`),
		rsm(`<before>nope</before>`),
		form(field("after-id", "nope")),
		form(field("before-id", "nope")),
		form(field("ids", id[0], "nope")),
		// Bob's IDs are not in alice's archive.
		form(field("ids", query(t, c.bob, "", "").ok(t).ids()[0])),
	} {
		if p := query(t, a, "", inner); condition(p.reply) != stanza.ItemNotFound || len(p.results) != 0 {
			t.Errorf("%s: %s", inner, p.reply)
		}
	}
}

// TestQueryErrors: malformed requests are bad-request, unsupported ones
// feature-not-implemented (§4.1.5), and another account's archive is
// forbidden (§8.1).
func TestQueryErrors(t *testing.T) {
	c := converse(t, 1, "")
	for _, tc := range []struct {
		attrs, inner string
		want         stanza.Condition
	}{
		{"", form(field("start", "yesterday")), stanza.BadRequest},
		{"", form(field("end", "2010-06-07")), stanza.BadRequest},
		{"", form(field("with", "@nobody")), stanza.BadRequest},
		{"", form(field("with", "a@b", "c@d")), stanza.BadRequest},
		{"", `<x xmlns='jabber:x:data' type='submit'><field var='with'><value>bob@localhost</value></field></x>`, stanza.BadRequest},
		{"", `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>`, stanza.BadRequest},
		{"", rsm(`<max>many</max>`), stanza.BadRequest},
		{"", form(field("{urn:example}colour", "red")), stanza.FeatureNotImplemented},
		{"", rsm(`<index>2</index>`), stanza.FeatureNotImplemented},
		{" to='bob@localhost'", "", stanza.Forbidden},
		{" to='nobody@localhost'", "", stanza.Forbidden},
	} {
		if p := query(t, c.alice, tc.attrs, tc.inner); condition(p.reply) != tc.want || len(p.results) != 0 {
			t.Errorf("%s %s: %s, want %s", tc.attrs, tc.inner, p.reply, tc.want)
		}
	}
	// A PEP node's archive (XEP-0442) is not kept.
	c.alice.Send(`<iq type='set' id='node'><query xmlns='urn:xmpp:mam:2' node='urn:xmpp:microblog:0'/></iq>`)
	if r := c.alice.Expect(stanza.NSClient, "iq"); condition(r) != stanza.ItemNotFound {
		t.Errorf("node: %s", r)
	}
	// To one's own bare JID, explicitly.
	if p := query(t, c.alice, " to='alice@localhost'", "").ok(t); len(p.results) != 3 {
		t.Errorf("to own bare JID: %d results", len(p.results))
	}
	for _, payload := range []string{`<query xmlns='urn:xmpp:mam:2'/>`, `<prefs xmlns='urn:xmpp:mam:2'/>`, `<metadata xmlns='urn:xmpp:mam:2'/>`} {
		if r := iq(t, c.alice, "get", " to='bob@localhost'", payload); condition(r) != stanza.Forbidden {
			t.Errorf("get %s of bob: %s", payload, r)
		}
	}
	if r := iq(t, c.alice, "set", " to='bob@localhost'", `<prefs xmlns='urn:xmpp:mam:2' default='never'/>`); condition(r) != stanza.Forbidden {
		t.Errorf("set bob's prefs: %s", r)
	}
}

// TestForm: §4.1.5, the query form.
func TestForm(t *testing.T) {
	s := start(t, "")
	alice := online(t, s, "alice", "phone")
	r := iq(t, alice, "get", "", `<query xmlns='urn:xmpp:mam:2'/>`)
	x := r.Child(nsMAM, "query").Child("jabber:x:data", "x")
	if r.Attr("type") != "result" || x == nil || x.Attr("type") != "form" {
		t.Fatalf("form: %s", r)
	}
	var vars []string
	for _, f := range x.ChildElements() {
		if f.Child("jabber:x:data", "required") != nil {
			t.Errorf("%s is required", f.Attr("var"))
		}
		vars = append(vars, f.Attr("var")+":"+f.Attr("type"))
	}
	want := "FORM_TYPE:hidden with:jid-single start:text-single end:text-single before-id:text-single after-id:text-single ids:list-multi"
	if strings.Join(vars, " ") != want {
		t.Fatalf("fields %v", vars)
	}
}

// TestDiscoAndMetadata: the account advertises the archive (§7,
// XEP-0359 §5) and answers metadata requests (§5).
func TestDiscoAndMetadata(t *testing.T) {
	s := start(t, "")
	alice := online(t, s, "alice", "phone")
	r := iq(t, alice, "get", " to='alice@localhost'", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)
	features := map[string]bool{}
	for _, f := range r.Child("http://jabber.org/protocol/disco#info", "query").ChildElements() {
		features[f.Attr("var")] = true
	}
	for _, f := range []string{"urn:xmpp:mam:2", "urn:xmpp:mam:2#extended", "urn:xmpp:sid:0"} {
		if !features[f] {
			t.Errorf("no feature %s: %s", f, r)
		}
	}
	r = iq(t, alice, "get", "", `<metadata xmlns='urn:xmpp:mam:2'/>`)
	if md := r.Child(nsMAM, "metadata"); md == nil || md.FirstChild() != nil {
		t.Fatalf("empty archive's metadata: %s", r)
	}
	bob := online(t, s, "bob", "pc")
	receive(t, bob, send(alice, "bob@localhost/pc", "one"))
	receive(t, bob, send(alice, "bob@localhost/pc", "two"))
	ids := query(t, alice, "", "").ok(t).ids()
	r = iq(t, alice, "get", "", `<metadata xmlns='urn:xmpp:mam:2'/>`)
	md := r.Child(nsMAM, "metadata")
	if md == nil || md.Child(nsMAM, "start").Attr("id") != ids[0] || md.Child(nsMAM, "end").Attr("id") != ids[1] ||
		md.Child(nsMAM, "end").Attr("timestamp") == "" {
		t.Fatalf("metadata: %s", r)
	}
}
