package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout, in the spirit of HdrHistogram: values below 2^histSub
// nanoseconds have a bucket each; above, every power-of-two range
// [2^k, 2^(k+1)) is split into 2^(histSub-1) equal buckets, so a bucket is
// at most 1/128 of its values wide and its midpoint is within 0.4% of any
// value in it (0.04 µs at 10 µs, 4 µs at 1 ms).
const (
	histSub     = 8
	histLinear  = 1 << histSub   // values with a bucket each
	histHalf    = histLinear / 2 // buckets per power of two above
	histMaxBits = 42             // values up to 2^42 ns (73 minutes)
	histBuckets = histLinear + (histMaxBits-histSub)*histHalf
	histMax     = 1<<histMaxBits - 1 // larger values are clamped to this
)

// Histogram counts durations in log-linear buckets. Record may be called
// from any number of goroutines; the zero value is ready to use.
type Histogram struct {
	total  atomic.Uint64
	counts [histBuckets]atomic.Uint64
}

// histIndex returns the bucket of v nanoseconds (0 <= v <= histMax).
func histIndex(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	e := bits.Len64(v) - histSub // >= 1: v >> e is in [histHalf, histLinear)
	return histLinear + (e-1)*histHalf + int(v>>e) - histHalf
}

// histBounds returns the lowest value of bucket i and the bucket's width.
func histBounds(i int) (low, width uint64) {
	if i < histLinear {
		return uint64(i), 1
	}
	k := i - histLinear
	e := k/histHalf + 1
	m := uint64(k%histHalf + histHalf)
	return m << e, 1 << e
}

// Record counts one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	if v > histMax {
		v = histMax
	}
	h.counts[histIndex(v)].Add(1)
	h.total.Add(1)
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Quantile returns the value below or at which a fraction q (0 < q <= 1)
// of the recorded values lie, as the midpoint of its bucket; 0 when
// nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	var counts [histBuckets]uint64
	var total uint64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	if float64(rank) < q*float64(total) {
		rank++ // ceil: the rank-th smallest value, 1-based
	}
	rank = min(max(rank, 1), total)
	var seen uint64
	for i, n := range counts {
		seen += n
		if seen >= rank {
			low, width := histBounds(i)
			return time.Duration(low + (width-1)/2)
		}
	}
	return histMax // not reached
}
