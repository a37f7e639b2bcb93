package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mote-xmpp/mote/internal/storage"
)

// TestBlocklists checks a backend's storage.Blocklists against the contract
// documented on the interface.
func TestBlocklists(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Blocklists)
	}{
		{"Empty", testBlocklistsEmpty},
		{"Order", testBlocklistsOrder},
		{"Idempotent", testBlocklistsIdempotent},
		{"UnblockSome", testBlocklistsUnblockSome},
		{"UnblockAll", testBlocklistsUnblockAll},
		{"CallerOwnsSlices", testBlocklistsCallerOwnsSlices},
		{"CancelledContext", testBlocklistsCancelledContext},
		{"All", testBlocklistsAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t).Blocklists())
		})
	}
}

func mustBlock(t *testing.T, b storage.Blocklists, username string, jids ...string) {
	t.Helper()
	if err := b.Block(context.Background(), username, jids); err != nil {
		t.Fatalf("Block(%q, %q): %v", username, jids, err)
	}
}

func mustUnblock(t *testing.T, b storage.Blocklists, username string, jids []string) {
	t.Helper()
	if err := b.Unblock(context.Background(), username, jids); err != nil {
		t.Fatalf("Unblock(%q, %q): %v", username, jids, err)
	}
}

// checkBlocklist fetches username's blocklist and compares it with want.
func checkBlocklist(t *testing.T, b storage.Blocklists, username string, want ...string) {
	t.Helper()
	got, err := b.GetBlocklist(context.Background(), username)
	if err != nil {
		t.Fatalf("GetBlocklist(%q): %v", username, err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("GetBlocklist(%q) = %q, want %q", username, got, want)
	}
}

func testBlocklistsEmpty(t *testing.T, b storage.Blocklists) {
	checkBlocklist(t, b, "nobody")
	mustBlock(t, b, "juliet") // no JIDs: nothing happens
	checkBlocklist(t, b, "juliet")
	mustUnblock(t, b, "nobody", nil)
	mustUnblock(t, b, "nobody", []string{"a@example.com"})
}

func testBlocklistsOrder(t *testing.T, b storage.Blocklists) {
	// Full, bare and domain JIDs; byte order puts "a-c" before "ab" and
	// "émile" after "zed".
	jids := []string{"zed@example.com", "émile@example.fr", "ab@example.com", "a-c@example.com",
		"example.net", "ab@example.com/phone", "Upper@example.com"}
	mustBlock(t, b, "juliet", jids...)
	mustBlock(t, b, "romeo", "tybalt@example.net")
	checkBlocklist(t, b, "juliet", slices.Sorted(slices.Values(jids))...)
	checkBlocklist(t, b, "romeo", "tybalt@example.net")
}

func testBlocklistsIdempotent(t *testing.T, b storage.Blocklists) {
	mustBlock(t, b, "juliet", "a@example.com", "b@example.com")
	mustBlock(t, b, "juliet", "b@example.com", "c@example.com", "c@example.com")
	mustBlock(t, b, "juliet", "a@example.com")
	checkBlocklist(t, b, "juliet", "a@example.com", "b@example.com", "c@example.com")
}

func testBlocklistsUnblockSome(t *testing.T, b storage.Blocklists) {
	mustBlock(t, b, "juliet", "a@example.com", "b@example.com", "c@example.com", "d@example.com")
	mustBlock(t, b, "romeo", "a@example.com", "b@example.com")
	mustUnblock(t, b, "juliet", []string{"b@example.com", "d@example.com", "absent@example.com"})
	checkBlocklist(t, b, "juliet", "a@example.com", "c@example.com")
	checkBlocklist(t, b, "romeo", "a@example.com", "b@example.com")
	mustUnblock(t, b, "juliet", []string{"b@example.com"}) // already gone
	checkBlocklist(t, b, "juliet", "a@example.com", "c@example.com")
}

func testBlocklistsUnblockAll(t *testing.T, b storage.Blocklists) {
	for _, all := range [][]string{nil, {}} {
		mustBlock(t, b, "juliet", "a@example.com", "b@example.com")
		mustBlock(t, b, "romeo", "a@example.com")
		mustUnblock(t, b, "juliet", all)
		checkBlocklist(t, b, "juliet")
		checkBlocklist(t, b, "romeo", "a@example.com")
	}
	mustBlock(t, b, "juliet", "c@example.com")
	checkBlocklist(t, b, "juliet", "c@example.com")
}

func testBlocklistsCallerOwnsSlices(t *testing.T, b storage.Blocklists) {
	jids := []string{"a@example.com", "b@example.com"}
	mustBlock(t, b, "juliet", jids...)
	jids[0] = "changed@example.com"
	checkBlocklist(t, b, "juliet", "a@example.com", "b@example.com")
	got, err := b.GetBlocklist(context.Background(), "juliet")
	if err != nil {
		t.Fatalf("GetBlocklist: %v", err)
	}
	got[0] = "changed@example.com"
	checkBlocklist(t, b, "juliet", "a@example.com", "b@example.com")
}

func testBlocklistsCancelledContext(t *testing.T, b storage.Blocklists) {
	mustBlock(t, b, "juliet", "a@example.com")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	calls := []struct {
		name string
		call func() error
	}{
		{"GetBlocklist", func() error { _, err := b.GetBlocklist(ctx, "juliet"); return err }},
		{"Block", func() error { return b.Block(ctx, "juliet", []string{"b@example.com"}) }},
		{"Unblock", func() error { return b.Unblock(ctx, "juliet", []string{"a@example.com"}) }},
		{"Unblock all", func() error { return b.Unblock(ctx, "juliet", nil) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
		}
	}
	checkBlocklist(t, b, "juliet", "a@example.com")
}

func testBlocklistsAll(t *testing.T, b storage.Blocklists) {
	ctx := context.Background()
	all, err := b.AllBlocklists(ctx)
	if err != nil || len(all) != 0 {
		t.Fatalf("AllBlocklists on an empty store = %v, %v", all, err)
	}
	mustBlock(t, b, "juliet", "tybalt@example.com", "example.net")
	mustBlock(t, b, "romeo", "tybalt@example.com")
	mustBlock(t, b, "nurse", "x@example.com")
	if err := b.Unblock(ctx, "nurse", nil); err != nil {
		t.Fatal(err)
	}
	all, err = b.AllBlocklists(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"juliet": {"example.net", "tybalt@example.com"},
		"romeo":  {"tybalt@example.com"},
	}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("AllBlocklists = %v, want %v", all, want)
	}
}
