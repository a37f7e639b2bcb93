package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
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

// TestGroupCommitConcurrent: concurrent appends queue while a
// transaction holds the writer pool's one connection (the committer blocks
// in BEGIN with the plug), and are committed as one batch
// (storagetest.TestGroupCommitBatch).
func TestGroupCommitConcurrent(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	storagetest.TestGroupCommitBatch(t, s, storagetest.GroupCommit{
		Plug: func(t *testing.T) func() {
			tx, err := s.w.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatalf("BeginTx: %v", err)
			}
			return func() {
				if err := tx.Rollback(); err != nil {
					t.Fatalf("Rollback: %v", err)
				}
			}
		},
		Batches: s.batches.Load,
		Queued:  func() int { return len(s.batchq) },
	})
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
