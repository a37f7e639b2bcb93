package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/pgtest"
	"github.com/mote-xmpp/mote/internal/storage/storagetest"
)

// TestGroupCommitOutcomes runs one batch by hand: each request's failure is
// its own, and the batch is one transaction.
func TestGroupCommitOutcomes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t), Options{})
	if err := s.Archive().Append(ctx, []storage.ArchivedMessage{storagetest.Archived("juliet", "taken", 0)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if _, err := s.Offline().StoreOffline(ctx, "romeo", time.Now(), []byte("<message/>"), 0); err != nil {
		t.Fatalf("StoreOffline: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	app := func(msgs ...storage.ArchivedMessage) *batchReq { return &batchReq{archive: msgs} }
	off := func(user string, max int) *batchReq {
		return &batchReq{offline: &offlineReq{username: user, stamp: time.Now(), stanza: []byte("<message/>"), max: max}}
	}
	reqs := []struct {
		ctx  context.Context
		req  *batchReq
		want error
	}{
		{ctx, app(storagetest.Archived("juliet", "a", 1)), nil},
		// Its first message is not stored either.
		{ctx, app(storagetest.Archived("juliet", "b", 2), storagetest.Archived("juliet", "taken", 2)), storage.ErrExists},
		{ctx, app(storagetest.Archived("juliet", "c", 3), storagetest.Archived("nurse", "c", 3)), nil},
		{ctx, off("romeo", 1), storage.ErrQuota},
		{cancelled, app(storagetest.Archived("juliet", "d", 4)), context.Canceled},
		// Sees the requests before it in the batch: "c" is taken.
		{ctx, app(storagetest.Archived("juliet", "c", 5)), storage.ErrExists},
		// Twice in one request.
		{ctx, app(storagetest.Archived("juliet", "f", 5), storagetest.Archived("juliet", "f", 5)), storage.ErrExists},
		{ctx, off("romeo", 2), nil},
		// The quota counts the message stored just before.
		{ctx, off("romeo", 2), storage.ErrQuota},
		{ctx, off("romeo", 0), nil},
		{ctx, app(storagetest.Archived("juliet", "e", 6)), nil},
	}
	batch := make([]*batchReq, len(reqs))
	for i, r := range reqs {
		r.req.ctx, r.req.done = r.ctx, make(chan batchResult, 1)
		batch[i] = r.req
	}
	before := s.batches.Load()
	s.commitBatch(batch)
	if n := s.batches.Load() - before; n != 1 {
		t.Errorf("%d batch transactions, want 1", n)
	}
	var ids []int64
	for i, r := range reqs {
		select {
		case res := <-batch[i].done:
			if !errors.Is(res.err, r.want) || (r.want == nil && res.err != nil) {
				t.Errorf("request %d: %v, want %v", i, res.err, r.want)
			}
			if r.req.offline != nil && res.err == nil {
				ids = append(ids, res.id)
			}
		default:
			t.Errorf("request %d: no outcome", i)
		}
	}
	if got, want := storagetest.ArchiveIDs(t, s.Archive(), "juliet"), []string{"taken", "a", "c", "e"}; !slices.Equal(got, want) {
		t.Errorf("juliet's archive = %q, want %q", got, want)
	}
	if got, want := storagetest.ArchiveIDs(t, s.Archive(), "nurse"), []string{"c"}; !slices.Equal(got, want) {
		t.Errorf("nurse's archive = %q, want %q", got, want)
	}
	msgs, err := s.Offline().GetOffline(ctx, "romeo")
	if err != nil || len(msgs) != 3 || len(ids) != 2 || msgs[1].ID != ids[0] || msgs[2].ID != ids[1] {
		t.Errorf("GetOffline(romeo) = %+v, %v; want 3 messages, the last two %v", msgs, err, ids)
	}
}

// plug holds the advisory lock of archive key from a connection of its
// own, so that the committer blocks in the batch that appends to it, until
// the returned function releases it.
func plug(t *testing.T, s *Store, key string) (release func()) {
	t.Helper()
	ctx := context.Background()
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockArchive, lockHash(key)); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := c.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, lockArchive, lockHash(key)); err != nil {
				t.Error(err)
			}
			c.Release()
		})
	}
	t.Cleanup(release)
	return release
}

// TestGroupCommitConcurrent: concurrent appends queue behind a batch that
// waits for an advisory lock (plug) and are committed as one batch
// (storagetest.TestGroupCommitBatch).
func TestGroupCommitConcurrent(t *testing.T) {
	s := openTest(t, pgtest.DSN(t), Options{})
	storagetest.TestGroupCommitBatch(t, s, storagetest.GroupCommit{
		Plug:    func(t *testing.T) func() { return plug(t, s, "plug") },
		Batches: s.batches.Load,
		Queued:  func() int { return len(s.batchq) },
	})
}

// TestGroupCommitContext checks that a caller waiting for the committer
// returns when its context ends, and that its write is then skipped if the
// committer has not started it.
func TestGroupCommitContext(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t), Options{})
	a := s.Archive()
	release := plug(t, s, "plug")
	before := s.batches.Load()
	done := make(chan error, 1)
	go func() { done <- a.Append(ctx, []storage.ArchivedMessage{storagetest.Archived("plug", "p", 1)}) }()
	storagetest.WaitFor(t, "the committer takes the plug", func() bool { return s.batches.Load() == before+1 })

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := a.Append(short, []storage.ArchivedMessage{storagetest.Archived("juliet", "late", 1)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append behind a blocked batch = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Append returned %v after its deadline", d)
	}
	release()
	if err := <-done; err != nil {
		t.Errorf("plug: Append: %v", err)
	}
	if err := a.Append(ctx, []storage.ArchivedMessage{storagetest.Archived("juliet", "next", 2)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if got, want := storagetest.ArchiveIDs(t, s.Archive(), "juliet"), []string{"next"}; !slices.Equal(got, want) {
		t.Errorf("juliet's archive = %q, want %q (the abandoned write skipped)", got, want)
	}
}

// TestGroupCommitClose checks that a write after Close fails instead of
// waiting for a committer that is gone.
func TestGroupCommitClose(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(t), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Archive().Append(ctx, []storage.ArchivedMessage{storagetest.Archived("juliet", "m", 0)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Archive().Append(ctx, []storage.ArchivedMessage{storagetest.Archived("juliet", "n", 0)}); !errors.Is(err, errClosed) {
		t.Errorf("Append after Close = %v, want %v", err, errClosed)
	}
	if _, err := s.Offline().StoreOffline(ctx, "juliet", time.Now(), []byte("<message/>"), 0); !errors.Is(err, errClosed) {
		t.Errorf("StoreOffline after Close = %v, want %v", err, errClosed)
	}
}

// TestTwoStoresQuota stores offline messages under a quota from two
// Stores, as two mote nodes on one database: the advisory lock keeps the
// quota.
func TestTwoStoresQuota(t *testing.T) {
	const each, max = 20, 15
	dsn := pgtest.DSN(t)
	stores := []*Store{openTest(t, dsn, Options{}), openTest(t, dsn, Options{})}
	var (
		wg sync.WaitGroup
		ok atomic.Int64
	)
	for _, s := range stores {
		for range each {
			wg.Go(func() {
				_, err := s.Offline().StoreOffline(context.Background(), "juliet", time.Now(), []byte("<message/>"), max)
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, storage.ErrQuota):
					t.Errorf("StoreOffline: %v", err)
				}
			})
		}
	}
	wg.Wait()
	if ok.Load() != max {
		t.Errorf("%d stores succeeded, want %d", ok.Load(), max)
	}
	if n, err := stores[0].Offline().CountOffline(context.Background(), "juliet"); err != nil || n != max {
		t.Errorf("CountOffline = %d, %v; want %d", n, err, max)
	}
}

// openBench opens a Store on a fresh database of the throwaway server.
// pgtest runs it with fsync off: the numbers measure the round trips and
// the server's work, not a disk.
func openBench(b *testing.B) storagetest.BenchStore {
	s := openTest(b, pgtest.DSN(b), Options{})
	return storagetest.BenchStore{Store: s, Batches: s.batches.Load}
}

// BenchmarkArchiveAppend appends one message per call, each writer to its
// own archive, group-committed.
func BenchmarkArchiveAppend(b *testing.B) { storagetest.BenchmarkArchiveAppend(b, openBench) }

// BenchmarkStoreOffline stores one offline message per call under a quota,
// spread over 100 accounts per writer.
func BenchmarkStoreOffline(b *testing.B) { storagetest.BenchmarkStoreOffline(b, openBench) }

// TestBatchQueryPlans checks that the reads of a batch look its keys up in
// the indexes, whatever the size of the tables: a scan would make every
// batch slower as archives grow.
func TestBatchQueryPlans(t *testing.T) {
	const keys, each, batched = 500, 20, 25
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t), Options{})
	if _, err := s.pool.Exec(ctx, `INSERT INTO archive_messages (archive, id, with_bare, with_full, stamp, stanza)
		SELECT 'dev' || (n % $1::int), n::text, 'romeo@example.net', 'romeo@example.net/r', now(), '\x00'
		FROM generate_series(1, $1::int * $2::int) AS n`, keys, each); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO offline (username, stamp, stanza)
		SELECT 'dev' || (n % $1::int), now(), '\x00' FROM generate_series(1, $1::int * $2::int) AS n`, keys, each); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	// A large batch: a few IDs of each of batched archives and accounts.
	var archives, ids, users []string
	for k := range batched {
		users = append(users, fmt.Sprintf("dev%d", k))
		for i := range 4 {
			archives, ids = append(archives, fmt.Sprintf("dev%d", k)), append(ids, fmt.Sprint(k+i*keys))
		}
	}
	tests := []struct {
		name, sql string
		args      []any
	}{
		{"taken", takenSQL, []any{archives, ids}},
		{"held", heldSQL, []any{users}},
	}
	for _, tt := range tests {
		rows, err := s.pool.Query(ctx, "EXPLAIN "+tt.sql, tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan") {
			t.Errorf("%s scans a table:\n%s", tt.name, text)
		}
	}
}
