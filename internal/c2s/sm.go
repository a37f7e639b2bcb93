package c2s

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"sync"
	"time"

	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Stream management (XEP-0198).
//
// Enabling it puts an smState between the session and its connection:
// every stanza sent to the session is counted and kept until the client
// acknowledges it, and every stanza the client sends is counted once
// handled. A resumable session outlives its connection: when the socket
// drops without a closing tag, the session stays bound (its contacts
// still see it available) and its stanzas keep queuing, until a new
// connection of the same account resumes it with <resume/> or the resume
// timeout passes. A session that ends unresumed treats what the client
// never acknowledged as sent to an unavailable resource (RFC 6121 §8.5.3:
// chat and normal messages go to the account's other resources or
// offline storage; the rest is bounced or dropped by the same rules).
//
// Locking: smState.mu before Conn.wmu. Conn.Send checks Conn.sm under
// wmu, so that whether a stanza is counted and where it lands on the wire
// agree (a stanza sent while <enabled/> is queued is either before it and
// uncounted, or after it and counted).

// NSSM is the stream management namespace.
const NSSM = "urn:xmpp:sm:3"

// smState is a session's stream management state.
type smState struct {
	srv       *Server
	id        string // resumption id; "" when not resumable
	jid       jid.JID
	sess      *session.Session
	resumable bool
	timeout   time.Duration // how long a detached session waits

	mu         sync.Mutex
	conn       *Conn // attached connection; nil while detached
	unacked    []*stanza.Element
	sent       uint32  // stanzas sent (mod 2^32)
	acked      uint32  // the client's last h
	handled    uint32  // stanzas of the client handled (the h we report)
	waiting    []*held // the client's stanzas handled by the reader, not all durable yet, in order
	requested  bool    // an <r/> is outstanding
	terminated bool    // the session is over: nothing more is queued
	timer      *time.Timer
}

// smManager holds the resumable sessions by id.
type smManager struct {
	mu   sync.Mutex
	byID map[string]*smState
}

func (m *smManager) add(st *smState) {
	m.mu.Lock()
	if m.byID == nil {
		m.byID = make(map[string]*smState)
	}
	m.byID[st.id] = st
	m.mu.Unlock()
}

func (m *smManager) remove(st *smState) {
	m.mu.Lock()
	if m.byID[st.id] == st {
		delete(m.byID, st.id)
	}
	m.mu.Unlock()
}

// lookup returns the resumable session id of the account; nil for an
// unknown id or another account's (the caller cannot tell which).
func (m *smManager) lookup(id string, account jid.JID) *smState {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.byID[id]
	if st == nil || st.jid.Bare() != account {
		return nil
	}
	return st
}

// all returns every resumable session.
func (m *smManager) all() []*smState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*smState, 0, len(m.byID))
	for _, st := range m.byID {
		out = append(out, st)
	}
	return out
}

func newSMID() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Nonzas.
var (
	smRequest = stanza.NewElement(NSSM, "r")
)

func smAck(h uint32) *stanza.Element {
	return stanza.NewElement(NSSM, "a", "h", strconv.FormatUint(uint64(h), 10))
}

func smFailed(cond stanza.Condition) *stanza.Element {
	return stanza.NewElement(NSSM, "failed").Append(stanza.NewElement(stanza.NSStanzas, string(cond)))
}

// parseH parses an 'h' attribute: an xs:unsignedInt.
func parseH(el *stanza.Element) (uint32, bool) {
	v, err := strconv.ParseUint(el.Attr("h"), 10, 32)
	return uint32(v), err == nil
}

// handleSM handles a stream management element of a bound session.
func (c *Conn) handleSM(el *stanza.Element) error {
	switch el.Local {
	case "r":
		if c.sm == nil {
			return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanzaType, Text: "stream management is not enabled"}
		}
		c.enqueue(smAck(c.sm.handledCount()))
		return nil
	case "a":
		if c.sm == nil {
			return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanzaType, Text: "stream management is not enabled"}
		}
		h, ok := parseH(el)
		if !ok {
			return &stanza.StreamError{Condition: stanza.StreamInvalidXML, Text: "h is not an unsignedInt"}
		}
		return c.sm.ack(h)
	case "enable":
		if c.sm != nil {
			// §3: one attempt only; a second one ends the stream.
			c.enqueue(smFailed(stanza.UnexpectedRequest))
			return &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "stream management is already enabled"}
		}
		c.enableSM(el)
		return nil
	case "resume":
		// Only before a resource is bound (§5).
		c.enqueue(smFailed(stanza.UnexpectedRequest))
		return nil
	}
	return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanzaType, Text: "unexpected element {" + el.Space + "}" + el.Local}
}

// enableSM enables stream management on a bound session (§3).
func (c *Conn) enableSM(el *stanza.Element) {
	cfg := &c.srv.cfg.C2S
	st := &smState{srv: c.srv, jid: c.jid, sess: c.sess, conn: c, timeout: cfg.ResumeTimeout}
	enabled := stanza.NewElement(NSSM, "enabled")
	if r := el.Attr("resume"); (r == "true" || r == "1") && cfg.ResumeTimeout > 0 {
		st.resumable = true
		st.id = newSMID()
		if m, err := strconv.ParseUint(el.Attr("max"), 10, 32); err == nil && m > 0 && time.Duration(m)*time.Second < st.timeout {
			st.timeout = time.Duration(m) * time.Second
		}
		enabled.SetAttr("id", st.id)
		enabled.SetAttr("resume", "true")
		enabled.SetAttr("max", strconv.Itoa(int(st.timeout/time.Second)))
	}
	st.mu.Lock()
	c.wmu.Lock()
	if !c.closing {
		c.pushLocked(enabled)
		c.startWriterLocked()
		c.sm = st
	}
	c.wmu.Unlock()
	st.mu.Unlock()
	if st.resumable {
		c.srv.sm.add(st)
	}
}

// send counts and keeps st and queues it on the attached connection.
// Beyond c2s.max_unacked unacknowledged stanzas the session ends.
func (st *smState) send(el *stanza.Element) bool {
	st.mu.Lock()
	if st.terminated {
		st.mu.Unlock()
		return false
	}
	st.unacked = append(st.unacked, el)
	st.sent++
	if len(st.unacked) > st.srv.cfg.C2S.MaxUnacked {
		// Accounted for by the end of the session: it is among the
		// unacknowledged stanzas handled as if undelivered.
		conn := st.endLocked()
		st.mu.Unlock()
		st.srv.log.Warn("stream management: too many unacknowledged stanzas", "jid", st.jid.String(), "unacked", st.srv.cfg.C2S.MaxUnacked)
		st.close(conn, &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "too many unacknowledged stanzas"})
		return true
	}
	if c := st.conn; c != nil {
		c.enqueue(el)
		if !st.requested {
			st.requested = true
			c.enqueue(smRequest)
		}
	}
	st.mu.Unlock()
	return true
}

// endLocked marks the session over and returns its connection, if any.
// st.mu is held.
func (st *smState) endLocked() *Conn {
	st.resumable = false
	return st.conn
}

// close ends the session: it closes its connection (whose end does the
// rest), or ends a detached session at once.
func (st *smState) close(conn *Conn, se *stanza.StreamError) {
	if conn != nil {
		conn.closeConn(se)
		return
	}
	st.expire()
}

// ack processes an <a/> from the client (§4): the stanzas it handled
// are dropped from the unacknowledged ones.
func (st *smState) ack(h uint32) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.checkLocked(h); err != nil {
		return err
	}
	st.ackLocked(h)
	st.requested = false
	return nil
}

// checkLocked returns the undefined-condition stream error with
// <handled-count-too-high/> (§7) when the client acknowledges more than
// was sent. st.mu is held.
func (st *smState) checkLocked(h uint32) error {
	if n := h - st.acked; int64(n) <= int64(len(st.unacked)) { // modulo 2^32
		return nil
	}
	hs, sent := strconv.FormatUint(uint64(h), 10), strconv.FormatUint(uint64(st.sent), 10)
	return &stanza.StreamError{Condition: stanza.StreamUndefinedCondition,
		Text:  "you acknowledged " + hs + " stanzas, but only " + sent + " were sent",
		Extra: stanza.NewElement(NSSM, "handled-count-too-high", "h", hs, "send-count", sent)}
}

// ackLocked drops the stanzas up to h. st.mu is held; h is checked.
func (st *smState) ackLocked(h uint32) {
	n := h - st.acked
	clear(st.unacked[:n])
	st.unacked = st.unacked[n:]
	if len(st.unacked) == 0 {
		st.unacked = nil
	}
	st.acked = h
}

// inbound notes that the reader finished handling a stanza of the client:
// with no holds (h nil) it counts at once unless earlier stanzas still
// wait for theirs; otherwise it counts when complete(h) and every earlier
// one is (durable.go).
func (st *smState) inbound(h *held) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if h == nil && len(st.waiting) == 0 {
		st.handled++
		return
	}
	if h == nil {
		h = &held{done: true}
	}
	st.waiting = append(st.waiting, h)
}

// complete marks a held stanza durable (or answered) and counts the
// stanzas that are now handled in order.
func (st *smState) complete(h *held) {
	st.mu.Lock()
	defer st.mu.Unlock()
	h.done = true
	n := 0
	for n < len(st.waiting) && st.waiting[n].done {
		n++
	}
	st.handled += uint32(n)
	clear(st.waiting[:n])
	st.waiting = st.waiting[n:]
	if len(st.waiting) == 0 {
		st.waiting = nil
	}
}

func (st *smState) handledCount() uint32 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.handled
}

// closedBy notes that the server closed the connection c on purpose
// (conflict, kick, shutdown): the session ends with it.
func (st *smState) closedBy(c *Conn) {
	st.mu.Lock()
	if st.conn == c {
		st.resumable = false
	}
	st.mu.Unlock()
}

// detach runs when the connection c ends. It reports whether the session
// lives on: c was replaced by a resumption, or the session waits to be
// resumed (the stream was not closed cleanly, §6). Otherwise the caller
// ends the session and then calls undelivered.
func (st *smState) detach(c *Conn, clean bool) (keep bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.conn != c {
		return true
	}
	st.conn = nil
	st.requested = false
	if st.terminated || !st.resumable || clean || st.srv.isClosing() {
		st.terminated = true
		st.srv.sm.remove(st)
		return false
	}
	st.timer = time.AfterFunc(st.timeout, st.expire)
	return true
}

// expire ends a detached session: it is unbound, the session-end hooks
// run (the account's contacts get unavailable presence) and what the
// client did not acknowledge is handled as undelivered.
func (st *smState) expire() {
	st.mu.Lock()
	if st.terminated || st.conn != nil {
		st.mu.Unlock()
		return
	}
	st.terminated = true
	if st.timer != nil {
		st.timer.Stop()
	}
	st.mu.Unlock()
	st.srv.sm.remove(st)
	ctx := context.Background()
	st.srv.cfg.Sessions.Unbind(st.sess)
	if !st.srv.isClosing() {
		// Not resumed in time: the connection was lost.
		st.sess.MarkLost()
	}
	st.srv.cfg.Modules.SessionEnd(ctx, st.sess)
	st.undelivered(ctx)
}

// undelivered routes the stanzas the client never acknowledged again,
// now that the session is unbound: as sent to an unavailable resource
// (XEP-0198 §4; RFC 6121 §8.5.3.2).
func (st *smState) undelivered(ctx context.Context) {
	st.mu.Lock()
	pending := st.unacked
	st.unacked = nil
	st.terminated = true
	st.mu.Unlock()
	for _, el := range pending {
		st.srv.cfg.Router.Route(ctx, el)
	}
}

// resume takes over a detached (or still attached) session for the
// connection c, which authenticated as the same account and sent
// <resume/> before binding (§5). It reports whether c is now bound.
func (c *Conn) resume(el *stanza.Element) (bool, error) {
	h, ok := parseH(el)
	if !ok {
		return false, c.writeRaw(smFailed(stanza.BadRequest).AppendXML(nil, stanza.NSClient))
	}
	st := c.srv.sm.lookup(el.Attr("previd"), c.userJID())
	if st == nil {
		// Unknown, expired or another account's: the same answer.
		return false, c.writeRaw(smFailed(stanza.ItemNotFound).AppendXML(nil, stanza.NSClient))
	}
	// What the former connection holds for an inactive client becomes
	// unacknowledged first, so that it is resent here in order (csi.go).
	st.endCSI()
	st.mu.Lock()
	if st.terminated || !st.resumable {
		st.mu.Unlock()
		return false, c.writeRaw(smFailed(stanza.ItemNotFound).AppendXML(nil, stanza.NSClient))
	}
	if err := st.checkLocked(h); err != nil {
		st.mu.Unlock()
		return false, err
	}
	st.ackLocked(h)
	old := st.conn
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	c.jid, c.sess = st.jid, st.sess
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		st.mu.Unlock()
		return false, errClosing
	}
	c.conn.SetReadDeadline(time.Time{})
	c.queued = true
	c.sm = st
	c.pushLocked(stanza.NewElement(NSSM, "resumed", "h", strconv.FormatUint(uint64(st.handled), 10), "previd", st.id))
	for _, s := range st.unacked {
		c.pushLocked(s)
	}
	if len(st.unacked) > 0 {
		c.pushLocked(smRequest)
		st.requested = true
	}
	c.wmu.Unlock()
	st.conn = c
	st.mu.Unlock()
	st.sess.SetConn(c)
	if old != nil {
		// §5: the former stream, still open, gets conflict.
		old.closeConn(&stanza.StreamError{Condition: stanza.StreamConflict, Text: "the session was resumed on another connection"})
	}
	c.srv.donePending(c)
	c.wmu.Lock()
	c.startWriterLocked()
	c.wmu.Unlock()
	c.startIdleTimer()
	return true, nil
}
