package main

import (
	"bufio"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/internal/xmppclient"
	"github.com/mote-xmpp/mote/stanza"
)

// NSPing is the XMPP Ping namespace (XEP-0199).
const NSPing = "urn:xmpp:ping"

// handler receives what a logged-in connection's reader reads.
//
// Both methods run on the reader goroutine and must not block on the
// connection they are called for.
type handler interface {
	// message is called for each message that is not of type error.
	message(el *stanza.Element)
	// batchEnd is called after an element when no more input is buffered,
	// the moment to flush output that the batch produced.
	batchEnd()
}

// replyHandler is a handler that also takes the replies (result and error
// IQs) to the requests its connection sent after login.
type replyHandler interface {
	handler
	// reply is called on the reader goroutine like message.
	reply(el *stanza.Element)
}

// conn is one client connection. Until its reader starts, one goroutine
// owns it and writes with Conn.Write; afterwards its reader goroutine
// owns the decoder and every write goes through wmu (send).
//
// Per-connection memory is kept small for runs with many idle connections:
// the decoder holds no read buffer while idle, there is no write buffer
// unless the connection sends in bulk (pairs senders), and the reader is the
// connection's only goroutine.
type conn struct {
	xmppclient.Conn // the sockets, the decoder and the bound JID
	st              *stats

	wmu  sync.Mutex    // guards w, werr and writes to NC after login
	w    *bufio.Writer // nil: write to NC directly
	werr error         // the first write error

	closing atomic.Bool   // we sent </stream:stream> (or gave up on the connection)
	lost    atomic.Bool   // the connection ended without closing
	done    chan struct{} // closed when the reader ends; nil if none started
}

// startReader starts the connection's reader with h (nil for a connection
// that only stays online).
func (c *conn) startReader(h handler) {
	c.done = make(chan struct{})
	go c.readLoop(h)
}

// readLoop reads until the stream ends. It answers the server's pings
// (XEP-0199) and refuses its other requests so that idle sessions stay up,
// counts bounced messages as errors, and passes other messages to h.
func (c *conn) readLoop(h handler) {
	defer close(c.done)
	for {
		ev, err := c.Dec.Next()
		if err != nil {
			c.end(err)
			return
		}
		switch ev.Kind {
		case xmlstream.StreamEnd:
			c.end(xmppclient.ErrStreamEnd)
			return
		case xmlstream.Element:
		default:
			continue
		}
		el := ev.Elem
		switch stanza.KindOf(el) {
		case stanza.KindMessage:
			if el.Attr("type") == stanza.TypeError {
				c.st.fail("message bounced", stanzaErr(el))
			} else if h != nil {
				h.message(el)
			}
		case stanza.KindIQ:
			if r, ok := h.(replyHandler); ok && isReply(el) {
				r.reply(el)
			} else {
				c.answerIQ(el)
			}
		case stanza.KindNone:
			if el.Space == stanza.NSStream && el.Local == "error" {
				c.end(xmppclient.StreamError(el))
				return
			}
		}
		if h != nil && c.Dec.Buffered() == 0 {
			h.batchEnd()
		}
	}
}

// end records why the reader stopped: an error unless we were closing.
func (c *conn) end(err error) {
	if c.closing.Load() {
		return
	}
	c.lost.Store(true)
	c.st.fail("connection lost", err)
}

// isReply reports whether el is an IQ result or error.
func isReply(el *stanza.Element) bool {
	t := el.Attr("type")
	return t == stanza.TypeResult || t == stanza.TypeError
}

// answerIQ replies to a request from the server: a result for a ping
// (XEP-0199 §4.2), service-unavailable for anything else (RFC 6120
// §8.2.3: every request gets a reply).
func (c *conn) answerIQ(el *stanza.Element) {
	typ := el.Attr("type")
	if typ != stanza.TypeGet && typ != stanza.TypeSet {
		return
	}
	b := make([]byte, 0, 256)
	b = append(b, "<iq type='"...)
	ping := el.Child(NSPing, "ping") != nil
	if ping {
		b = append(b, "result"...)
	} else {
		b = append(b, "error"...)
	}
	b = append(b, "' id='"...)
	b = appendEscaped(b, el.Attr("id"))
	if from := el.Attr("from"); from != "" {
		b = append(b, "' to='"...)
		b = appendEscaped(b, from)
	}
	if ping {
		b = append(b, "'/>"...)
	} else {
		b = append(b, "'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"...)
	}
	c.send(b)
}

// send writes b and flushes.
func (c *conn) send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	if c.w != nil {
		c.w.Write(b)
		c.werr = c.w.Flush()
	} else {
		_, c.werr = c.NC.Write(b)
	}
	return c.werr
}

// flushLocked flushes the write buffer; c.wmu is held.
func (c *conn) flushLocked() {
	if c.werr == nil && c.w != nil && c.w.Buffered() > 0 {
		c.werr = c.w.Flush()
	}
}

// beginClose starts closing the stream (RFC 6120 §4.4): it sends
// </stream:stream> and gives the server closeWait to answer with its own.
func (c *conn) beginClose() {
	c.closing.Store(true)
	c.NC.SetDeadline(time.Now().Add(closeWait))
	c.send([]byte("</stream:stream>"))
}

// finishClose waits for the reader to see the server's closing tag (or the
// deadline set by beginClose) and closes the socket.
func (c *conn) finishClose() {
	if c.done != nil {
		<-c.done
	}
	c.NC.Close()
}

// abort closes the socket at once, without the closing handshake.
func (c *conn) abort() {
	c.closing.Store(true)
	c.NC.Close()
}

// closeAll closes the streams of conns (nil entries are skipped) on up to
// workers goroutines.
func closeAll(conns []*conn, workers int) {
	forEach(len(conns), workers, func(i int) {
		if c := conns[i]; c != nil {
			c.beginClose()
		}
	})
	forEach(len(conns), workers, func(i int) {
		if c := conns[i]; c != nil {
			c.finishClose()
		}
	})
}

// appendEscaped appends s escaped for an attribute value or character data.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, ch)
		}
	}
	return b
}

// stanzaErr describes an error stanza (RFC 6120 §8.3).
func stanzaErr(el *stanza.Element) error {
	return errors.New(el.Local + " error " + stanzaCondition(el))
}

// stanzaCondition returns the defined condition of an error stanza (RFC
// 6120 §8.3.3), undefined-condition when it names none.
func stanzaCondition(el *stanza.Element) string {
	if e := el.Child("", "error"); e != nil {
		for _, n := range e.Children {
			if n.Elem != nil && n.Elem.Space == stanza.NSStanzas && n.Elem.Local != "text" {
				return n.Elem.Local
			}
		}
	}
	return "undefined-condition"
}
