// Package session is the live-session registry: which resources of which
// account are bound on this node, with their presence priority and
// availability. The router reads it on every stanza; nothing here touches
// storage.
package session

import (
	"errors"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// ErrTooManySessions is returned by Bind when the account already has the
// maximum number of bound resources (RFC 6120 §7.6.2.1).
var ErrTooManySessions = errors.New("session: too many sessions for account")

// Conn is the connection behind a session: the c2s connection, later also
// WebSocket and cluster proxies.
type Conn interface {
	// Send queues st for the connection's writer without blocking; false
	// when the connection is closed or its queue is full.
	Send(st *stanza.Element) bool
	// Close ends the connection with a stream error (nil for a clean
	// close). It does not block on the peer.
	Close(err *stanza.StreamError)
}

// ConnInfo describes a session's connection to operators (the admin API).
type ConnInfo struct {
	// Remote is the peer's address (host:port).
	Remote string
	// Transport is "tcp", "tls" (STARTTLS or direct TLS), "websocket" or
	// "websocket+tls".
	Transport string
	// LastActive is when the peer last sent anything.
	LastActive time.Time
	// Detached reports a stream-management session whose connection is
	// gone, waiting to be resumed (XEP-0198).
	Detached bool
}

// Describer is a Conn that can describe itself (the c2s connection).
type Describer interface {
	Describe() ConnInfo
}

// Session is one bound resource.
type Session struct {
	jid   jid.JID
	bound time.Time                    // when New made it; immutable
	conn  atomic.Pointer[connRef]      // swapped by stream management (XEP-0198)
	sent  atomic.Pointer[kindCounters] // the registry's, set by Bind

	// Presence state (RFC 6121 §4): written by the session's own reader,
	// read by routers of other sessions.
	available  atomic.Bool
	priority   atomic.Int32
	presence   atomic.Pointer[stanza.Element] // last available broadcast presence
	interested atomic.Bool                    // requested the roster (§2.1.6)
	announced  atomic.Bool                    // its initial presence was handled
	carbons    atomic.Bool                    // Message Carbons enabled (XEP-0280)
	lost       atomic.Bool                    // ended without a clean close (MarkLost)

	mu       sync.Mutex
	directed map[jid.JID]struct{} // guarded by mu; directed presence recipients (§4.6)
}

// connRef holds a Conn for atomic.Pointer.
type connRef struct{ Conn }

// New returns a session for the bound full JID j on conn.
func New(j jid.JID, conn Conn) *Session {
	s := &Session{jid: j, bound: time.Now()}
	s.SetConn(conn)
	return s
}

// SetConn makes conn the session's connection: stream management puts
// its resumable state between the session and the socket, and moves a
// resumed session to its new connection.
func (s *Session) SetConn(conn Conn) { s.conn.Store(&connRef{conn}) }

// JID returns the bound full JID.
func (s *Session) JID() jid.JID { return s.jid }

// Describe describes the session's connection; the zero ConnInfo when
// the connection cannot tell.
func (s *Session) Describe() ConnInfo {
	if d, ok := s.conn.Load().Conn.(Describer); ok {
		return d.Describe()
	}
	return ConnInfo{}
}

// MarkLost records that the session ends without the client closing its
// stream: the connection was lost or closed by the server, or a stream
// management session was not resumed in time. The connection sets it
// before the session-end hooks run (a device's last will, issue 8).
func (s *Session) MarkLost() { s.lost.Store(true) }

// Lost reports whether MarkLost was called.
func (s *Session) Lost() bool { return s.lost.Load() }

// BoundAt returns when the session was bound (a resumed session keeps the
// time of its first binding).
func (s *Session) BoundAt() time.Time { return s.bound }

// Send queues st on the session's connection. The registry the session
// is bound in counts what its sessions take (Registry.Sent).
func (s *Session) Send(st *stanza.Element) bool {
	if !s.conn.Load().Send(st) {
		return false
	}
	if c := s.sent.Load(); c != nil {
		c.n[stanza.KindOf(st)].Add(1)
	}
	return true
}

// Backlog returns the bytes queued for the session's connection and not
// yet written (0 when the connection does not tell), so that a module
// sending a burst (offline messages) can pace itself instead of tripping
// the slow-consumer limit.
func (s *Session) Backlog() int {
	if b, ok := s.conn.Load().Conn.(interface{ Backlog() int }); ok {
		return b.Backlog()
	}
	return 0
}

// Close closes the session's connection with err.
func (s *Session) Close(err *stanza.StreamError) { s.conn.Load().Close(err) }

// SetPresence records the session's availability and priority
// (RFC 6121 §4.7.2.3: priority is an integer from -128 to +127).
func (s *Session) SetPresence(available bool, priority int) {
	s.priority.Store(int32(priority))
	s.available.Store(available)
}

// SetLastPresence records the session's last available broadcast
// presence (from stamped), which the server sends on its behalf to
// answer probes and to new subscribers; nil once unavailable.
func (s *Session) SetLastPresence(p *stanza.Element) { s.presence.Store(p) }

// LastPresence returns what SetLastPresence recorded.
func (s *Session) LastPresence() *stanza.Element { return s.presence.Load() }

// Announce reports whether this is the session's initial presence (the
// first available presence since it was bound or last unavailable, RFC
// 6121 §4.2) and marks it handled; Unannounce resets it.
func (s *Session) Announce() (initial bool) { return !s.announced.Swap(true) }

// Unannounce marks the session unavailable again for Announce.
func (s *Session) Unannounce() { s.announced.Store(false) }

// SetCarbons enables or disables Message Carbons (XEP-0280) for the
// session and reports whether they were enabled before.
func (s *Session) SetCarbons(on bool) (was bool) { return s.carbons.Swap(on) }

// Carbons reports whether the session enabled Message Carbons.
func (s *Session) Carbons() bool { return s.carbons.Load() }

// SetInterested marks the session as an interested resource: it requested
// the roster, so it receives roster pushes (RFC 6121 §2.1.6).
func (s *Session) SetInterested() { s.interested.Store(true) }

// Interested reports whether the session requested the roster.
func (s *Session) Interested() bool { return s.interested.Load() }

// AddDirected records that the session sent available presence directly
// to j (RFC 6121 §4.6), unless it already remembers max others: then it
// reports false. RemoveDirected records that it sent unavailable.
func (s *Session) AddDirected(j jid.JID, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.directed[j]; ok {
		return true
	}
	if len(s.directed) >= max {
		return false
	}
	if s.directed == nil {
		s.directed = make(map[jid.JID]struct{})
	}
	s.directed[j] = struct{}{}
	return true
}

// RemoveDirected forgets a directed presence recipient.
func (s *Session) RemoveDirected(j jid.JID) {
	s.mu.Lock()
	delete(s.directed, j)
	s.mu.Unlock()
}

// TakeDirected returns the directed presence recipients and forgets them.
func (s *Session) TakeDirected() []jid.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]jid.JID, 0, len(s.directed))
	for j := range s.directed {
		out = append(out, j)
	}
	s.directed = nil
	return out
}

// Available reports whether the session has sent available presence.
func (s *Session) Available() bool { return s.available.Load() }

// Priority returns the session's presence priority.
func (s *Session) Priority() int { return int(s.priority.Load()) }

const shardCount = 64

// sentStripes is how many copies of the delivery counters a registry
// keeps: the sessions of different shards count on different cache lines.
const sentStripes = 8

// kindCounters counts stanzas by stanza.Kind, on a cache line of its own.
type kindCounters struct {
	n [stanza.KindIQ + 1]atomic.Uint64
	_ [32]byte
}

// Registry maps bare JIDs to their bound sessions. It is sharded by bare
// JID; each account's resources are an immutable slice replaced on change
// (copy on write), so readers hold a shard lock only for one map lookup.
type Registry struct {
	seed   maphash.Seed
	count  atomic.Int64
	shards [shardCount]shard
	sent   [sentStripes]kindCounters // stanzas sessions took, striped by shard
}

type shard struct {
	mu       sync.RWMutex
	accounts map[jid.JID][]*Session // guarded by mu; slices never mutated in place
	// left records when an account's last session was unbound, for
	// operators (LastSeen); in memory only, so it starts empty. An entry
	// is small and stays until the registry goes (one per account that
	// was online since the start).
	left map[jid.JID]time.Time // guarded by mu
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].accounts = make(map[jid.JID][]*Session)
		r.shards[i].left = make(map[jid.JID]time.Time)
	}
	return r
}

func (r *Registry) shard(bare jid.JID) *shard {
	return &r.shards[r.shardIndex(bare)]
}

func (r *Registry) shardIndex(bare jid.JID) uint64 {
	return maphash.String(r.seed, bare.String()) % shardCount
}

// Sent returns how many stanzas the sessions bound in r took for delivery
// (Session.Send returned true), indexed by stanza.Kind: the router's
// deliveries and those of modules (roster pushes, presence broadcasts,
// offline messages, archive results, carbons).
func (r *Registry) Sent() [stanza.KindIQ + 1]uint64 {
	var out [stanza.KindIQ + 1]uint64
	for i := range r.sent {
		for k := range out {
			out[k] += r.sent[i].n[k].Load()
		}
	}
	return out
}

// Bind adds s. A session already bound to the same full JID is removed and
// returned as old, for the caller to close with the conflict stream error
// (RFC 6120 §7.7.2.2). ErrTooManySessions when the account has max
// sessions and s replaces none.
func (r *Registry) Bind(s *Session, max int) (old *Session, err error) {
	bare := s.jid.Bare()
	i := r.shardIndex(bare)
	s.sent.Store(&r.sent[i%sentStripes])
	sh := &r.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur := sh.accounts[bare]
	next := make([]*Session, 0, len(cur)+1)
	for _, c := range cur {
		if c.jid == s.jid {
			old = c
			continue
		}
		next = append(next, c)
	}
	if old == nil && len(cur) >= max {
		return nil, ErrTooManySessions
	}
	next = append(next, s)
	sh.accounts[bare] = next
	if old == nil {
		r.count.Add(1)
	}
	return old, nil
}

// Unbind removes s if it is still the session bound to its full JID, and
// reports whether it did.
func (r *Registry) Unbind(s *Session) bool {
	bare := s.jid.Bare()
	sh := r.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur := sh.accounts[bare]
	i := slices.Index(cur, s)
	if i < 0 {
		return false
	}
	if len(cur) == 1 {
		delete(sh.accounts, bare)
		sh.left[bare] = time.Now()
	} else {
		next := make([]*Session, 0, len(cur)-1)
		next = append(next, cur[:i]...)
		sh.accounts[bare] = append(next, cur[i+1:]...)
	}
	r.count.Add(-1)
	return true
}

// Get returns the session bound to the full JID full, or nil.
func (r *Registry) Get(full jid.JID) *Session {
	for _, s := range r.Resources(full.Bare()) {
		if s.jid == full {
			return s
		}
	}
	return nil
}

// Resources returns the sessions of the account bare. The slice is a
// snapshot shared with other readers: it must not be modified.
func (r *Registry) Resources(bare jid.JID) []*Session {
	sh := r.shard(bare)
	sh.mu.RLock()
	s := sh.accounts[bare]
	sh.mu.RUnlock()
	return s
}

// LastSeen returns when the last session of the account bare was unbound
// since the registry was made; false if it never was.
func (r *Registry) LastSeen(bare jid.JID) (time.Time, bool) {
	sh := r.shard(bare)
	sh.mu.RLock()
	t, ok := sh.left[bare]
	sh.mu.RUnlock()
	return t, ok
}

// Count returns the number of bound sessions.
func (r *Registry) Count() int { return int(r.count.Load()) }

// All returns a snapshot of every bound session.
func (r *Registry) All() []*Session {
	out := make([]*Session, 0, r.Count())
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, ss := range sh.accounts {
			out = append(out, ss...)
		}
		sh.mu.RUnlock()
	}
	return out
}
