package c2s

import (
	"sync"

	"github.com/mote-xmpp/mote/stanza"
)

// Client state indication (XEP-0352 1.0.0).
//
// A client that sends <inactive/> is not looking at its screen: what can
// wait is held instead of being sent, and the latest of each kind is all
// it gets when it sends <active/> again (§3.2). Held are presence updates
// (the latest per sender; unavailable replaces available), pubsub
// notifications (the latest per sender and node) and messages carrying
// only a chat state (XEP-0085; the latest per sender). Everything else is
// urgent: it is sent at once, after everything held (in the order it was
// first held), so that no stanza overtakes one sent to the session before
// it. The held set is bounded; reaching the bound sends it all.
//
// Holding comes before stream management (sm.go): a held stanza is not
// sent yet, so it is not counted, and a flush sends through Conn.deliver,
// counted there like any other stanza. When the connection ends, what is
// held goes to stream management, which resends it on resumption or
// routes it as undelivered; without stream management it is dropped with
// the rest of the queue. A resumed stream is a new connection, and starts
// active (§5.2).
//
// Locking: csiState.mu before smState.mu before Conn.wmu. mu is held
// while a flush delivers what was held and the stanza that caused it, so
// that a Send coming after a flush cannot overtake it; it is not held
// while an active connection delivers. Nothing that holds smState.mu or
// Conn.wmu waits for mu. While a connection holds stanzas it is its
// session's attached connection: endCSI runs before it detaches (finish)
// or is taken over by a resumption (Conn.resume). So smState.send, called
// under mu, never ends a detached session (whose hooks send to other
// sessions) there; at most it closes this connection (closeConn).

// NSCSI is the client state indication namespace.
const NSCSI = "urn:xmpp:csi:0"

// Namespaces of the payloads that decide what is held.
const (
	nsPubSubEvent = "http://jabber.org/protocol/pubsub#event" // XEP-0060 §7.1.2
	nsChatStates  = "http://jabber.org/protocol/chatstates"   // XEP-0085
	nsHints       = "urn:xmpp:hints"                          // XEP-0334
	nsStanzaID    = "urn:xmpp:sid:0"                          // XEP-0359
)

// csiMaxHeld bounds the stanzas one inactive session holds; the held
// bytes are bounded by half of c2s.outbound_queue_bytes (and the count by
// half of c2s.outbound_queue), so that a flush fits in the queue next to
// what is already there.
const csiMaxHeld = 1000

// csiState is a connection's client state. It is allocated by the reader
// at the first <inactive/>: a session that never goes inactive has none.
type csiState struct {
	mu       sync.Mutex
	inactive bool    // guarded by mu
	ended    bool    // guarded by mu; no longer its session's connection: nothing more is held
	held     heldSet // guarded by mu; empty while active
}

// handleCSI handles a client state indication nonza of a bound session.
// Nonzas are not stanzas: never counted by stream management, never
// answered (§4.2).
func (c *Conn) handleCSI(el *stanza.Element) error {
	switch el.Local {
	case "inactive":
		cs := c.csi.Load()
		if cs == nil {
			cs = new(csiState)
			c.csi.Store(cs) // only the reader stores
		}
		cs.mu.Lock()
		cs.inactive = !cs.ended
		cs.mu.Unlock()
		return nil
	case "active":
		// §5.1 in-order processing: everything held is queued before the
		// reader handles the client's next stanza.
		if cs := c.csi.Load(); cs != nil {
			cs.mu.Lock()
			cs.inactive = false
			c.flushLocked(cs)
			cs.mu.Unlock()
		}
		return nil
	}
	return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanzaType, Text: "unexpected element {" + el.Space + "}" + el.Local}
}

// send is Conn.Send for a connection that has been inactive: it holds el
// while the client is inactive and el can wait, and otherwise delivers
// what is held and then el.
func (cs *csiState) send(c *Conn, el *stanza.Element) bool {
	cs.mu.Lock()
	if !cs.inactive {
		cs.mu.Unlock()
		return c.deliver(el)
	}
	defer cs.mu.Unlock()
	// A closing connection holds nothing: a stanza it can no longer take
	// must be refused (or, with stream management, counted) now.
	if key, ok := csiKeyOf(el); ok && !c.isClosing() {
		cfg := &c.srv.cfg.C2S
		maxKeys := min(csiMaxHeld, max(cfg.OutboundQueue/2, 1))
		if cs.held.hold(key, el, maxKeys, cfg.OutboundQueueBytes/2) {
			return true
		}
		// Full: everything goes, el with it.
	}
	c.flushLocked(cs)
	return c.deliver(el)
}

// flushLocked delivers what cs holds, in the order it was first held.
// cs.mu is held.
func (c *Conn) flushLocked(cs *csiState) {
	for _, e := range cs.held.take() {
		c.deliver(e.el)
	}
}

// endCSI runs when the connection stops being its session's: before
// stream management detaches it (finish) or a resumption takes the
// session over (Conn.resume). What is held goes to sm, to be resent on
// resumption or routed as undelivered, or is dropped without stream
// management; the connection holds nothing afterwards.
func (c *Conn) endCSI(sm *smState) {
	cs := c.csi.Load()
	if cs == nil {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.inactive, cs.ended = false, true
	held := cs.held.take()
	if sm == nil {
		return
	}
	for _, e := range held {
		sm.send(e.el)
	}
}

// endCSI ends client state indication on the connection attached to st,
// if any, before a resumption takes it over: what it holds is then
// resent, in order, on the new connection.
func (st *smState) endCSI() {
	st.mu.Lock()
	c := st.conn
	st.mu.Unlock()
	if c != nil {
		c.endCSI(st)
	}
}

// csiKey identifies what a held stanza supersedes: a later stanza with the
// same key replaces it.
type csiKey struct {
	kind csiKind
	from string
	node string // pubsub node
}

type csiKind uint8

const (
	heldPresence csiKind = iota + 1
	heldPubSub
	heldChatState
)

// csiKeyOf reports whether el may be held while the client is inactive,
// and under which key. Urgent are IQs, errors, messages with a body,
// subscription requests and answers (RFC 6121 §3, which must not be
// lost), and any message that is not only a notification.
func csiKeyOf(el *stanza.Element) (csiKey, bool) {
	switch stanza.KindOf(el) {
	case stanza.KindPresence:
		switch el.Attr("type") {
		case "", stanza.TypeUnavailable:
			return csiKey{kind: heldPresence, from: el.Attr("from")}, true
		}
	case stanza.KindMessage:
		if el.Attr("type") == stanza.TypeError || el.Child("", "body") != nil {
			return csiKey{}, false
		}
		if ev := el.Child(nsPubSubEvent, "event"); ev != nil {
			// XEP-0060 §7.1.2, §7.2.2.1, §8.5.3, §8.4.3: publications,
			// retractions, purges and deletions of one node supersede
			// each other. Other events (configuration, subscription
			// state) are urgent.
			if p := ev.FirstChild(); p != nil && p.Space == nsPubSubEvent && p.Attr("node") != "" {
				switch p.Local {
				case "items", "purge", "delete":
					return csiKey{kind: heldPubSub, from: el.Attr("from"), node: p.Attr("node")}, true
				}
			}
			return csiKey{}, false
		}
		if isChatStateOnly(el) {
			return csiKey{kind: heldChatState, from: el.Attr("from")}, true
		}
	}
	return csiKey{}, false
}

// isChatStateOnly reports whether a message without a body carries a chat
// state and nothing else but a thread, processing hints and stanza ids
// (XEP-0352 §3.2: "messages containing only XEP-0085 payloads").
func isChatStateOnly(el *stanza.Element) bool {
	state := false
	for _, n := range el.Children {
		ch := n.Elem
		if ch == nil {
			continue
		}
		switch {
		case ch.Space == nsChatStates:
			state = true
		case ch.Space == stanza.NSClient && ch.Local == "thread", ch.Space == nsHints, ch.Space == nsStanzaID:
		default:
			return false
		}
	}
	return state
}

// heldSet is what an inactive session holds: at most one stanza per key,
// in the order its key was first held.
type heldSet struct {
	entries []heldEntry
	index   map[csiKey]int // key to position in entries; nil when empty
	bytes   int            // estimated size (stanza.Element.Size)
}

type heldEntry struct {
	key csiKey
	el  *stanza.Element
}

// hold keeps el under key, replacing what the key held. It reports false,
// holding nothing, when that would exceed maxKeys stanzas or maxBytes.
func (h *heldSet) hold(key csiKey, el *stanza.Element, maxKeys, maxBytes int) bool {
	size := el.Size()
	if i, ok := h.index[key]; ok {
		old := h.entries[i].el.Size()
		if h.bytes-old+size > maxBytes {
			return false
		}
		h.entries[i].el = el
		h.bytes += size - old
		return true
	}
	if len(h.entries) >= maxKeys || h.bytes+size > maxBytes {
		return false
	}
	if h.index == nil {
		h.index = make(map[csiKey]int)
	}
	h.index[key] = len(h.entries)
	h.entries = append(h.entries, heldEntry{key, el})
	h.bytes += size
	return true
}

// take empties the set and returns what it held, in order. The set's
// memory goes with it: an active session keeps none.
func (h *heldSet) take() []heldEntry {
	e := h.entries
	*h = heldSet{}
	return e
}
