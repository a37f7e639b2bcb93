package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/storagetest"
)

// openTest opens the database at path and closes it when the test ends.
func openTest(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	})
}

func user(name string, seed byte) storage.User {
	key := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i)
		}
		return b
	}
	return storage.User{
		Username: name,
		SCRAM: map[string]storage.SCRAMKey{
			storage.SHA256: {Salt: key(16), Iterations: 4096, StoredKey: key(32), ServerKey: key(32)},
		},
		Created: time.Unix(1700000000, 0),
	}
}

func schemaVersion(t *testing.T, s *Store) int {
	t.Helper()
	var v int
	if err := s.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatalf("read user_version: %v", err)
	}
	return v
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mote.db")
	want := user("juliet", 1)

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Users().CreateUser(ctx, want); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for i := range 2 { // migrations are not re-applied on reopen
		s := openTest(t, path)
		if v := schemaVersion(t, s); v != len(migrations) {
			t.Fatalf("reopen %d: schema version %d, want %d", i, v, len(migrations))
		}
		got, err := s.Users().GetUser(ctx, "juliet")
		if err != nil {
			t.Fatalf("reopen %d: GetUser: %v", i, err)
		}
		if !got.Created.Equal(want.Created) || fmt.Sprint(got.SCRAM) != fmt.Sprint(want.SCRAM) {
			t.Errorf("reopen %d: GetUser = %+v, want %+v", i, got, want)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mote.db")
	s := openTest(t, path)
	newer := len(migrations) + 1
	if _, err := s.w.Exec(fmt.Sprintf("PRAGMA user_version = %d", newer)); err != nil {
		t.Fatalf("set user_version: %v", err)
	}

	_, err := Open(ctx, path)
	var verr *SchemaVersionError
	if !errors.As(err, &verr) || verr.Have != newer || verr.Known != len(migrations) {
		t.Fatalf("Open = %v, want SchemaVersionError{%d, %d}", err, newer, len(migrations))
	}
	want := fmt.Sprintf("sqlite: database schema version %d is newer than this mote (%d)", newer, len(migrations))
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

// TestConcurrentOpen opens a new file from several stores at once, as a
// server and a CLI started together would: each migration runs once.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mote.db")
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), path) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		if v := schemaVersion(t, s); v != len(migrations) {
			t.Errorf("store %d: schema version %d, want %d", i, v, len(migrations))
		}
		s.Close()
	}
}

// TestTwoStoresWrite simulates the server and `mote user add` writing the
// same file through separate Stores (separate connections and locks, as in
// two processes): no write may fail with "database is locked".
func TestTwoStoresWrite(t *testing.T) {
	const writes = 50
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mote.db")
	stores := []*Store{openTest(t, path), openTest(t, path)}

	var wg sync.WaitGroup
	errs := make(chan error, 2*len(stores)*writes)
	for i, s := range stores {
		wg.Go(func() {
			u := s.Users()
			for j := range writes {
				name := fmt.Sprintf("p%d-user%02d", i, j)
				if err := u.CreateUser(ctx, user(name, byte(j))); err != nil {
					errs <- fmt.Errorf("store %d: CreateUser(%s): %w", i, name, err)
					continue
				}
				if err := u.SetCredentials(ctx, name, user(name, byte(j+1)).SCRAM); err != nil {
					errs <- fmt.Errorf("store %d: SetCredentials(%s): %w", i, name, err)
				}
			}
		})
		wg.Go(func() { // a reader alongside each writer
			for range writes {
				if _, err := s.Users().ListUsers(ctx); err != nil {
					errs <- fmt.Errorf("store %d: ListUsers: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, s := range stores { // each sees the other's writes
		names, err := s.Users().ListUsers(ctx)
		if err != nil {
			t.Fatalf("store %d: ListUsers: %v", i, err)
		}
		if len(names) != len(stores)*writes {
			t.Errorf("store %d: %d users, want %d", i, len(names), len(stores)*writes)
		}
	}
}

func TestPragmas(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	tests := []struct {
		pool   string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "busy_timeout", "5000"},
		{"writer", "foreign_keys", "1"},
		{"writer", "synchronous", "2"}, // FULL
		{"writer", "query_only", "0"},
		{"reader", "journal_mode", "wal"},
		{"reader", "busy_timeout", "5000"},
		{"reader", "foreign_keys", "1"},
		{"reader", "query_only", "1"},
	}
	for i, tt := range tests {
		db := s.w
		if tt.pool == "reader" {
			db = s.r
		}
		var got string
		if err := db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
			t.Fatalf("%d: %s PRAGMA %s: %v", i, tt.pool, tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("%d: %s PRAGMA %s = %s, want %s", i, tt.pool, tt.pragma, got, tt.want)
		}
	}
}

func TestDeleteCascades(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	if err := s.Users().CreateUser(ctx, user("juliet", 1)); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	// A row in every table keyed by username.
	if _, err := s.Rosters().PutRosterItem(ctx, "juliet", storage.RosterItem{Contact: "romeo@example.net", Groups: []string{"g"}}); err != nil {
		t.Fatalf("PutRosterItem: %v", err)
	}
	if err := s.Rosters().PutPendingIn(ctx, "juliet", storage.PendingIn{Contact: "romeo@example.net", Stanza: []byte("<presence/>")}); err != nil {
		t.Fatalf("PutPendingIn: %v", err)
	}
	if _, err := s.Offline().StoreOffline(ctx, "juliet", time.Now(), []byte("<message/>"), 0); err != nil {
		t.Fatalf("StoreOffline: %v", err)
	}
	if err := s.Documents().PutDocument(ctx, "juliet", "vcard-temp", []byte("<vCard/>")); err != nil {
		t.Fatalf("PutDocument: %v", err)
	}
	if err := s.Blocklists().Block(ctx, "juliet", []string{"tybalt@example.net"}); err != nil {
		t.Fatalf("Block: %v", err)
	}
	if err := s.Archive().Append(ctx, []storage.ArchivedMessage{
		{ID: "a1", Archive: "juliet", With: "romeo@example.net/orchard", Stamp: time.Now(), Stanza: []byte("<message/>")},
	}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Archive().SetArchivePrefs(ctx, "juliet", storage.ArchivePrefs{
		Default: storage.ArchiveRoster, Always: []string{"romeo@example.net"}, Never: []string{"tybalt@example.net"},
	}); err != nil {
		t.Fatalf("SetArchivePrefs: %v", err)
	}
	if err := s.Users().DeleteUser(ctx, "juliet"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, table := range append([]string{"credentials", "archive_messages"}, ownTables...) {
		var n int
		if err := s.r.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("%d %s rows left after DeleteUser, want 0", n, table)
		}
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "mote.db")
	_, err := Open(context.Background(), path)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open(%q) = %v, want a not-exist error naming the path", path, err)
	}
}

// TestOpenSpecialPath checks that characters with a meaning in SQLite URIs
// are taken literally in the file name.
func TestOpenSpecialPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a b?c=1#d%20e.db")
	openTest(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created at %q: %v", path, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), filepath.Base(path)) {
			t.Errorf("stray file %q next to %q", e.Name(), filepath.Base(path))
		}
	}
}
