package pubsub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/jid"
)

// TestConcurrent runs publishes, subscription changes, graph changes and
// reads on shared and separate nodes at once; with -race it checks the
// locking, and it checks that every publish was notified exactly once.
func TestConcurrent(t *testing.T) {
	var published atomic.Int64
	f := newFx(t, func(o *Options) {
		o.Notifier = NotifierFunc(func(_ context.Context, ev *Event) {
			if ev.Kind == EventPublish && !ev.Replay {
				published.Add(1)
			}
		})
		o.NewID = nil
	})
	ctx, s := f.ctx, f.svc
	f.collection("all")
	f.collection("mid", "all")
	const leaves, workers, rounds = 4, 8, 100
	for i := range leaves {
		f.leaf(NodeID(fmt.Sprint("leaf", i)), nil, "mid")
	}
	items := SubOptions{Deliver: true, Type: SubTypeItems, Depth: DepthAll}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := act(fmt.Sprintf("w%d@example.com/r", w))
			for r := range rounds {
				leaf := NodeID(fmt.Sprint("leaf", (w+r)%leaves))
				if _, err := s.Publish(ctx, owner, leaf, []Item{{Payload: []byte("<x/>")}}, PublishOptions{}); err != nil {
					t.Error(err)
					return
				}
				ok.Add(1)
				switch r % 5 {
				case 0:
					if _, err := s.Subscribe(ctx, me, "all", me.JID.Bare(), &items); err != nil {
						t.Error(err)
					}
				case 1:
					if err := s.Unsubscribe(ctx, me, "all", me.JID.Bare(), ""); err != nil && !errors.Is(err, ErrNoSuchSubscriber) {
						t.Error(err)
					}
				case 2:
					if _, err := s.Subscribe(ctx, me, leaf, me.JID.Bare(), nil); err != nil {
						t.Error(err)
					}
				case 3:
					if _, err := s.Items(ctx, me, leaf, ItemQuery{Max: 2}); err != nil {
						t.Error(err)
					}
				case 4:
					parents := []NodeID{"mid"}
					if r%2 == 0 {
						parents = []NodeID{"all"}
					}
					if err := s.SetParents(ctx, owner, leaf, parents); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	// A node being created and deleted meanwhile.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r := range rounds {
			id := NodeID(fmt.Sprint("tmp", r))
			if _, err := s.CreateNode(ctx, owner, NodeSpec{ID: id, Parents: []NodeID{"all"}}); err != nil {
				t.Error(err)
				return
			}
			if err := s.DeleteNode(ctx, owner, id, ""); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	if published.Load() != ok.Load() || ok.Load() != workers*rounds {
		t.Errorf("%d publishes, %d notified", ok.Load(), published.Load())
	}
}

// TestParallelNodes checks that a publish to one node does not wait for
// another: the Notifier of node a blocks until node b has published.
func TestParallelNodes(t *testing.T) {
	release := make(chan struct{})
	f := newFx(t, func(o *Options) {
		o.Notifier = NotifierFunc(func(_ context.Context, ev *Event) {
			if ev.Node == "a" {
				<-release
			}
		})
	})
	f.leaf("a", nil)
	f.leaf("b", nil)
	done := make(chan error, 1)
	go func() {
		_, err := f.svc.Publish(f.ctx, owner, "a", []Item{{Payload: []byte("x")}}, PublishOptions{})
		done <- err
	}()
	finished := make(chan error, 1)
	go func() {
		_, err := f.svc.Publish(f.ctx, owner, "b", []Item{{Payload: []byte("x")}}, PublishOptions{})
		finished <- err
	}()
	select {
	case err := <-finished:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("publish to b waited for a")
	}
	close(release)
	must(t, <-done)
}

// failingStore fails the operations named in fail.
type failingStore struct {
	*MemStore
	fail map[string]bool
}

var errDisk = errors.New("disk on fire")

func (s *failingStore) PutSubscription(ctx context.Context, id NodeID, sub Subscription) error {
	if s.fail["PutSubscription"] {
		return errDisk
	}
	return s.MemStore.PutSubscription(ctx, id, sub)
}

func (s *failingStore) PutItem(ctx context.Context, id NodeID, it Item, max int) ([]string, error) {
	if s.fail["PutItem"] {
		return nil, errDisk
	}
	return s.MemStore.PutItem(ctx, id, it, max)
}

func (s *failingStore) CreateNode(ctx context.Context, n NodeState) error {
	if s.fail["CreateNode"] {
		return errDisk
	}
	return s.MemStore.CreateNode(ctx, n)
}

func (s *failingStore) SetAffiliation(ctx context.Context, id NodeID, j jid.JID, a Affiliation) error {
	if s.fail["SetAffiliation"] {
		return errDisk
	}
	return s.MemStore.SetAffiliation(ctx, id, j, a)
}

// TestStoreFailures checks that a failed write changes nothing in memory
// and notifies nobody.
func TestStoreFailures(t *testing.T) {
	ctx := context.Background()
	fs := &failingStore{MemStore: NewMemStore(), fail: map[string]bool{}}
	rec := &recorder{}
	s, err := New(ctx, fs, Options{Notifier: rec})
	must(t, err)
	_, err = s.CreateNode(ctx, owner, NodeSpec{ID: "n"})
	must(t, err)
	if _, err := s.Subscribe(ctx, alice, "n", alice.JID.Bare(), nil); err != nil {
		t.Fatal(err)
	}
	rec.take()

	fs.fail["PutSubscription"] = true
	_, err = s.Subscribe(ctx, bob, "n", bob.JID.Bare(), nil)
	wantErr(t, err, errDisk)
	fs.fail["PutItem"] = true
	_, err = s.Publish(ctx, owner, "n", []Item{{Payload: []byte("x")}}, PublishOptions{})
	wantErr(t, err, errDisk)
	if evs := rec.take(); len(evs) != 0 {
		t.Errorf("failed operations notified: %+v", evs)
	}
	if subs := s.UserSubscriptions(ctx, bob.JID); len(subs) != 0 {
		t.Errorf("failed subscription kept: %+v", subs)
	}
	if _, ok, _ := s.LastPublished(ctx, owner, "n"); ok {
		t.Error("failed item cached")
	}
	fs.fail["SetAffiliation"] = true
	wantErr(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: bob.JID, Affiliation: AffOutcast}}), errDisk)
	if affs, _ := s.Affiliations(ctx, owner, "n"); len(affs) != 1 {
		t.Errorf("failed affiliation kept: %+v", affs)
	}
	fs.fail["CreateNode"] = true
	_, err = s.CreateNode(ctx, owner, NodeSpec{ID: "m"})
	wantErr(t, err, errDisk)
	if _, err := s.Node(ctx, "m"); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("failed node exists: %v", err)
	}
	kids, _ := s.Children(ctx, "")
	if !slices.Equal(kids, []NodeID{"n"}) {
		t.Errorf("nodes %v", kids)
	}
}

// TestNotifyOncePerPublish: one Notify call carries all 1000 recipients.
func TestNotifyOncePerPublish(t *testing.T) {
	f := newFx(t, nil)
	f.leaf("n", nil)
	for i := range 1000 {
		a := Actor{JID: jid.MustParse(fmt.Sprintf("d%d@example.com", i))}
		f.subscribe(a, "n", nil)
	}
	f.rec.take()
	f.publish(owner, "n", "", "<x/>")
	evs := f.rec.take()
	if len(evs) != 1 || len(evs[0].Recipients) != 1000 {
		t.Fatalf("%d events", len(evs))
	}
	seen := map[jid.JID]bool{}
	for _, r := range evs[0].Recipients {
		if seen[r.JID] || r.SubIDs != nil || r.Collection != "" {
			t.Fatalf("recipient %+v", r)
		}
		seen[r.JID] = true
	}
}
