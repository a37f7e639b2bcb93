package c2s

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces of stream features.
const (
	nsChannelBinding = "urn:xmpp:sasl-cb:0"       // XEP-0440
	nsStreamLimits   = "urn:xmpp:stream-limits:0" // XEP-0478
)

// limitsFeature advertises the limits in force on this stream (XEP-0478):
// the largest stanza accepted now (before or after authentication) and,
// when idle clients are pinged, after how many silent seconds.
func (c *Conn) limitsFeature() *stanza.Element {
	max := c.srv.preAuth.MaxStanzaBytes
	if c.authenticated {
		max = c.srv.postAuth.MaxStanzaBytes
	}
	el := stanza.NewElement(nsStreamLimits, "limits").Append(
		stanza.NewElement(nsStreamLimits, "max-bytes").AppendText(strconv.Itoa(max)))
	if _, after := c.srv.cfg.Modules.Idle(); after > 0 {
		el.Append(stanza.NewElement(nsStreamLimits, "idle-seconds").AppendText(strconv.Itoa(int(after.Seconds()))))
	}
	return el
}

// next reads the next event with a read deadline of one negotiation step,
// never past the deadline for binding a resource.
func (c *Conn) next() (xmlstream.Event, error) {
	d := time.Now().Add(c.srv.cfg.C2S.StepTimeout)
	if c.bindDeadline.Before(d) {
		d = c.bindDeadline
	}
	if err := c.setDeadline(d, false); err != nil {
		return xmlstream.Event{}, err
	}
	ev, err := c.dec.Next()
	if err == nil && c.framed != nil {
		err = c.framed.endEvent(c.dec) // one element per message
	}
	return ev, err
}

// negotiate runs stream negotiation (RFC 6120 §4.3) until a resource is
// bound: stream headers, STARTTLS, SASL and the stream restarts between
// them. It returns nil once the session is bound.
func (c *Conn) negotiate() error {
	for {
		if err := c.openStream(); err != nil {
			return err
		}
		restart, err := c.negotiateFeatures()
		if err != nil {
			return err
		}
		if !restart {
			return nil
		}
	}
}

// openStream reads the client's stream header, validates it (RFC 6120
// §4.7, §4.8, §4.9.1.2), sends ours and the stream features.
func (c *Conn) openStream() error {
	ev, err := c.next()
	if err != nil {
		return err
	}
	if ev.Kind != xmlstream.StreamStart {
		return &stanza.StreamError{Condition: stanza.StreamNotWellFormed, Text: "expected a stream header"}
	}
	h := ev.Elem
	c.streamID = newStreamID()
	// Reply with 'to' set to the client's 'from' when it is a valid JID
	// (RFC 6120 §4.7.2).
	replyTo := ""
	if f := h.Attr("from"); f != "" {
		if j, err := jid.Parse(f); err == nil {
			replyTo = j.String()
		}
	}
	c.wmu.Lock()
	c.streamOpen = true
	c.wmu.Unlock()
	hdr := c.appendHeader(nil, replyTo)
	if se := c.checkHeader(h, ev.DefaultNS); se != nil {
		// §4.9.1.2: the header is sent first, then the error (on
		// WebSocket, each in a message of its own: RFC 7395 §3.5).
		c.wmu.Lock()
		c.closing, c.closed = true, true
		c.wmu.Unlock()
		hdr, err = c.endElement(hdr)
		if err == nil {
			hdr, err = c.endElement(c.appendStreamError(hdr, se))
		}
		if err == nil {
			c.writeRaw(c.appendClose(hdr))
		}
		return errAlreadyClosed
	}
	if hdr, err = c.endElement(hdr); err != nil {
		return err
	}
	hdr = c.appendFeatures(hdr)
	return c.writeRaw(hdr)
}

// errAlreadyClosed ends the reader after the stream was closed in place.
var errAlreadyClosed = errors.New("c2s: stream already closed")

// checkHeader validates the client's stream header.
func (c *Conn) checkHeader(h *stanza.Element, defaultNS string) *stanza.StreamError {
	// §4.8.1: the stream namespace; §4.8.2: the content namespace.
	if h.Space != stanza.NSStream || h.Local != "stream" {
		return &stanza.StreamError{Condition: stanza.StreamInvalidNamespace, Text: "the stream element must be {" + stanza.NSStream + "}stream"}
	}
	if defaultNS != stanza.NSClient {
		return &stanza.StreamError{Condition: stanza.StreamInvalidNamespace, Text: "the content namespace must be " + stanza.NSClient}
	}
	// §4.7.5: we speak version 1.0; no or lower version is unsupported.
	if !versionOK(h.Attr("version")) {
		return &stanza.StreamError{Condition: stanza.StreamUnsupportedVersion, Text: "version 1.0 is required"}
	}
	// §4.7.2: 'to' names the domain the client wants.
	if to := h.Attr("to"); to != "" {
		d, err := jid.NormalizeDomain(to)
		if err != nil || d != c.srv.cfg.Domain.Domain() {
			return &stanza.StreamError{Condition: stanza.StreamHostUnknown, Text: "this server does not serve " + to}
		}
	}
	return nil
}

// versionOK reports whether a stream version "major.minor" is at least 1.0
// (RFC 6120 §4.7.5: leading zeros are ignored, a higher major version is
// answered with ours).
func versionOK(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	ma, err1 := strconv.ParseUint(major, 10, 32)
	_, err2 := strconv.ParseUint(minor, 10, 32)
	return err1 == nil && err2 == nil && ma >= 1
}

func newStreamID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// appendHeader appends our response stream header (RFC 6120 §4.7), or on
// a message transport the <open/> that stands for it (RFC 7395 §3.4).
func (c *Conn) appendHeader(buf []byte, to string) []byte {
	if c.streamID == "" {
		c.streamID = newStreamID()
	}
	if c.framed != nil {
		buf = append(buf, `<open xmlns='`+NSFraming+`' id='`...)
	} else {
		buf = append(buf, `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='`...)
	}
	buf = append(buf, c.streamID...)
	buf = append(buf, `' from='`...)
	buf = stanza.AppendEscaped(buf, c.srv.cfg.Domain.String(), true)
	if to != "" {
		buf = append(buf, `' to='`...)
		buf = stanza.AppendEscaped(buf, to, true)
	}
	if c.framed != nil {
		return append(buf, `' version='1.0' xml:lang='en'/>`...)
	}
	return append(buf, `' version='1.0' xml:lang='en'>`...)
}

// appendFeatures appends the stream features for the current state
// (RFC 6120 §4.3.2); in a message of its own the element declares the
// stream prefix (RFC 7395 §3.3.3).
func (c *Conn) appendFeatures(buf []byte) []byte {
	if c.framed != nil {
		buf = append(buf, "<stream:features xmlns:stream='"+stanza.NSStream+"'>"...)
	} else {
		buf = append(buf, "<stream:features>"...)
	}
	ns := c.contentNS()
	for _, f := range c.features() {
		buf = f.AppendXML(buf, ns)
	}
	return append(buf, "</stream:features>"...)
}

func (c *Conn) features() []*stanza.Element {
	fs := []*stanza.Element{c.limitsFeature()}
	switch {
	case !c.authenticated:
		// RFC 7395 §3.9: on WebSocket, TLS is the transport's (wss), never
		// a stream feature.
		if c.tlsConn == nil && !c.directTLS && c.framed == nil {
			st := stanza.NewElement(stanza.NSTLS, "starttls")
			if c.srv.cfg.C2S.RequireTLS {
				// §5.3.1: mandatory-to-negotiate; nothing else is offered.
				return append(fs, st.Append(stanza.NewElement(stanza.NSTLS, "required")))
			}
			fs = append(fs, st)
		}
		info := c.connInfo()
		mechs := stanza.NewElement(stanza.NSSASL, "mechanisms")
		for _, m := range c.srv.cfg.Auth.Mechanisms(info) {
			mechs.Append(stanza.NewElement(stanza.NSSASL, "mechanism").AppendText(m))
		}
		fs = append(fs, mechs)
		if cbs := c.srv.cfg.Auth.ChannelBindings(info); len(cbs) > 0 {
			// XEP-0440 §2: advertise the channel-binding types we support.
			cb := stanza.NewElement(nsChannelBinding, "sasl-channel-binding")
			for _, t := range cbs {
				cb.Append(stanza.NewElement(nsChannelBinding, "channel-binding", "type", t))
			}
			fs = append(fs, cb)
		}
		if c.secure() && c.srv.cfg.Modules.Registration() != nil {
			// XEP-0077 §8; only over TLS (§11), where it is also answered
			// (see registration).
			fs = append(fs, stanza.NewElement(nsRegisterFeature, "register"))
		}
	default:
		fs = append(fs,
			stanza.NewElement(stanza.NSBind, "bind"),
			// RFC 6121 obsoleted the session IQ; <optional/> tells old
			// clients they may skip it (draft-cridland-xmpp-session-01).
			stanza.NewElement(stanza.NSSession, "session").Append(stanza.NewElement(stanza.NSSession, "optional")),
			stanza.NewElement(NSSM, "sm"),
			stanza.NewElement(NSCSI, "csi"), // XEP-0352 §4.1
		)
		fs = append(fs, c.srv.cfg.Modules.StreamFeatures()...)
	}
	return fs
}

// negotiateFeatures handles top-level elements until the stream restarts
// (restart true) or a resource is bound (restart false).
func (c *Conn) negotiateFeatures() (restart bool, err error) {
	// An account was registered in-band on this stream (register.go).
	registered := false
	for {
		ev, err := c.next()
		if err != nil {
			return false, err
		}
		if ev.Kind == xmlstream.StreamEnd {
			return false, errStreamClosed
		}
		el := ev.Elem
		switch {
		case el.Space == stanza.NSTLS && el.Local == "starttls":
			return true, c.startTLS()
		case el.Space == stanza.NSSASL && el.Local == "auth":
			ok, err := c.authenticate(el)
			if err != nil || ok {
				return ok, err
			}
		case el.Space == NSSM && c.authenticated:
			// XEP-0198: resumption replaces binding; enabling waits for it.
			if el.Local == "resume" {
				bound, err := c.resume(el)
				if err != nil || bound {
					return false, err
				}
				continue
			}
			if err := c.writeRaw(smFailed(stanza.UnexpectedRequest).AppendXML(nil, stanza.NSClient)); err != nil {
				return false, err
			}
		case stanza.KindOf(el) != stanza.KindNone && el.Space == stanza.NSClient:
			if !c.authenticated {
				if h := c.registration(el); h != nil {
					// XEP-0077 §3.1.1: registration, then authentication.
					if err := c.register(h, el, &registered); err != nil {
						return false, err
					}
					continue
				}
				// §4.9.3.12: stanzas before authentication.
				return false, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "authenticate first"}
			}
			bound, err := c.handlePreBind(el)
			if err != nil || bound {
				return false, err
			}
		default:
			return false, &stanza.StreamError{Condition: stanza.StreamUnsupportedStanzaType, Text: "unexpected element {" + el.Space + "}" + el.Local}
		}
	}
}
