package storagetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// TestOffline checks a backend's storage.Offline against the contract
// documented on the interface.
func TestOffline(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, o storage.Offline)
	}{
		{"Empty", testOfflineEmpty},
		{"RoundTrip", testOfflineRoundTrip},
		{"Stamp", testOfflineStamp},
		{"IDsIncrease", testOfflineIDsIncrease},
		{"Delete", testOfflineDelete},
		{"Quota", testOfflineQuota},
		{"ConcurrentQuota", testOfflineConcurrentQuota},
		{"CallerOwnsSlices", testOfflineCallerOwnsSlices},
		{"CancelledContext", testOfflineCancelledContext},
		{"Users", testOfflineUsers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t).Offline())
		})
	}
}

// received is a fixed reception time with a sub-millisecond part and a
// non-UTC zone.
var received = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC-5", -5*3600))

// toMilli returns tm truncated to the millisecond, as the store keeps it.
func toMilli(tm time.Time) time.Time { return time.UnixMilli(tm.UnixMilli()) }

func mustStore(t *testing.T, o storage.Offline, username string, stamp time.Time, st []byte) int64 {
	t.Helper()
	id, err := o.StoreOffline(context.Background(), username, stamp, st, 0)
	if err != nil {
		t.Fatalf("StoreOffline(%q): %v", username, err)
	}
	return id
}

// checkOffline fetches username's messages and compares them with want, in
// order; stamps are compared to the millisecond.
func checkOffline(t *testing.T, o storage.Offline, username string, want ...storage.OfflineMessage) {
	t.Helper()
	got, err := o.GetOffline(context.Background(), username)
	if err != nil {
		t.Fatalf("GetOffline(%q): %v", username, err)
	}
	if len(got) != len(want) {
		t.Errorf("GetOffline(%q) = %d messages, want %d", username, len(got), len(want))
	} else {
		for i := range want {
			g, w := got[i], want[i]
			if g.ID != w.ID || !g.Stamp.Equal(toMilli(w.Stamp)) || !bytes.Equal(g.Stanza, w.Stanza) {
				t.Errorf("GetOffline(%q)[%d] = {%d %v %q}, want {%d %v %q}", username, i,
					g.ID, g.Stamp, g.Stanza, w.ID, toMilli(w.Stamp), w.Stanza)
			}
		}
	}
	if n, err := o.CountOffline(context.Background(), username); err != nil || n != len(want) {
		t.Errorf("CountOffline(%q) = %d, %v; want %d", username, n, err, len(want))
	}
}

func testOfflineEmpty(t *testing.T, o storage.Offline) {
	checkOffline(t, o, "nobody")
	if err := o.DeleteOffline(context.Background(), "nobody", 100); err != nil {
		t.Errorf("DeleteOffline(unknown) = %v, want nil", err)
	}
}

func testOfflineRoundTrip(t *testing.T, o storage.Offline) {
	var want []storage.OfflineMessage
	stanzas := [][]byte{stanza(1), {0x00}, stanza(2), {0xff, 0x00, 0xff}}
	for i, st := range stanzas {
		// Stamps out of order: delivery follows the order of storing.
		stamp := received.Add(time.Duration(len(stanzas)-i) * time.Minute)
		id := mustStore(t, o, "juliet", stamp, st)
		want = append(want, storage.OfflineMessage{ID: id, Stamp: stamp, Stanza: st})
	}
	romeo := mustStore(t, o, "romeo", received, stanza(9))
	checkOffline(t, o, "juliet", want...)
	checkOffline(t, o, "romeo", storage.OfflineMessage{ID: romeo, Stamp: received, Stanza: stanza(9)})
}

func testOfflineStamp(t *testing.T, o storage.Offline) {
	stamps := []time.Time{
		received,
		received.Add(999 * time.Microsecond),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.UnixMilli(1),
		time.Date(2038, 1, 19, 3, 14, 8, 1000000, time.UTC), // past 32-bit seconds
	}
	var want []storage.OfflineMessage
	for _, s := range stamps {
		id := mustStore(t, o, "juliet", s, stanza(1))
		want = append(want, storage.OfflineMessage{ID: id, Stamp: s, Stanza: stanza(1)})
	}
	checkOffline(t, o, "juliet", want...)
}

func testOfflineIDsIncrease(t *testing.T, o storage.Offline) {
	ctx := context.Background()
	var last int64
	next := func(username string) int64 {
		t.Helper()
		id := mustStore(t, o, username, received, stanza(1))
		if id <= last {
			t.Errorf("StoreOffline(%q) ID %d after %d, want increasing", username, id, last)
		}
		last = id
		return id
	}
	for range 3 { // interleaved accounts
		next("juliet")
		next("romeo")
	}
	if err := o.DeleteOffline(ctx, "juliet", last); err != nil {
		t.Fatalf("DeleteOffline: %v", err)
	}
	if err := o.DeleteOffline(ctx, "romeo", last); err != nil {
		t.Fatalf("DeleteOffline: %v", err)
	}
	// IDs are not reused once the messages are gone.
	next("juliet")
	next("romeo")
}

func testOfflineDelete(t *testing.T, o storage.Offline) {
	ctx := context.Background()
	var juliet []storage.OfflineMessage
	for i := range 5 {
		st := stanza(byte(i))
		id := mustStore(t, o, "juliet", received, st)
		juliet = append(juliet, storage.OfflineMessage{ID: id, Stamp: received, Stanza: st})
	}
	romeo := []storage.OfflineMessage{{ID: mustStore(t, o, "romeo", received, stanza(9)), Stamp: received, Stanza: stanza(9)}}

	if err := o.DeleteOffline(ctx, "juliet", juliet[0].ID-1); err != nil {
		t.Fatalf("DeleteOffline(below all): %v", err)
	}
	checkOffline(t, o, "juliet", juliet...)
	if err := o.DeleteOffline(ctx, "juliet", juliet[2].ID); err != nil {
		t.Fatalf("DeleteOffline: %v", err)
	}
	checkOffline(t, o, "juliet", juliet[3:]...)
	checkOffline(t, o, "romeo", romeo...) // other accounts keep theirs, whatever their IDs
	if err := o.DeleteOffline(ctx, "juliet", juliet[2].ID); err != nil {
		t.Fatalf("repeated DeleteOffline: %v", err)
	}
	checkOffline(t, o, "juliet", juliet[3:]...)
	if err := o.DeleteOffline(ctx, "juliet", romeo[0].ID); err != nil {
		t.Fatalf("DeleteOffline(all): %v", err)
	}
	checkOffline(t, o, "juliet")
	checkOffline(t, o, "romeo", romeo...)
}

func testOfflineQuota(t *testing.T, o storage.Offline) {
	ctx := context.Background()
	var ids []int64
	for i := range 3 {
		id, err := o.StoreOffline(ctx, "juliet", received, stanza(byte(i)), 3)
		if err != nil {
			t.Fatalf("StoreOffline %d of max 3: %v", i+1, err)
		}
		ids = append(ids, id)
	}
	if _, err := o.StoreOffline(ctx, "juliet", received, stanza(4), 3); !errors.Is(err, storage.ErrQuota) {
		t.Errorf("4th StoreOffline of max 3 = %v, want ErrQuota", err)
	}
	if _, err := o.StoreOffline(ctx, "juliet", received, stanza(4), 2); !errors.Is(err, storage.ErrQuota) {
		t.Errorf("StoreOffline over a lower max = %v, want ErrQuota", err)
	}
	if n, err := o.CountOffline(ctx, "juliet"); err != nil || n != 3 {
		t.Errorf("CountOffline after refusals = %d, %v; want 3", n, err)
	}
	// The quota is per account.
	if _, err := o.StoreOffline(ctx, "romeo", received, stanza(1), 1); err != nil {
		t.Errorf("StoreOffline(romeo, max 1): %v", err)
	}
	// max <= 0 is no limit.
	for _, max := range []int{0, -1} {
		if _, err := o.StoreOffline(ctx, "juliet", received, stanza(5), max); err != nil {
			t.Errorf("StoreOffline(max %d) with 3+ stored: %v", max, err)
		}
	}
	if n, err := o.CountOffline(ctx, "juliet"); err != nil || n != 5 {
		t.Errorf("CountOffline = %d, %v; want 5", n, err)
	}
	// Room again after delivery.
	if err := o.DeleteOffline(ctx, "juliet", ids[2]); err != nil {
		t.Fatalf("DeleteOffline: %v", err)
	}
	if _, err := o.StoreOffline(ctx, "juliet", received, stanza(6), 3); err != nil {
		t.Errorf("StoreOffline with 2 of max 3: %v", err)
	}
	if _, err := o.StoreOffline(ctx, "juliet", received, stanza(7), 3); !errors.Is(err, storage.ErrQuota) {
		t.Errorf("StoreOffline with 3 of max 3 = %v, want ErrQuota", err)
	}
}

func testOfflineConcurrentQuota(t *testing.T, o storage.Offline) {
	const workers, max = 10, 5
	var (
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			_, err := o.StoreOffline(context.Background(), "juliet", received, stanza(byte(w)), max)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrQuota):
			t.Errorf("StoreOffline = %v, want nil or ErrQuota", err)
		}
	}
	if ok != max {
		t.Errorf("%d of %d concurrent stores with max %d succeeded, want %d", ok, workers, max, max)
	}
	if n, err := o.CountOffline(context.Background(), "juliet"); err != nil || n != max {
		t.Errorf("CountOffline = %d, %v; want %d", n, err, max)
	}
}

func testOfflineCallerOwnsSlices(t *testing.T, o storage.Offline) {
	st := stanza(1)
	id := mustStore(t, o, "juliet", received, st)
	st[0] ^= 0xff
	want := storage.OfflineMessage{ID: id, Stamp: received, Stanza: stanza(1)}
	checkOffline(t, o, "juliet", want)
	got, err := o.GetOffline(context.Background(), "juliet")
	if err != nil || len(got) != 1 {
		t.Fatalf("GetOffline = %v, %v", got, err)
	}
	got[0].Stanza[0] ^= 0xff
	checkOffline(t, o, "juliet", want)
}

func testOfflineCancelledContext(t *testing.T, o storage.Offline) {
	id := mustStore(t, o, "juliet", received, stanza(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	calls := []struct {
		name string
		call func() error
	}{
		{"StoreOffline", func() error { _, err := o.StoreOffline(ctx, "juliet", received, stanza(2), 0); return err }},
		{"StoreOffline with a quota", func() error { _, err := o.StoreOffline(ctx, "juliet", received, stanza(2), 1); return err }},
		{"GetOffline", func() error { _, err := o.GetOffline(ctx, "juliet"); return err }},
		{"DeleteOffline", func() error { return o.DeleteOffline(ctx, "juliet", id) }},
		{"CountOffline", func() error { _, err := o.CountOffline(ctx, "juliet"); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
		}
	}
	checkOffline(t, o, "juliet", storage.OfflineMessage{ID: id, Stamp: received, Stanza: stanza(1)})
}

func testOfflineUsers(t *testing.T, o storage.Offline) {
	ctx := context.Background()
	if users, err := o.OfflineUsers(ctx); err != nil || len(users) != 0 {
		t.Fatalf("OfflineUsers on an empty store = %v, %v", users, err)
	}
	now := time.Now()
	mustStore(t, o, "romeo", now, []byte("<message/>"))
	mustStore(t, o, "juliet", now, []byte("<message/>"))
	mustStore(t, o, "juliet", now, []byte("<message/>"))
	id := mustStore(t, o, "nurse", now, []byte("<message/>"))
	if err := o.DeleteOffline(ctx, "nurse", id); err != nil {
		t.Fatal(err)
	}
	users, err := o.OfflineUsers(ctx)
	if err != nil || !slices.Equal(users, []string{"juliet", "romeo"}) {
		t.Fatalf("OfflineUsers = %v, %v; want [juliet romeo]", users, err)
	}
}
