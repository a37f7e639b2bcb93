package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/storagetest"
)

// TestGroupCommitSavepoints runs one batch by hand: each request's failure
// rolls back its own writes only, and the batch commits once.
func TestGroupCommitSavepoints(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	if err := s.Archive().Append(ctx, []storage.ArchivedMessage{storagetest.Archived("juliet", "taken", 0)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if _, err := s.Offline().StoreOffline(ctx, "romeo", time.Now(), []byte("<message/>"), 0); err != nil {
		t.Fatalf("StoreOffline: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	var offlineID int64
	reqs := []struct {
		ctx  context.Context
		fn   batchFunc
		want error
	}{
		{ctx, s.appendArchive([]storage.ArchivedMessage{storagetest.Archived("juliet", "a", 1)}), nil},
		// Its first message is written, then rolled back with the second.
		{ctx, s.appendArchive([]storage.ArchivedMessage{storagetest.Archived("juliet", "b", 2), storagetest.Archived("juliet", "taken", 2)}), storage.ErrExists},
		{ctx, s.appendArchive([]storage.ArchivedMessage{storagetest.Archived("juliet", "c", 3), storagetest.Archived("nurse", "c", 3)}), nil},
		{ctx, s.storeOffline("romeo", time.Now(), []byte("<message/>"), 1, new(int64)), storage.ErrQuota},
		{cancelled, s.appendArchive([]storage.ArchivedMessage{storagetest.Archived("juliet", "d", 4)}), context.Canceled},
		// Sees the writes before it in the batch: "c" is taken.
		{ctx, s.appendArchive([]storage.ArchivedMessage{storagetest.Archived("juliet", "c", 5)}), storage.ErrExists},
		{ctx, s.storeOffline("romeo", time.Now(), []byte("<message/>"), 2, &offlineID), nil},
		{ctx, s.appendArchive([]storage.ArchivedMessage{storagetest.Archived("juliet", "e", 6)}), nil},
	}
	batch := make([]*batchReq, len(reqs))
	for i, r := range reqs {
		batch[i] = &batchReq{ctx: r.ctx, fn: r.fn, done: make(chan error, 1)}
	}
	before := s.batches.Load()
	s.commitBatch(batch)
	if n := s.batches.Load() - before; n != 1 {
		t.Errorf("%d batch transactions, want 1", n)
	}
	for i, r := range reqs {
		select {
		case err := <-batch[i].done:
			if !errors.Is(err, r.want) || (r.want == nil && err != nil) {
				t.Errorf("request %d: %v, want %v", i, err, r.want)
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
	if n, err := s.Offline().CountOffline(ctx, "romeo"); err != nil || n != 2 || offlineID == 0 {
		t.Errorf("CountOffline(romeo) = %d, %v (ID %d); want 2", n, err, offlineID)
	}
}

// TestGroupCommitConcurrent holds the writer connection while concurrent
// appends queue, so that they are committed as one batch, one of them
// failing with a duplicate ID: the others succeed.
func TestGroupCommitConcurrent(t *testing.T) {
	const writers = 16
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	a := s.Archive()
	if err := a.Append(ctx, []storage.ArchivedMessage{storagetest.Archived("juliet", "taken", 0)}); err != nil {
		t.Fatalf("Append: %v", err)
	}

	// Take the writer pool's one connection: the committer blocks in
	// BEGIN with the first request it takes (the plug), and the others
	// queue behind it.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("BeginTx: %v", err)
	}
	before := s.batches.Load()
	var wg sync.WaitGroup
	var plugErr error
	wg.Go(func() { plugErr = a.Append(ctx, []storage.ArchivedMessage{storagetest.Archived("juliet", "plug", 1)}) })
	storagetest.WaitFor(t, "the committer takes the plug", func() bool { return s.batches.Load() == before+1 })

	errs := make([]error, writers)
	var want []string
	for w := range writers {
		msgs := []storage.ArchivedMessage{storagetest.Archived("juliet", fmt.Sprintf("w%d-a", w), 2), storagetest.Archived("juliet", fmt.Sprintf("w%d-b", w), 3)}
		if w == writers/2 {
			msgs[1].ID = "taken"
		} else {
			want = append(want, msgs[0].ID, msgs[1].ID)
		}
		wg.Go(func() { errs[w] = a.Append(ctx, msgs) })
	}
	storagetest.WaitFor(t, "the writers queue", func() bool { return len(s.batchq) == writers })
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	wg.Wait()

	if plugErr != nil {
		t.Errorf("plug: Append: %v", plugErr)
	}
	for w, err := range errs {
		if w == writers/2 {
			if !errors.Is(err, storage.ErrExists) {
				t.Errorf("writer %d: Append = %v, want ErrExists", w, err)
			}
		} else if err != nil {
			t.Errorf("writer %d: Append: %v", w, err)
		}
	}
	if n := s.batches.Load() - before; n != 2 {
		t.Errorf("%d batch transactions, want 2 (the plug, then the writers together)", n)
	}
	got := storagetest.ArchiveIDs(t, s.Archive(), "juliet")
	if len(got) != 2+len(want) || got[0] != "taken" || got[1] != "plug" {
		t.Fatalf("juliet's archive = %q, want taken, plug and %q in some order", got, want)
	}
	slices.Sort(want)
	if rest := slices.Sorted(slices.Values(got[2:])); !slices.Equal(rest, want) {
		t.Errorf("juliet's archive after the plug = %q, want %q", rest, want)
	}
	for w := range writers { // each writer's messages in its order
		ia, ib := slices.Index(got, fmt.Sprintf("w%d-a", w)), slices.Index(got, fmt.Sprintf("w%d-b", w))
		if w != writers/2 && ia > ib {
			t.Errorf("writer %d's messages out of order: %q", w, got)
		}
	}
}

// TestGroupCommitClose checks that a write after Close fails instead of
// waiting for a committer that is gone.
func TestGroupCommitClose(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "mote.db"))
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

// openBench opens a fresh database in b's temporary directory.
func openBench(b *testing.B) storagetest.BenchStore {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "mote.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return storagetest.BenchStore{Store: s, Batches: s.batches.Load}
}

// BenchmarkArchiveAppend appends one message per call, each writer to its
// own archive, group-committed with synchronous=FULL.
func BenchmarkArchiveAppend(b *testing.B) { storagetest.BenchmarkArchiveAppend(b, openBench) }

// BenchmarkStoreOffline stores one offline message per call under a quota,
// spread over 100 accounts per writer.
func BenchmarkStoreOffline(b *testing.B) { storagetest.BenchmarkStoreOffline(b, openBench) }
