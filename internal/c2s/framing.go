package c2s

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// Stream framing. On TCP the stream is one XML document per direction
// (RFC 6120 §4): a stream header, top-level elements, the closing tag. XMPP
// over WebSocket (RFC 7395) frames it in messages instead: <open/> and
// <close/> in the framing namespace stand for the header and the closing
// tag, and every message holds exactly one complete top-level element,
// namespaces declared (§3.3.3). Everything else (negotiation, SASL, bind,
// stream management, the queue and its limits) is the same code.
//
// The difference is confined to two places. Incoming, a framedConn turns
// each message into decoder input: the <open/> the stream begins with
// becomes an equivalent stream header, <close/> ends the stream, and after
// each event the connection checks that it filled exactly its message.
// Outgoing, appendHeader, appendClose, appendStreamError and
// appendFeatures produce the framing's markup, stanzas are serialised with
// their namespace declared (contentNS), and every element is written as a
// message of its own (endElement; writeLoop does not coalesce).

// NSFraming is the namespace of <open/> and <close/> (RFC 7395 §3.3.2).
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// MessageConn is a transport that carries the stream as messages, one
// top-level element each, instead of as a byte stream: XMPP over WebSocket
// (RFC 7395), implemented by package websocket. One goroutine reads and one
// writes at a time; Close and the deadline setters may be called from any
// goroutine.
type MessageConn interface {
	// ReadMessage returns the next text message; it is valid until the
	// next call. Once the read deadline passes it returns an error whose
	// Timeout method reports true, and the connection stays usable. It
	// returns io.EOF when the peer closed the transport, and a
	// *stanza.StreamError for a message the stream must be closed for
	// (larger than the read limit, or not text).
	ReadMessage() ([]byte, error)
	// WriteMessage writes b, one complete element, as one text message,
	// within the write deadline.
	WriteMessage(b []byte) error
	// SetReadLimit sets the largest message ReadMessage accepts, in bytes.
	SetReadLimit(n int)
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	// TLSState returns the state of the TLS connection the transport runs
	// on (wss), or nil without TLS.
	TLSState() *tls.ConnectionState
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	// Close closes the transport at once (a peer that cannot be written
	// to, a hard shutdown).
	Close() error
	// CloseGracefully ends the transport once the stream is closed: for
	// WebSocket, with the closing handshake RFC 7395 §3.6 asks for, bounded
	// in time.
	CloseGracefully() error
}

// ErrRefused is returned by ServeMessageConn when the connection limits
// refuse a connection.
var ErrRefused = errors.New("c2s: connection refused by the connection limits")

// ServeMessageConn serves one client connection carried by a message
// transport. The connection is admitted first, under the same limits as a
// TCP connection at accept (c2s.max_connections, max_pending,
// max_pending_per_ip for the address remote); only then is accept called,
// which completes the transport's own handshake (the WebSocket upgrade) and
// returns the connection, which is served on a new goroutine.
//
// It returns ErrRefused or ErrServerClosed without calling accept, and
// accept's error if it fails. A connection accepted while the server shuts
// down is closed at once.
func (s *Server) ServeMessageConn(remote netip.Addr, accept func() (MessageConn, error)) error {
	remote = remote.Unmap()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if !s.admitLocked(remote) {
		s.mu.Unlock()
		s.refused.Add(1)
		return ErrRefused
	}
	// The slot is held while the transport's handshake runs.
	s.pending[remote]++
	s.nPending++
	s.opening++
	s.wg.Add(1)
	s.mu.Unlock()

	mc, err := accept()

	s.mu.Lock()
	s.opening--
	if err != nil || s.closing {
		s.nPending--
		if s.pending[remote]--; s.pending[remote] <= 0 {
			delete(s.pending, remote)
		}
		s.mu.Unlock()
		s.wg.Done()
		if err != nil {
			return err
		}
		mc.Close()
		return nil
	}
	c := newMessageConn(s, mc, remote)
	s.addLocked(c)
	s.mu.Unlock()
	go c.serve()
	return nil
}

// newMessageConn returns the Conn of a message transport.
func newMessageConn(s *Server, mc MessageConn, ip netip.Addr) *Conn {
	f := &framedConn{mc: mc, expectOpen: true, lim: s.postAuth}
	c := newConn(s, f, false)
	c.ip = ip
	c.framed = f
	// Parking hands a socket's descriptor to the poller; a message
	// transport has its own reader (package websocket), so it never parks.
	c.parkAfter = 0
	mc.SetReadLimit(s.preAuth.MaxStanzaBytes)
	return c
}

// framedConn presents a MessageConn as the net.Conn a Conn reads and
// writes. Read turns messages into decoder input; Write sends one message.
// The reader goroutine owns the read side.
type framedConn struct {
	mc MessageConn
	// msg is what is left of the current message; msgs counts the messages
	// begun since the decoder's last event (see endEvent).
	msg  []byte
	msgs int
	// expectOpen: the next message must be <open/> (at the start, and
	// after a stream restart, RFC 7395 §3.7).
	expectOpen bool
	// lim bounds parsing a message that may be <open/> or <close/> (the
	// read limit bounds its size already).
	lim xmlstream.Limits
}

var _ net.Conn = (*framedConn)(nil)

// Read gives the decoder the current message, translated, and reads the
// next one only when the decoder needs more input after an event: an
// element that did not end with its message is an error (RFC 7395 §3.3.3).
func (f *framedConn) Read(p []byte) (int, error) {
	for len(f.msg) == 0 {
		if f.msgs > 0 {
			return 0, errOneElement()
		}
		m, err := f.mc.ReadMessage()
		if err != nil {
			return 0, err
		}
		m = trimXMLSpace(m)
		if len(m) == 0 {
			// Whitespace only: RFC 7395 §3.8 forbids whitespace
			// keepalives; they are harmless, so they are ignored.
			continue
		}
		if f.msg, err = f.translate(m); err != nil {
			return 0, err
		}
		f.msgs++
	}
	n := copy(p, f.msg)
	f.msg = f.msg[n:]
	return n, nil
}

// translate returns what the decoder reads for the message m: a stream
// header for <open/>, the message itself otherwise. <close/> ends the
// stream (errStreamClosed, handled like the closing stream tag).
func (f *framedConn) translate(m []byte) ([]byte, error) {
	// §3.3.3: an XML declaration is allowed, though not recommended.
	m = skipXMLDecl(m)
	switch {
	case framingName(m, "close"):
		el, err := parseFrame(m, f.lim)
		if err != nil {
			return nil, err
		}
		if el.Space == NSFraming {
			return nil, errStreamClosed
		}
		if !f.expectOpen {
			return m, nil // some other element named close
		}
	case !f.expectOpen:
		return m, nil
	}
	var el *stanza.Element
	if framingName(m, "open") {
		var err error
		if el, err = parseFrame(m, f.lim); err != nil {
			return nil, err
		}
	}
	if el == nil || el.Space != NSFraming {
		// §3.3.2: the stream must begin with {framing}open; a stream header
		// in another namespace (<stream:stream>, say) is invalid-namespace.
		return nil, &stanza.StreamError{Condition: stanza.StreamInvalidNamespace, Text: "the stream must begin with {" + NSFraming + "}open (RFC 7395 §3.4)"}
	}
	f.expectOpen = false
	// The header <open/> stands for (RFC 7395 §3.3.1): its attributes, in
	// the streams namespace with jabber:client as content namespace, so
	// that the usual checks (RFC 6120 §4.7, §4.8) apply to it.
	h := []byte(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'`)
	for _, a := range el.Attrs {
		switch a.Space {
		case "":
			h = append(h, ' ')
			h = append(h, a.Local...)
		case stanza.NSXML:
			h = append(h, " xml:"...)
			h = append(h, a.Local...)
		default:
			continue
		}
		h = append(h, `='`...)
		h = stanza.AppendEscaped(h, a.Value, true)
		h = append(h, '\'')
	}
	return append(h, '>'), nil
}

// restart expects a new <open/> (RFC 7395 §3.7) and applies the read limit
// of the authenticated stream.
func (f *framedConn) restart(limit int) {
	f.expectOpen = true
	f.mc.SetReadLimit(limit)
}

// endEvent checks, after the decoder returned an event, that the event was
// exactly the one message read for it: nothing left of it, nothing
// buffered (RFC 7395 §3.3.3).
func (f *framedConn) endEvent(d *xmlstream.Decoder) error {
	n := f.msgs
	f.msgs = 0
	if n != 1 || len(f.msg) > 0 || d.Buffered() > 0 {
		return errOneElement()
	}
	return nil
}

// errOneElement is the stream error for a message that is not one
// complete element.
func errOneElement() error {
	return &stanza.StreamError{Condition: stanza.StreamNotWellFormed, Text: "each WebSocket message must hold exactly one complete element (RFC 7395 §3.3.3)"}
}

// frameHeader opens the stream a single message is parsed in: it declares
// no default namespace, so the message must declare its own (§3.3.3).
const frameHeader = `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`

// parseFrame parses m, a message that must be one complete element.
func parseFrame(m []byte, lim xmlstream.Limits) (*stanza.Element, error) {
	r := bytes.NewReader(m)
	d := xmlstream.NewDecoder(io.MultiReader(strings.NewReader(frameHeader), r), lim)
	if _, err := d.Next(); err != nil {
		return nil, err
	}
	ev, err := d.Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errOneElement()
		}
		return nil, err
	}
	if ev.Kind != xmlstream.Element || r.Len() > 0 || d.Buffered() > 0 {
		return nil, errOneElement()
	}
	return ev.Elem, nil
}

// framingName reports whether m begins with a start tag whose local name
// is local, whatever its prefix: the cheap test before parsing a message
// that may be <close/>.
func framingName(m []byte, local string) bool {
	if len(m) < 2 || m[0] != '<' {
		return false
	}
	end := bytes.IndexAny(m[1:], " \t\r\n/>")
	if end < 0 {
		return false
	}
	name := m[1 : 1+end]
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	return string(name) == local
}

// skipXMLDecl removes a leading XML declaration.
func skipXMLDecl(m []byte) []byte {
	if len(m) > 6 && string(m[:5]) == "<?xml" && isXMLSpace(m[5]) {
		if i := bytes.Index(m, []byte("?>")); i > 0 {
			return trimXMLSpace(m[i+2:])
		}
	}
	return m
}

func isXMLSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// trimXMLSpace removes leading and trailing XML whitespace.
func trimXMLSpace(m []byte) []byte {
	for len(m) > 0 && isXMLSpace(m[0]) {
		m = m[1:]
	}
	for len(m) > 0 && isXMLSpace(m[len(m)-1]) {
		m = m[:len(m)-1]
	}
	return m
}

// Write sends b, which the caller guarantees to be one complete element,
// as one message.
func (f *framedConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := f.mc.WriteMessage(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (f *framedConn) Close() error                       { return f.mc.Close() }
func (f *framedConn) LocalAddr() net.Addr                { return f.mc.LocalAddr() }
func (f *framedConn) RemoteAddr() net.Addr               { return f.mc.RemoteAddr() }
func (f *framedConn) SetReadDeadline(t time.Time) error  { return f.mc.SetReadDeadline(t) }
func (f *framedConn) SetWriteDeadline(t time.Time) error { return f.mc.SetWriteDeadline(t) }

func (f *framedConn) SetDeadline(t time.Time) error {
	f.mc.SetReadDeadline(t)
	return f.mc.SetWriteDeadline(t)
}

// Output.

// contentNS is the namespace stanzas are serialised in: inherited from
// the stream header on TCP, declared on each one in a message (§3.3.3).
func (c *Conn) contentNS() string {
	if c.framed != nil {
		return ""
	}
	return stanza.NSClient
}

// appendClose appends our closing tag: </stream:stream> (RFC 6120 §4.4)
// or <close/> (RFC 7395 §3.6).
func (c *Conn) appendClose(buf []byte) []byte {
	if c.framed != nil {
		return append(buf, "<close xmlns='"+NSFraming+"'/>"...)
	}
	return append(buf, "</stream:stream>"...)
}

// appendStreamError appends se; in a message of its own it declares the
// stream prefix (RFC 7395 §3.5).
func (c *Conn) appendStreamError(buf []byte, se *stanza.StreamError) []byte {
	if f := c.srv.cfg.OnStreamError; f != nil {
		f(se.Condition)
	}
	if c.framed != nil {
		return se.AppendStandaloneXML(buf)
	}
	return se.AppendStreamXML(buf)
}

// endElement marks the end of a top-level element in buf. On TCP the
// output accumulates to be written at once; on a message transport buf is
// written now, as one message, and emptied.
func (c *Conn) endElement(buf []byte) ([]byte, error) {
	if c.framed == nil {
		return buf, nil
	}
	err := c.writeRaw(buf)
	return buf[:0], err
}

// tlsState returns the state of the TLS the stream runs over: STARTTLS or
// direct TLS, or the transport's (wss); nil without TLS.
func (c *Conn) tlsState() *tls.ConnectionState {
	if c.tlsConn != nil {
		st := c.tlsConn.ConnectionState()
		return &st
	}
	if c.framed != nil {
		return c.framed.mc.TLSState()
	}
	return nil
}

// secure reports whether the stream is protected by TLS.
func (c *Conn) secure() bool {
	return c.tlsConn != nil || c.framed != nil && c.framed.mc.TLSState() != nil
}
