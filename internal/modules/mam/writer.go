package mam

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/stanza"
)

// Bounds of the writer's queue and of one batch.
const (
	// maxQueued and maxQueuedBytes bound what waits to be written: beyond
	// them storage is not keeping up, and senders wait for room (see
	// enqueue) instead of their messages piling up in memory.
	maxQueued      = 16384
	maxQueuedBytes = 64 << 20
	// maxBatch and maxBatchBytes bound one Append.
	maxBatch      = 512
	maxBatchBytes = 4 << 20
)

// errBusy and errStopped are what a refused message's hold is released
// with (the sender gets resource-constraint).
var (
	errBusy    = stanza.NewError(stanza.ResourceConstraint, "the message archive is not keeping up")
	errStopped = errors.New("mam: the archive writer is stopped")
)

// entry is the copies of one message (one or two archives) and the hold
// on the client's stanza, released once they are committed.
type entry struct {
	msgs []storage.ArchivedMessage
	// verify is the index in msgs of a copy whose account must exist (a
	// recipient without a session), -1 for none.
	verify int
	size   int // bytes of the stanzas, for the queue's bound
	// release is the hold's (module.Hold), called once, on the writer's
	// goroutine: it must not wait for the connection's reader, which may
	// itself be waiting for the writer in a query (writer.sync).
	release func(error)
}

// writer appends queued messages to the archive on one goroutine, in the
// order they were queued (which is each sender's order), as many as are
// waiting in one storage.Archive.Append, which commits them together with
// other durable writes (the backend's group commit). While one batch is
// committed the next one gathers.
type writer struct {
	a     storage.Archive
	users storage.Users
	log   *slog.Logger

	ctx    context.Context // the writer's storage calls; cancel aborts them
	cancel context.CancelFunc
	wake   chan struct{} // signalled when the queue becomes non-empty or closed
	done   chan struct{} // closed when run returns

	lastWarn atomic.Int64  // unix nanoseconds of the last refusal logged
	wait     time.Duration // longest wait for room in the queue

	mu       sync.Mutex
	queue    []entry       // guarded by mu
	bytes    int           // guarded by mu; the queue's entry sizes
	closed   bool          // guarded by mu
	queued   uint64        // guarded by mu; entries ever queued
	written  uint64        // guarded by mu; entries ever done with, in order
	progress chan struct{} // guarded by mu; closed (and replaced) when written grows
}

func newWriter(a storage.Archive, users storage.Users, log *slog.Logger) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	return &writer{a: a, users: users, log: log, ctx: ctx, cancel: cancel, wait: 10 * time.Second,
		wake: make(chan struct{}, 1), done: make(chan struct{}), progress: make(chan struct{})}
}

// enqueue queues e and reports true. When the queue is full, the caller
// (the sender's own reader) waits for room: storage pushes back on the
// senders instead of their messages being refused. It releases e with an
// error and reports false when the writer is stopped, ctx ends, or no room
// came within w.wait (storage stuck).
func (w *writer) enqueue(ctx context.Context, e entry) bool {
	var timer *time.Timer
	var err error
	w.mu.Lock()
	for {
		if w.closed {
			err = errStopped
			break
		}
		if len(w.queue) < maxQueued && w.bytes+e.size <= maxQueuedBytes {
			w.queue = append(w.queue, e)
			w.bytes += e.size
			w.queued++
			break
		}
		ch := w.progress
		w.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(w.wait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = errBusy
		}
		w.mu.Lock()
		if err != nil {
			break
		}
	}
	w.mu.Unlock()
	if err != nil {
		if now := time.Now().UnixNano(); now-w.lastWarn.Load() > int64(10*time.Second) {
			w.lastWarn.Store(now)
			w.log.Warn("message not archived", "err", err)
		}
		e.release(err)
		return false
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

// depth returns how many messages wait to be written.
func (w *writer) depth() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// sync waits until everything queued before it was called is committed
// (or failed), so that a query sees the messages its account sent before
// it; it returns early with ctx's error.
func (w *writer) sync(ctx context.Context) error {
	w.mu.Lock()
	target := w.queued
	for w.written < target {
		ch := w.progress
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
	return nil
}

// close stops the writer once it has written what is queued, or when ctx
// ends, which aborts the write in progress.
func (w *writer) close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	select {
	case <-w.done:
		w.cancel()
		return nil
	case <-ctx.Done():
		w.cancel()
		<-w.done
		return ctx.Err()
	}
}

// run writes batches until the writer is closed and its queue empty.
func (w *writer) run() {
	defer close(w.done)
	for {
		batch, ok := w.next()
		if !ok {
			return
		}
		w.commit(batch)
		w.mu.Lock()
		w.written += uint64(len(batch))
		close(w.progress)
		w.progress = make(chan struct{})
		w.mu.Unlock()
	}
}

// next waits for queued entries and takes the next batch: at least one
// entry, then as many as fit maxBatch and maxBatchBytes. ok is false when
// the writer is closed and nothing is left.
func (w *writer) next() (batch []entry, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) == 0 {
		if w.closed {
			return nil, false
		}
		w.mu.Unlock()
		<-w.wake
		w.mu.Lock()
	}
	n, msgs, size := 0, 0, 0
	for n < len(w.queue) {
		e := &w.queue[n]
		if n > 0 && (msgs+len(e.msgs) > maxBatch || size+e.size > maxBatchBytes) {
			break
		}
		msgs += len(e.msgs)
		size += e.size
		n++
	}
	batch = make([]entry, n)
	copy(batch, w.queue)
	// Shift rather than reslice, so that the queue's array does not keep
	// written stanzas alive.
	rest := copy(w.queue, w.queue[n:])
	clear(w.queue[rest:])
	w.queue = w.queue[:rest]
	w.bytes -= size
	return batch, true
}

// commit appends a batch in one Append and releases every entry's hold
// with the outcome. A copy for an account that does not exist is dropped
// (the message is bounced by the router). When the batch fails as a
// whole, each entry is tried alone, so that one bad message does not fail
// the others.
func (w *writer) commit(batch []entry) {
	var msgs []storage.ArchivedMessage
	for i := range batch {
		e := &batch[i]
		if e.verify >= 0 {
			if _, err := w.users.GetUser(w.ctx, e.msgs[e.verify].Archive); errors.Is(err, storage.ErrNotFound) {
				e.msgs = append(e.msgs[:e.verify:e.verify], e.msgs[e.verify+1:]...)
			}
		}
		msgs = append(msgs, e.msgs...)
	}
	err := w.a.Append(w.ctx, msgs)
	if err == nil || len(batch) == 1 {
		if err != nil {
			w.log.Error("archiving a message", "err", err)
		}
		for _, e := range batch {
			e.release(err)
		}
		return
	}
	failed := 0
	for _, e := range batch {
		err := w.a.Append(w.ctx, e.msgs)
		if err != nil {
			failed++
		}
		e.release(err)
	}
	w.log.Error("archiving messages", "batch", len(batch), "failed", failed, "err", err)
}
