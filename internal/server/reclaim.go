package server

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning memory after a wave of sessions went idle
// (docs/architecture.md, "Idle sessions").
//
// Go's collector keeps the heap it grew during a burst of logins (garbage
// up to twice the live heap, and the stacks of the reader goroutines that
// parked) until the next collection, which a quiet server may not need for
// minutes. The reclaimer waits for a wave of parking to settle while
// little is allocated, then collects once and returns the free pages to
// the operating system, so that an idle fleet costs what it really holds.
const (
	reclaimTick     = time.Second
	reclaimMinParks = 256     // parks since the last reclaim worth a collection
	reclaimQuiet    = 1 << 20 // bytes allocated per tick below which the server is quiet
	reclaimMinGap   = 10 * time.Second
)

func (s *Server) reclaimLoop(stop <-chan struct{}) {
	t := time.NewTicker(reclaimTick)
	defer t.Stop()
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	var lastAlloc uint64
	var lastParks, reclaimedParks int64
	var lastReclaim time.Time
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		alloc := sample[0].Value.Uint64()
		parks := s.c2s.Parks()
		quiet := alloc-lastAlloc < reclaimQuiet
		settled := parks == lastParks
		lastAlloc, lastParks = alloc, parks
		if !quiet || !settled || parks-reclaimedParks < reclaimMinParks || time.Since(lastReclaim) < reclaimMinGap {
			continue
		}
		start := time.Now()
		debug.FreeOSMemory()
		lastReclaim, reclaimedParks = time.Now(), parks
		s.log.Debug("returned idle memory", "took", lastReclaim.Sub(start), "parks", parks)
	}
}
