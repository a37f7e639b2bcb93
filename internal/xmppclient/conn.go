// Package xmppclient is the client side of XMPP stream negotiation (RFC
// 6120 §4–§7) that mote's tools share: moteload, the load generator, and
// motesim, the device simulator. A Login secures a connection with
// STARTTLS (§5) or direct TLS (XEP-0368), authenticates with SASL (§6) by
// PLAIN, SCRAM or EXTERNAL, and hands the authenticated stream to its
// caller, which binds a resource (Conn.Bind, §7) or resumes a session.
//
// It is written for tools that exercise a server, not for applications:
// there is no roster, no routing of stanzas and no reconnection, and once
// the login is done the caller owns the connection and its reading.
package xmppclient

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// Conn is a client connection. While it logs in, one goroutine owns it;
// afterwards its owner decides who reads (Dec, Next) and must serialise
// the calls to Write.
type Conn struct {
	Raw net.Conn           // the TCP socket
	NC  net.Conn           // Raw, or the TLS connection over it
	Dec *xmlstream.Decoder // reads NC; made by Login.Negotiate
	JID string             // the full JID bound (RFC 6120 §7.6.1); set by Bind

	// WriteTimeout, when positive, bounds each Write; otherwise writes
	// are bounded only by the deadlines set on the connection.
	WriteTimeout time.Duration

	werr error // the first write error
}

// ErrStreamEnd is returned by Next when the server closes the stream
// (RFC 6120 §4.4).
var ErrStreamEnd = errors.New("xmppclient: the server closed the stream")

// Write writes b. After a failure it fails at once with the same error:
// a TLS connection is unusable after a write error. The first failure
// also closes Raw, so that whoever reads sees the end.
func (c *Conn) Write(b []byte) error {
	if c.werr != nil {
		return c.werr
	}
	if c.WriteTimeout > 0 {
		c.NC.SetWriteDeadline(time.Now().Add(c.WriteTimeout))
	}
	if _, err := c.NC.Write(b); err != nil {
		c.werr = err
		c.Raw.Close()
	}
	return c.werr
}

// WriteString is Write for a string.
func (c *Conn) WriteString(s string) error { return c.Write([]byte(s)) }

// Next returns the next top-level element. A stream error (RFC 6120 §4.9)
// is returned as the error StreamError describes, the end of the stream as
// ErrStreamEnd.
func (c *Conn) Next() (*stanza.Element, error) {
	for {
		ev, err := c.Dec.Next()
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case xmlstream.Element:
			if ev.Elem.Space == stanza.NSStream && ev.Elem.Local == "error" {
				return nil, StreamError(ev.Elem)
			}
			return ev.Elem, nil
		case xmlstream.StreamEnd:
			return nil, ErrStreamEnd
		}
	}
}

// Exchange writes the IQ request req, whose id is id, and returns the
// reply: a result or an error IQ (RFC 6120 §8.2.3). Whatever else the
// server sends meanwhile is skipped. Nothing else may read c meanwhile.
func (c *Conn) Exchange(req, id string) (*stanza.Element, error) {
	if err := c.WriteString(req); err != nil {
		return nil, err
	}
	for {
		el, err := c.Next()
		if err != nil {
			return nil, err
		}
		if stanza.KindOf(el) == stanza.KindIQ && el.Attr("id") == id && isReply(el) {
			return el, nil
		}
	}
}

// isReply reports whether el is an IQ result or error.
func isReply(el *stanza.Element) bool {
	t := el.Attr("type")
	return t == stanza.TypeResult || t == stanza.TypeError
}

// Bound bounds what the caller does on c next by timeout (0: no bound of
// its own) and by ctx: it sets c's deadline to timeout from now, or to
// ctx's deadline when that comes first, and makes the end of ctx
// interrupt c at once. The returned end lifts the bound: it returns
// ctx.Err() when ctx has ended, and c is then not to be used any more, or
// else clears c's deadline and returns nil. Once end has returned, ctx no
// longer touches c.
func (c *Conn) Bound(ctx context.Context, timeout time.Duration) (end func() error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	c.Raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.Raw.SetDeadline(time.Unix(1, 0)) })
	return func() error {
		// Stopped first, the interruption cannot strike after the
		// deadline is cleared; if it has begun, ctx has ended.
		stop()
		if err := ctx.Err(); err != nil {
			return err
		}
		c.Raw.SetDeadline(time.Time{})
		return nil
	}
}

// StreamError describes a stream error element (RFC 6120 §4.9): its
// condition and text.
func StreamError(el *stanza.Element) error {
	cond := "undefined-condition"
	if c := el.FirstChild(); c != nil {
		cond = c.Local
	}
	if t := el.Child(stanza.NSStreams, "text"); t != nil {
		return errors.New("stream error " + cond + ": " + t.Text())
	}
	return errors.New("stream error " + cond)
}
