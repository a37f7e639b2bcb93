package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// TestUsers checks a backend's storage.Users against the contract documented
// on the interface.
func TestUsers(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, u storage.Users)
	}{
		{"RoundTrip", testUsersRoundTrip},
		{"CreatedDefaultsToNow", testUsersCreatedDefaultsToNow},
		{"NoCredentials", testUsersNoCredentials},
		{"CallerOwnsSlices", testUsersCallerOwnsSlices},
		{"Duplicate", testUsersDuplicate},
		{"NotFound", testUsersNotFound},
		{"SetCredentials", testUsersSetCredentials},
		{"Delete", testUsersDelete},
		{"List", testUsersList},
		{"ConcurrentCreate", testUsersConcurrentCreate},
		{"ConcurrentDuplicate", testUsersConcurrentDuplicate},
		{"CancelledContext", testUsersCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t).Users())
		})
	}
}

// scramKey returns a deterministic credential whose bytes depend on seed and
// span the full byte range (NUL and high bytes included), sized like real
// SCRAM keys for the hash (RFC 5802 §3; RFC 7677).
func scramKey(hash string, seed byte, iterations int) storage.SCRAMKey {
	size := map[string]int{storage.SHA1: 20, storage.SHA256: 32, storage.SHA512: 64}[hash]
	fill := func(n int, off byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed*31 + off + byte(i)*37
		}
		b[0], b[n-1] = 0x00, 0xff
		return b
	}
	return storage.SCRAMKey{
		Salt:       fill(16, 1),
		Iterations: iterations,
		StoredKey:  fill(size, 2),
		ServerKey:  fill(size, 3),
	}
}

// allKeys returns credentials for all three hashes.
func allKeys(seed byte) map[string]storage.SCRAMKey {
	return map[string]storage.SCRAMKey{
		storage.SHA1:   scramKey(storage.SHA1, seed, 4096),
		storage.SHA256: scramKey(storage.SHA256, seed, 10000),
		storage.SHA512: scramKey(storage.SHA512, seed, 600000),
	}
}

// diffKeys reports how got differs from want, or "" if they are equal.
func diffKeys(got, want map[string]storage.SCRAMKey) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d hashes %v, want %d %v", len(got), slices.Sorted(maps.Keys(got)), len(want), slices.Sorted(maps.Keys(want)))
	}
	for h, w := range want {
		g, ok := got[h]
		switch {
		case !ok:
			return fmt.Sprintf("missing hash %s", h)
		case !bytes.Equal(g.Salt, w.Salt):
			return fmt.Sprintf("%s salt = %x, want %x", h, g.Salt, w.Salt)
		case g.Iterations != w.Iterations:
			return fmt.Sprintf("%s iterations = %d, want %d", h, g.Iterations, w.Iterations)
		case !bytes.Equal(g.StoredKey, w.StoredKey):
			return fmt.Sprintf("%s StoredKey = %x, want %x", h, g.StoredKey, w.StoredKey)
		case !bytes.Equal(g.ServerKey, w.ServerKey):
			return fmt.Sprintf("%s ServerKey = %x, want %x", h, g.ServerKey, w.ServerKey)
		}
	}
	return ""
}

// checkUser fetches username and compares it with want.
func checkUser(t *testing.T, u storage.Users, want storage.User) {
	t.Helper()
	got, err := u.GetUser(context.Background(), want.Username)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", want.Username, err)
	}
	if got.Username != want.Username {
		t.Errorf("GetUser(%q).Username = %q", want.Username, got.Username)
	}
	if got.Created.Unix() != want.Created.Unix() {
		t.Errorf("GetUser(%q).Created = %v, want %v (to the second)", want.Username, got.Created, want.Created)
	}
	if got.SCRAM == nil {
		t.Errorf("GetUser(%q).SCRAM is nil", want.Username)
	}
	if d := diffKeys(got.SCRAM, want.SCRAM); d != "" {
		t.Errorf("GetUser(%q).SCRAM: %s", want.Username, d)
	}
}

func mustCreate(t *testing.T, u storage.Users, user storage.User) {
	t.Helper()
	if err := u.CreateUser(context.Background(), user); err != nil {
		t.Fatalf("CreateUser(%q): %v", user.Username, err)
	}
}

// created is a fixed creation time with a sub-second part and a non-UTC zone.
var created = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC+2", 2*3600))

func testUsersRoundTrip(t *testing.T, u storage.Users) {
	want := storage.User{Username: "juliet", SCRAM: allKeys(1), Created: created}
	mustCreate(t, u, want)
	checkUser(t, u, want)
}

func testUsersCreatedDefaultsToNow(t *testing.T, u storage.Users) {
	before := time.Now().Truncate(time.Second)
	mustCreate(t, u, storage.User{Username: "romeo", SCRAM: allKeys(1)})
	after := time.Now()
	got, err := u.GetUser(context.Background(), "romeo")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if got.Created.Before(before) || got.Created.After(after) {
		t.Errorf("Created = %v, want between %v and %v", got.Created, before, after)
	}
}

func testUsersNoCredentials(t *testing.T, u storage.Users) {
	want := storage.User{Username: "sensor1", SCRAM: nil, Created: created}
	mustCreate(t, u, want)
	checkUser(t, u, want)
}

func testUsersCallerOwnsSlices(t *testing.T, u storage.Users) {
	keys := allKeys(1)
	mustCreate(t, u, storage.User{Username: "juliet", SCRAM: keys, Created: created})
	for _, k := range keys {
		k.Salt[1] ^= 0xff
		k.StoredKey[1] ^= 0xff
	}
	got, err := u.GetUser(context.Background(), "juliet")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if d := diffKeys(got.SCRAM, allKeys(1)); d != "" {
		t.Errorf("after the caller changed its slices: %s", d)
	}
	for _, k := range got.SCRAM {
		k.ServerKey[1] ^= 0xff
	}
	checkUser(t, u, storage.User{Username: "juliet", SCRAM: allKeys(1), Created: created})
}

func testUsersDuplicate(t *testing.T, u storage.Users) {
	first := storage.User{Username: "juliet", SCRAM: allKeys(1), Created: created}
	mustCreate(t, u, first)
	err := u.CreateUser(context.Background(), storage.User{Username: "juliet", SCRAM: allKeys(2), Created: time.Now()})
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second CreateUser = %v, want ErrExists", err)
	}
	checkUser(t, u, first) // the failed create changed nothing
}

func testUsersNotFound(t *testing.T, u storage.Users) {
	ctx := context.Background()
	mustCreate(t, u, storage.User{Username: "juliet", SCRAM: allKeys(1), Created: created})
	if _, err := u.GetUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetUser(unknown) = %v, want ErrNotFound", err)
	}
	if err := u.SetCredentials(ctx, "nobody", allKeys(2)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetCredentials(unknown) = %v, want ErrNotFound", err)
	}
	if err := u.DeleteUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteUser(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := u.GetUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetUser(unknown) after SetCredentials = %v, want ErrNotFound", err)
	}
}

func testUsersSetCredentials(t *testing.T, u storage.Users) {
	ctx := context.Background()
	mustCreate(t, u, storage.User{Username: "juliet", SCRAM: allKeys(1), Created: created})
	mustCreate(t, u, storage.User{Username: "romeo", SCRAM: allKeys(1), Created: created})

	steps := []map[string]storage.SCRAMKey{
		allKeys(2), // every key replaced
		{storage.SHA256: scramKey(storage.SHA256, 3, 20000)}, // SHA-1 and SHA-512 removed
		{}, // no credentials at all
		allKeys(4),
	}
	for i, keys := range steps {
		if err := u.SetCredentials(ctx, "juliet", keys); err != nil {
			t.Fatalf("step %d: SetCredentials: %v", i, err)
		}
		checkUser(t, u, storage.User{Username: "juliet", SCRAM: keys, Created: created})
	}
	checkUser(t, u, storage.User{Username: "romeo", SCRAM: allKeys(1), Created: created})
}

func testUsersDelete(t *testing.T, u storage.Users) {
	ctx := context.Background()
	mustCreate(t, u, storage.User{Username: "juliet", SCRAM: allKeys(1), Created: created})
	mustCreate(t, u, storage.User{Username: "romeo", SCRAM: allKeys(1), Created: created})
	if err := u.DeleteUser(ctx, "juliet"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := u.GetUser(ctx, "juliet"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetUser after DeleteUser = %v, want ErrNotFound", err)
	}
	if err := u.DeleteUser(ctx, "juliet"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
	}
	checkUser(t, u, storage.User{Username: "romeo", SCRAM: allKeys(1), Created: created})

	// Re-created with only one hash: any credential left behind by the
	// delete would show up here (or make the create fail).
	again := storage.User{
		Username: "juliet",
		SCRAM:    map[string]storage.SCRAMKey{storage.SHA512: scramKey(storage.SHA512, 5, 8192)},
		Created:  created.Add(time.Hour),
	}
	mustCreate(t, u, again)
	checkUser(t, u, again)
}

func testUsersList(t *testing.T, u storage.Users) {
	ctx := context.Background()
	got, err := u.ListUsers(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("ListUsers on an empty store = %q, %v; want none", got, err)
	}
	// "a-c" < "ab" and "émile" > "zed" in byte order, unlike in most
	// natural-language collations.
	names := []string{"zed", "user2", "émile", "ab", "user10", "a-c", "juliet"}
	for _, n := range names {
		mustCreate(t, u, storage.User{Username: n, SCRAM: allKeys(1), Created: created})
	}
	want := slices.Sorted(slices.Values(names))
	got, err = u.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListUsers = %q, want %q", got, want)
	}
	if err := u.DeleteUser(ctx, "juliet"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	want = slices.DeleteFunc(want, func(s string) bool { return s == "juliet" })
	if got, err = u.ListUsers(ctx); err != nil || !slices.Equal(got, want) {
		t.Errorf("ListUsers after delete = %q, %v; want %q", got, err, want)
	}
}

func testUsersConcurrentCreate(t *testing.T, u storage.Users) {
	const workers, each = 8, 10
	var (
		wg   sync.WaitGroup
		errs = make(chan error, workers*each)
		want []string
	)
	for w := range workers {
		for i := range each {
			want = append(want, fmt.Sprintf("dev-%d-%02d", w, i))
		}
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("dev-%d-%02d", w, i)
				if err := u.CreateUser(context.Background(), storage.User{Username: name, SCRAM: allKeys(byte(w)), Created: created}); err != nil {
					errs <- fmt.Errorf("CreateUser(%q): %w", name, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := u.ListUsers(context.Background())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ListUsers = %q, want %q", got, want)
	}
	checkUser(t, u, storage.User{Username: "dev-3-07", SCRAM: allKeys(3), Created: created})
}

func testUsersConcurrentDuplicate(t *testing.T, u storage.Users) {
	const workers = 8
	var (
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			errs <- u.CreateUser(context.Background(), storage.User{Username: "juliet", SCRAM: allKeys(byte(w)), Created: created})
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrExists):
			t.Errorf("CreateUser = %v, want nil or ErrExists", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent creates of one username succeeded, want 1", ok, workers)
	}
	got, err := u.GetUser(context.Background(), "juliet")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if len(got.SCRAM) != 3 {
		t.Errorf("winner has %d hashes, want 3 (keys of one create only)", len(got.SCRAM))
	}
}

func testUsersCancelledContext(t *testing.T, u storage.Users) {
	mustCreate(t, u, storage.User{Username: "juliet", SCRAM: allKeys(1), Created: created})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	calls := []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error {
			return u.CreateUser(ctx, storage.User{Username: "romeo", SCRAM: allKeys(1), Created: created})
		}},
		{"GetUser", func() error { _, err := u.GetUser(ctx, "juliet"); return err }},
		{"SetCredentials", func() error { return u.SetCredentials(ctx, "juliet", allKeys(2)) }},
		{"DeleteUser", func() error { return u.DeleteUser(ctx, "juliet") }},
		{"ListUsers", func() error { _, err := u.ListUsers(ctx); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
		}
	}
	// Nothing happened.
	checkUser(t, u, storage.User{Username: "juliet", SCRAM: allKeys(1), Created: created})
	if _, err := u.GetUser(context.Background(), "romeo"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetUser(romeo) = %v, want ErrNotFound", err)
	}
}

// TestDeleteUser checks that Users.DeleteUser removes everything stored for
// the account, in every per-domain store, and strips what other accounts
// hold about it, leaving their other data alone.
func TestDeleteUser(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	u, r, o, d, b, a := s.Users(), s.Rosters(), s.Offline(), s.Documents(), s.Blocklists(), s.Archive()
	mustCreate(t, u, storage.User{Username: "alice", SCRAM: allKeys(1), Created: created})
	mustCreate(t, u, storage.User{Username: "bob", SCRAM: allKeys(2), Created: created})

	// Alice's data, which must survive but for what she holds about bob.
	aliceBob := storage.RosterItem{Contact: "bob@example.com", Name: "Bob", Subscription: storage.SubBoth,
		Ask: true, Approved: true, Groups: []string{"Friends", "Work"}}
	aliceCarol := storage.RosterItem{Contact: "carol@example.com", Name: "Carol", Subscription: storage.SubBoth,
		Ask: true, Approved: true, Groups: []string{"Friends"}}
	// Same localpart on another server: this server hosts one domain, so
	// it is stripped too.
	aliceBobElsewhere := storage.RosterItem{Contact: "bob@elsewhere.example", Subscription: storage.SubTo}
	// "bobby" and a bare domain "bob" are not bob.
	aliceBobby := storage.RosterItem{Contact: "bobby@example.com", Subscription: storage.SubFrom, Approved: true}
	aliceDomain := storage.RosterItem{Contact: "bob", Subscription: storage.SubTo, Ask: true}
	for _, it := range []storage.RosterItem{aliceBob, aliceCarol, aliceBobElsewhere, aliceBobby, aliceDomain} {
		mustPutItem(t, r, "alice", it)
	}
	pendBob := storage.PendingIn{Contact: "bob@example.com", Stanza: stanza(1)}
	pendCarol := storage.PendingIn{Contact: "carol@example.com", Stanza: stanza(2)}
	pendBobby := storage.PendingIn{Contact: "bobby@example.com", Stanza: stanza(3)}
	for _, p := range []storage.PendingIn{pendBob, pendCarol, pendBobby} {
		mustPutPending(t, r, "alice", p)
	}
	aliceMsg := storage.OfflineMessage{ID: mustStore(t, o, "alice", received, stanza(4)), Stamp: received, Stanza: stanza(4)}
	mustPutDoc(t, d, "alice", vcardKey, stanza(5))
	mustBlock(t, b, "alice", "bob@example.com", "mallory@example.com")
	// Her archive of messages with bob, and archives under other keys
	// that name bob, are not bob's.
	aliceArchive := []storage.ArchivedMessage{
		amsg("alice", "a1", "bob@example.com/phone", 0, 1),
		amsg("alice", "a2", "bob@example.com", 1, 2),
	}
	mustAppend(t, a, aliceArchive...)
	mustAppend(t, a, amsg("pubsub.example.com/bob", "p1", "bob@example.com", 0, 3))
	alicePrefs := storage.ArchivePrefs{Default: storage.ArchiveRoster, Always: []string{"bob@example.com"}}
	if err := a.SetArchivePrefs(ctx, "alice", alicePrefs); err != nil {
		t.Fatalf("SetArchivePrefs(alice): %v", err)
	}

	// Bob's data, in every table.
	mustPutItem(t, r, "bob", storage.RosterItem{Contact: "alice@example.com", Subscription: storage.SubBoth, Groups: []string{"g"}})
	mustPutPending(t, r, "bob", storage.PendingIn{Contact: "carol@example.com", Stanza: stanza(6)})
	mustStore(t, o, "bob", received, stanza(7))
	mustPutDoc(t, d, "bob", vcardKey, stanza(8))
	mustPutDoc(t, d, "bob", privateKey, stanza(9))
	mustBlock(t, b, "bob", "mallory@example.com")
	mustAppend(t, a, amsg("bob", "b1", "alice@example.com/laptop", 0, 4), amsg("bob", "b2", "carol@example.com", 1, 5))
	if err := a.SetArchivePrefs(ctx, "bob", storage.ArchivePrefs{Default: storage.ArchiveNever,
		Always: []string{"alice@example.com"}, Never: []string{"carol@example.com"}}); err != nil {
		t.Fatalf("SetArchivePrefs(bob): %v", err)
	}

	before, err := r.GetRoster(ctx, "alice")
	if err != nil {
		t.Fatalf("GetRoster(alice): %v", err)
	}
	if err := u.DeleteUser(ctx, "bob"); err != nil {
		t.Fatalf("DeleteUser(bob): %v", err)
	}

	checkBobEmpty := func() {
		t.Helper()
		checkRoster(t, r, "bob", 0)
		checkPending(t, r, "bob")
		checkOffline(t, o, "bob")
		checkDoc(t, d, "bob", vcardKey, nil)
		checkDoc(t, d, "bob", privateKey, nil)
		checkBlocklist(t, b, "bob")
		checkPage(t, a, "bob", storage.ArchiveQuery{}, wantPage{complete: true})
		if p, err := a.GetArchivePrefs(ctx, "bob"); err != nil || p.Default != storage.ArchiveAlways || p.Always != nil || p.Never != nil {
			t.Errorf("GetArchivePrefs(bob) = %+v, %v; want the default", p, err)
		}
	}
	checkBobEmpty()
	if _, err := u.GetUser(ctx, "bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetUser(bob) after DeleteUser = %v, want ErrNotFound", err)
	}

	// Alice's items for bob stay without subscription state; her roster's
	// version moved on, since its items changed.
	stripped := func(it storage.RosterItem) storage.RosterItem {
		it.Subscription, it.Ask, it.Approved = storage.SubNone, false, false
		return it
	}
	after, err := r.GetRoster(ctx, "alice")
	if err != nil {
		t.Fatalf("GetRoster(alice): %v", err)
	}
	if after.Version <= before.Version {
		t.Errorf("alice's roster version %d after DeleteUser(bob), want more than %d", after.Version, before.Version)
	}
	checkRoster(t, r, "alice", -1, aliceDomain, stripped(aliceBobElsewhere), stripped(aliceBob), aliceBobby, aliceCarol)
	checkPending(t, r, "alice", pendBobby, pendCarol)
	checkOffline(t, o, "alice", aliceMsg)
	checkDoc(t, d, "alice", vcardKey, stanza(5))
	// The blocklist is alice's own choice, not state shared with bob.
	checkBlocklist(t, b, "alice", "bob@example.com", "mallory@example.com")
	// So is her archive.
	checkPage(t, a, "alice", storage.ArchiveQuery{}, wantPage{ids(aliceArchive), true, 2, 0})
	checkPage(t, a, "pubsub.example.com/bob", storage.ArchiveQuery{}, wantPage{[]string{"p1"}, true, 1, 0})
	checkKeys(t, a, "alice", "pubsub.example.com/bob")
	if p, err := a.GetArchivePrefs(ctx, "alice"); err != nil || p.Default != alicePrefs.Default || !slices.Equal(p.Always, alicePrefs.Always) {
		t.Errorf("GetArchivePrefs(alice) = %+v, %v; want %+v", p, err, alicePrefs)
	}
	checkUser(t, u, storage.User{Username: "alice", SCRAM: allKeys(1), Created: created})

	// A new bob inherits nothing.
	mustCreate(t, u, storage.User{Username: "bob", SCRAM: allKeys(3), Created: created})
	checkBobEmpty()
	checkUser(t, u, storage.User{Username: "bob", SCRAM: allKeys(3), Created: created})
	checkRoster(t, r, "alice", after.Version, aliceDomain, stripped(aliceBobElsewhere), stripped(aliceBob), aliceBobby, aliceCarol)
}
