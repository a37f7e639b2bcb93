package c2s

import (
	"strconv"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// readStanzas is the read loop of a bound session: frame, check shape,
// stamp from, route (DESIGN.md §3 steps 1-5).
func (c *Conn) readStanzas() error {
	for {
		ev, err := c.dec.Next()
		if err == nil && c.framed != nil {
			err = c.framed.endEvent(c.dec) // one element per message
		}
		if err != nil {
			if err = c.readTimedOut(err); err != nil {
				return err
			}
			continue
		}
		if ev.Kind == xmlstream.StreamEnd {
			return errStreamClosed
		}
		switch ev.Elem.Space {
		case NSSM:
			if err := c.handleSM(ev.Elem); err != nil {
				return err
			}
			continue
		case NSCSI:
			// Nonzas (XEP-0352 §4.2): not counted, not answered.
			if err := c.handleCSI(ev.Elem); err != nil {
				return err
			}
			continue
		}
		c.handling = ev.Elem
		if err := c.handleStanza(ev.Elem); err != nil {
			return err
		}
		// Routed, stored or answered: handled (XEP-0198 §4), or once
		// the asynchronous writes it is waiting for are durable.
		c.handled()
	}
}

// handleStanza processes one top-level element of a bound session.
func (c *Conn) handleStanza(el *stanza.Element) error {
	kind := stanza.KindOf(el)
	if kind == stanza.KindNone || el.Space != stanza.NSClient {
		// RFC 6120 §4.9.3.24.
		return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanzaType, Text: "unexpected element {" + el.Space + "}" + el.Local}
	}
	// RFC 6120 §8.1.2.1: the server stamps the sender's full JID; a 'from'
	// naming anyone else is invalid-from.
	// An empty 'from' (which some libraries write for an unset address) is
	// treated as absent: it is overwritten below.
	if f := el.Attr("from"); f != "" {
		if f != c.jid.String() {
			fj, err := jid.Parse(f)
			if err != nil || (fj != c.jid && fj != c.jid.Bare()) {
				return &stanza.StreamError{Condition: stanza.StreamInvalidFrom, Text: "from does not match the bound JID"}
			}
		}
	}
	el.SetAttr("from", c.jid.String())

	var to jid.JID
	if el.HasAttr("to") {
		s := el.Attr("to")
		if s == "" {
			// §4.9.3.14: an addressing attribute with no value.
			return &stanza.StreamError{Condition: stanza.StreamImproperAddressing, Text: "empty to"}
		}
		var err error
		if to, err = jid.Parse(s); err != nil {
			// §8.3.3.8: the address cannot be prepared.
			c.reply(el, stanza.NewError(stanza.JIDMalformed, ""))
			return nil
		}
		if to.String() != s {
			el.SetAttr("to", to.String())
		}
	}

	switch kind {
	case stanza.KindIQ:
		if !c.checkIQ(el) {
			return nil
		}
		if to.IsZero() || to == c.srv.cfg.Domain {
			if p := el.FirstChild(); p != nil && p.Space == stanza.NSSession && p.Local == "session" && el.Attr("type") == stanza.TypeSet {
				// RFC 3921 §3 session establishment, kept as a no-op for
				// old clients (RFC 6121 Appendix E).
				c.Send(stanza.IQResult(el, nil))
				return nil
			}
		}
	case stanza.KindPresence:
		if !c.checkPresence(el, to) {
			return nil
		}
		if to.IsZero() {
			// Broadcast presence (RFC 6121 §4.2, §4.5): only available
			// and unavailable presence change the session's state; the
			// presence module does the broadcast. Other types without a
			// 'to' address nobody and are dropped.
			ready := false
			switch el.Attr("type") {
			case "":
				prio := presencePriority(el)
				ready = prio >= 0 && (!c.sess.Available() || c.sess.Priority() < 0)
				c.sess.SetLastPresence(el)
				c.sess.SetPresence(true, prio)
			case stanza.TypeUnavailable:
				c.sess.SetPresence(false, 0)
				c.sess.SetLastPresence(nil)
			default:
				return nil
			}
			c.srv.cfg.Router.RouteFrom(c.ctx, el, c.jid, to)
			if ready {
				c.srv.cfg.Modules.Ready(c.ctx, c.sess)
			}
			return nil
		}
	}
	c.srv.cfg.Router.RouteFrom(c.ctx, el, c.jid, to)
	return nil
}

// checkIQ enforces RFC 6120 §8.2.3: an id, a known type, and exactly one
// payload child in a get or set.
func (c *Conn) checkIQ(iq *stanza.Element) bool {
	switch iq.Attr("type") {
	case stanza.TypeGet, stanza.TypeSet:
		if iq.Attr("id") == "" || iq.CountChildElements() != 1 {
			c.reply(iq, stanza.NewError(stanza.BadRequest, "an IQ get or set needs an id and exactly one child"))
			return false
		}
	case stanza.TypeResult, stanza.TypeError:
		if iq.Attr("id") == "" {
			return false // nothing can be correlated with it; drop
		}
	default:
		c.reply(iq, stanza.NewError(stanza.BadRequest, "unknown IQ type"))
		return false
	}
	return true
}

// checkPresence rejects presence types RFC 6121 §4.7.1 does not define and
// priorities outside -128..127 (§4.7.2.3).
func (c *Conn) checkPresence(p *stanza.Element, to jid.JID) bool {
	switch p.Attr("type") {
	case "", stanza.TypeUnavailable, stanza.TypeSubscribe, stanza.TypeSubscribed,
		stanza.TypeUnsubscribe, stanza.TypeUnsubscribed, stanza.TypeProbe, stanza.TypeError:
	default:
		c.reply(p, stanza.NewError(stanza.BadRequest, "unknown presence type"))
		return false
	}
	if pr := p.Child(stanza.NSClient, "priority"); pr != nil {
		if n, err := strconv.Atoi(pr.Text()); err != nil || n < -128 || n > 127 {
			c.reply(p, stanza.NewError(stanza.BadRequest, "priority must be an integer from -128 to 127"))
			return false
		}
	}
	return true
}

// presencePriority returns the priority of an already checked presence.
func presencePriority(p *stanza.Element) int {
	if pr := p.Child(stanza.NSClient, "priority"); pr != nil {
		n, _ := strconv.Atoi(pr.Text())
		return n
	}
	return 0
}

// reply sends an error reply for el to this session.
func (c *Conn) reply(el *stanza.Element, e stanza.Error) {
	r := stanza.ErrorReply(el, e)
	if r == nil {
		return
	}
	c.Send(r)
}

// startIdleTimer arms idle detection when a module wants it (XEP-0199
// client pings are sent by the ping module's idle hook).
func (c *Conn) startIdleTimer() {
	hook, after := c.srv.cfg.Modules.Idle()
	if hook == nil {
		return
	}
	// Created stopped and armed after assignment, so the callback always
	// sees c.idleTimer set.
	c.idleTimer = time.AfterFunc(time.Duration(1<<62), func() {
		quiet := time.Since(time.Unix(0, c.lastRead.Load()))
		// Re-arming happens under wmu so that finish, which sets finished
		// under wmu before stopping the timer, always wins.
		c.wmu.Lock()
		if c.finished {
			c.wmu.Unlock()
			return
		}
		if quiet < after {
			c.idleTimer.Reset(after - quiet)
			c.wmu.Unlock()
			return
		}
		c.idleTimer.Reset(after)
		closing := c.closing
		c.wmu.Unlock()
		if !closing {
			hook(c.ctx, c.sess) // outside wmu: the hook sends to this session
		}
	})
	c.idleTimer.Reset(after)
}
