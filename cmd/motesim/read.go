package main

import (
	"errors"
	"strings"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/internal/xmppclient"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces of the requests a device answers.
const (
	NSPing      = "urn:xmpp:ping"                         // XEP-0199
	NSDiscoInfo = "http://jabber.org/protocol/disco#info" // XEP-0030
)

// Errors of a device's session.
var (
	errNoAck          = errors.New("motesim: no ack from the server within " + ackTimeout.String())
	errPublishTimeout = errors.New("motesim: no reply to a publish within " + publishTimeout.String())
)

// read is the reader of connection c: it handles what the server sends
// until the stream or the connection ends, then records why in c.err and
// closes c.done.
func (d *device) read(c *conn) {
	defer close(c.done)
	for {
		ev, err := c.Dec.Next()
		if err != nil {
			c.err = err
			return
		}
		switch ev.Kind {
		case xmlstream.StreamEnd:
			c.err = xmppclient.ErrStreamEnd
			d.mu.Lock()
			if d.c == c && !c.closing.Swap(true) {
				c.Write([]byte("</stream:stream>")) // RFC 6120 §4.4: close ours too
			}
			d.mu.Unlock()
			return
		case xmlstream.Element:
			if err := d.handle(c, ev.Elem, true); err != nil {
				c.err = err
				return
			}
		}
	}
}

// handle handles one element the server sent on c; counted says whether
// stream management counts it (stanzas before <enabled/> are not). An
// error ends the reader: a stream error, a protocol violation, or c is no
// longer the device's connection (what the server sent on it after the
// device left it is sent again on resumption, since it is not counted).
func (d *device) handle(c *conn, el *stanza.Element, counted bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c != c {
		return errStale
	}
	switch {
	case el.Space == NSSM:
		return d.smLocked(c, el)
	case el.Space == stanza.NSStream && el.Local == "error":
		return xmppclient.StreamError(el)
	}
	kind := stanza.KindOf(el)
	if kind == stanza.KindNone {
		return nil // an unknown element outside stanzas: ignored
	}
	if counted {
		d.sm.receivedStanza()
	}
	if kind == stanza.KindIQ {
		d.iqLocked(el)
	}
	// Messages (a bounced read-out message, say) and presence need
	// nothing.
	return nil
}

// smLocked handles a stream management element (XEP-0198 §4). d.mu is
// held.
func (d *device) smLocked(c *conn, el *stanza.Element) error {
	switch el.Local {
	case "r":
		if !c.closing.Load() {
			c.Write(smAckXML(d.sm.handled))
		}
	case "a":
		h, ok := parseH(el)
		if !ok {
			return errors.New("motesim: <a/> without a valid h")
		}
		if err := d.sm.ack(h); err != nil {
			if se, ok := err.(*stanza.StreamError); ok && !c.closing.Swap(true) {
				c.Write(append(se.AppendStreamXML(nil), "</stream:stream>"...))
			}
			return err
		}
	}
	return nil
}

// iqLocked handles an IQ (RFC 6120 §8.2.3): the replies to the device's
// publishes, and the requests it answers: ping (XEP-0199 §4.2), disco#info
// (XEP-0030 §3.1, where XEP-0323 §4 asks for its feature), and the
// read-outs of XEP-0323. Any other request gets service-unavailable (RFC
// 6120 §8.4). d.mu is held.
func (d *device) iqLocked(iq *stanza.Element) {
	typ := iq.Attr("type")
	switch typ {
	case stanza.TypeResult, stanza.TypeError:
		if id := iq.Attr("id"); strings.HasPrefix(id, "pub-") {
			d.publishReplyLocked(id, iq)
		}
		return
	case stanza.TypeGet, stanza.TypeSet:
	default:
		return // not an IQ type: nothing to answer
	}
	p := iq.FirstChild()
	if p == nil || iq.CountChildElements() != 1 {
		d.sendLocked(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "an IQ request has exactly one child")))
		return
	}
	get := typ == stanza.TypeGet
	switch {
	case get && p.Space == NSPing && p.Local == "ping":
		d.sendLocked(stanza.IQResult(iq, nil))
	case get && p.Space == NSDiscoInfo && p.Local == "query":
		if p.Attr("node") != "" {
			d.sendLocked(stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, "")))
			return
		}
		d.sendLocked(stanza.IQResult(iq, discoInfo()))
	case get && p.Space == NSSensorData && p.Local == "req":
		for _, r := range d.readLocked(iq, p, time.Now()) {
			d.sendLocked(r)
		}
	case get && p.Space == NSSensorData && p.Local == "cancel":
		d.sendLocked(d.cancelLocked(iq, p))
	default:
		d.sendLocked(stanza.ErrorReply(iq, stanza.NewError(stanza.ServiceUnavailable, "")))
	}
}

// discoInfo is a device's disco#info (XEP-0030 §3.1): an automated
// client that answers pings and sensor data read-outs.
func discoInfo() *stanza.Element {
	q := stanza.NewElement(NSDiscoInfo, "query")
	q.Append(stanza.NewElement(NSDiscoInfo, "identity", "category", "client", "type", "bot", "name", "motesim"))
	for _, f := range []string{NSDiscoInfo, NSPing, NSSensorData} {
		q.Append(stanza.NewElement(NSDiscoInfo, "feature", "var", f))
	}
	return q
}
