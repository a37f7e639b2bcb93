package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/mote-xmpp/mote/internal/storage"
)

// TestRosters checks a backend's storage.Rosters against the contract
// documented on the interface.
func TestRosters(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r storage.Rosters)
	}{
		{"Empty", testRostersEmpty},
		{"RoundTrip", testRostersRoundTrip},
		{"Replace", testRostersReplace},
		{"Version", testRostersVersion},
		{"VersionPerUser", testRostersVersionPerUser},
		{"ConcurrentVersions", testRostersConcurrentVersions},
		{"NotFound", testRostersNotFound},
		{"Pending", testRostersPending},
		{"PendingIndependent", testRostersPendingIndependent},
		{"CallerOwnsSlices", testRostersCallerOwnsSlices},
		{"CancelledContext", testRostersCancelledContext},
		{"PendingUsers", testRostersPendingUsers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t).Rosters())
		})
	}
}

// stanza returns a serialised stanza whose bytes depend on seed and include
// non-ASCII text, NUL and 0xff, which are not valid UTF-8 text.
func stanza(seed byte) []byte {
	b := fmt.Appendf(nil, "<message id='m%d'><body>Grüße, 日本 %d</body></message>", seed, seed)
	return append(b, 0x00, seed, 0xff)
}

// diffItem reports how got differs from want, or "" if they are equal.
// Groups must be nil, not empty, when there are none.
func diffItem(got, want storage.RosterItem) string {
	switch {
	case got.Contact != want.Contact:
		return fmt.Sprintf("Contact = %q, want %q", got.Contact, want.Contact)
	case got.Name != want.Name:
		return fmt.Sprintf("%s: Name = %q, want %q", want.Contact, got.Name, want.Name)
	case got.Subscription != want.Subscription:
		return fmt.Sprintf("%s: Subscription = %v, want %v", want.Contact, got.Subscription, want.Subscription)
	case got.Ask != want.Ask:
		return fmt.Sprintf("%s: Ask = %v, want %v", want.Contact, got.Ask, want.Ask)
	case got.Approved != want.Approved:
		return fmt.Sprintf("%s: Approved = %v, want %v", want.Contact, got.Approved, want.Approved)
	case (got.Groups == nil) != (want.Groups == nil) || !slices.Equal(got.Groups, want.Groups):
		return fmt.Sprintf("%s: Groups = %#v, want %#v", want.Contact, got.Groups, want.Groups)
	}
	return ""
}

// checkRoster fetches username's roster and compares it with the items
// (in the order given) and, if version >= 0, the version.
func checkRoster(t *testing.T, r storage.Rosters, username string, version int64, want ...storage.RosterItem) {
	t.Helper()
	got, err := r.GetRoster(context.Background(), username)
	if err != nil {
		t.Fatalf("GetRoster(%q): %v", username, err)
	}
	if version >= 0 && got.Version != version {
		t.Errorf("GetRoster(%q).Version = %d, want %d", username, got.Version, version)
	}
	if len(got.Items) != len(want) {
		var contacts []string
		for _, it := range got.Items {
			contacts = append(contacts, it.Contact)
		}
		t.Errorf("GetRoster(%q) has %d items %q, want %d", username, len(got.Items), contacts, len(want))
		return
	}
	for i := range want {
		if d := diffItem(got.Items[i], want[i]); d != "" {
			t.Errorf("GetRoster(%q).Items[%d]: %s", username, i, d)
		}
	}
}

func mustPutItem(t *testing.T, r storage.Rosters, username string, item storage.RosterItem) int64 {
	t.Helper()
	v, err := r.PutRosterItem(context.Background(), username, item)
	if err != nil {
		t.Fatalf("PutRosterItem(%q, %q): %v", username, item.Contact, err)
	}
	return v
}

// checkPending fetches username's pending requests and compares them with
// want, in order.
func checkPending(t *testing.T, r storage.Rosters, username string, want ...storage.PendingIn) {
	t.Helper()
	got, err := r.GetPendingIn(context.Background(), username)
	if err != nil {
		t.Fatalf("GetPendingIn(%q): %v", username, err)
	}
	if len(got) != len(want) {
		t.Errorf("GetPendingIn(%q) = %d requests, want %d", username, len(got), len(want))
		return
	}
	for i := range want {
		if got[i].Contact != want[i].Contact || !bytes.Equal(got[i].Stanza, want[i].Stanza) {
			t.Errorf("GetPendingIn(%q)[%d] = {%q, %q}, want {%q, %q}", username, i,
				got[i].Contact, got[i].Stanza, want[i].Contact, want[i].Stanza)
		}
	}
}

func mustPutPending(t *testing.T, r storage.Rosters, username string, p storage.PendingIn) {
	t.Helper()
	if err := r.PutPendingIn(context.Background(), username, p); err != nil {
		t.Fatalf("PutPendingIn(%q, %q): %v", username, p.Contact, err)
	}
}

func testRostersEmpty(t *testing.T, r storage.Rosters) {
	got, err := r.GetRoster(context.Background(), "nobody")
	if err != nil || got.Version != 0 || len(got.Items) != 0 {
		t.Errorf("GetRoster(unknown) = %+v, %v; want version 0, no items, no error", got, err)
	}
	p, err := r.GetPendingIn(context.Background(), "nobody")
	if err != nil || len(p) != 0 {
		t.Errorf("GetPendingIn(unknown) = %v, %v; want none", p, err)
	}
}

func testRostersRoundTrip(t *testing.T, r storage.Rosters) {
	items := []storage.RosterItem{
		{Contact: "zed@example.com", Name: "Zed", Subscription: storage.SubTo, Groups: []string{"Work", "Friends", "Ärger"}},
		{Contact: "émile@example.fr", Name: "Émile ☃", Subscription: storage.SubFrom, Approved: true},
		{Contact: "ab@example.com", Subscription: storage.SubNone, Ask: true, Groups: []string{"b", "a"}}, // no name
		{Contact: "a-c@example.com", Name: "A C", Subscription: storage.SubBoth, Ask: true, Approved: true, Groups: []string{"only"}},
		{Contact: "example.net", Name: "a server"}, // a domain JID: no localpart
	}
	for _, it := range items {
		mustPutItem(t, r, "juliet", it)
	}
	// Byte order: "a-c" < "ab" < "example" < "zed" < "émile".
	want := slices.Clone(items)
	slices.SortFunc(want, func(a, b storage.RosterItem) int {
		if a.Contact < b.Contact {
			return -1
		}
		return 1
	})
	checkRoster(t, r, "juliet", int64(len(items)), want...)
	checkRoster(t, r, "romeo", 0)
}

func testRostersReplace(t *testing.T, r storage.Rosters) {
	mustPutItem(t, r, "juliet", storage.RosterItem{
		Contact: "romeo@example.net", Name: "Romeo", Subscription: storage.SubBoth,
		Ask: true, Approved: true, Groups: []string{"Friends", "Lovers", "Montague"},
	})
	other := storage.RosterItem{Contact: "nurse@example.net", Name: "Nurse", Groups: []string{"Capulet"}}
	mustPutItem(t, r, "juliet", other)

	steps := []storage.RosterItem{
		{Contact: "romeo@example.net", Name: "R", Subscription: storage.SubTo, Groups: []string{"Montague", "Friends"}},
		{Contact: "romeo@example.net", Subscription: storage.SubFrom, Ask: true},
		{Contact: "romeo@example.net", Name: "Romeo", Approved: true, Groups: []string{"Lovers"}},
	}
	for i, it := range steps {
		if v := mustPutItem(t, r, "juliet", it); v != int64(i+3) {
			t.Errorf("step %d: PutRosterItem version = %d, want %d", i, v, i+3)
		}
		checkRoster(t, r, "juliet", int64(i+3), other, it)
	}
}

func testRostersVersion(t *testing.T, r storage.Rosters) {
	ctx := context.Background()
	checkRoster(t, r, "juliet", 0)
	a := storage.RosterItem{Contact: "a@example.com"}
	b := storage.RosterItem{Contact: "b@example.com", Groups: []string{"g"}}
	if v := mustPutItem(t, r, "juliet", a); v != 1 {
		t.Errorf("first PutRosterItem version = %d, want 1", v)
	}
	if v := mustPutItem(t, r, "juliet", b); v != 2 {
		t.Errorf("second PutRosterItem version = %d, want 2", v)
	}
	if v := mustPutItem(t, r, "juliet", b); v != 3 { // an unchanged put still counts
		t.Errorf("repeated PutRosterItem version = %d, want 3", v)
	}
	for range 2 { // reads change nothing
		checkRoster(t, r, "juliet", 3, a, b)
	}
	v, err := r.DeleteRosterItem(ctx, "juliet", "a@example.com")
	if err != nil || v != 4 {
		t.Errorf("DeleteRosterItem = %d, %v; want 4", v, err)
	}
	if _, err := r.DeleteRosterItem(ctx, "juliet", "a@example.com"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second DeleteRosterItem = %v, want ErrNotFound", err)
	}
	checkRoster(t, r, "juliet", 4, b) // the failed delete changed nothing
	v, err = r.DeleteRosterItem(ctx, "juliet", "b@example.com")
	if err != nil || v != 5 {
		t.Errorf("DeleteRosterItem(last) = %d, %v; want 5", v, err)
	}
	checkRoster(t, r, "juliet", 5) // empty, but the version is kept
	if v := mustPutItem(t, r, "juliet", b); v != 6 {
		t.Errorf("PutRosterItem after emptying = %d, want 6", v)
	}
	checkRoster(t, r, "juliet", 6, b)
}

func testRostersVersionPerUser(t *testing.T, r storage.Rosters) {
	for i := range 3 {
		mustPutItem(t, r, "juliet", storage.RosterItem{Contact: fmt.Sprintf("c%d@example.com", i)})
	}
	if v := mustPutItem(t, r, "romeo", storage.RosterItem{Contact: "juliet@example.com"}); v != 1 {
		t.Errorf("romeo's first PutRosterItem version = %d, want 1", v)
	}
	checkRoster(t, r, "juliet", 3, storage.RosterItem{Contact: "c0@example.com"},
		storage.RosterItem{Contact: "c1@example.com"}, storage.RosterItem{Contact: "c2@example.com"})
	checkRoster(t, r, "romeo", 1, storage.RosterItem{Contact: "juliet@example.com"})
	// Items are per roster: the same contact in two rosters is two items.
	if _, err := r.DeleteRosterItem(context.Background(), "romeo", "c0@example.com"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteRosterItem of another roster's contact = %v, want ErrNotFound", err)
	}
	checkRoster(t, r, "juliet", 3, storage.RosterItem{Contact: "c0@example.com"},
		storage.RosterItem{Contact: "c1@example.com"}, storage.RosterItem{Contact: "c2@example.com"})
}

func testRostersConcurrentVersions(t *testing.T, r storage.Rosters) {
	const workers = 10
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions []int64
	)
	for w := range workers {
		wg.Go(func() {
			v, err := r.PutRosterItem(context.Background(), "juliet", storage.RosterItem{Contact: fmt.Sprintf("c%02d@example.com", w)})
			if err != nil {
				t.Errorf("PutRosterItem: %v", err)
				return
			}
			mu.Lock()
			versions = append(versions, v)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(versions)
	want := make([]int64, workers)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("concurrent PutRosterItem versions = %v, want each of %v once", versions, want)
	}
	got, err := r.GetRoster(context.Background(), "juliet")
	if err != nil || got.Version != workers || len(got.Items) != workers {
		t.Errorf("GetRoster = version %d, %d items, %v; want %d, %d", got.Version, len(got.Items), err, workers, workers)
	}
}

func testRostersNotFound(t *testing.T, r storage.Rosters) {
	ctx := context.Background()
	mustPutItem(t, r, "juliet", storage.RosterItem{Contact: "romeo@example.net"})
	mustPutPending(t, r, "juliet", storage.PendingIn{Contact: "romeo@example.net", Stanza: stanza(1)})
	if _, err := r.DeleteRosterItem(ctx, "juliet", "tybalt@example.net"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteRosterItem(absent) = %v, want ErrNotFound", err)
	}
	if _, err := r.DeleteRosterItem(ctx, "nobody", "romeo@example.net"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteRosterItem(unknown user) = %v, want ErrNotFound", err)
	}
	if err := r.DeletePendingIn(ctx, "juliet", "tybalt@example.net"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeletePendingIn(absent) = %v, want ErrNotFound", err)
	}
	if err := r.DeletePendingIn(ctx, "nobody", "romeo@example.net"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeletePendingIn(unknown user) = %v, want ErrNotFound", err)
	}
	checkRoster(t, r, "juliet", 1, storage.RosterItem{Contact: "romeo@example.net"})
	checkPending(t, r, "juliet", storage.PendingIn{Contact: "romeo@example.net", Stanza: stanza(1)})
}

func testRostersPending(t *testing.T, r storage.Rosters) {
	ctx := context.Background()
	reqs := []storage.PendingIn{
		{Contact: "zed@example.com", Stanza: stanza(1)},
		{Contact: "émile@example.fr", Stanza: stanza(2)},
		{Contact: "ab@example.com", Stanza: stanza(3)},
		{Contact: "a-c@example.com", Stanza: []byte{0x00, 0xff, 0x00}},
	}
	for _, p := range reqs {
		mustPutPending(t, r, "juliet", p)
	}
	mustPutPending(t, r, "romeo", storage.PendingIn{Contact: "juliet@example.com", Stanza: stanza(9)})
	byContact := func(a, b storage.PendingIn) int {
		if a.Contact < b.Contact {
			return -1
		}
		return 1
	}
	want := slices.SortedFunc(slices.Values(reqs), byContact)
	checkPending(t, r, "juliet", want...)

	// Replace.
	mustPutPending(t, r, "juliet", storage.PendingIn{Contact: "zed@example.com", Stanza: stanza(7)})
	want[2].Stanza = stanza(7) // a-c, ab, zed, émile
	checkPending(t, r, "juliet", want...)

	if err := r.DeletePendingIn(ctx, "juliet", "ab@example.com"); err != nil {
		t.Fatalf("DeletePendingIn: %v", err)
	}
	want = slices.Delete(want, 1, 2)
	checkPending(t, r, "juliet", want...)
	checkPending(t, r, "romeo", storage.PendingIn{Contact: "juliet@example.com", Stanza: stanza(9)})
}

func testRostersPendingIndependent(t *testing.T, r storage.Rosters) {
	ctx := context.Background()
	item := storage.RosterItem{Contact: "romeo@example.net", Subscription: storage.SubTo}
	mustPutItem(t, r, "juliet", item)
	// A request from a contact that is not in the roster is kept too.
	p1 := storage.PendingIn{Contact: "romeo@example.net", Stanza: stanza(1)}
	p2 := storage.PendingIn{Contact: "tybalt@example.net", Stanza: stanza(2)}
	mustPutPending(t, r, "juliet", p1)
	mustPutPending(t, r, "juliet", p2)
	checkRoster(t, r, "juliet", 1, item) // pending requests do not change the version
	checkPending(t, r, "juliet", p1, p2)

	if _, err := r.DeleteRosterItem(ctx, "juliet", "romeo@example.net"); err != nil {
		t.Fatalf("DeleteRosterItem: %v", err)
	}
	checkPending(t, r, "juliet", p1, p2)
	mustPutItem(t, r, "juliet", item)
	if err := r.DeletePendingIn(ctx, "juliet", "romeo@example.net"); err != nil {
		t.Fatalf("DeletePendingIn: %v", err)
	}
	checkRoster(t, r, "juliet", 3, item)
	checkPending(t, r, "juliet", p2)
}

func testRostersCallerOwnsSlices(t *testing.T, r storage.Rosters) {
	groups := []string{"a", "b"}
	item := storage.RosterItem{Contact: "romeo@example.net", Groups: groups}
	mustPutItem(t, r, "juliet", item)
	st := stanza(1)
	mustPutPending(t, r, "juliet", storage.PendingIn{Contact: "romeo@example.net", Stanza: st})
	groups[0] = "changed"
	st[0] ^= 0xff

	want := storage.RosterItem{Contact: "romeo@example.net", Groups: []string{"a", "b"}}
	wantPending := storage.PendingIn{Contact: "romeo@example.net", Stanza: stanza(1)}
	checkRoster(t, r, "juliet", 1, want)
	checkPending(t, r, "juliet", wantPending)

	got, err := r.GetRoster(context.Background(), "juliet")
	if err != nil || len(got.Items) != 1 {
		t.Fatalf("GetRoster = %+v, %v", got, err)
	}
	got.Items[0].Groups[1] = "changed"
	p, err := r.GetPendingIn(context.Background(), "juliet")
	if err != nil || len(p) != 1 {
		t.Fatalf("GetPendingIn = %v, %v", p, err)
	}
	p[0].Stanza[0] ^= 0xff
	checkRoster(t, r, "juliet", 1, want)
	checkPending(t, r, "juliet", wantPending)
}

func testRostersCancelledContext(t *testing.T, r storage.Rosters) {
	item := storage.RosterItem{Contact: "romeo@example.net", Subscription: storage.SubBoth}
	mustPutItem(t, r, "juliet", item)
	p := storage.PendingIn{Contact: "romeo@example.net", Stanza: stanza(1)}
	mustPutPending(t, r, "juliet", p)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	calls := []struct {
		name string
		call func() error
	}{
		{"GetRoster", func() error { _, err := r.GetRoster(ctx, "juliet"); return err }},
		{"PutRosterItem", func() error {
			_, err := r.PutRosterItem(ctx, "juliet", storage.RosterItem{Contact: "tybalt@example.net"})
			return err
		}},
		{"DeleteRosterItem", func() error { _, err := r.DeleteRosterItem(ctx, "juliet", "romeo@example.net"); return err }},
		{"GetPendingIn", func() error { _, err := r.GetPendingIn(ctx, "juliet"); return err }},
		{"PutPendingIn", func() error {
			return r.PutPendingIn(ctx, "juliet", storage.PendingIn{Contact: "tybalt@example.net", Stanza: stanza(2)})
		}},
		{"DeletePendingIn", func() error { return r.DeletePendingIn(ctx, "juliet", "romeo@example.net") }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
		}
	}
	// Nothing happened.
	checkRoster(t, r, "juliet", 1, item)
	checkPending(t, r, "juliet", p)
}

func testRostersPendingUsers(t *testing.T, r storage.Rosters) {
	ctx := context.Background()
	if users, err := r.PendingUsers(ctx); err != nil || len(users) != 0 {
		t.Fatalf("PendingUsers on an empty store = %v, %v", users, err)
	}
	mustPutPending(t, r, "romeo", storage.PendingIn{Contact: "a@example.com", Stanza: []byte("<presence/>")})
	mustPutPending(t, r, "juliet", storage.PendingIn{Contact: "a@example.com", Stanza: []byte("<presence/>")})
	mustPutPending(t, r, "juliet", storage.PendingIn{Contact: "b@example.com", Stanza: []byte("<presence/>")})
	mustPutPending(t, r, "nurse", storage.PendingIn{Contact: "a@example.com", Stanza: []byte("<presence/>")})
	if err := r.DeletePendingIn(ctx, "nurse", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	users, err := r.PendingUsers(ctx)
	if err != nil || !slices.Equal(users, []string{"juliet", "romeo"}) {
		t.Fatalf("PendingUsers = %v, %v; want [juliet romeo]", users, err)
	}
}
