package register

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(3, time.Hour)
	now := time.Unix(1_700_000_000, 0)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 3 {
		if !l.take(a, now) {
			t.Fatalf("registration %d refused", i+1)
		}
	}
	if l.take(a, now.Add(time.Minute)) {
		t.Fatal("4th registration within the window allowed")
	}
	// Other addresses are not affected.
	if !l.take(netip.MustParseAddr("192.0.2.2"), now) {
		t.Fatal("another address refused")
	}
	// The same address as an IPv4-mapped IPv6 address is the same.
	if l.take(netip.MustParseAddr("::ffff:192.0.2.1"), now) {
		t.Fatal("the IPv4-mapped form escapes the limit")
	}
	// One registration comes back every window/3.
	if !l.take(a, now.Add(20*time.Minute)) {
		t.Fatal("refused after window/n")
	}
	if l.take(a, now.Add(21*time.Minute)) {
		t.Fatal("allowed twice after window/n")
	}
	// A refund restores one.
	l.refund(a, now.Add(21*time.Minute))
	if !l.take(a, now.Add(21*time.Minute)) {
		t.Fatal("refund not restored")
	}
}

func TestLimiterIPv6Prefix(t *testing.T) {
	l := newLimiter(1, time.Hour)
	now := time.Now()
	if !l.take(netip.MustParseAddr("2001:db8:1:2::1"), now) {
		t.Fatal("first refused")
	}
	if l.take(netip.MustParseAddr("2001:db8:1:2:ffff::9"), now) {
		t.Fatal("another address of the same /64 allowed")
	}
	if !l.take(netip.MustParseAddr("2001:db8:1:3::1"), now) {
		t.Fatal("another /64 refused")
	}
}

func TestLimiterUnlimited(t *testing.T) {
	l := newLimiter(0, time.Hour)
	a := netip.MustParseAddr("192.0.2.1")
	for range 100 {
		if !l.take(a, time.Now()) {
			t.Fatal("refused with the limit off")
		}
	}
	if l.len() != 0 {
		t.Fatal("tracked addresses with the limit off")
	}
}

// TestLimiterBounded: memory stays bounded under a flood of addresses;
// full buckets go first, and a limited address is kept while there is
// room.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter(2, time.Hour)
	l.b.MaxKeys = 100
	now := time.Unix(1_700_000_000, 0)
	limited := netip.MustParseAddr("198.51.100.1")
	l.take(limited, now)
	l.take(limited, now)
	for i := range 99 {
		l.take(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now)
	}
	// Later, all but the limited address have refilled: they are evicted.
	later := now.Add(40 * time.Minute)
	l.take(netip.MustParseAddr("203.0.113.1"), later)
	if n := l.len(); n != 2 {
		t.Fatalf("%d addresses tracked, want 2", n)
	}
	if l.take(limited, later) && l.take(limited, later) {
		t.Fatal("the limited address was forgotten")
	}
	// A flood of fresh addresses at once never exceeds the bound.
	for i := range 10000 {
		l.take(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), later)
		if n := l.len(); n > l.b.MaxKeys {
			t.Fatalf("%d addresses tracked, bound %d", n, l.b.MaxKeys)
		}
	}
}
