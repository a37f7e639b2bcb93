package pubsub

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/mote-xmpp/mote/jid"
)

var benchSizes = []int{1000, 10000}

// benchService returns a service whose Notifier counts recipients, with a
// transient leaf "leaf" (so that the store is not measured) under the
// collections "top" > "mid", and n subscribers to the collection where
// (leaf, mid or top).
func benchService(b *testing.B, n int, where NodeID, mod func(*Config)) (*Service, *atomic.Int64) {
	b.Helper()
	ctx := context.Background()
	var got atomic.Int64
	s, err := New(ctx, NewMemStore(), Options{
		Notifier: NotifierFunc(func(_ context.Context, ev *Event) { got.Add(int64(len(ev.Recipients))) }),
		Limits:   Limits{MaxSubscriptionsPerNode: n + 1},
		Available: func(j jid.JID) bool {
			return len(j.Local())%2 == 0 // about half the devices are online
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.PersistItems = false
	if mod != nil {
		mod(&cfg)
	}
	for _, spec := range []NodeSpec{
		{ID: "top", Type: Collection},
		{ID: "mid", Type: Collection, Parents: []NodeID{"top"}},
		{ID: "leaf", Parents: []NodeID{"mid"}, Config: &cfg},
	} {
		if _, err := s.CreateNode(ctx, owner, spec); err != nil {
			b.Fatal(err)
		}
	}
	opts := SubOptions{Deliver: true, Type: SubTypeItems, Depth: DepthAll}
	for i := range n {
		j := jid.MustParse("device" + strconv.Itoa(i) + "@example.com")
		if _, err := s.Subscribe(ctx, Actor{JID: j}, where, j, &opts); err != nil {
			b.Fatal(err)
		}
	}
	return s, &got
}

func benchPublish(b *testing.B, s *Service, got *atomic.Int64, want int, between func()) {
	ctx := context.Background()
	items := []Item{{ID: "current", Payload: []byte("<temp xmlns='urn:example'>21.5</temp>")}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if between != nil {
			b.StopTimer()
			between()
			b.StartTimer()
		}
		got.Store(0)
		if _, err := s.Publish(ctx, owner, "leaf", items, PublishOptions{}); err != nil {
			b.Fatal(err)
		}
		if want >= 0 && got.Load() != int64(want) {
			b.Fatalf("%d recipients, want %d", got.Load(), want)
		}
	}
}

// BenchmarkPublishFanout measures a publish to a leaf with N subscribers:
// authorization, the recipient list (cached: no per-subscriber work) and
// one Notify call.
func BenchmarkPublishFanout(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, got := benchService(b, n, "leaf", nil)
			benchPublish(b, s, got, n, nil)
		})
	}
}

// BenchmarkPublishFanoutCollection: the N subscribers are on the
// collection two levels above the leaf (XEP-0248, depth all).
func BenchmarkPublishFanoutCollection(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, got := benchService(b, n, "top", nil)
			benchPublish(b, s, got, n, nil)
		})
	}
}

// BenchmarkPublishFanoutPresence: presence_based_delivery costs one
// Available call per recipient.
func BenchmarkPublishFanoutPresence(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, got := benchService(b, n, "leaf", func(c *Config) { c.PresenceBasedDelivery = true })
			benchPublish(b, s, got, -1, nil)
		})
	}
}

// BenchmarkRecipientsRebuild measures building the recipient list from
// scratch, which the first publish after a subscription change does: for
// subscribers of the leaf, and merged with a collection's.
func BenchmarkRecipientsRebuild(b *testing.B) {
	for _, c := range []struct {
		name   string
		where  NodeID
		direct bool // one more subscriber on the leaf itself
	}{{"leaf", "leaf", false}, {"collection", "top", false}, {"collection+leaf", "top", true}} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				s, _ := benchService(b, n, c.where, nil)
				leaf, _ := s.lookup("leaf")
				want := n
				if c.direct {
					if _, err := s.Subscribe(context.Background(), alice, "leaf", alice.JID.Bare(), nil); err != nil {
						b.Fatal(err)
					}
					want++
				}
				stale, _ := s.lookup(c.where)
				leaf.mu.Lock()
				defer leaf.mu.Unlock()
				b.ReportAllocs()
				for b.Loop() {
					stale.fan.Store(nil) // what a subscription change does
					if rs := leaf.itemRecipients(); len(rs) != want {
						b.Fatalf("%d recipients", len(rs))
					}
				}
			})
		}
	}
}

// BenchmarkPublishParallel publishes to separate persistent nodes from
// all CPUs, through MemStore.
func BenchmarkPublishParallel(b *testing.B) {
	ctx := context.Background()
	s, err := New(ctx, NewMemStore(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	const nodes = 64
	for i := range nodes {
		if _, err := s.CreateNode(ctx, owner, NodeSpec{ID: NodeID("n" + strconv.Itoa(i))}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := NodeID("n" + strconv.Itoa(int(next.Add(1))%nodes))
		items := []Item{{ID: "current", Payload: []byte("<x/>")}}
		for pb.Next() {
			if _, err := s.Publish(ctx, owner, id, items, PublishOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
