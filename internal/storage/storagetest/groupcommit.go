package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/mote-xmpp/mote/internal/storage"
)

// GroupCommit reaches into a backend's group commit (the batching of
// Archive.Append and Offline.StoreOffline), for TestGroupCommitBatch.
type GroupCommit struct {
	// Plug makes the committer's next batch that appends to the archive
	// "plug" wait until release is called (by holding a lock it needs).
	Plug func(t *testing.T) (release func())
	// Batches counts the batch transactions begun; Queued is how many
	// requests wait for the committer.
	Batches func() int64
	Queued  func() int
}

// TestGroupCommitBatch makes concurrent appends queue behind a batch that
// waits, so that they are committed together as the next batch; one of
// them fails with a duplicate ID, and only it: the others succeed, each
// writer's messages in its order.
func TestGroupCommitBatch(t *testing.T, s storage.Store, g GroupCommit) {
	const writers = 16
	ctx := context.Background()
	a := s.Archive()
	if err := a.Append(ctx, []storage.ArchivedMessage{Archived("juliet", "taken", 0)}); err != nil {
		t.Fatalf("Append: %v", err)
	}

	release := g.Plug(t)
	before := g.Batches()
	var wg sync.WaitGroup
	var plugErr error
	wg.Go(func() { plugErr = a.Append(ctx, []storage.ArchivedMessage{Archived("plug", "p", 1)}) })
	WaitFor(t, "the committer takes the plug", func() bool { return g.Batches() == before+1 })

	errs := make([]error, writers)
	var want []string
	for w := range writers {
		msgs := []storage.ArchivedMessage{Archived("juliet", fmt.Sprintf("w%d-a", w), 2), Archived("juliet", fmt.Sprintf("w%d-b", w), 3)}
		if w == writers/2 {
			msgs[1].ID = "taken"
		} else {
			want = append(want, msgs[0].ID, msgs[1].ID)
		}
		wg.Go(func() { errs[w] = a.Append(ctx, msgs) })
	}
	WaitFor(t, "the writers queue", func() bool { return g.Queued() == writers })
	release()
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
	if n := g.Batches() - before; n != 2 {
		t.Errorf("%d batch transactions, want 2 (the plug, then the writers together)", n)
	}
	got := ArchiveIDs(t, a, "juliet")
	if len(got) != 1+len(want) || got[0] != "taken" {
		t.Fatalf("juliet's archive = %q, want taken and %q in some order", got, want)
	}
	slices.Sort(want)
	if rest := slices.Sorted(slices.Values(got[1:])); !slices.Equal(rest, want) {
		t.Errorf("juliet's archive = %q, want %q", rest, want)
	}
	for w := range writers { // each writer's messages in its order
		ia, ib := slices.Index(got, fmt.Sprintf("w%d-a", w)), slices.Index(got, fmt.Sprintf("w%d-b", w))
		if w != writers/2 && ia > ib {
			t.Errorf("writer %d's messages out of order: %q", w, got)
		}
	}
	if got := ArchiveIDs(t, a, "plug"); !slices.Equal(got, []string{"p"}) {
		t.Errorf("the plug's archive = %q", got)
	}
}
