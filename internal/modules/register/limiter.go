package register

import (
	"net/netip"
	"sync"
	"time"
)

// maxLimiterKeys bounds the limiter's memory: one small entry per
// address (prefix) seen within the last window.
const maxLimiterKeys = 1 << 16

// limiter allows at most n registrations per address within a window, as
// a token bucket per address: n tokens, refilled at n per window. An
// IPv6 address counts by its /64, which one host or subscriber usually
// holds whole. It is safe for concurrent use, and bounded in size: a
// bucket that has refilled completely is equivalent to no entry and is
// dropped when the table is full; if none has, an arbitrary half goes
// (bounded memory matters more than exact memory of an attacker who
// cycles through addresses).
type limiter struct {
	n       float64       // burst: registrations in a window; <= 0 disables
	window  time.Duration // refill period of n tokens
	maxKeys int

	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket // guarded by mu
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: float64(n), window: window, maxKeys: maxLimiterKeys,
		buckets: make(map[netip.Prefix]*bucket)}
}

// key is the counted unit for ip.
func limiterKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		// The zero Addr (an unknown address): all such share one bucket.
		return netip.Prefix{}
	}
	return p
}

// refill brings b's tokens up to now.
func (l *limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.n, b.tokens+d.Seconds()*l.n/l.window.Seconds())
		b.last = now
	}
}

// take spends one registration for ip at now; false when ip has none left.
func (l *limiter) take(ip netip.Addr, now time.Time) bool {
	if l.n <= 0 {
		return true
	}
	k := limiterKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[k]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.evictLocked(now)
		}
		b = &bucket{tokens: l.n, last: now}
		l.buckets[k] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refund gives back a registration taken for ip that did not happen.
func (l *limiter) refund(ip netip.Addr, now time.Time) {
	if l.n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[limiterKey(ip)]; b != nil {
		l.refill(b, now)
		b.tokens = min(l.n, b.tokens+1)
	}
}

// evictLocked drops full buckets, then, if the table is still full, an
// arbitrary half of it. l.mu must be held.
func (l *limiter) evictLocked(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.n {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.maxKeys {
		return
	}
	n := len(l.buckets) / 2
	for k := range l.buckets {
		if n == 0 {
			break
		}
		delete(l.buckets, k)
		n--
	}
}

// len returns the number of tracked addresses.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
