package websocket

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/mote-xmpp/mote/internal/c2s"
	"github.com/mote-xmpp/mote/stanza"
)

// closeTimeout bounds the WebSocket closing handshake (RFC 6455 §7.1.1):
// after it the TCP connection is closed whatever the peer does.
const closeTimeout = time.Second

// conn is a c2s.MessageConn over a WebSocket.
//
// github.com/coder/websocket closes the connection when the context of a
// read ends, but c2s uses read deadlines to wake its reader and then still
// writes (a stream error, the closing tag). So a goroutine of its own, the
// pump, reads each message and hands it over on a channel, and
// ReadMessage waits for the channel or the deadline. The pump reads one
// message ahead at most: a reader that pauses (traffic shaping) pushes
// back on the peer through TCP.
type conn struct {
	ws  *websocket.Conn
	raw net.Conn // the hijacked connection, closed to bound Close
	tls *tls.ConnectionState

	limit atomic.Int64 // largest message, bytes

	in     chan []byte   // messages from the pump
	dead   chan struct{} // closed when the pump ended; rerr is then set
	rerr   error
	closed chan struct{} // closed by Close and CloseGracefully
	once   sync.Once
	rd     deadline

	wmu       sync.Mutex // guards wdeadline
	wdeadline time.Time
}

var _ c2s.MessageConn = (*conn)(nil)

func newConn(ws *websocket.Conn, raw net.Conn, state *tls.ConnectionState) *conn {
	c := &conn{
		ws: ws, raw: raw, tls: state,
		in: make(chan []byte), dead: make(chan struct{}), closed: make(chan struct{}),
		rd: makeDeadline(),
	}
	// The library's own limit would close the connection without a stream
	// error; the pump enforces c.limit instead.
	ws.SetReadLimit(-1)
	c.limit.Store(4096)
	go c.pump()
	return c
}

// pump reads messages until the connection fails or closes.
func (c *conn) pump() {
	defer close(c.dead)
	for {
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			c.rerr = readError(err)
			return
		}
		if typ != websocket.MessageText {
			// §3.2: XMPP data is sent in text messages.
			c.rerr = &stanza.StreamError{Condition: stanza.StreamUnsupportedEncoding, Text: "XMPP over WebSocket uses text messages (RFC 7395 §3.2)"}
			return
		}
		limit := c.limit.Load()
		b, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			c.rerr = readError(err)
			return
		}
		if int64(len(b)) > limit {
			// The rest of the message is skipped by the closing handshake.
			c.rerr = &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "message exceeds " + strconv.FormatInt(limit, 10) + " bytes"}
			return
		}
		select {
		case c.in <- b:
		case <-c.closed:
			c.rerr = net.ErrClosed
			return
		}
	}
}

// readError maps the library's read errors: the peer's close frame ends
// the stream like a closed TCP connection.
func readError(err error) error {
	if websocket.CloseStatus(err) != -1 {
		return io.EOF
	}
	return err
}

// ReadMessage implements c2s.MessageConn.
func (c *conn) ReadMessage() ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-c.dead:
		return nil, c.rerr
	case <-c.rd.wait():
		return nil, os.ErrDeadlineExceeded
	}
}

// WriteMessage implements c2s.MessageConn: the write is bounded by the
// write deadline set when it begins.
func (c *conn) WriteMessage(b []byte) error {
	c.wmu.Lock()
	d := c.wdeadline
	c.wmu.Unlock()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !d.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, d)
	}
	defer cancel()
	err := c.ws.Write(ctx, websocket.MessageText, b)
	if err != nil && ctx.Err() != nil {
		err = os.ErrDeadlineExceeded
	}
	return err
}

// SetReadLimit implements c2s.MessageConn.
func (c *conn) SetReadLimit(n int) { c.limit.Store(int64(n)) }

// SetReadDeadline implements c2s.MessageConn.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.rd.set(t)
	return nil
}

// SetWriteDeadline implements c2s.MessageConn for the writes that follow;
// a write in progress keeps the deadline it began with. Unlike on TCP, a
// write cannot be ended early without ending the connection: the library
// closes the connection when a write's context ends, even one that has
// just completed, which would lose the stream error c2s writes after
// waking its reader with a deadline in the past (Close ends a write at
// once).
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	c.wdeadline = t
	c.wmu.Unlock()
	return nil
}

// TLSState implements c2s.MessageConn.
func (c *conn) TLSState() *tls.ConnectionState { return c.tls }

func (c *conn) LocalAddr() net.Addr  { return c.raw.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// Close implements c2s.MessageConn: it closes the TCP connection at once,
// which ends the pump, a write in progress and a closing handshake.
func (c *conn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.raw.Close()
}

// CloseGracefully implements c2s.MessageConn: the WebSocket closing
// handshake (RFC 6455 §7.1.2), which RFC 7395 §3.6 asks for once the XMPP
// stream is closed, bounded by closeTimeout, then the TCP close.
func (c *conn) CloseGracefully() error {
	c.once.Do(func() { close(c.closed) })
	t := time.AfterFunc(closeTimeout, func() { c.raw.Close() })
	defer t.Stop()
	c.ws.Close(websocket.StatusNormalClosure, "")
	return c.raw.Close()
}

// deadline is a read deadline for a select: wait returns a channel closed
// once the deadline has passed (as in net.Pipe).
type deadline struct {
	mu     sync.Mutex // guards timer and cancel
	timer  *time.Timer
	cancel chan struct{}
}

func makeDeadline() deadline { return deadline{cancel: make(chan struct{})} }

// set sets the deadline; the zero time clears it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait until it has closed cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait returns a channel that is closed when the deadline passes.
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
