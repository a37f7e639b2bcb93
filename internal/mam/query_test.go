package mam_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/mam"
	"github.com/mote-xmpp/mote/internal/rsm"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/sqlite"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

func parse(t testing.TB, s string) *stanza.Element {
	t.Helper()
	el, err := xmlstream.ParseStanza([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return el
}

// query wraps a form's fields (FORM_TYPE first) and other children in a
// <query/>.
func query(fields string, rest ...string) string {
	s := `<query xmlns='urn:xmpp:mam:2'>`
	if fields != "" {
		s += `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>` + fields + `</x>`
	}
	return s + strings.Join(rest, "") + `</query>`
}

func field(name string, values ...string) string {
	s := `<field var='` + name + `'>`
	for _, v := range values {
		s += `<value>` + v + `</value>`
	}
	return s + `</field>`
}

func set(inner string) string {
	return `<set xmlns='http://jabber.org/protocol/rsm'>` + inner + `</set>`
}

var noRSM = rsm.Request{Max: -1, Index: -1}

func TestParseQuery(t *testing.T) {
	at := func(s string) time.Time {
		v, _ := time.Parse(time.RFC3339, s)
		return v.UTC()
	}
	tests := []struct {
		in   string
		want mam.Query
	}{
		{`<query xmlns='urn:xmpp:mam:2'/>`, mam.Query{RSM: noRSM}},
		{`<query xmlns='urn:xmpp:mam:2' queryid='f27' node='n'/>`, mam.Query{ID: "f27", Node: "n", RSM: noRSM}},
		// §4.1.1: with, normalised, bare or full.
		{query(field("with", "Juliet@Capulet.lit")), mam.Query{Filter: storage.ArchiveQuery{With: "juliet@capulet.lit"}, RSM: noRSM}},
		{query(field("with", " juliet@capulet.lit/balcony "), field("start"), field("end", "")),
			mam.Query{Filter: storage.ArchiveQuery{With: "juliet@capulet.lit/balcony"}, RSM: noRSM}},
		// §4.1.2.
		{query(field("start", "2010-06-07T00:00:00Z") + field("end", "2010-07-07T13:23:54Z")),
			mam.Query{Filter: storage.ArchiveQuery{Start: at("2010-06-07T00:00:00Z"), End: at("2010-07-07T13:23:54Z")}, RSM: noRSM}},
		// §4.1.3; duplicate and empty ids dropped.
		{query(field("before-id", "09af3-cc343-b409f") + field("after-id", "28482-98726-73623") + field("ids", "a", "b", "a", "")),
			mam.Query{Filter: storage.ArchiveQuery{BeforeID: "09af3-cc343-b409f", AfterID: "28482-98726-73623", IDs: []string{"a", "b"}}, RSM: noRSM}},
		// §4.3: RSM, last page, flipped page.
		{query("", set(`<max>10</max><after>09af3-cc343-b409f</after>`)),
			mam.Query{RSM: rsm.Request{Max: 10, After: "09af3-cc343-b409f", Index: -1}}},
		{query(field("start", "2010-08-07T00:00:00Z"), set(`<max>10</max><before/>`), `<flip-page/>`),
			mam.Query{Filter: storage.ArchiveQuery{Start: at("2010-08-07T00:00:00Z")}, RSM: rsm.Request{Max: 10, HasBefore: true, Index: -1}, Flip: true}},
		// An untyped FORM_TYPE in a submitted form (XEP-0068 §5).
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field></x></query>`,
			mam.Query{RSM: noRSM}},
		// Other elements are ignored.
		{`<query xmlns='urn:xmpp:mam:2'><foo xmlns='urn:example'/></query>`, mam.Query{RSM: noRSM}},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			q, err := mam.ParseQuery(parse(t, tc.in))
			if err != nil {
				t.Fatalf("%s: %v", tc.in, err)
			}
			if !reflect.DeepEqual(*q, tc.want) {
				t.Fatalf("%s:\ngot  %+v\nwant %+v", tc.in, *q, tc.want)
			}
			again, err := mam.ParseQuery(parse(t, q.Element().String()))
			if err != nil || !reflect.DeepEqual(again, q) {
				t.Fatalf("round trip of %s: %+v, %v", q.Element(), again, err)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct {
		in   string
		want stanza.Condition
	}{
		{`<prefs xmlns='urn:xmpp:mam:2'/>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:1'/>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2' queryid='` + strings.Repeat("q", rsm.MaxIDLen+1) + `'/>`, stanza.BadRequest},
		// §4.1: the form.
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='form'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field></x></query>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='with'><value>a@b</value></field></x></query>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x></query>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'/></query>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field><value>x</value></field></x></query>`, stanza.BadRequest},
		{query(field("with", "a@b") + field("with", "c@d")), stanza.BadRequest},
		{query(field("with", "a@b", "c@d")), stanza.BadRequest},
		{query(field("with", "@b")), stanza.BadRequest},
		{query(field("start", "2010-06-07")), stanza.BadRequest},
		{query(field("end", "yesterday")), stanza.BadRequest},
		{query(field("before-id", "a", "b")), stanza.BadRequest},
		{query(field("after-id", strings.Repeat("a", rsm.MaxIDLen+1))), stanza.BadRequest},
		{query(field("ids", strings.Repeat("a", rsm.MaxIDLen+1))), stanza.BadRequest},
		// §4.1.5: an unknown field; include-groupchat is not supported.
		{query(field("{http://jabber.org/protocol/mood}mood", "lonely")), stanza.FeatureNotImplemented},
		{query(field("include-groupchat", "true")), stanza.FeatureNotImplemented},
		// Two forms, two sets.
		{`<query xmlns='urn:xmpp:mam:2'>` + strings.Repeat(`<x xmlns='jabber:x:data' type='submit'/>`, 2) + `</query>`, stanza.BadRequest},
		{query("", set(""), set("")), stanza.BadRequest},
		// RSM.
		{query("", set(`<index>3</index>`)), stanza.FeatureNotImplemented},
		{query("", set(`<max>-1</max>`)), stanza.BadRequest},
		{query("", set(`<after>a</after><before>b</before>`)), stanza.BadRequest},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			q, err := mam.ParseQuery(parse(t, tc.in))
			var se stanza.Error
			if !errors.As(err, &se) || se.Condition != tc.want || q != nil {
				t.Fatalf("%s: got %+v, %v; want %s", tc.in, q, err, tc.want)
			}
		})
	}
}

// archive is a SQLite archive holding 10 messages m00…m09 under key
// "alice", one second apart from start, with bob, carol/x, bob, ….
func archive(t *testing.T) (storage.Archive, time.Time) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mote.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var msgs []storage.ArchivedMessage
	for i := range 10 {
		with := "bob@localhost"
		if i%2 == 1 {
			with = "carol@localhost/x"
		}
		msgs = append(msgs, storage.ArchivedMessage{
			ID: fmt.Sprintf("m%02d", i), Archive: "alice", With: with,
			Stamp:  start.Add(time.Duration(i) * time.Second),
			Stanza: fmt.Appendf(nil, `<message from='alice@localhost/a' to='%s' type='chat'><body>%d</body></message>`, with, i),
		})
	}
	if err := st.Archive().Append(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	return st.Archive(), start
}

func ids(msgs []storage.ArchivedMessage) string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.ID)
	}
	return strings.Join(s, " ")
}

// TestRun pages through an archive forwards and backwards (§4.3), with
// the form's ID bounds combined with RSM's (§9) and the count only
// (XEP-0059 §2.7).
func TestRun(t *testing.T) {
	a, start := archive(t)
	stamp := func(i int) string { return mam.FormatStamp(start.Add(time.Duration(i) * time.Second)) }
	tests := []struct {
		q        string
		maxPage  int
		ids      string
		complete bool
		count    int
		index    int
	}{
		{query(""), 100, "m00 m01 m02 m03 m04 m05 m06 m07 m08 m09", true, 10, 0},
		{query(""), 4, "m00 m01 m02 m03", false, 10, 0},
		{query("", set(`<max>1000</max>`)), 4, "m00 m01 m02 m03", false, 10, 0},
		{query("", set(`<max>3</max>`)), 100, "m00 m01 m02", false, 10, 0},
		{query("", set(`<max>3</max><after>m02</after>`)), 100, "m03 m04 m05", false, 10, 3},
		{query("", set(`<max>3</max><after>m06</after>`)), 100, "m07 m08 m09", true, 10, 7},
		{query("", set(`<max>3</max><after>m09</after>`)), 100, "", true, 10, 0},
		// §4.3.3: the last page, then backwards.
		{query("", set(`<max>3</max><before/>`)), 100, "m07 m08 m09", false, 10, 7},
		{query("", set(`<max>3</max><before>m07</before>`)), 100, "m04 m05 m06", false, 10, 4},
		{query("", set(`<max>3</max><before>m03</before>`)), 100, "m00 m01 m02", true, 10, 0},
		{query("", set(`<before/>`)), 2, "m08 m09", false, 10, 8},
		// XEP-0059 §2.7: the count alone.
		{query("", set(`<max>0</max>`)), 100, "", false, 10, 0},
		{query(field("with", "nobody@localhost"), set(`<max>0</max>`)), 100, "", true, 0, 0},
		// §4.1.1, §4.1.2.
		{query(field("with", "bob@localhost")), 100, "m00 m02 m04 m06 m08", true, 5, 0},
		{query(field("with", "carol@localhost")), 100, "m01 m03 m05 m07 m09", true, 5, 0},
		{query(field("with", "carol@localhost/x")), 100, "m01 m03 m05 m07 m09", true, 5, 0},
		{query(field("with", "carol@localhost/y")), 100, "", true, 0, 0},
		{query(field("start", stamp(3)) + field("end", stamp(5))), 100, "m03 m04 m05", true, 3, 0},
		{query(field("with", "bob@localhost")+field("start", stamp(3)), set(`<max>1</max>`)), 100, "m04", false, 3, 0},
		// §4.1.3.
		{query(field("after-id", "m06")), 100, "m07 m08 m09", true, 10, 7},
		{query(field("before-id", "m02")), 100, "m00 m01", true, 10, 0},
		{query(field("after-id", "m02") + field("before-id", "m06")), 100, "m03 m04 m05", true, 10, 3},
		{query(field("ids", "m05", "m01", "m09")), 100, "m01 m05 m09", true, 3, 0},
		// §9: the form's bound and RSM's, the tighter wins.
		{query(field("after-id", "m02"), set(`<after>m05</after>`)), 100, "m06 m07 m08 m09", true, 10, 6},
		{query(field("after-id", "m05"), set(`<after>m02</after>`)), 100, "m06 m07 m08 m09", true, 10, 6},
		{query(field("after-id", "m05"), set(`<after>m05</after>`)), 100, "m06 m07 m08 m09", true, 10, 6},
		{query(field("before-id", "m05"), set(`<max>2</max><before>m08</before>`)), 100, "m03 m04", false, 10, 3},
		{query(field("before-id", "m08"), set(`<max>2</max><before>m05</before>`)), 100, "m03 m04", false, 10, 3},
		// The form's before-id pages forwards (§9).
		{query(field("before-id", "m05"), set(`<max>2</max>`)), 100, "m00 m01", false, 10, 0},
		{query(field("after-id", "m01"), set(`<max>2</max><before/>`)), 100, "m08 m09", false, 10, 8},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			q, err := mam.ParseQuery(parse(t, tc.q))
			if err != nil {
				t.Fatal(err)
			}
			p, err := q.Run(context.Background(), a, "alice", tc.maxPage)
			if err != nil {
				t.Fatal(err)
			}
			if ids(p.Messages) != tc.ids || p.Complete != tc.complete || p.Count != tc.count || p.FirstIndex != tc.index {
				t.Fatalf("%s: got [%s] complete %v count %d index %d; want [%s] %v %d %d",
					tc.q, ids(p.Messages), p.Complete, p.Count, p.FirstIndex, tc.ids, tc.complete, tc.count, tc.index)
			}
		})
	}
}

// TestRunNotFound: an ID that is not in the archive, wherever it is
// given, is storage.ErrNotFound (§4.1.3, §4.3.2).
func TestRunNotFound(t *testing.T) {
	a, _ := archive(t)
	for i, s := range []string{
		query("", set(`<after>nope</after>`)),
		query("", set(`<before>nope</before>`)),
		query(field("after-id", "nope")),
		query(field("before-id", "nope")),
		query(field("ids", "m01", "nope")),
		query(field("after-id", "m01"), set(`<after>nope</after>`)),
		query(field("after-id", "nope"), set(`<after>m01</after>`)),
		query(field("before-id", "nope"), set(`<before>m05</before>`)),
	} {
		q, err := mam.ParseQuery(parse(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Run(context.Background(), a, "alice", 100); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%d: %s: got %v", i, s, err)
		}
	}
	// An unknown archive is empty and complete.
	q, _ := mam.ParseQuery(parse(t, query("")))
	if p, err := q.Run(context.Background(), a, "nobody", 100); err != nil || len(p.Messages) != 0 || !p.Complete {
		t.Fatalf("unknown archive: %+v %v", p, err)
	}
}
