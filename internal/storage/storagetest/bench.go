package storagetest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// BenchStore is a fresh, empty backend for one benchmark, with its count
// of group commits.
type BenchStore struct {
	storage.Store
	// Batches returns the number of batch transactions the backend has
	// committed so far; the benchmarks report writes per commit from it.
	Batches func() int64
}

// BenchOpener returns a fresh, empty backend for one benchmark and
// registers its cleanup (closing it, removing its data) with b.Cleanup.
type BenchOpener = func(b *testing.B) BenchStore

// benchWriters are the numbers of concurrent writers the benchmarks
// measure; RunParallel runs a multiple of GOMAXPROCS goroutines.
var benchWriters = []int{1, 16, 128}

// benchDurable measures write (one durable write by writer n, i counting
// its writes) from writers goroutines, reporting writes per second
// (msgs/s) and writes per batch transaction (msgs/commit).
func benchDurable(b *testing.B, open BenchOpener, write func(s storage.Store, n, i int) error) {
	for _, writers := range benchWriters {
		p := max(1, writers/runtime.GOMAXPROCS(0))
		if writers == 1 {
			p = 0
		}
		name := fmt.Sprintf("writers=%d", max(1, p*runtime.GOMAXPROCS(0)))
		b.Run(name, func(b *testing.B) {
			s := open(b)
			batches := s.Batches()
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
			if n := s.Batches() - batches; n > 0 {
				b.ReportMetric(float64(b.N)/float64(n), "msgs/commit")
			}
		})
	}
}

// BenchmarkArchiveAppend appends one message per call, each writer to its
// own archive. Every backend runs it from its own _test.go file, so that
// their numbers compare:
//
//	func BenchmarkArchiveAppend(b *testing.B) {
//		storagetest.BenchmarkArchiveAppend(b, openBench)
//	}
func BenchmarkArchiveAppend(b *testing.B, open BenchOpener) {
	stanza := []byte("<message from='romeo@example.net/orchard' to='juliet@example.com/balcony' type='chat' id='x1'>" +
		"<body>Wherefore art thou</body><stanza-id xmlns='urn:xmpp:sid:0' by='juliet@example.com' id='0123456789abcdef'/></message>")
	stamp := time.Now()
	benchDurable(b, open, func(s storage.Store, n, i int) error {
		return s.Archive().Append(context.Background(), []storage.ArchivedMessage{{
			ID: fmt.Sprintf("%08x", i), Archive: fmt.Sprintf("dev%d", n), With: "romeo@example.net/orchard",
			Stamp: stamp, Stanza: stanza,
		}})
	})
}

// BenchmarkStoreOffline stores one offline message per call under a quota,
// spread over 100 accounts per writer. Backends run it as
// BenchmarkArchiveAppend.
func BenchmarkStoreOffline(b *testing.B, open BenchOpener) {
	stanza := []byte("<message from='romeo@example.net/orchard' to='juliet@example.com' type='chat' id='x1'>" +
		"<body>Wherefore art thou</body></message>")
	stamp := time.Now()
	benchDurable(b, open, func(s storage.Store, n, i int) error {
		_, err := s.Offline().StoreOffline(context.Background(), fmt.Sprintf("dev%d-%d", n, i%100), stamp, stanza, 1<<20)
		return err
	})
}
