package timed_test

import (
	"context"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/pubsub/pubsubtest"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/sqlite"
	"github.com/mote-xmpp/mote/internal/storage/storagetest"
	"github.com/mote-xmpp/mote/internal/storage/timed"
)

// counts records how often each operation was observed, across tests.
type counts struct {
	mu sync.Mutex
	n  map[string]int // guarded by mu
}

type opObserver struct {
	c  *counts
	op string
}

func (o opObserver) Observe(seconds float64) {
	if seconds < 0 {
		panic("negative duration")
	}
	o.c.mu.Lock()
	o.c.n[o.op]++
	o.c.mu.Unlock()
}

func (c *counts) observer(op string) timed.Observer { return opObserver{c, op} }

func open(t *testing.T, c *counts) storage.Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mote.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return timed.Wrap(st, c.observer)
}

// TestConformance runs the storage and pubsub conformance suites through
// the wrapper: it changes nothing a backend does, and every operation of
// every interface is timed.
func TestConformance(t *testing.T) {
	c := &counts{n: map[string]int{}}
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t, c) })
	pubsubtest.TestProvider(t, func(t *testing.T) pubsub.StoreProvider {
		p, ok := open(t, c).(pubsub.StoreProvider)
		if !ok {
			t.Fatal("the wrapper of a pubsub backend is no pubsub.StoreProvider")
		}
		return p
	})
	if t.Failed() {
		return
	}
	for _, op := range timed.Ops() {
		if c.n[op] == 0 {
			t.Errorf("%s: never observed", op)
		}
	}
}

// TestEveryMethod: there is one operation per method of the wrapped
// interfaces, so a method added to an interface needs its wrapper (or it
// would be forwarded untimed through the embedded interface).
func TestEveryMethod(t *testing.T) {
	n := 0
	for _, typ := range []reflect.Type{
		reflect.TypeFor[storage.Users](), reflect.TypeFor[storage.Rosters](), reflect.TypeFor[storage.Offline](),
		reflect.TypeFor[storage.Documents](), reflect.TypeFor[storage.Blocklists](), reflect.TypeFor[storage.Archive](),
		reflect.TypeFor[pubsub.Store](),
	} {
		n += typ.NumMethod()
	}
	if got := len(timed.Ops()); got != n {
		t.Errorf("%d operations for %d interface methods", got, n)
	}
}
