package mam_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/mam"
	"github.com/mote-xmpp/mote/internal/rsm"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// FuzzParseQuery parses fuzzed XML with xmlstream and then as a MAM
// query. ParseQuery must not panic and must fail only with a
// stanza.Error; every query it accepts keeps its invariants and survives
// Element and ParseQuery unchanged.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		`<query xmlns='urn:xmpp:mam:2'/>`,
		`<query xmlns='urn:xmpp:mam:2' queryid='f27'/>`,
		query(field("with", "juliet@capulet.lit")),
		query(field("with", "Juliet@Capulet.lit/Balcony")),
		query(field("start", "2010-06-07T00:00:00Z") + field("end", "2010-07-07T13:23:54-05:00")),
		query(field("start", "2010-08-07T00:00:00.123456Z"), set(`<max>10</max>`)),
		query(field("after-id", "28482-98726-73623") + field("before-id", "09af3-cc343-b409f")),
		query(field("ids", "28482-98726-73623", "09af3-cc343-b409f")),
		query(field("start", "2010-08-07T00:00:00Z"), set(`<max>10</max><before/>`)),
		query("", set(`<max>10</max><after>09af3-cc343-b409f</after>`), `<flip-page/>`),
		query("", set(`<index>3</index>`)),
		query(field("include-groupchat", "true")),
		query(field("with", "a@b", "c@d")),
		`<query xmlns='urn:xmpp:mam:2' node='princely_musings'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field></x></query>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := xmlstream.ParseStanza(data)
		if err != nil {
			return
		}
		q, err := mam.ParseQuery(el)
		if err != nil {
			var se stanza.Error
			if !errors.As(err, &se) || se.Condition == "" || q != nil {
				t.Fatalf("ParseQuery: %+v, %#v", q, err)
			}
			return
		}
		if len(q.ID) > rsm.MaxIDLen || len(q.Node) > rsm.MaxIDLen || q.RSM.Index != -1 ||
			len(q.Filter.IDs) > mam.MaxIDs || q.Filter.Max != 0 || q.Filter.Last {
			t.Fatalf("accepted %+v", q)
		}
		if q.Filter.With != "" {
			if j, err := jid.Parse(q.Filter.With); err != nil || j.String() != q.Filter.With {
				t.Fatalf("with %q is not a normalised JID", q.Filter.With)
			}
		}
		for _, tm := range []time.Time{q.Filter.Start, q.Filter.End} {
			if !tm.IsZero() && (tm.Location() != time.UTC || tm.Year() < 1 || tm.Year() > 9999) {
				t.Fatalf("time %v", tm)
			}
		}
		seen := map[string]bool{}
		for _, id := range q.Filter.IDs {
			if id == "" || seen[id] || len(id) > rsm.MaxIDLen {
				t.Fatalf("ids %q", q.Filter.IDs)
			}
			seen[id] = true
		}
		back := q.Element()
		again, err := mam.ParseQuery(back)
		if err != nil || !reflect.DeepEqual(again, q) {
			t.Fatalf("round trip of %+v via %s: %+v, %v", q, back, again, err)
		}
		// And through the wire form.
		again, err = mam.ParseQuery(parse(t, back.String()))
		if err != nil || !reflect.DeepEqual(again, q) {
			t.Fatalf("round trip of %s: %+v, %v", back, again, err)
		}
	})
}

// FuzzParseDateTime: ParseDateTime never panics, and what it accepts
// (with at most nine digits of fraction and not 24:00) time.Parse reads
// as the same instant.
func FuzzParseDateTime(f *testing.F) {
	for _, s := range []string{
		"1969-07-21T02:56:15Z", "1969-07-20T21:56:15-05:00", "2010-07-07T13:23:54.123Z",
		"2010-12-31T24:00:00Z", "2000-02-29T12:00:00+14:00", "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "2010-07-07T13:23:54.Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := mam.ParseDateTime(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC || got.Year() < 1 || got.Year() > 9999 {
			t.Fatalf("%q: %v", s, got)
		}
		s = strings.Trim(s, " \t\r\n")
		frac := ""
		if i := strings.IndexByte(s, '.'); i >= 0 {
			frac = strings.TrimRight(s[i+1:], "0123456789")
			frac = s[i+1 : len(s)-len(frac)]
		}
		if len(frac) > 9 || s[11:13] == "24" {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !want.Equal(got) {
			t.Fatalf("%q: ParseDateTime %v, time.Parse %v, %v", s, got, want, err)
		}
	})
}

// FuzzParsePrefs: ParsePrefs never panics, fails only with a
// stanza.Error, and what it accepts survives PrefsElement.
func FuzzParsePrefs(f *testing.F) {
	for _, s := range []string{
		`<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>romeo@montague.lit</jid></always><never><jid>montague@montague.lit</jid></never></prefs>`,
		`<prefs xmlns='urn:xmpp:mam:2' default='always'/>`,
		`<prefs xmlns='urn:xmpp:mam:2' default='never'><never><jid>A@b/c</jid><jid>a@b</jid></never></prefs>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := xmlstream.ParseStanza(data)
		if err != nil {
			return
		}
		p, err := mam.ParsePrefs(el)
		if err != nil {
			var se stanza.Error
			if !errors.As(err, &se) {
				t.Fatalf("ParsePrefs: %#v", err)
			}
			return
		}
		again, err := mam.ParsePrefs(parse(t, mam.PrefsElement(p).String()))
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip of %+v: %+v, %v", p, again, err)
		}
	})
}
