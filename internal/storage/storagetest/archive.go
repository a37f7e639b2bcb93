package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// TestArchive checks a backend's storage.Archive against the contract
// documented on the interface (XEP-0313 message archives, XEP-0441
// preferences).
func TestArchive(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a storage.Archive)
	}{
		{"Empty", testArchiveEmpty},
		{"RoundTrip", testArchiveRoundTrip},
		{"AppendSpansArchives", testArchiveAppendSpansArchives},
		{"With", testArchiveWith},
		{"StartEnd", testArchiveStartEnd},
		{"PageForwards", testArchivePageForwards},
		{"PageBackwards", testArchivePageBackwards},
		{"PageFiltered", testArchivePageFiltered},
		{"FormBounds", testArchiveFormBounds},
		{"IDs", testArchiveIDs},
		{"UnknownID", testArchiveUnknownID},
		{"Duplicate", testArchiveDuplicate},
		{"Isolation", testArchiveIsolation},
		{"Prefs", testArchivePrefs},
		{"PurgeByAge", testArchivePurgeByAge},
		{"PurgeByCount", testArchivePurgeByCount},
		{"Keys", testArchiveKeys},
		{"Delete", testArchiveDelete},
		{"ConcurrentAppend", testArchiveConcurrentAppend},
		{"CallerOwnsSlices", testArchiveCallerOwnsSlices},
		{"CancelledContext", testArchiveCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t).Archive())
		})
	}
}

// archived is the stamp of the first test message: a sub-millisecond part
// and a non-UTC zone.
var archived = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC+2", 2*3600))

// amsg returns message id of archive, exchanged with with, stamped i
// seconds after archived, with a stanza made from seed.
func amsg(archive, id, with string, i int, seed byte) storage.ArchivedMessage {
	return storage.ArchivedMessage{
		ID: id, Archive: archive, With: with,
		Stamp:  archived.Add(time.Duration(i) * time.Second),
		Stanza: stanza(seed),
	}
}

// series returns n messages of archive with IDs prefix0, prefix1, ...,
// stamped a second apart, exchanged with romeo.
func series(archive, prefix string, n int) []storage.ArchivedMessage {
	msgs := make([]storage.ArchivedMessage, n)
	for i := range msgs {
		msgs[i] = amsg(archive, fmt.Sprintf("%s%d", prefix, i), "romeo@example.net/orchard", i, byte(i))
	}
	return msgs
}

func mustAppend(t *testing.T, a storage.Archive, msgs ...storage.ArchivedMessage) {
	t.Helper()
	if err := a.Append(context.Background(), msgs); err != nil {
		t.Fatalf("Append(%d messages, first %q): %v", len(msgs), msgs[0].ID, err)
	}
}

func mustQuery(t *testing.T, a storage.Archive, archive string, q storage.ArchiveQuery) storage.ArchivePage {
	t.Helper()
	p, err := a.QueryArchive(context.Background(), archive, q)
	if err != nil {
		t.Fatalf("QueryArchive(%q, %+v): %v", archive, q, err)
	}
	return p
}

// diffMessage reports how got differs from want, or "" if they are
// equal; stamps are compared to the millisecond and must be in UTC.
func diffMessage(got, want storage.ArchivedMessage) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("ID = %q, want %q", got.ID, want.ID)
	case got.Archive != want.Archive:
		return fmt.Sprintf("%s: Archive = %q, want %q", want.ID, got.Archive, want.Archive)
	case got.With != want.With:
		return fmt.Sprintf("%s: With = %q, want %q", want.ID, got.With, want.With)
	case !got.Stamp.Equal(toMilli(want.Stamp)) || got.Stamp.Location() != time.UTC:
		return fmt.Sprintf("%s: Stamp = %v, want %v in UTC", want.ID, got.Stamp, toMilli(want.Stamp))
	case !bytes.Equal(got.Stanza, want.Stanza):
		return fmt.Sprintf("%s: Stanza = %q, want %q", want.ID, got.Stanza, want.Stanza)
	}
	return ""
}

// wantPage is what checkPage expects of an ArchivePage.
type wantPage struct {
	ids        []string // the messages' IDs, in order
	complete   bool
	count      int
	firstIndex int
}

func ids(msgs []storage.ArchivedMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// checkPage runs q and compares the page with want.
func checkPage(t *testing.T, a storage.Archive, archive string, q storage.ArchiveQuery, want wantPage) storage.ArchivePage {
	t.Helper()
	p := mustQuery(t, a, archive, q)
	if got := ids(p.Messages); !slices.Equal(got, want.ids) {
		t.Errorf("QueryArchive(%q, %+v) IDs = %q, want %q", archive, q, got, want.ids)
	}
	if p.Complete != want.complete || p.Count != want.count || p.FirstIndex != want.firstIndex {
		t.Errorf("QueryArchive(%q, %+v) = complete %v, count %d, first index %d; want %v, %d, %d",
			archive, q, p.Complete, p.Count, p.FirstIndex, want.complete, want.count, want.firstIndex)
	}
	return p
}

func testArchiveEmpty(t *testing.T, a storage.Archive) {
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{complete: true})
	checkPage(t, a, "juliet", storage.ArchiveQuery{Max: 10, Last: true}, wantPage{complete: true})
	checkPage(t, a, "juliet", storage.ArchiveQuery{With: "romeo@example.net"}, wantPage{complete: true})
	if err := a.Append(context.Background(), nil); err != nil {
		t.Errorf("Append(nil) = %v, want nil", err)
	}
	if keys, err := a.ArchiveKeys(context.Background()); err != nil || len(keys) != 0 {
		t.Errorf("ArchiveKeys on an empty store = %q, %v; want none", keys, err)
	}
}

func testArchiveRoundTrip(t *testing.T, a storage.Archive) {
	// Stamps out of order and repeated: the archive's order is the order
	// of appending (XEP-0313 §3.1).
	want := []storage.ArchivedMessage{
		amsg("juliet", "a-1", "romeo@example.net/orchard", 5, 1),
		amsg("juliet", "Z 2", "romeo@example.net", 5, 2),
		amsg("juliet", "ü3", "nurse@example.com/kitchen", -3, 3),
		{ID: "4", Archive: "juliet", With: "tybalt@example.net", Stamp: time.UnixMilli(1), Stanza: []byte{0x00}},
		{ID: "5", Archive: "juliet", With: "x@example.com/r", Stamp: time.Date(2038, 1, 19, 3, 14, 8, 1000000, time.UTC), Stanza: []byte{0xff, 0x00, 0xff}},
	}
	mustAppend(t, a, want[:2]...)
	mustAppend(t, a, want[2])
	mustAppend(t, a, want[3:]...)
	p := checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{ids: ids(want), complete: true, count: len(want)})
	for i := range min(len(p.Messages), len(want)) {
		if d := diffMessage(p.Messages[i], want[i]); d != "" {
			t.Errorf("message %d: %s", i, d)
		}
	}
	// A negative Max is no limit, as 0 is.
	checkPage(t, a, "juliet", storage.ArchiveQuery{Max: -1}, wantPage{ids: ids(want), complete: true, count: len(want)})
}

func testArchiveAppendSpansArchives(t *testing.T, a storage.Archive) {
	// A message between two local accounts goes in both archives at once.
	mustAppend(t, a,
		amsg("juliet", "j1", "romeo@example.com/orchard", 0, 1),
		amsg("romeo", "r1", "juliet@example.com/balcony", 0, 1),
		amsg("juliet", "j2", "romeo@example.com/orchard", 1, 2),
	)
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{ids: []string{"j1", "j2"}, complete: true, count: 2})
	checkPage(t, a, "romeo", storage.ArchiveQuery{}, wantPage{ids: []string{"r1"}, complete: true, count: 1})
}

func testArchiveWith(t *testing.T, a storage.Archive) {
	mustAppend(t, a,
		amsg("juliet", "1", "romeo@example.net/orchard", 0, 1),
		amsg("juliet", "2", "romeo@example.net", 1, 2),
		amsg("juliet", "3", "romeo@example.net/garden", 2, 3),
		amsg("juliet", "4", "romeo@example.netx/orchard", 3, 4), // another domain
		amsg("juliet", "5", "nurse@example.com/romeo@example.net", 4, 5),
		amsg("juliet", "6", "romeo@example.net/a/b", 5, 6), // a resource with '/'
		amsg("juliet", "7", "example.net", 6, 7),
		amsg("juliet", "8", "example.net/romeo", 7, 8),
	)
	tests := []struct {
		with string
		want []string
	}{
		{"romeo@example.net", []string{"1", "2", "3", "6"}}, // bare: any resource or none
		{"romeo@example.net/orchard", []string{"1"}},        // full: exactly
		{"romeo@example.net/a/b", []string{"6"}},
		{"romeo@example.net/a", nil},
		{"romeo@example.net/", nil},
		{"nurse@example.com", []string{"5"}},
		{"example.net", []string{"7", "8"}},
		{"example.net/romeo", []string{"8"}},
		{"romeo", nil},
		{"mallory@example.net", nil},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkPage(t, a, "juliet", storage.ArchiveQuery{With: tt.with},
				wantPage{ids: tt.want, complete: true, count: len(tt.want)})
		})
	}
}

func testArchiveStartEnd(t *testing.T, a storage.Archive) {
	mustAppend(t, a, series("juliet", "m", 5)...) // stamps archived + 0s ... 4s
	at := func(i int) time.Time { return archived.Add(time.Duration(i) * time.Second) }
	tests := []struct {
		start, end time.Time
		want       []string
	}{
		{at(1), time.Time{}, []string{"m1", "m2", "m3", "m4"}}, // inclusive
		{time.Time{}, at(2), []string{"m0", "m1", "m2"}},       // inclusive
		{at(1), at(3), []string{"m1", "m2", "m3"}},
		{at(2), at(2), []string{"m2"}},
		{at(3), at(1), nil},
		{at(5), time.Time{}, nil},
		{time.Time{}, at(-1), nil},
		// Compared in whole milliseconds; the zone does not matter.
		{at(2).Add(time.Millisecond - archived.Sub(toMilli(archived))).UTC(), time.Time{}, []string{"m3", "m4"}},
		{time.Time{}, at(2).Add(-time.Millisecond).UTC(), []string{"m0", "m1"}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkPage(t, a, "juliet", storage.ArchiveQuery{Start: tt.start, End: tt.end},
				wantPage{ids: tt.want, complete: true, count: len(tt.want)})
		})
	}
}

// testArchivePageForwards pages with RSM <max/> and <after/>
// (XEP-0313 §4.3.2).
func testArchivePageForwards(t *testing.T, a storage.Archive) {
	msgs := series("juliet", "m", 10)
	mustAppend(t, a, msgs...)
	all := ids(msgs)
	tests := []struct {
		q    storage.ArchiveQuery
		want wantPage
	}{
		{storage.ArchiveQuery{Max: 3}, wantPage{all[0:3], false, 10, 0}},
		{storage.ArchiveQuery{Max: 3, AfterID: "m2"}, wantPage{all[3:6], false, 10, 3}},
		{storage.ArchiveQuery{Max: 3, AfterID: "m5"}, wantPage{all[6:9], false, 10, 6}},
		{storage.ArchiveQuery{Max: 3, AfterID: "m8"}, wantPage{all[9:], true, 10, 9}},
		{storage.ArchiveQuery{Max: 3, AfterID: "m9"}, wantPage{nil, true, 10, 0}},
		// A page that ends exactly at the last message is complete.
		{storage.ArchiveQuery{Max: 3, AfterID: "m6"}, wantPage{all[7:], true, 10, 7}},
		{storage.ArchiveQuery{Max: 10}, wantPage{all, true, 10, 0}},
		{storage.ArchiveQuery{Max: 9}, wantPage{all[:9], false, 10, 0}},
		{storage.ArchiveQuery{AfterID: "m4"}, wantPage{all[5:], true, 10, 5}},
		{storage.ArchiveQuery{Max: 1}, wantPage{all[:1], false, 10, 0}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPage(t, a, "juliet", tt.q, tt.want) })
	}
}

// testArchivePageBackwards pages with RSM <before/>, empty for the last
// page (XEP-0313 §4.3.3) and then with the first ID of each page.
func testArchivePageBackwards(t *testing.T, a storage.Archive) {
	msgs := series("juliet", "m", 10)
	mustAppend(t, a, msgs...)
	all := ids(msgs)
	tests := []struct {
		q    storage.ArchiveQuery
		want wantPage
	}{
		{storage.ArchiveQuery{Max: 3, Last: true}, wantPage{all[7:], false, 10, 7}},
		{storage.ArchiveQuery{Max: 3, Last: true, BeforeID: "m7"}, wantPage{all[4:7], false, 10, 4}},
		{storage.ArchiveQuery{Max: 3, Last: true, BeforeID: "m4"}, wantPage{all[1:4], false, 10, 1}},
		{storage.ArchiveQuery{Max: 3, Last: true, BeforeID: "m1"}, wantPage{all[:1], true, 10, 0}},
		{storage.ArchiveQuery{Max: 3, Last: true, BeforeID: "m0"}, wantPage{nil, true, 10, 0}},
		// A page that starts exactly at the first message is complete.
		{storage.ArchiveQuery{Max: 3, Last: true, BeforeID: "m3"}, wantPage{all[:3], true, 10, 0}},
		{storage.ArchiveQuery{Max: 10, Last: true}, wantPage{all, true, 10, 0}},
		{storage.ArchiveQuery{Max: 9, Last: true}, wantPage{all[1:], false, 10, 1}},
		{storage.ArchiveQuery{Last: true}, wantPage{all, true, 10, 0}},
		{storage.ArchiveQuery{Last: true, BeforeID: "m5"}, wantPage{all[:5], true, 10, 0}},
		// After and before together: the range between, paged backwards.
		{storage.ArchiveQuery{Max: 2, Last: true, AfterID: "m2", BeforeID: "m8"}, wantPage{all[6:8], false, 10, 6}},
		{storage.ArchiveQuery{Max: 5, Last: true, AfterID: "m2", BeforeID: "m8"}, wantPage{all[3:8], true, 10, 3}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPage(t, a, "juliet", tt.q, tt.want) })
	}
}

// testArchivePageFiltered pages through the messages with one JID: the
// cursors may name messages the filter does not select, Count and
// FirstIndex are within the selection.
func testArchivePageFiltered(t *testing.T, a storage.Archive) {
	var romeo []string
	for i := range 12 {
		with := "nurse@example.com/kitchen"
		if i%3 != 0 {
			with = "romeo@example.net/orchard"
		}
		m := amsg("juliet", fmt.Sprintf("m%d", i), with, i, byte(i))
		mustAppend(t, a, m)
		if i%3 != 0 {
			romeo = append(romeo, m.ID) // m1 m2 m4 m5 m7 m8 m10 m11
		}
	}
	q := func(after, before string, max int, last bool) storage.ArchiveQuery {
		return storage.ArchiveQuery{With: "romeo@example.net", AfterID: after, BeforeID: before, Max: max, Last: last}
	}
	tests := []struct {
		q    storage.ArchiveQuery
		want wantPage
	}{
		{q("", "", 3, false), wantPage{romeo[0:3], false, 8, 0}},
		{q("m4", "", 3, false), wantPage{romeo[3:6], false, 8, 3}},
		{q("m8", "", 3, false), wantPage{romeo[6:], true, 8, 6}},
		{q("m3", "", 3, false), wantPage{romeo[2:5], false, 8, 2}}, // m3 is the nurse's
		{q("m9", "", 2, false), wantPage{romeo[6:], true, 8, 6}},
		{q("", "", 3, true), wantPage{romeo[5:], false, 8, 5}},
		{q("", "m9", 3, true), wantPage{romeo[3:6], false, 8, 3}},
		{q("", "m3", 3, true), wantPage{romeo[:2], true, 8, 0}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPage(t, a, "juliet", tt.q, tt.want) })
	}
	// Filters combine.
	checkPage(t, a, "juliet", storage.ArchiveQuery{
		With: "romeo@example.net/orchard", Start: archived.Add(4 * time.Second), End: archived.Add(10 * time.Second),
		AfterID: "m4", Max: 2,
	}, wantPage{[]string{"m5", "m7"}, false, 5, 1})
}

// testArchiveFormBounds checks the form's after-id and before-id
// (XEP-0313 §4.1.3): before-id bounds the selection but pages forwards,
// unlike RSM <before/> (XEP-0313 §9).
func testArchiveFormBounds(t *testing.T, a storage.Archive) {
	msgs := series("juliet", "m", 10)
	mustAppend(t, a, msgs...)
	all := ids(msgs)
	tests := []struct {
		q    storage.ArchiveQuery
		want wantPage
	}{
		{storage.ArchiveQuery{BeforeID: "m6"}, wantPage{all[:6], true, 10, 0}},
		{storage.ArchiveQuery{BeforeID: "m6", Max: 2}, wantPage{all[:2], false, 10, 0}},
		{storage.ArchiveQuery{AfterID: "m2", BeforeID: "m6"}, wantPage{all[3:6], true, 10, 3}},
		{storage.ArchiveQuery{AfterID: "m2", BeforeID: "m6", Max: 2}, wantPage{all[3:5], false, 10, 3}},
		{storage.ArchiveQuery{AfterID: "m2", BeforeID: "m6", Max: 3}, wantPage{all[3:6], true, 10, 3}},
		{storage.ArchiveQuery{AfterID: "m4", BeforeID: "m5"}, wantPage{nil, true, 10, 0}},
		{storage.ArchiveQuery{AfterID: "m6", BeforeID: "m2"}, wantPage{nil, true, 10, 0}},
		{storage.ArchiveQuery{AfterID: "m3", BeforeID: "m3"}, wantPage{nil, true, 10, 0}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPage(t, a, "juliet", tt.q, tt.want) })
	}
}

// testArchiveIDs checks the form's 'ids' field (XEP-0313 §4.1.3).
func testArchiveIDs(t *testing.T, a storage.Archive) {
	mustAppend(t, a, series("juliet", "m", 10)...)
	mustAppend(t, a, series("romeo", "r", 3)...)
	tests := []struct {
		q    storage.ArchiveQuery
		want wantPage
	}{
		// In archive order, whatever the order asked; duplicates once.
		{storage.ArchiveQuery{IDs: []string{"m7", "m2", "m5", "m2"}}, wantPage{[]string{"m2", "m5", "m7"}, true, 3, 0}},
		{storage.ArchiveQuery{IDs: []string{"m3"}}, wantPage{[]string{"m3"}, true, 1, 0}},
		{storage.ArchiveQuery{IDs: []string{"m7", "m2", "m5"}, Max: 2}, wantPage{[]string{"m2", "m5"}, false, 3, 0}},
		{storage.ArchiveQuery{IDs: []string{"m7", "m2", "m5"}, Max: 2, AfterID: "m2"}, wantPage{[]string{"m5", "m7"}, true, 3, 1}},
		{storage.ArchiveQuery{IDs: []string{"m7", "m2", "m5"}, Max: 1, Last: true}, wantPage{[]string{"m7"}, false, 3, 2}},
		{storage.ArchiveQuery{IDs: []string{"m7", "m2", "m5"}, Start: archived.Add(3 * time.Second)}, wantPage{[]string{"m5", "m7"}, true, 2, 0}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPage(t, a, "juliet", tt.q, tt.want) })
	}
}

// testArchiveUnknownID checks that every ID a query names must be in the
// archive, or the query fails with ErrNotFound (XEP-0313 §4.1.3, §4.3.2:
// item-not-found).
func testArchiveUnknownID(t *testing.T, a storage.Archive) {
	mustAppend(t, a, series("juliet", "m", 3)...)
	mustAppend(t, a, series("romeo", "r", 3)...)
	queries := []storage.ArchiveQuery{
		{AfterID: "nope"},
		{BeforeID: "nope"},
		{BeforeID: "nope", Last: true},
		{AfterID: "r1"}, // in another archive
		{AfterID: "m1", BeforeID: "r1"},
		{IDs: []string{"m1", "nope"}},
		{IDs: []string{"r0"}},
		{AfterID: "M1"}, // IDs are compared exactly
		{AfterID: "nope", With: "nobody@example.com"},
	}
	for i, q := range queries {
		if p, err := a.QueryArchive(context.Background(), "juliet", q); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%d: QueryArchive(%+v) = %d messages, %v; want ErrNotFound", i, q, len(p.Messages), err)
		}
	}
	if _, err := a.QueryArchive(context.Background(), "nobody", storage.ArchiveQuery{AfterID: "m1"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("QueryArchive(empty archive, AfterID) = %v, want ErrNotFound", err)
	}
}

func testArchiveDuplicate(t *testing.T, a storage.Archive) {
	ctx := context.Background()
	mustAppend(t, a, amsg("juliet", "m1", "romeo@example.net", 0, 1))
	batches := [][]storage.ArchivedMessage{
		// An ID already stored, after new ones: none of the batch is kept.
		{amsg("juliet", "m2", "romeo@example.net", 1, 2), amsg("romeo", "r1", "juliet@example.com", 1, 2), amsg("juliet", "m1", "nurse@example.com", 2, 3)},
		// An ID twice in one batch.
		{amsg("juliet", "m3", "romeo@example.net", 1, 2), amsg("juliet", "m3", "romeo@example.net", 1, 2)},
	}
	for i, b := range batches {
		if err := a.Append(ctx, b); !errors.Is(err, storage.ErrExists) {
			t.Errorf("batch %d: Append = %v, want ErrExists", i, err)
		}
	}
	p := checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{[]string{"m1"}, true, 1, 0})
	if len(p.Messages) == 1 {
		if d := diffMessage(p.Messages[0], amsg("juliet", "m1", "romeo@example.net", 0, 1)); d != "" {
			t.Errorf("the stored message changed: %s", d)
		}
	}
	checkPage(t, a, "romeo", storage.ArchiveQuery{}, wantPage{complete: true})
	// The same ID in another archive is another message.
	mustAppend(t, a, amsg("romeo", "m1", "juliet@example.com", 0, 9))
	checkPage(t, a, "romeo", storage.ArchiveQuery{}, wantPage{[]string{"m1"}, true, 1, 0})
	// The refused IDs are free.
	mustAppend(t, a, amsg("juliet", "m2", "romeo@example.net", 3, 2), amsg("juliet", "m3", "romeo@example.net", 4, 2))
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{[]string{"m1", "m2", "m3"}, true, 3, 0})
}

func testArchiveIsolation(t *testing.T, a storage.Archive) {
	// Keys of accounts and of pubsub nodes, sharing IDs and JIDs.
	keys := []string{"juliet", "romeo", "pubsub.example.com/news", "pubsub.example.com/news/sub", "Juliet"}
	for i, k := range keys {
		msgs := series(k, "m", i+1)
		for j := range msgs {
			msgs[j].Stanza = []byte(k)
		}
		mustAppend(t, a, msgs...)
	}
	for i, k := range keys {
		p := checkPage(t, a, k, storage.ArchiveQuery{With: "romeo@example.net"}, wantPage{ids(series(k, "m", i+1)), true, i + 1, 0})
		for _, m := range p.Messages {
			if m.Archive != k || string(m.Stanza) != k {
				t.Errorf("QueryArchive(%q) returned a message of %q, stanza %q", k, m.Archive, m.Stanza)
			}
		}
	}
	checkPage(t, a, "pubsub.example.com", storage.ArchiveQuery{}, wantPage{complete: true})
}

func testArchivePrefs(t *testing.T, a storage.Archive) {
	ctx := context.Background()
	check := func(username string, want storage.ArchivePrefs) {
		t.Helper()
		got, err := a.GetArchivePrefs(ctx, username)
		if err != nil {
			t.Fatalf("GetArchivePrefs(%q): %v", username, err)
		}
		if got.Default != want.Default || !slices.Equal(got.Always, want.Always) || !slices.Equal(got.Never, want.Never) ||
			(got.Always == nil) != (want.Always == nil) || (got.Never == nil) != (want.Never == nil) {
			t.Errorf("GetArchivePrefs(%q) = %#v, want %#v", username, got, want)
		}
	}
	set := func(username string, p storage.ArchivePrefs) {
		t.Helper()
		if err := a.SetArchivePrefs(ctx, username, p); err != nil {
			t.Fatalf("SetArchivePrefs(%q): %v", username, err)
		}
	}
	check("juliet", storage.ArchivePrefs{Default: storage.ArchiveAlways})

	set("juliet", storage.ArchivePrefs{
		Default: storage.ArchiveRoster,
		Always:  []string{"romeo@example.net", "benvolio@example.net", "romeo@example.net"},
		Never:   []string{"tybalt@example.net", "montague.example.net"},
	})
	want := storage.ArchivePrefs{
		Default: storage.ArchiveRoster,
		Always:  []string{"benvolio@example.net", "romeo@example.net"},
		Never:   []string{"montague.example.net", "tybalt@example.net"},
	}
	check("juliet", want)
	check("romeo", storage.ArchivePrefs{Default: storage.ArchiveAlways})

	// Replaced as a whole: the lists may empty.
	set("juliet", storage.ArchivePrefs{Default: storage.ArchiveNever, Never: []string{"tybalt@example.net"}})
	check("juliet", storage.ArchivePrefs{Default: storage.ArchiveNever, Never: []string{"tybalt@example.net"}})
	set("juliet", storage.ArchivePrefs{Default: storage.ArchiveAlways, Always: []string{}})
	check("juliet", storage.ArchivePrefs{Default: storage.ArchiveAlways})

	set("romeo", want)
	check("romeo", want)
	check("juliet", storage.ArchivePrefs{Default: storage.ArchiveAlways})

	// All of them at once: the accounts that set some, as Get reads them.
	set("nurse", storage.ArchivePrefs{Default: storage.ArchiveNever})
	all, err := a.AllArchivePrefs(ctx)
	if err != nil {
		t.Fatalf("AllArchivePrefs: %v", err)
	}
	if len(all) != 3 {
		t.Errorf("AllArchivePrefs has %d accounts, want 3: %#v", len(all), all)
	}
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		got, ok := all[u]
		want, _ := a.GetArchivePrefs(ctx, u)
		if !ok || got.Default != want.Default || !slices.Equal(got.Always, want.Always) || !slices.Equal(got.Never, want.Never) {
			t.Errorf("AllArchivePrefs[%q] = %#v, %v; GetArchivePrefs = %#v", u, got, ok, want)
		}
	}
}

func mustPurge(t *testing.T, a storage.Archive, archive string, before time.Time, keep int, removed int) {
	t.Helper()
	n, err := a.PurgeArchive(context.Background(), archive, before, keep)
	if err != nil {
		t.Fatalf("PurgeArchive(%q, %v, %d): %v", archive, before, keep, err)
	}
	if n != removed {
		t.Errorf("PurgeArchive(%q, %v, %d) removed %d, want %d", archive, before, keep, n, removed)
	}
}

func testArchivePurgeByAge(t *testing.T, a storage.Archive) {
	msgs := series("juliet", "m", 6) // stamps archived + 0s ... 5s
	mustAppend(t, a, msgs...)
	mustAppend(t, a, series("romeo", "r", 6)...)
	all := ids(msgs)
	at := func(i int) time.Time { return archived.Add(time.Duration(i) * time.Second) }

	mustPurge(t, a, "juliet", time.Time{}, 0, 0) // no limits
	mustPurge(t, a, "juliet", at(0), 0, 0)       // older than, not at
	mustPurge(t, a, "juliet", at(2), 0, 2)
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{all[2:], true, 4, 0})
	mustPurge(t, a, "juliet", at(2), 0, 0)
	// Age, then count.
	mustPurge(t, a, "juliet", at(3), 2, 2)
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{all[4:], true, 2, 0})
	checkPage(t, a, "romeo", storage.ArchiveQuery{}, wantPage{ids(series("romeo", "r", 6)), true, 6, 0})

	// A stamp that goes backwards: no gap opens (XEP-0313 §3.2), so the
	// later-stamped message before it goes too.
	mustAppend(t, a, amsg("nurse", "n0", "juliet@example.com", 10, 0),
		amsg("nurse", "n1", "juliet@example.com", 20, 1),
		amsg("nurse", "n2", "juliet@example.com", 5, 2),
		amsg("nurse", "n3", "juliet@example.com", 30, 3))
	mustPurge(t, a, "nurse", at(15), 0, 3)
	checkPage(t, a, "nurse", storage.ArchiveQuery{}, wantPage{[]string{"n3"}, true, 1, 0})
	// Everything.
	mustPurge(t, a, "nurse", at(31), 0, 1)
	checkPage(t, a, "nurse", storage.ArchiveQuery{}, wantPage{complete: true})
	mustPurge(t, a, "nobody", at(31), 1, 0)
}

func testArchivePurgeByCount(t *testing.T, a storage.Archive) {
	msgs := series("juliet", "m", 6)
	mustAppend(t, a, msgs...)
	mustAppend(t, a, series("romeo", "r", 6)...)
	all := ids(msgs)

	mustPurge(t, a, "juliet", time.Time{}, 6, 0)
	mustPurge(t, a, "juliet", time.Time{}, 10, 0)
	mustPurge(t, a, "juliet", time.Time{}, -1, 0)
	mustPurge(t, a, "juliet", time.Time{}, 4, 2)
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{all[2:], true, 4, 0})
	mustPurge(t, a, "juliet", time.Time{}, 1, 3)
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{all[5:], true, 1, 0})
	checkPage(t, a, "romeo", storage.ArchiveQuery{}, wantPage{ids(series("romeo", "r", 6)), true, 6, 0})
	// The newest message stays and paging continues from it.
	mustAppend(t, a, amsg("juliet", "new", "romeo@example.net", 9, 9))
	checkPage(t, a, "juliet", storage.ArchiveQuery{AfterID: "m5"}, wantPage{[]string{"new"}, true, 2, 1})
	// A purged ID is not found any more.
	if _, err := a.QueryArchive(context.Background(), "juliet", storage.ArchiveQuery{AfterID: "m1"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("QueryArchive(AfterID purged) = %v, want ErrNotFound", err)
	}
}

func checkKeys(t *testing.T, a storage.Archive, want ...string) {
	t.Helper()
	got, err := a.ArchiveKeys(context.Background())
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ArchiveKeys = %q, %v; want %q", got, err, want)
	}
}

func testArchiveKeys(t *testing.T, a storage.Archive) {
	// Byte order: "Z" < "a", "a-c" < "ab", "émile" last.
	keys := []string{"juliet", "pubsub.example.com/news", "émile", "ab", "a-c", "Zed", "romeo"}
	for _, k := range keys {
		mustAppend(t, a, series(k, "m", 2)...)
	}
	mustAppend(t, a, series("juliet", "n", 2)...)
	checkKeys(t, a, "Zed", "a-c", "ab", "juliet", "pubsub.example.com/news", "romeo", "émile")
	// An archive purged to nothing is gone from the list.
	mustPurge(t, a, "romeo", archived.Add(time.Hour), 0, 2)
	if err := a.DeleteArchive(context.Background(), "ab"); err != nil {
		t.Fatalf("DeleteArchive: %v", err)
	}
	checkKeys(t, a, "Zed", "a-c", "juliet", "pubsub.example.com/news", "émile")
}

func testArchiveDelete(t *testing.T, a storage.Archive) {
	ctx := context.Background()
	mustAppend(t, a, series("juliet", "m", 3)...)
	mustAppend(t, a, series("romeo", "m", 3)...)
	if err := a.SetArchivePrefs(ctx, "juliet", storage.ArchivePrefs{Default: storage.ArchiveNever}); err != nil {
		t.Fatalf("SetArchivePrefs: %v", err)
	}
	if err := a.DeleteArchive(ctx, "juliet"); err != nil {
		t.Fatalf("DeleteArchive: %v", err)
	}
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{complete: true})
	checkPage(t, a, "romeo", storage.ArchiveQuery{}, wantPage{[]string{"m0", "m1", "m2"}, true, 3, 0})
	if err := a.DeleteArchive(ctx, "juliet"); err != nil {
		t.Errorf("DeleteArchive of an empty archive = %v, want nil", err)
	}
	// Preferences stay.
	if p, err := a.GetArchivePrefs(ctx, "juliet"); err != nil || p.Default != storage.ArchiveNever {
		t.Errorf("GetArchivePrefs after DeleteArchive = %+v, %v; want Default never", p, err)
	}
	checkKeys(t, a, "romeo")
}

func testArchiveConcurrentAppend(t *testing.T, a storage.Archive) {
	const workers, each = 16, 20
	var (
		wg   sync.WaitGroup
		errs = make(chan error, workers*each)
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Two archives, as for a message between two accounts.
				m := amsg("juliet", fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("dev%d@example.com/r", w), i, byte(w))
				c := m
				c.Archive = fmt.Sprintf("dev%d", w)
				if err := a.Append(context.Background(), []storage.ArchivedMessage{m, c}); err != nil {
					errs <- fmt.Errorf("Append(%s): %w", m.ID, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p := mustQuery(t, a, "juliet", storage.ArchiveQuery{})
	if p.Count != workers*each || len(p.Messages) != workers*each || !p.Complete {
		t.Fatalf("QueryArchive = %d messages, count %d, complete %v; want %d", len(p.Messages), p.Count, p.Complete, workers*each)
	}
	// Each writer's messages are in the order it appended them.
	for w := range workers {
		var want []string
		for i := range each {
			want = append(want, fmt.Sprintf("w%d-%d", w, i))
		}
		with := fmt.Sprintf("dev%d@example.com", w)
		checkPage(t, a, "juliet", storage.ArchiveQuery{With: with}, wantPage{want, true, each, 0})
		checkPage(t, a, fmt.Sprintf("dev%d", w), storage.ArchiveQuery{}, wantPage{want, true, each, 0})
	}
}

func testArchiveCallerOwnsSlices(t *testing.T, a storage.Archive) {
	m := amsg("juliet", "m1", "romeo@example.net", 0, 1)
	msgs := []storage.ArchivedMessage{m}
	mustAppend(t, a, msgs...)
	m.Stanza[0] ^= 0xff
	msgs[0].ID = "changed"
	want := amsg("juliet", "m1", "romeo@example.net", 0, 1)
	p := mustQuery(t, a, "juliet", storage.ArchiveQuery{})
	if len(p.Messages) != 1 {
		t.Fatalf("QueryArchive = %d messages, want 1", len(p.Messages))
	}
	if d := diffMessage(p.Messages[0], want); d != "" {
		t.Errorf("after the caller changed its slices: %s", d)
	}
	p.Messages[0].Stanza[0] ^= 0xff
	ids := []string{"m1"}
	p = mustQuery(t, a, "juliet", storage.ArchiveQuery{IDs: ids})
	ids[0] = "x"
	if len(p.Messages) != 1 || diffMessage(p.Messages[0], want) != "" {
		t.Errorf("after the caller changed a result: %+v", p.Messages)
	}
}

func testArchiveCancelledContext(t *testing.T, a storage.Archive) {
	mustAppend(t, a, series("juliet", "m", 3)...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { return a.Append(ctx, series("juliet", "n", 2)) }},
		{"QueryArchive", func() error { _, err := a.QueryArchive(ctx, "juliet", storage.ArchiveQuery{}); return err }},
		{"PurgeArchive", func() error { _, err := a.PurgeArchive(ctx, "juliet", time.Time{}, 1); return err }},
		{"DeleteArchive", func() error { return a.DeleteArchive(ctx, "juliet") }},
		{"ArchiveKeys", func() error { _, err := a.ArchiveKeys(ctx); return err }},
		{"GetArchivePrefs", func() error { _, err := a.GetArchivePrefs(ctx, "juliet"); return err }},
		{"SetArchivePrefs", func() error {
			return a.SetArchivePrefs(ctx, "juliet", storage.ArchivePrefs{Default: storage.ArchiveNever})
		}},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
		}
	}
	// Nothing happened.
	checkPage(t, a, "juliet", storage.ArchiveQuery{}, wantPage{[]string{"m0", "m1", "m2"}, true, 3, 0})
	if p, err := a.GetArchivePrefs(context.Background(), "juliet"); err != nil || p.Default != storage.ArchiveAlways {
		t.Errorf("GetArchivePrefs = %+v, %v; want the default", p, err)
	}
}
