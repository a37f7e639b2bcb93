package main

import (
	"math"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value falls in the bucket whose bounds contain it, and the
	// buckets tile the range without gaps.
	next := uint64(0)
	for i := range histBuckets {
		low, width := histBounds(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
		}
		for _, v := range []uint64{low, low + width/2, low + width - 1} {
			if got := histIndex(v); got != i {
				t.Fatalf("histIndex(%d) = %d, want %d", v, got, i)
			}
		}
		next = low + width
	}
	if next != histMax+1 {
		t.Fatalf("buckets end at %d, want %d", next, uint64(histMax)+1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	uniform := func(h *Histogram) { // 1 µs .. 100 ms in 1 µs steps
		for v := time.Microsecond; v <= 100*time.Millisecond; v += time.Microsecond {
			h.Record(v)
		}
	}
	tests := []struct {
		name   string
		values func(h *Histogram)
		q      float64
		want   time.Duration
		tol    float64 // relative
	}{
		{"empty", func(h *Histogram) {}, 0.5, 0, 0},
		{"one value", func(h *Histogram) { h.Record(10 * time.Microsecond) }, 0.999, 10 * time.Microsecond, 0.005},
		{"exact small", func(h *Histogram) { h.Record(200) }, 0.5, 200, 0},
		{"negative is zero", func(h *Histogram) { h.Record(-5) }, 0.5, 0, 0},
		{"clamped", func(h *Histogram) { h.Record(100 * time.Hour) }, 1, histMax, 0.005},
		{"uniform p50", uniform, 0.50, 50 * time.Millisecond, 0.005},
		{"uniform p99", uniform, 0.99, 99 * time.Millisecond, 0.005},
		{"uniform p99.9", uniform, 0.999, 99900 * time.Microsecond, 0.005},
		{"uniform p0.01", uniform, 0.0001, 10 * time.Microsecond, 0.005},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			tt.values(&h)
			got := h.Quantile(tt.q)
			if diff := math.Abs(float64(got-tt.want)) / math.Max(float64(tt.want), 1); diff > tt.tol {
				t.Errorf("%d: Quantile(%v) = %v, want %v (±%.1f%%)", i, tt.q, got, tt.want, tt.tol*100)
			}
		})
	}
}

func TestHistogramMixed(t *testing.T) {
	// 99% of messages at 20 µs, 0.9% at 2 ms and 0.1% at 50 ms: each
	// percentile lands in its own population.
	var h Histogram
	for range 99000 {
		h.Record(20 * time.Microsecond)
	}
	for range 900 {
		h.Record(2 * time.Millisecond)
	}
	for range 100 {
		h.Record(50 * time.Millisecond)
	}
	if h.Count() != 100000 {
		t.Fatalf("Count() = %d", h.Count())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 20 * time.Microsecond}, {0.99, 20 * time.Microsecond}, {0.995, 2 * time.Millisecond}, {0.9995, 50 * time.Millisecond}} {
		got := h.Quantile(c.q)
		if math.Abs(float64(got-c.want))/float64(c.want) > 0.005 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}
