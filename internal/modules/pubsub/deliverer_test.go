package pubsub

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/stanza"
)

// TestRoomBackPressure: a request waits while the delivery queues are
// full, proceeds once they drain below the bound, and is refused with
// wait/resource-constraint when they stay full; nothing is dropped.
func TestRoomBackPressure(t *testing.T) {
	m := &Module{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d := newDeliverer(m, 1, 10)
	ctx := context.Background()
	if err := d.room(ctx, time.Millisecond); err != nil {
		t.Fatalf("room with empty queues: %v", err)
	}
	d.queued.Store(10)
	err := d.room(ctx, 20*time.Millisecond)
	var se stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.ResourceConstraint {
		t.Fatalf("room with full queues = %v, want resource-constraint", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.room(ctx, 10*time.Second) }()
	// Wait until the request is waiting, then drain.
	for !d.waiting.Load() {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("room returned %v while the queues are full", err)
	default:
	}
	d.queued.Store(9)
	d.freed()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("room after draining = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("room did not return after the queues drained")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	d.queued.Store(10)
	if err := d.room(cctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("room with a cancelled context = %v", err)
	}
}
