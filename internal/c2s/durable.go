package c2s

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/stanza"
)

// Acknowledgement means durability (XEP-0198 with module.Hold).
//
// A hook that writes a client's stanza to storage asynchronously (the
// message archive) calls module.Hold while the stanza is being handled:
// the connection is the Holder in the context its stanzas are routed
// with. A held stanza counts as handled only when every hold is released:
// h then advances over the client's stanzas in order, so that an <a/>
// never covers a stanza whose write has not committed, while the reader
// goes on with the next stanzas (the writes of many stanzas share one
// commit). A write that fails is answered with the wait/resource-constraint
// error, which makes the stanza handled (the sender knows).

// lastStoreWarn rate-limits the warning about failed writes: when storage
// fails it fails for many stanzas at once.
var lastStoreWarn atomic.Int64

// held is a client stanza with holds outstanding.
type held struct {
	el   *stanza.Element
	n    atomic.Int32 // holds not yet released, plus one while the reader handles it
	mu   sync.Mutex
	err  error // the first failure; guarded by mu
	done bool  // complete: counted by stream management; guarded by smState.mu
}

// Hold implements module.Holder. It is called on the reader goroutine
// while handleStanza runs.
func (c *Conn) Hold() func(error) {
	h := c.holding
	if h == nil {
		h = &held{el: c.handling}
		h.n.Store(1) // the reader's, released when handleStanza returns
		c.holding = h
	}
	h.n.Add(1)
	var once atomic.Bool
	return func(err error) {
		if once.CompareAndSwap(false, true) {
			c.release(h, err)
		}
	}
}

// handled runs after handleStanza: the stanza counts now, or once its
// holds are released.
func (c *Conn) handled() {
	h := c.holding
	c.holding, c.handling = nil, nil
	if c.sm != nil {
		c.sm.inbound(h)
	}
	if h != nil {
		c.release(h, nil)
	}
}

// release releases one hold of h; the last one completes it.
func (c *Conn) release(h *held, err error) {
	if err != nil {
		h.mu.Lock()
		if h.err == nil {
			h.err = err
		}
		h.mu.Unlock()
	}
	if h.n.Add(-1) != 0 {
		return
	}
	h.mu.Lock()
	failed := h.err
	h.mu.Unlock()
	if failed != nil {
		if now := time.Now().UnixNano(); now-lastStoreWarn.Load() > int64(10*time.Second) {
			lastStoreWarn.Store(now)
			c.logger().Warn("storing a stanza failed; the sender is told (logged at most every 10 s)", "err", failed)
		}
		if r := stanza.ErrorReply(h.el, stanza.NewError(stanza.ResourceConstraint, "the server could not store this stanza")); r != nil {
			c.Send(r)
		}
	}
	if sm := c.sm; sm != nil {
		sm.complete(h)
	}
}
