package mam_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/dataform"
	"github.com/mote-xmpp/mote/internal/mam"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/stanza"
)

// TestResult: §4.2, the stored message forwarded with its stamp.
func TestResult(t *testing.T) {
	m := storage.ArchivedMessage{
		ID: "28482-98726-73623", Stamp: time.Date(2010, 7, 10, 23, 8, 25, 0, time.UTC),
		Stanza: []byte(`<message to='juliet@capulet.lit/balcony' from='romeo@montague.lit/orchard' type='chat'><body>Call me but love, &amp; I&apos;ll be new baptized</body></message>`),
	}
	got, err := mam.Result("juliet@capulet.lit", "juliet@capulet.lit/chamber", "f27", m)
	if err != nil {
		t.Fatal(err)
	}
	want := `<message xmlns="jabber:client" from="juliet@capulet.lit" to="juliet@capulet.lit/chamber">` +
		`<result xmlns="urn:xmpp:mam:2" queryid="f27" id="28482-98726-73623">` +
		`<forwarded xmlns="urn:xmpp:forward:0"><delay xmlns="urn:xmpp:delay" stamp="2010-07-10T23:08:25.000Z"/>` +
		`<message xmlns="jabber:client" to="juliet@capulet.lit/balcony" from="romeo@montague.lit/orchard" type="chat">` +
		`<body>Call me but love, &amp; I&apos;ll be new baptized</body></message></forwarded></result></message>`
	if s := parse(t, got.String()).String(); s != parse(t, want).String() {
		t.Fatalf("got\n%s\nwant\n%s", s, want)
	}
	// No queryid: no attribute.
	got, _ = mam.Result("a@b", "a@b/c", "", m)
	if r := got.Child(mam.NS, "result"); r.HasAttr("queryid") {
		t.Fatalf("queryid without one: %s", got)
	}
	m.Stanza = []byte(`<message><body>`)
	if _, err := mam.Result("a@b", "a@b/c", "", m); err == nil {
		t.Fatal("an unreadable stored message rendered")
	}
}

// TestFin: §4.3.2, with XEP-0059 §2.2 and §2.7.
func TestFin(t *testing.T) {
	page := []storage.ArchivedMessage{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	tests := []struct {
		page     []storage.ArchivedMessage
		count    int
		complete bool
		want     string
	}{
		{page, 20, false, `<fin xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><first>a</first><last>c</last><count>20</count></set></fin>`},
		{page[:1], 1, true, `<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><first>a</first><last>a</last><count>1</count></set></fin>`},
		{nil, 7, true, `<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><count>7</count></set></fin>`},
	}
	for i, tc := range tests {
		if got := mam.Fin(tc.page, tc.count, tc.complete).String(); got != parse(t, tc.want).String() {
			t.Errorf("%d: got %s", i, got)
		}
	}
}

// TestForm: §4.1.5, every supported field, none required, ids open.
func TestForm(t *testing.T) {
	q := mam.Form()
	if q.Space != mam.NS || q.Local != "query" {
		t.Fatalf("%s", q)
	}
	x := q.Child(dataform.NS, "x")
	f, err := dataform.Parse(x)
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != dataform.TypeForm || f.FormType() != mam.NS {
		t.Fatalf("form: %+v", f)
	}
	types := map[string]string{}
	for _, fl := range f.Fields {
		if fl.Required {
			t.Errorf("%s is required", fl.Var)
		}
		types[fl.Var] = fl.Type
	}
	want := map[string]string{
		"FORM_TYPE": "hidden", "with": "jid-single", "start": "text-single", "end": "text-single",
		"before-id": "text-single", "after-id": "text-single", "ids": "list-multi",
	}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("fields %v", types)
	}
	var ids *stanza.Element
	for _, c := range x.ChildElements() {
		if c.Attr("var") == "ids" {
			ids = c
		}
	}
	if v := ids.Child(mam.NSValidate, "validate"); v == nil || v.Child(mam.NSValidate, "open") == nil {
		t.Fatalf("ids without an open <validate/>: %s", ids)
	}
}

// TestMetadata: §5, the first and last message, or nothing.
func TestMetadata(t *testing.T) {
	a, start := archive(t)
	md, err := mam.Metadata(context.Background(), a, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`<metadata xmlns='urn:xmpp:mam:2'><start id='m00' timestamp='%s'/><end id='m09' timestamp='%s'/></metadata>`,
		mam.FormatStamp(start), mam.FormatStamp(start.Add(9*time.Second)))
	if md.String() != parse(t, want).String() {
		t.Fatalf("got %s", md)
	}
	md, err = mam.Metadata(context.Background(), a, "nobody")
	if err != nil || md.String() != `<metadata xmlns="urn:xmpp:mam:2"></metadata>` && md.String() != `<metadata xmlns="urn:xmpp:mam:2"/>` {
		t.Fatalf("empty archive: %s %v", md, err)
	}
}

// TestStanzaIDs: XEP-0359 §3, forged IDs go, others and origin-id stay,
// and a copy sharing the children is unaffected.
func TestStanzaIDs(t *testing.T) {
	st := parse(t, `<message from='romeo@montague.lit/orchard' to='juliet@capulet.lit'><body>hi</body>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' id='forged1' by='juliet@capulet.lit'/>`+
		`<origin-id xmlns='urn:xmpp:sid:0' id='de305d54'/>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' id='room1' by='room@muc.example.com'/>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' id='forged2' by='capulet.lit'/></message>`)
	cp := st.ShallowCopy()
	before := cp.String()
	local := func(by string) bool { return by == "juliet@capulet.lit" || by == "capulet.lit" }
	if n := mam.StripStanzaIDs(st, local); n != 2 {
		t.Fatalf("removed %d", n)
	}
	if mam.StanzaID(st, "juliet@capulet.lit") != "" || mam.StanzaID(st, "capulet.lit") != "" {
		t.Fatalf("forged IDs kept: %s", st)
	}
	if mam.StanzaID(st, "room@muc.example.com") != "room1" || mam.OriginID(st) != "de305d54" {
		t.Fatalf("lost an ID: %s", st)
	}
	if cp.String() != before {
		t.Fatalf("the copy changed: %s", cp)
	}
	if n := mam.StripStanzaIDs(st, local); n != 0 {
		t.Fatalf("removed %d again", n)
	}
	mam.AddStanzaID(st, "new", "juliet@capulet.lit")
	if mam.StanzaID(st, "juliet@capulet.lit") != "new" {
		t.Fatalf("added: %s", st)
	}
	if mam.OriginID(parse(t, `<message/>`)) != "" {
		t.Fatal("origin-id of nothing")
	}
}

func TestParsePrefs(t *testing.T) {
	tests := []struct {
		in   string
		want storage.ArchivePrefs
		err  stanza.Condition
	}{
		{`<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>romeo@montague.lit</jid></always><never><jid>montague@montague.lit</jid></never></prefs>`,
			storage.ArchivePrefs{Default: "roster", Always: []string{"romeo@montague.lit"}, Never: []string{"montague@montague.lit"}}, ""},
		{`<prefs xmlns='urn:xmpp:mam:2' default='always'/>`, storage.ArchivePrefs{Default: "always"}, ""},
		{`<prefs xmlns='urn:xmpp:mam:2' default='never'><always/><never/></prefs>`, storage.ArchivePrefs{Default: "never"}, ""},
		// Normalised to bare JIDs, sorted, without duplicates.
		{`<prefs xmlns='urn:xmpp:mam:2' default='always'><never><jid>Z@x</jid><jid> a@X/res </jid><jid>z@x</jid><jid>x</jid></never></prefs>`,
			storage.ArchivePrefs{Default: "always", Never: []string{"a@x", "x", "z@x"}}, ""},
		{`<prefs xmlns='urn:xmpp:mam:2'/>`, storage.ArchivePrefs{}, stanza.BadRequest},
		{`<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>`, storage.ArchivePrefs{}, stanza.BadRequest},
		{`<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><always/></prefs>`, storage.ArchivePrefs{}, stanza.BadRequest},
		{`<prefs xmlns='urn:xmpp:mam:2' default='always'><never><jid>@x</jid></never></prefs>`, storage.ArchivePrefs{}, stanza.BadRequest},
		{`<prefs xmlns='urn:xmpp:mam:1' default='always'/>`, storage.ArchivePrefs{}, stanza.BadRequest},
	}
	for i, tc := range tests {
		p, err := mam.ParsePrefs(parse(t, tc.in))
		if tc.err != "" {
			var se stanza.Error
			if !errors.As(err, &se) || se.Condition != tc.err {
				t.Errorf("%d: got %+v, %v; want %s", i, p, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(p, tc.want) {
			t.Errorf("%d: got %+v, %v; want %+v", i, p, err, tc.want)
			continue
		}
		again, err := mam.ParsePrefs(mam.PrefsElement(p))
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Errorf("%d: round trip %+v, %v", i, again, err)
		}
	}
	el := mam.PrefsElement(storage.ArchivePrefs{Default: "roster"})
	if el.Child(mam.NS, "always") == nil || el.Child(mam.NS, "never") == nil {
		t.Fatalf("empty lists left out: %s", el)
	}
}
