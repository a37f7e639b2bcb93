package pubsub

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/jid"
)

// recorder is a Notifier that keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []*Event
}

func (r *recorder) Notify(_ context.Context, ev *Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// take returns and forgets the events recorded so far.
func (r *recorder) take() []*Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fx is a Service over a MemStore with recorded events, a fake clock and
// predictable IDs.
type fx struct {
	t     *testing.T
	ctx   context.Context
	store *MemStore
	rec   *recorder
	clk   *clock
	seq   *atomic.Int64
	mod   func(*Options)
	svc   *Service
}

func newFx(t *testing.T, mod func(*Options)) *fx {
	t.Helper()
	f := &fx{t: t, ctx: context.Background(), store: NewMemStore(), rec: &recorder{},
		clk: &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}, seq: new(atomic.Int64), mod: mod}
	f.reopen()
	return f
}

// reopen replaces the Service by a new one over the same store.
func (f *fx) reopen() {
	f.t.Helper()
	opts := Options{
		Notifier: f.rec,
		Now:      f.clk.now,
		NewID:    func() string { return "id" + strconv.FormatInt(f.seq.Add(1), 10) },
	}
	if f.mod != nil {
		f.mod(&opts)
	}
	svc, err := New(f.ctx, f.store, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.svc = svc
}

func act(s string) Actor { return Actor{JID: jid.MustParse(s)} }

var (
	owner = act("owner@example.com/home")
	alice = act("alice@example.com/phone")
	bob   = act("bob@example.com/laptop")
	carol = act("carol@example.com/tv")
)

// leaf creates a leaf owned by owner with the default config changed by mod.
func (f *fx) leaf(id NodeID, mod func(*Config), parents ...NodeID) {
	f.t.Helper()
	cfg := f.svc.DefaultNodeConfig()
	if mod != nil {
		mod(&cfg)
	}
	if _, err := f.svc.CreateNode(f.ctx, owner, NodeSpec{ID: id, Config: &cfg, Parents: parents}); err != nil {
		f.t.Fatalf("create %s: %v", id, err)
	}
}

// collection creates a collection owned by owner.
func (f *fx) collection(id NodeID, parents ...NodeID) {
	f.t.Helper()
	if _, err := f.svc.CreateNode(f.ctx, owner, NodeSpec{ID: id, Type: Collection, Parents: parents}); err != nil {
		f.t.Fatalf("create %s: %v", id, err)
	}
}

// publish publishes one item and returns its ID.
func (f *fx) publish(a Actor, id NodeID, itemID, payload string) string {
	f.t.Helper()
	ids, err := f.svc.Publish(f.ctx, a, id, []Item{{ID: itemID, Payload: []byte(payload)}}, PublishOptions{})
	if err != nil {
		f.t.Fatalf("publish to %s: %v", id, err)
	}
	return ids[0]
}

// subscribe subscribes the actor's bare JID with options.
func (f *fx) subscribe(a Actor, id NodeID, opts *SubOptions) Subscription {
	f.t.Helper()
	sub, err := f.svc.Subscribe(f.ctx, a, id, a.JID.Bare(), opts)
	if err != nil {
		f.t.Fatalf("%v subscribes to %s: %v", a.JID, id, err)
	}
	return sub
}

// events returns the recorded events of kind k, forgetting all.
func (f *fx) events(k EventKind) []*Event {
	var out []*Event
	for _, ev := range f.rec.take() {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// only returns the single event of kind k, failing otherwise.
func (f *fx) only(k EventKind) *Event {
	f.t.Helper()
	evs := f.events(k)
	if len(evs) != 1 {
		f.t.Fatalf("%d %v events, want 1", len(evs), k)
	}
	return evs[0]
}

// items returns the IDs of the node's items, newest first.
func (f *fx) items(a Actor, id NodeID) []string {
	f.t.Helper()
	page, err := f.svc.Items(f.ctx, a, id, ItemQuery{})
	if err != nil {
		f.t.Fatalf("items of %s: %v", id, err)
	}
	return itemIDs(page.Items)
}

func itemIDs(items []Item) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

// to renders recipients as sorted "jid[subids]@collection" strings.
func to(rs []Recipient) []string {
	out := []string{}
	for _, r := range rs {
		s := r.JID.String()
		if r.SubIDs != nil {
			ids := slices.Clone(r.SubIDs)
			slices.Sort(ids)
			s += "[" + strings.Join(ids, ",") + "]"
		}
		if r.Collection != "" {
			s += "@" + string(r.Collection)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func bares(as ...Actor) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.JID.Bare().String())
	}
	slices.Sort(out)
	return out
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
