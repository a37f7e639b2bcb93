package limit

import (
	"fmt"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := NewBucket(1000, 2000) // 1000 B/s, burst 2000
	if d := b.Take(1500, t0); d != 0 {
		t.Fatalf("within burst: wait %v", d)
	}
	if d := b.Take(1500, t0); d != time.Second {
		t.Fatalf("1000 B of debt at 1000 B/s: wait %v, want 1s", d)
	}
	// After the pause the debt is paid and 500 B accrued.
	if d := b.Take(500, t0.Add(1500*time.Millisecond)); d != 0 {
		t.Fatalf("after refill: wait %v", d)
	}
	// Refill never exceeds the burst.
	if d := b.Take(2001, t0.Add(time.Hour)); d != time.Millisecond {
		t.Fatalf("burst cap: wait %v, want 1ms", d)
	}
	var off Bucket
	if d := off.Take(1<<30, t0); d != 0 {
		t.Fatal("a zero bucket limits")
	}
}

func TestFailures(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := &Failures{Free: 2, Base: 100 * time.Millisecond, Max: time.Second, HalfLife: time.Minute, MaxKeys: 100}
	want := []time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for i, w := range want {
		if d := f.Delay("ip", t0); d < w-time.Millisecond || d > w+time.Millisecond {
			t.Fatalf("after %d failures: delay %v, want %v", i, d, w)
		}
		f.Record("ip", t0)
	}
	if d := f.Delay("other", t0); d != 0 {
		t.Fatalf("unrelated key delayed %v", d)
	}
	// Decay: after many half-lives the key is free again.
	if d := f.Delay("ip", t0.Add(20*time.Minute)); d != 0 {
		t.Fatalf("after decay: %v", d)
	}
	// Bounded: cycling keys never holds more than MaxKeys.
	for i := range 1000 {
		f.Record(fmt.Sprint("k", i), t0)
	}
	if n := f.Len(); n > 100 {
		t.Fatalf("%d keys tracked, max 100", n)
	}
}

func TestBuckets(t *testing.T) {
	b := NewBuckets[string](1, 2, 4) // 2 at once, one more per second
	now := time.Unix(1_700_000_000, 0)
	if !b.TryTake("a", now) || !b.TryTake("a", now) {
		t.Fatal("burst refused")
	}
	if b.TryTake("a", now) {
		t.Fatal("over the burst allowed")
	}
	if !b.TryTake("b", now) {
		t.Fatal("another key limited")
	}
	b.Refund("a", now)
	if !b.TryTake("a", now) || b.TryTake("a", now) {
		t.Fatal("refund gave back other than one token")
	}
	if !b.TryTake("a", now.Add(time.Second)) {
		t.Fatal("no refill after a second")
	}
	// Bounded: full buckets go first, then half.
	for i := range 100 {
		b.TryTake(fmt.Sprint(i), now.Add(time.Duration(i)*time.Hour))
		if b.Len() > 4 {
			t.Fatalf("%d keys, bound 4", b.Len())
		}
	}
}
