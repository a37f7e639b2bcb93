package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/pgtest"
	"github.com/mote-xmpp/mote/internal/storage/storagetest"
)

// TestMain stops the throwaway PostgreSQL server of pgtest at the end.
func TestMain(m *testing.M) { pgtest.Main(m) }

// openTest opens the database at dsn and closes it when the test ends.
func openTest(t testing.TB, dsn string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
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
		return openTest(t, pgtest.DSN(t), Options{})
	})
}

// connect opens a connection of the test's own to dsn.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func user(name string) storage.User {
	return storage.User{
		Username: name,
		SCRAM: map[string]storage.SCRAMKey{
			storage.SHA256: {Salt: []byte("salt"), Iterations: 4096, StoredKey: []byte("stored"), ServerKey: []byte("server")},
		},
		Created: time.Unix(1700000000, 0),
	}
}

func schemaVersion(t *testing.T, s *Store) int {
	t.Helper()
	v, err := s.schemaVersion(context.Background())
	if err != nil {
		t.Fatalf("schema version: %v", err)
	}
	return v
}

// TestReopen opens a database again: the migrations are not applied twice,
// and the data stays.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Users().CreateUser(ctx, user("juliet")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	s.Close()
	for i := range 2 {
		s := openTest(t, dsn, Options{})
		if v := schemaVersion(t, s); v != len(migrations) {
			t.Fatalf("reopen %d: schema version %d, want %d", i, v, len(migrations))
		}
		var rows int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(migrations) {
			t.Errorf("reopen %d: %d schema_migrations rows (%v), want %d", i, rows, err, len(migrations))
		}
		if _, err := s.Users().GetUser(ctx, "juliet"); err != nil {
			t.Errorf("reopen %d: GetUser: %v", i, err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := openTest(t, dsn, Options{})
	newer := len(migrations) + 1
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, newer); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dsn, Options{})
	var verr *SchemaVersionError
	if !errors.As(err, &verr) || verr.Have != newer || verr.Known != len(migrations) {
		t.Fatalf("Open = %v, want SchemaVersionError{%d, %d}", err, newer, len(migrations))
	}
	want := fmt.Sprintf("postgres: database schema version %d is newer than this mote (%d)", newer, len(migrations))
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

// TestConcurrentOpen opens a new database from several stores at once, as
// mote nodes started together would: each migration runs once.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), dsn, Options{MaxConns: 2}) })
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

// TestMigrationAtomic checks that a migration that fails half-way leaves
// the schema as it was, at the previous version, and that it runs once it
// is fixed.
func TestMigrationAtomic(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t), Options{})
	broken := append(slices.Clip(migrations), `CREATE TABLE half (a int); SELECT 1/0`)
	if err := migrateTo(ctx, s, broken); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("to version %d", len(broken))) {
		t.Fatalf("broken migration = %v, want an error naming version %d", err, len(broken))
	}
	if v := schemaVersion(t, s); v != len(migrations) {
		t.Errorf("schema version %d after a failed migration, want %d", v, len(migrations))
	}
	var half bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('half') IS NOT NULL`).Scan(&half); err != nil || half {
		t.Errorf("table of the failed migration exists: %v, %v", half, err)
	}
	fixed := append(slices.Clip(migrations), `CREATE TABLE half (a int)`)
	for range 2 {
		if err := migrateTo(ctx, s, fixed); err != nil {
			t.Fatalf("fixed migration: %v", err)
		}
		if v := schemaVersion(t, s); v != len(fixed) {
			t.Errorf("schema version %d, want %d", v, len(fixed))
		}
	}
}

// TestPoolBound checks that a Store opens at most MaxConns sessions, and
// that a call waits at most AcquireTimeout for one.
func TestPoolBound(t *testing.T) {
	const maxConns = 3
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := openTest(t, dsn, Options{MaxConns: maxConns, AcquireTimeout: 200 * time.Millisecond})
	if err := s.Users().CreateUser(ctx, user("juliet")); err != nil {
		t.Fatal(err)
	}

	// Many concurrent calls, each holding its connection a while.
	monitor := connect(t, dsn)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		maxSeen int
	)
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int
			if err := monitor.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			maxSeen = max(maxSeen, n)
			mu.Unlock()
		}
	})
	var calls sync.WaitGroup
	for range 4 * maxConns {
		calls.Go(func() {
			err := s.read(ctx, func(c *pgx.Conn) error {
				_, err := c.Exec(ctx, `SELECT pg_sleep(0.05)`)
				return err
			})
			if err != nil && !errors.Is(err, ErrAcquireTimeout) {
				t.Errorf("read: %v", err)
			}
		})
	}
	calls.Wait()
	close(stop)
	wg.Wait()
	if maxSeen == 0 || maxSeen > maxConns {
		t.Errorf("up to %d sessions seen, want 1 to %d", maxSeen, maxConns)
	}
	if n := s.pool.Stat().MaxConns(); n != maxConns {
		t.Errorf("pool MaxConns = %d, want %d", n, maxConns)
	}

	// All connections taken: a call gives up after AcquireTimeout.
	var held []func()
	for range maxConns {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c.Release)
	}
	start := time.Now()
	_, err := s.Users().GetUser(ctx, "juliet")
	if !errors.Is(err, ErrAcquireTimeout) {
		t.Errorf("GetUser with the pool exhausted = %v, want ErrAcquireTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("GetUser with the pool exhausted took %v", d)
	}
	held[0]()
	if _, err := s.Users().GetUser(ctx, "juliet"); err != nil {
		t.Errorf("GetUser with a connection free: %v", err)
	}
	for _, release := range held[1:] {
		release()
	}
}

// TestReconnect stops and restarts the server under an open Store: calls
// fail promptly while it is down and work again once it is back, without
// anything done to the Store.
func TestReconnect(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t), Options{MaxConns: 4})
	u, a := s.Users(), s.Archive()
	if err := u.CreateUser(ctx, user("juliet")); err != nil {
		t.Fatal(err)
	}
	msg := func(id string) []storage.ArchivedMessage {
		return []storage.ArchivedMessage{{ID: id, Archive: "juliet", With: "romeo@example.net", Stamp: time.Now(), Stanza: []byte("<message/>")}}
	}
	if err := a.Append(ctx, msg("m0")); err != nil {
		t.Fatal(err)
	}
	// Connections idle in the pool when the server goes away are broken.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := u.GetUser(ctx, "juliet"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	// A restart between two calls: the next call works.
	pgtest.Restart(t, nil)
	if _, err := u.GetUser(ctx, "juliet"); err != nil {
		t.Errorf("GetUser after a restart: %v", err)
	}
	if err := a.Append(ctx, msg("m1")); err != nil {
		t.Errorf("Append after a restart: %v", err)
	}

	// Calls while the server is down fail, promptly.
	pgtest.Restart(t, func() {
		calls := []struct {
			name string
			call func(ctx context.Context) error
		}{
			{"GetUser", func(ctx context.Context) error { _, err := u.GetUser(ctx, "juliet"); return err }},
			{"CreateUser", func(ctx context.Context) error { return u.CreateUser(ctx, user("romeo")) }},
			{"Append", func(ctx context.Context) error { return a.Append(ctx, msg("down")) }},
			{"StoreOffline", func(ctx context.Context) error {
				_, err := s.Offline().StoreOffline(ctx, "juliet", time.Now(), []byte("<message/>"), 0)
				return err
			}},
		}
		for _, c := range calls {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			start := time.Now()
			err := c.call(ctx)
			cancel()
			if err == nil {
				t.Errorf("%s while the server is down succeeded", c.name)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s while the server is down took %v (%v)", c.name, d, err)
			}
		}
	})
	if _, err := u.GetUser(ctx, "juliet"); err != nil {
		t.Errorf("GetUser once the server is back: %v", err)
	}
	if err := a.Append(ctx, msg("m2")); err != nil {
		t.Errorf("Append once the server is back: %v", err)
	}
	if _, err := s.Offline().StoreOffline(ctx, "juliet", time.Now(), []byte("<message/>"), 0); err != nil {
		t.Errorf("StoreOffline once the server is back: %v", err)
	}
	p, err := a.QueryArchive(ctx, "juliet", storage.ArchiveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range p.Messages {
		ids = append(ids, m.ID)
	}
	if want := []string{"m0", "m1", "m2"}; !slices.Equal(ids, want) {
		t.Errorf("archive = %q, want %q", ids, want)
	}
}

// TestDeleteUserRows checks that DeleteUser leaves no row keyed by the
// username in any table of migration 1 but the certificates.
func TestDeleteUserRows(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t), Options{})
	if err := s.Users().CreateUser(ctx, user("juliet")); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Rosters().PutRosterItem(ctx, "juliet", storage.RosterItem{Contact: "romeo@example.net", Groups: []string{"g"}})
	must(err)
	must(s.Rosters().PutPendingIn(ctx, "juliet", storage.PendingIn{Contact: "romeo@example.net", Stanza: []byte("<presence/>")}))
	_, err = s.Offline().StoreOffline(ctx, "juliet", time.Now(), []byte("<message/>"), 0)
	must(err)
	must(s.Documents().PutDocument(ctx, "juliet", "vcard-temp", []byte("<vCard/>")))
	must(s.Blocklists().Block(ctx, "juliet", []string{"tybalt@example.net"}))
	must(s.Archive().Append(ctx, []storage.ArchivedMessage{
		{ID: "a1", Archive: "juliet", With: "romeo@example.net/orchard", Stamp: time.Now(), Stanza: []byte("<message/>")},
	}))
	must(s.Archive().SetArchivePrefs(ctx, "juliet", storage.ArchivePrefs{Default: storage.ArchiveRoster, Always: []string{"romeo@example.net"}}))
	must(s.Devices().PutDevice(ctx, storage.Device{Username: "juliet", Group: "g"}))
	must(s.Devices().SetCertLogin(ctx, "juliet", true))
	must(s.Devices().AddCertificate(ctx, storage.Certificate{Serial: "1f", Username: "juliet", Issued: time.Now(), NotAfter: time.Now()}))
	must(s.Users().DeleteUser(ctx, "juliet"))

	for _, table := range append([]string{"users", "credentials", "archive_messages", "devices", "cert_logins"}, ownTables...) {
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("%d %s rows left after DeleteUser, want 0", n, table)
		}
	}
	var revoked bool
	if err := s.pool.QueryRow(ctx, `SELECT revoked IS NOT NULL FROM certificates WHERE serial = '1f'`).Scan(&revoked); err != nil || !revoked {
		t.Errorf("certificate after DeleteUser: revoked %v, %v; want kept, revoked", revoked, err)
	}
}

// TestInvalidText checks that text PostgreSQL cannot hold fails the one
// call that has it, not a batch it would have joined.
func TestInvalidText(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t), Options{})
	bad := []storage.ArchivedMessage{{ID: "a\x00b", Archive: "juliet", With: "romeo@example.net", Stamp: time.Now()}}
	if err := s.Archive().Append(ctx, bad); !errors.Is(err, errText) {
		t.Errorf("Append with NUL in an ID = %v, want %v", err, errText)
	}
	bad[0].ID, bad[0].With = "a", "\xff"
	if err := s.Archive().Append(ctx, bad); !errors.Is(err, errText) {
		t.Errorf("Append with invalid UTF-8 = %v, want %v", err, errText)
	}
	if _, err := s.Offline().StoreOffline(ctx, "a\x00", time.Now(), nil, 0); !errors.Is(err, errText) {
		t.Errorf("StoreOffline with NUL in the username = %v, want %v", err, errText)
	}
}
