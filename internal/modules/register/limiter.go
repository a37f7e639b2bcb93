package register

import (
	"net/netip"
	"time"

	"github.com/mote-xmpp/mote/internal/limit"
)

// maxLimiterKeys bounds the limiter's memory: one small entry per
// address (prefix) seen within the last window.
const maxLimiterKeys = 1 << 16

// limiter allows at most n registrations per address within a window: a
// token bucket per address of n tokens, refilled at n per window
// (limit.Buckets, bounded in size). An IPv6 address counts by its /64,
// which one host or subscriber usually holds whole.
type limiter struct {
	b *limit.Buckets[netip.Prefix] // nil: no limit
}

func newLimiter(n int, window time.Duration) *limiter {
	if n <= 0 {
		return &limiter{}
	}
	return &limiter{b: limit.NewBuckets[netip.Prefix](float64(n)/window.Seconds(), float64(n), maxLimiterKeys)}
}

// limiterKey is the counted unit for ip.
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

// take spends one registration for ip at now; false when ip has none left.
func (l *limiter) take(ip netip.Addr, now time.Time) bool {
	return l.b == nil || l.b.TryTake(limiterKey(ip), now)
}

// refund gives back a registration taken for ip that did not happen.
func (l *limiter) refund(ip netip.Addr, now time.Time) {
	if l.b != nil {
		l.b.Refund(limiterKey(ip), now)
	}
}

// len returns the number of tracked addresses.
func (l *limiter) len() int {
	if l.b == nil {
		return 0
	}
	return l.b.Len()
}
