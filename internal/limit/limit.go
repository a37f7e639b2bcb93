// Package limit holds the small rate-limiting primitives the listeners use:
// a byte-rate token bucket for traffic shaping and a decaying failure
// counter for authentication back-off.
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
			f.evictLocked(now)
		}
		e = &failureEntry{}
		f.entries[key] = e
	}
	e.count = f.decayed(e, now) + 1
	e.last = now
}

// evictLocked drops entries that decayed below one failure, or, if none
// did, an arbitrary half: bounded memory matters more than exact memory of
// an attacker who cycles through keys.
func (f *Failures) evictLocked(now time.Time) {
	for k, e := range f.entries {
		if f.decayed(e, now) < 1 {
			delete(f.entries, k)
		}
	}
	if len(f.entries) < f.MaxKeys {
		return
	}
	n := len(f.entries) / 2
	for k := range f.entries {
		if n == 0 {
			break
		}
		delete(f.entries, k)
		n--
	}
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
