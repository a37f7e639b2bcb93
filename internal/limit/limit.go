// Package limit holds the small rate-limiting primitives the server uses:
// a token bucket (traffic shaping), token buckets per key (in-band
// registrations per address) and a decaying failure counter
// (authentication back-off).
package limit

import (
	"math"
	"sync"
	"time"
)

// Bucket is a token bucket of bytes: Rate tokens per second up to Burst.
// It is not safe for concurrent use; each connection's reader owns one.
// The zero value with Rate 0 never limits.
type Bucket struct {
	Rate   float64 // bytes per second; 0 disables
	Burst  float64 // bucket size in bytes
	tokens float64
	last   time.Time
}

// NewBucket returns a full bucket.
func NewBucket(rate, burst float64) Bucket {
	return Bucket{Rate: rate, Burst: burst, tokens: burst}
}

// Take removes n tokens at time now and returns how long the caller must
// wait before reading more so that the average rate stays within Rate
// (zero when there is credit left). Debt is allowed, so that a read larger
// than the burst is paid for by a longer pause instead of being refused.
func (b *Bucket) Take(n int, now time.Time) time.Duration {
	if b.Rate <= 0 {
		return 0
	}
	if !b.last.IsZero() {
		b.tokens = math.Min(b.Burst, b.tokens+now.Sub(b.last).Seconds()*b.Rate)
	}
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.Rate * float64(time.Second))
}

// refill brings the tokens up to now.
func (b *Bucket) refill(now time.Time) {
	if !b.last.IsZero() {
		if d := now.Sub(b.last); d > 0 {
			b.tokens = math.Min(b.Burst, b.tokens+d.Seconds()*b.Rate)
		}
	}
	if now.After(b.last) {
		b.last = now
	}
}

// TryTake removes n tokens at now if the bucket holds them, and reports
// whether it did: unlike Take, it never goes into debt.
func (b *Bucket) TryTake(n float64, now time.Time) bool {
	b.refill(now)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// Refund puts n tokens back at now, up to Burst.
func (b *Bucket) Refund(n float64, now time.Time) {
	b.refill(now)
	b.tokens = math.Min(b.Burst, b.tokens+n)
}

// full reports whether the bucket has refilled completely by now, when it
// is no different from a new one.
func (b *Bucket) full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.Burst
}

// Buckets is a token bucket per key, all with the same rate and burst. It
// is safe for concurrent use and bounded in size: a bucket that has
// refilled completely is the same as no entry and is dropped when the
// table is full.
type Buckets[K comparable] struct {
	rate, burst float64
	// MaxKeys bounds memory; settable before first use.
	MaxKeys int

	mu sync.Mutex
	m  map[K]*Bucket // guarded by mu
}

// NewBuckets returns buckets of burst tokens refilled at rate per second,
// at most maxKeys of them.
func NewBuckets[K comparable](rate, burst float64, maxKeys int) *Buckets[K] {
	return &Buckets[K]{rate: rate, burst: burst, MaxKeys: maxKeys, m: make(map[K]*Bucket)}
}

// TryTake takes one token from k's bucket at now; false when it has none.
func (b *Buckets[K]) TryTake(k K, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.m[k]
	if bk == nil {
		if len(b.m) >= b.MaxKeys {
			evict(b.m, func(bk *Bucket) bool { return bk.full(now) }, b.MaxKeys)
		}
		bk = &Bucket{Rate: b.rate, Burst: b.burst, tokens: b.burst, last: now}
		b.m[k] = bk
	}
	return bk.TryTake(1, now)
}

// Refund gives back a token taken for k that was not used.
func (b *Buckets[K]) Refund(k K, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bk := b.m[k]; bk != nil {
		bk.Refund(1, now)
	}
}

// Len returns the number of keys tracked.
func (b *Buckets[K]) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// evict drops the entries that are stale, then, if m still holds max or
// more, an arbitrary half: bounded memory matters more than exact memory
// of an attacker who cycles through keys.
func evict[K comparable, V any](m map[K]V, stale func(V) bool, max int) {
	for k, v := range m {
		if stale(v) {
			delete(m, k)
		}
	}
	if len(m) < max {
		return
	}
	n := len(m) / 2
	for k := range m {
		if n == 0 {
			break
		}
		delete(m, k)
		n--
	}
}

// Failures counts recent failures per key (an IP address, an account) with
// exponential decay, and turns them into a back-off delay. It is safe for
// concurrent use and bounded in size.
type Failures struct {
	// Free is how many recent failures cost nothing.
	Free float64
	// Base is the delay after the first failure beyond Free; each further
	// failure doubles it, up to Max.
	Base, Max time.Duration
	// HalfLife is how fast the count decays.
	HalfLife time.Duration
	// MaxKeys bounds memory; when full, the stalest entries are dropped.
	MaxKeys int

	mu      sync.Mutex
	entries map[string]*failureEntry // guarded by mu
}

type failureEntry struct {
	count float64
	last  time.Time
}

func (f *Failures) decayed(e *failureEntry, now time.Time) float64 {
	if f.HalfLife <= 0 {
		return e.count
	}
	return e.count * math.Exp2(-now.Sub(e.last).Seconds()/f.HalfLife.Seconds())
}

// Record notes a failure for key at now.
func (f *Failures) Record(key string, now time.Time) {
	if f.Max <= 0 || key == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries == nil {
		f.entries = make(map[string]*failureEntry)
	}
	e := f.entries[key]
	if e == nil {
		if f.MaxKeys > 0 && len(f.entries) >= f.MaxKeys {
			evict(f.entries, func(e *failureEntry) bool { return f.decayed(e, now) < 1 }, f.MaxKeys)
		}
		e = &failureEntry{}
		f.entries[key] = e
	}
	e.count = f.decayed(e, now) + 1
	e.last = now
}

// Delay returns how long to hold back the next attempt for key.
func (f *Failures) Delay(key string, now time.Time) time.Duration {
	if f.Max <= 0 || key == "" {
		return 0
	}
	f.mu.Lock()
	e := f.entries[key]
	var c float64
	if e != nil {
		c = f.decayed(e, now)
	}
	f.mu.Unlock()
	over := c - f.Free
	if over < 1 {
		return 0
	}
	d := float64(f.Base) * math.Exp2(over-1)
	if d > float64(f.Max) {
		return f.Max
	}
	return time.Duration(d)
}

// Len returns the number of tracked keys.
func (f *Failures) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries)
}
