package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// archived returns message id of archive, stamped i seconds after a fixed
// time.
func archived(archive, id string, i int) storage.ArchivedMessage {
	return storage.ArchivedMessage{
		ID: id, Archive: archive, With: "romeo@example.net/orchard",
		Stamp:  time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Stanza: fmt.Appendf(nil, "<message id='%s'><body>%d</body></message>", id, i),
	}
}

// archiveIDs returns the IDs in archive key, in archive order.
func archiveIDs(t *testing.T, s *Store, key string) []string {
	t.Helper()
	p, err := s.Archive().QueryArchive(context.Background(), key, storage.ArchiveQuery{})
	if err != nil {
		t.Fatalf("QueryArchive(%q): %v", key, err)
	}
	var ids []string
	for _, m := range p.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// waitFor waits until cond holds, polling: it observes the committer,
// which signals nothing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}

// TestGroupCommitSavepoints runs one batch by hand: each request's failure
// rolls back its own writes only, and the batch commits once.
func TestGroupCommitSavepoints(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	if err := s.Archive().Append(ctx, []storage.ArchivedMessage{archived("juliet", "taken", 0)}); err != nil {
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
		{ctx, s.appendArchive([]storage.ArchivedMessage{archived("juliet", "a", 1)}), nil},
		// Its first message is written, then rolled back with the second.
		{ctx, s.appendArchive([]storage.ArchivedMessage{archived("juliet", "b", 2), archived("juliet", "taken", 2)}), storage.ErrExists},
		{ctx, s.appendArchive([]storage.ArchivedMessage{archived("juliet", "c", 3), archived("nurse", "c", 3)}), nil},
		{ctx, s.storeOffline("romeo", time.Now(), []byte("<message/>"), 1, new(int64)), storage.ErrQuota},
		{cancelled, s.appendArchive([]storage.ArchivedMessage{archived("juliet", "d", 4)}), context.Canceled},
		// Sees the writes before it in the batch: "c" is taken.
		{ctx, s.appendArchive([]storage.ArchivedMessage{archived("juliet", "c", 5)}), storage.ErrExists},
		{ctx, s.storeOffline("romeo", time.Now(), []byte("<message/>"), 2, &offlineID), nil},
		{ctx, s.appendArchive([]storage.ArchivedMessage{archived("juliet", "e", 6)}), nil},
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
	if got, want := archiveIDs(t, s, "juliet"), []string{"taken", "a", "c", "e"}; !slices.Equal(got, want) {
		t.Errorf("juliet's archive = %q, want %q", got, want)
	}
	if got, want := archiveIDs(t, s, "nurse"), []string{"c"}; !slices.Equal(got, want) {
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
	if err := a.Append(ctx, []storage.ArchivedMessage{archived("juliet", "taken", 0)}); err != nil {
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
	wg.Go(func() { plugErr = a.Append(ctx, []storage.ArchivedMessage{archived("juliet", "plug", 1)}) })
	waitFor(t, "the committer takes the plug", func() bool { return s.batches.Load() == before+1 })

	errs := make([]error, writers)
	var want []string
	for w := range writers {
		msgs := []storage.ArchivedMessage{archived("juliet", fmt.Sprintf("w%d-a", w), 2), archived("juliet", fmt.Sprintf("w%d-b", w), 3)}
		if w == writers/2 {
			msgs[1].ID = "taken"
		} else {
			want = append(want, msgs[0].ID, msgs[1].ID)
		}
		wg.Go(func() { errs[w] = a.Append(ctx, msgs) })
	}
	waitFor(t, "the writers queue", func() bool { return len(s.batchq) == writers })
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
	got := archiveIDs(t, s, "juliet")
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
	if err := s.Archive().Append(ctx, []storage.ArchivedMessage{archived("juliet", "m", 0)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Archive().Append(ctx, []storage.ArchivedMessage{archived("juliet", "n", 0)}); !errors.Is(err, errClosed) {
		t.Errorf("Append after Close = %v, want %v", err, errClosed)
	}
	if _, err := s.Offline().StoreOffline(ctx, "juliet", time.Now(), []byte("<message/>"), 0); !errors.Is(err, errClosed) {
		t.Errorf("StoreOffline after Close = %v, want %v", err, errClosed)
	}
}

// benchWriters are the numbers of concurrent writers the benchmarks
// measure; RunParallel runs a multiple of GOMAXPROCS goroutines.
var benchWriters = []int{1, 16, 128}

// benchDurable measures write (one durable write by writer n, i counting
// its writes) from writers goroutines, reporting writes per second and
// writes per batch transaction.
func benchDurable(b *testing.B, write func(s *Store, n, i int) error) {
	for _, writers := range benchWriters {
		p := max(1, writers/runtime.GOMAXPROCS(0))
		if writers == 1 {
			p = 0
		}
		name := fmt.Sprintf("writers=%d", max(1, p*runtime.GOMAXPROCS(0)))
		b.Run(name, func(b *testing.B) {
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), "mote.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batches := s.batches.Load()
			b.ReportAllocs()
			b.ResetTimer()
			if p == 0 {
				for i := range b.N {
					if err := write(s, 0, i); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				var writer atomic.Int64
				b.SetParallelism(p)
				b.RunParallel(func(pb *testing.PB) {
					n := int(writer.Add(1))
					for i := 0; pb.Next(); i++ {
						if err := write(s, n, i); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if n := s.batches.Load() - batches; n > 0 {
				b.ReportMetric(float64(b.N)/float64(n), "msgs/commit")
			}
		})
	}
}

// BenchmarkArchiveAppend appends one message per call, each writer to its
// own archive, group-committed with synchronous=FULL.
func BenchmarkArchiveAppend(b *testing.B) {
	stanza := []byte("<message from='romeo@example.net/orchard' to='juliet@example.com/balcony' type='chat' id='x1'>" +
		"<body>Wherefore art thou</body><stanza-id xmlns='urn:xmpp:sid:0' by='juliet@example.com' id='0123456789abcdef'/></message>")
	stamp := time.Now()
	benchDurable(b, func(s *Store, n, i int) error {
		return s.Archive().Append(context.Background(), []storage.ArchivedMessage{{
			ID: fmt.Sprintf("%08x", i), Archive: fmt.Sprintf("dev%d", n), With: "romeo@example.net/orchard",
			Stamp: stamp, Stanza: stanza,
		}})
	})
}

// BenchmarkStoreOffline stores one offline message per call under a quota,
// spread over 100 accounts per writer.
func BenchmarkStoreOffline(b *testing.B) {
	stanza := []byte("<message from='romeo@example.net/orchard' to='juliet@example.com' type='chat' id='x1'>" +
		"<body>Wherefore art thou</body></message>")
	stamp := time.Now()
	benchDurable(b, func(s *Store, n, i int) error {
		_, err := s.Offline().StoreOffline(context.Background(), fmt.Sprintf("dev%d-%d", n, i%100), stamp, stanza, 1<<20)
		return err
	})
}
