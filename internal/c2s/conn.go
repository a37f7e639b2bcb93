package c2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/limit"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Conn is one client connection.
type Conn struct {
	srv     *Server
	nc      net.Conn  // the socket; closed exactly once by finish
	conn    net.Conn  // what is read and written: nc, or the TLS layer over it
	tlsConn *tls.Conn // nil until TLS is up
	// serverCert is the leaf certificate the TLS handshake presented
	// (reader goroutine).
	serverCert *x509.Certificate
	directTLS  bool
	// framed is nc on a message transport (XMPP over WebSocket, RFC 7395;
	// framing.go), nil on TCP.
	framed  *framedConn
	ip      netip.Addr // remote address, for the per-IP limit
	pending bool       // counted in Server.pending; guarded by Server.mu
	dec     *xmlstream.Decoder
	ctx     context.Context
	cancel  context.CancelFunc

	// Negotiation state, owned by the reader goroutine.
	streamID      string
	authenticated bool
	username      string
	authFailures  int
	noLinger      bool // the peer closed, or already had its chance to: close at once
	// plusUnsupported: the client tried a channel-binding type we lack
	// (see auth.ConnInfo.PlusUnsupported).
	plusUnsupported bool
	bindDeadline    time.Time

	// Bound state: written once by the reader before the session is
	// published in the registry, read-only afterwards.
	jid  jid.JID
	sess *session.Session
	// sm is the stream management state (sm.go), set by the reader under
	// wmu when the client enables or resumes it.
	sm *smState
	// cleanClose: the peer closed its stream (XEP-0198 §6: the session
	// ends; no resumption).
	cleanClose bool
	// handling is the client's stanza being handled and holding its
	// holds, if any (durable.go); both owned by the reader.
	handling *stanza.Element
	holding  *held
	// csi is the client state (csi.go), stored by the reader at the
	// client's first <inactive/>; nil for a client that never sent one.
	csi atomic.Pointer[csiState]

	lastRead  atomic.Int64 // unix nanoseconds of the last byte read
	shaper    limit.Bucket // input traffic shaping; owned by the reader
	idleTimer *time.Timer  // nil until bound and an idle hook exists

	// Parking (park.go): run is the reader's state; parkAfter and pollID
	// belong to whichever goroutine is the reader.
	run       atomic.Int32
	parkAfter time.Duration // 0: never park
	pollID    uint64        // the poller's key for this connection; 0: not registered

	// Write side. wmu guards everything below it.
	wmu         sync.Mutex
	queue       []*stanza.Element
	queuedBytes int               // estimated size of queue (stanza.Element.Size)
	spare       []*stanza.Element // recycled queue backing array
	writing     bool              // a writer goroutine is running
	// queued: output goes through the queue and the writer (set at bind);
	// before, the reader writes synchronously and Close only wakes it.
	queued     bool
	closing    bool // no more stanzas are accepted
	closeErr   *stanza.StreamError
	streamOpen bool // our stream header was sent
	closed     bool // our closing tag was sent or the socket is dead
	finished   bool // the reader has ended; the idle timer must not re-arm
	wwg        sync.WaitGroup
}

func newConn(s *Server, nc net.Conn, directTLS bool) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{srv: s, nc: nc, conn: nc, directTLS: directTLS, cancel: cancel}
	// Hooks that store a stanza asynchronously hold it (durable.go).
	c.ctx = module.WithHolder(ctx, c)
	c.parkAfter = s.cfg.C2S.ParkIdleAfter
	c.shaper = limit.NewBucket(float64(s.cfg.C2S.ReadRate), float64(s.cfg.C2S.ReadBurst))
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.ip = ap.Addr().Unmap()
	}
	c.lastRead.Store(time.Now().UnixNano())
	return c
}

// logger returns the server's logger with this connection's attributes.
// Connections keep no logger of their own: idle ones must cost little
// memory, and the attributes are only needed when something is logged.
func (c *Conn) logger() *slog.Logger {
	if c.jid.IsZero() {
		return c.srv.log.With("remote", c.nc.RemoteAddr().String())
	}
	return c.srv.log.With("remote", c.nc.RemoteAddr().String(), "jid", c.jid.String())
}

// recoverPanic turns a panic in a connection's goroutine into
// internal-server-error for that connection only.
func (c *Conn) recoverPanic() {
	if r := recover(); r != nil {
		c.logger().Error("connection panicked", "panic", r)
		c.fail(&stanza.StreamError{Condition: stanza.StreamInternalServerError})
	}
}

// serve negotiates the stream on the connection's first goroutine. Once a
// resource is bound, the read loop continues on a fresh goroutine and this
// one ends: the deep stack the TLS handshake and SASL grew is released, so
// an idle session holds only a small one (DESIGN.md §3 step 1).
func (c *Conn) serve() {
	bound := false
	defer func() {
		if !bound {
			c.finish()
		}
	}()
	defer c.recoverPanic()
	c.bindDeadline = time.Now().Add(c.srv.cfg.C2S.BindTimeout)
	if c.directTLS {
		if err := c.handshake(); err != nil {
			c.logger().Debug("tls handshake failed", "err", err)
			if errors.Is(err, errClosing) {
				c.closeStream(nil)
			}
			return
		}
	}
	c.dec = xmlstream.NewDecoder(activityReader{c}, c.srv.preAuth)
	if err := c.negotiate(); err != nil {
		c.handleReadError(err)
		return
	}
	bound = true
	go c.serveBound()
}

// serveBound is the read loop of a bound session. It runs on a fresh
// goroutine after bind and again each time a parked connection wakes.
func (c *Conn) serveBound() {
	parked := false
	defer func() {
		if !parked {
			c.finish()
		}
	}()
	defer c.recoverPanic()
	if c.parkAfter > 0 {
		// Refused when closing: the read then times out at once and the
		// closing sequence goes on.
		c.setDeadline(time.Now().Add(c.parkAfter), false)
	}
	err := c.readStanzas()
	switch {
	case err == errParked:
		parked = true
	case err != nil:
		c.handleReadError(err)
	}
}

// activityReader reads from the connection and notes when bytes arrived,
// for idle detection without a read deadline per stanza.
type activityReader struct{ c *Conn }

func (r activityReader) Read(p []byte) (int, error) {
	n, err := r.c.conn.Read(p)
	if n > 0 {
		now := time.Now()
		r.c.lastRead.Store(now.UnixNano())
		// Traffic shaping: over its rate, a connection's reading pauses,
		// so TCP flow control slows the sender and nothing is buffered.
		if d := r.c.shaper.Take(n, now); d > 0 {
			if perr := r.c.pause(d); perr != nil && err == nil {
				err = perr
			}
		}
	}
	return n, err
}

// pause waits for d, or until the connection is closed (errClosing).
func (c *Conn) pause(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return errClosing
	}
}

// handleReadError turns what ended the read loop into the right stream
// error, or a quiet close.
func (c *Conn) handleReadError(err error) {
	var se *stanza.StreamError
	var xe *xmlstream.Error
	var ne net.Error
	switch {
	case errors.Is(err, errStreamClosed):
		c.noLinger = true
		c.cleanClose = true
		c.closeStream(nil)
	case errors.Is(err, errAlreadyClosed):
	case errors.As(err, &se):
		c.fail(se)
	case errors.As(err, &xe):
		c.fail(xe.StreamError())
	case errors.Is(err, errClosing), errors.As(err, &ne) && ne.Timeout():
		c.wmu.Lock()
		closing, closed := c.closing, c.closed
		c.wmu.Unlock()
		switch {
		case closed:
			// The read deadline set after our closing tag expired: the
			// peer had its moment to close (RFC 6120 §4.4).
			c.noLinger = true
		case closing:
			// Close woke the reader during negotiation: send its error.
			c.closeStream(nil)
		default:
			c.fail(&stanza.StreamError{Condition: stanza.StreamConnectionTimeout})
		}
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
		c.noLinger = true
	default:
		c.logger().Debug("read failed", "err", err)
	}
}

// errClosing reports that Close was called while the reader negotiated.
var errClosing = errors.New("c2s: connection closing")

// errStreamClosed reports that the peer sent its closing stream tag.
var errStreamClosed = errors.New("c2s: stream closed by peer")

// fail sends a stream error and closes the stream (RFC 6120 §4.9.1.1). If
// no stream header was sent yet, one is sent first (§4.9.1.2).
func (c *Conn) fail(se *stanza.StreamError) {
	c.logger().Debug("stream error", "condition", se.Condition, "text", se.Text)
	c.closeStream(se)
}

// closeStream asks the writer to send what is queued, the optional stream
// error and our closing tag. It is called by the reader goroutine, which
// then returns and waits for the writer in finish.
func (c *Conn) closeStream(se *stanza.StreamError) {
	c.wmu.Lock()
	c.closing = true
	if c.closeErr == nil {
		c.closeErr = se
	}
	c.startWriterLocked()
	c.wmu.Unlock()
}

func (c *Conn) isClosing() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.closing
}

// startWriterLocked starts the writer goroutine unless it runs. c.wmu must
// be held.
func (c *Conn) startWriterLocked() {
	if c.writing || c.closed {
		return
	}
	c.writing = true
	c.wwg.Add(1)
	go c.writeLoop()
}

// Close ends the connection with a stream error (nil: a clean close). It
// never blocks on the peer. Once bound, the writer sends what is queued,
// the error and the closing tag, and a short read deadline then wakes the
// reader. Before that the reader owns the socket: Close cancels its
// context and wakes it with an expired read deadline, and the reader sends
// the error itself.
func (c *Conn) Close(se *stanza.StreamError) {
	c.wmu.Lock()
	sm := c.sm
	c.wmu.Unlock()
	if sm != nil {
		sm.closedBy(c) // closed on purpose: not resumable
	}
	c.closeConn(se)
}

// closeConn is Close without ending a stream management session (a
// resumed session closes its former connection this way).
func (c *Conn) closeConn(se *stanza.StreamError) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return
	}
	c.closing = true
	c.closeErr = se
	if c.queued {
		c.startWriterLocked()
		c.wake()
		return
	}
	c.cancel()
	c.nc.SetDeadline(time.Now())
}

// setDeadline sets the read deadline, and the write deadline too when
// both is set, unless the connection is closing: a closing connection's
// deadlines must not be extended or cleared.
func (c *Conn) setDeadline(t time.Time, both bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return errClosing
	}
	if both {
		c.conn.SetDeadline(t)
	} else {
		c.conn.SetReadDeadline(t)
	}
	return nil
}

// finish runs when the reader ends: it unbinds the session, runs the
// session-end hooks, lets the writer finish the close sequence and
// releases the socket.
func (c *Conn) finish() {
	disarm(c)
	// Held stanzas go to stream management (or are dropped) before the
	// session can be resumed elsewhere or end.
	c.endCSI(c.sm)
	// With stream management the session may live on without this
	// connection: taken over by a resumption, or waiting for one.
	keep := c.sm != nil && c.sm.detach(c, c.cleanClose)
	if c.sess != nil && !keep {
		c.srv.cfg.Sessions.Unbind(c.sess)
	}
	c.wmu.Lock()
	c.closing = true
	c.finished = true
	c.startWriterLocked()
	c.wmu.Unlock()
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	if c.sess != nil && !keep {
		if !c.cleanClose && !c.srv.isClosing() {
			c.sess.MarkLost()
		}
		c.srv.cfg.Modules.SessionEnd(c.ctx, c.sess)
		if c.sm != nil {
			c.sm.undelivered(context.Background())
		}
	}
	c.wwg.Wait() // bounded by the write deadline
	c.lingerClose()
	c.cancel()
	c.srv.forget(c)
}

// lingerClose closes our sending side and discards what the peer still
// sends for a moment before closing the socket, so that a stream error is
// not lost to a TCP reset caused by unread input (as net/http does). A
// message transport closes with its own handshake instead.
func (c *Conn) lingerClose() {
	if c.framed != nil {
		c.framed.mc.CloseGracefully() // RFC 7395 §3.6
		return
	}
	if c.tlsConn != nil {
		c.tlsConn.SetWriteDeadline(time.Now().Add(time.Second))
		c.tlsConn.CloseWrite()
	}
	if tc, ok := c.nc.(*net.TCPConn); ok && !c.noLinger {
		tc.CloseWrite()
		tc.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.CopyN(io.Discard, tc, 64<<10)
	}
	c.nc.Close()
}

// lingerTimeout bounds how long a closed stream waits for the peer.
const lingerTimeout = time.Second

// Send queues st for the writer and never blocks. It returns false when
// the connection is closing or its queue is full. A queue over
// c2s.outbound_queue stanzas or c2s.outbound_queue_bytes marks a slow
// consumer, which is disconnected (DESIGN.md §3 step 6). While the client
// is inactive, what can wait is held instead (XEP-0352, csi.go).
func (c *Conn) Send(st *stanza.Element) bool {
	if cs := c.csi.Load(); cs != nil {
		return cs.send(c, st)
	}
	return c.deliver(st)
}

// Describe describes the connection to operators (session.Describer).
// It is called for bound sessions only, whose transport fields were set
// before binding.
func (c *Conn) Describe() session.ConnInfo {
	info := session.ConnInfo{LastActive: time.Unix(0, c.lastRead.Load())}
	if a := c.nc.RemoteAddr(); a != nil {
		info.Remote = a.String()
	}
	switch {
	case c.framed != nil && c.secure():
		info.Transport = "websocket+tls"
	case c.framed != nil:
		info.Transport = "websocket"
	case c.tlsConn != nil:
		info.Transport = "tls"
	default:
		info.Transport = "tcp"
	}
	c.wmu.Lock()
	info.Detached = c.closed
	c.wmu.Unlock()
	return info
}

// deliver is Send without client state indication: it hands st to stream
// management when enabled, or queues it.
func (c *Conn) deliver(st *stanza.Element) bool {
	c.wmu.Lock()
	if sm := c.sm; sm != nil {
		c.wmu.Unlock()
		return sm.send(st) // counted, kept until acknowledged
	}
	return c.enqueueLocked(st)
}

// enqueue queues st without stream management's accounting: nonzas, and
// the stanzas stream management itself hands on.
func (c *Conn) enqueue(st *stanza.Element) bool {
	c.wmu.Lock()
	return c.enqueueLocked(st)
}

// pushLocked appends st to the queue with no limit check. c.wmu is held.
func (c *Conn) pushLocked(st *stanza.Element) {
	c.queue = append(c.queue, st)
	c.queuedBytes += st.Size()
}

// enqueueLocked is Send's queuing; it releases c.wmu.
func (c *Conn) enqueueLocked(st *stanza.Element) bool {
	size := st.Size()
	if c.closing {
		c.wmu.Unlock()
		return false
	}
	cfg := &c.srv.cfg.C2S
	if len(c.queue) >= cfg.OutboundQueue || c.queuedBytes+size > cfg.OutboundQueueBytes {
		c.closing = true
		c.closeErr = &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "slow consumer: outbound queue full"}
		c.startWriterLocked()
		queued, bytes := len(c.queue), c.queuedBytes
		c.wmu.Unlock()
		c.wake()
		c.logger().Warn("slow consumer disconnected", "queued", queued, "queued_bytes", bytes)
		return false
	}
	c.queue = append(c.queue, st)
	c.queuedBytes += size
	c.startWriterLocked()
	c.wmu.Unlock()
	return true
}

// Backlog returns the estimated bytes queued and not yet written.
func (c *Conn) Backlog() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.queuedBytes
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuf keeps rare huge buffers out of the pool.
const maxPooledBuf = 64 << 10

// maxWrite bounds one coalesced write, so that a burst of large stanzas is
// not copied into one huge buffer.
const maxWrite = 64 << 10

// writeLoop drains the queue, coalescing queued stanzas into writes of up
// to maxWrite bytes (DESIGN.md §3 step 8), and exits when the queue is
// empty so that an idle connection holds no writer goroutine. It also
// performs the close sequence requested by Close.
func (c *Conn) writeLoop() {
	defer c.wwg.Done()
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledBuf {
			*bp = (*bp)[:0]
			bufPool.Put(bp)
		}
	}()
	ns, limit := stanza.NSClient, maxWrite
	if c.framed != nil {
		// RFC 7395 §3.3.3: each element is a message of its own, with its
		// namespace declared.
		ns, limit = "", 0
	}
	for {
		c.wmu.Lock()
		batch := c.queue
		if len(batch) == 0 {
			if c.closing && !c.closed {
				c.wmu.Unlock()
				c.flushAndClose()
				c.wmu.Lock()
			}
			c.writing = false
			c.wmu.Unlock()
			return
		}
		c.queue = c.spare[:0]
		c.spare = nil
		c.queuedBytes = 0
		c.wmu.Unlock()

		buf := (*bp)[:0]
		var err error
		for i, st := range batch {
			buf = st.AppendXML(buf, ns)
			batch[i] = nil
			if len(buf) >= limit && i < len(batch)-1 {
				if err = c.writeRaw(buf); err != nil {
					break
				}
				buf = buf[:0]
			}
		}
		if err == nil {
			err = c.writeRaw(buf)
		}
		*bp = buf

		c.wmu.Lock()
		if c.spare == nil && cap(batch) <= 1024 {
			clear(batch)
			c.spare = batch[:0]
		}
		c.wmu.Unlock()
		if err != nil {
			c.abort()
			return
		}
	}
}

// writeRaw writes b with the write deadline. Callers serialise writes:
// the reader before the session is bound, the writer goroutine after.
func (c *Conn) writeRaw(b []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.srv.cfg.C2S.WriteTimeout))
	_, err := c.conn.Write(b)
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.logger().Debug("write failed", "err", err)
	}
	return err
}

// abort gives up on a peer that cannot be written to: the socket is closed,
// which ends the reader.
func (c *Conn) abort() {
	c.wmu.Lock()
	c.closing = true
	c.closed = true
	c.queue = nil
	c.wmu.Unlock()
	c.wake() // a parked reader must see the socket close
	c.nc.Close()
}

// flushAndClose writes what is still queued, the stream error if any, and
// the closing tag, then gives the peer a moment to close its side
// (RFC 6120 §4.4) before the reader gives up.
func (c *Conn) flushAndClose() {
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		return
	}
	c.closed = true
	batch := c.queue
	c.queue = nil
	c.queuedBytes = 0
	se := c.closeErr
	if c.directTLS && c.tlsConn == nil {
		// XEP-0368: nothing is written in plaintext on a direct TLS port.
		c.wmu.Unlock()
		c.nc.Close()
		return
	}
	open := c.streamOpen
	c.streamOpen = true
	c.wmu.Unlock()

	// On TCP one write; on a message transport one message per element
	// (endElement).
	var buf []byte
	var err error
	if !open {
		buf, err = c.endElement(c.appendHeader(buf, ""))
	}
	ns := c.contentNS()
	for _, st := range batch {
		if err != nil {
			break
		}
		buf, err = c.endElement(st.AppendXML(buf, ns))
	}
	if se != nil && err == nil {
		buf, err = c.endElement(c.appendStreamError(buf, se))
	}
	if err == nil {
		err = c.writeRaw(c.appendClose(buf))
	}
	if err != nil {
		c.nc.Close()
		return
	}
	// Wake the reader if it is blocked, but let it read the peer's closing
	// tag first (RFC 6120 §4.4).
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
}
