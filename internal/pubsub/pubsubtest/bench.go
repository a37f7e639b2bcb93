package pubsubtest

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/jid"
)

// BenchOpener returns a fresh, empty Store for one benchmark and registers
// its cleanup with b.Cleanup.
type BenchOpener = func(b *testing.B) pubsub.Store

// benchWriters are the numbers of concurrent publishers BenchmarkPutItem
// measures; RunParallel runs a multiple of GOMAXPROCS goroutines.
var benchWriters = []int{1, 16, 128}

// BenchmarkPutItem measures PutItem as a Service calls it for a publication
// to a node that keeps its newest 10 items (pubsub#max_items): every call
// stores a new item and, once the node is full, trims the oldest one. Each
// writer publishes to a node of its own, as the Service serialises the
// calls about one node. It reports items stored per second; every backend
// runs it from its own _test.go file, so that their numbers compare:
//
//	func BenchmarkPutItem(b *testing.B) {
//		pubsubtest.BenchmarkPutItem(b, func(b *testing.B) pubsub.Store {
//			return openFreshBackend(b).PubSubStore("pubsub.example.com")
//		})
//	}
func BenchmarkPutItem(b *testing.B, open BenchOpener) {
	const maxItems = 10
	ctx := context.Background()
	publisher := jid.MustParse("sensor@example.com/probe")
	payload := []byte("<reading xmlns='urn:example:sensor'><temperature unit='C'>21.5</temperature>" +
		"<humidity unit='%'>40</humidity></reading>")
	stamp := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, writers := range benchWriters {
		p := max(1, writers/runtime.GOMAXPROCS(0))
		if writers == 1 {
			p = 0
		}
		n := max(1, p*runtime.GOMAXPROCS(0))
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) {
			st := open(b)
			ids := make([]pubsub.NodeID, n)
			for i := range ids {
				ids[i] = pubsub.NodeID("sensors/" + strconv.Itoa(i))
				if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: ids[i], Config: pubsub.DefaultConfig()}}); err != nil {
					b.Fatal(err)
				}
			}
			var writer atomic.Int64
			// publish runs one writer on a node of its own: it stores n
			// items, or as many as pb lets it when pb is not nil.
			publish := func(n int, pb *testing.PB) {
				id := ids[writer.Add(1)-1]
				for i := 0; pb == nil && i < n || pb != nil && pb.Next(); i++ {
					it := pubsub.Item{ID: strconv.Itoa(i), Publisher: publisher, Payload: payload,
						Published: stamp.Add(time.Duration(i) * time.Millisecond)}
					if _, err := st.PutItem(ctx, id, it, maxItems); err != nil {
						b.Error(err)
						return
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if p == 0 {
				publish(b.N, nil)
			} else {
				b.SetParallelism(p)
				b.RunParallel(func(pb *testing.PB) { publish(0, pb) })
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
