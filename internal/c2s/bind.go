package c2s

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// handlePreBind handles a stanza after authentication and before a
// resource is bound: the bind IQ (RFC 6120 §7) and the legacy session IQ.
// It reports whether a resource is now bound.
func (c *Conn) handlePreBind(el *stanza.Element) (bool, error) {
	if stanza.KindOf(el) == stanza.KindIQ && el.Attr("type") == stanza.TypeSet {
		if p := el.FirstChild(); p != nil && p.Space == stanza.NSBind && p.Local == "bind" {
			return c.bind(el, p)
		}
	}
	// §7.1: nothing else is processed before a resource is bound.
	return false, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "bind a resource first"}
}

// bind binds the requested or a generated resource (RFC 6120 §7.6, §7.7).
func (c *Conn) bind(iq, b *stanza.Element) (bool, error) {
	resource := ""
	if r := b.Child(stanza.NSBind, "resource"); r != nil {
		resource = r.Text()
	}
	var full jid.JID
	var err error
	if resource == "" {
		// §7.6: the server generates a resourcepart.
		full, err = c.userJID().WithResource(generateResource())
	} else {
		full, err = c.userJID().WithResource(resource)
	}
	if err != nil {
		// §7.7.2.1: a resourcepart that cannot be prepared.
		return false, c.replyPreBind(iq, stanza.NewError(stanza.BadRequest, "invalid resourcepart"))
	}
	res := stanza.IQResult(iq, stanza.NewElement(stanza.NSBind, "bind").Append(
		stanza.NewElement(stanza.NSBind, "jid").AppendText(full.String())))
	res.RemoveAttr("from")
	res.RemoveAttr("to")

	// Everything other goroutines may read is set before the session is
	// published, and the bind result is queued first (not yet written), so
	// that it precedes any stanza routed to the new session.
	c.jid = full
	c.sess = session.New(full, c)
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		return false, errClosing
	}
	c.conn.SetReadDeadline(time.Time{})
	c.queued = true
	c.queue = append(c.queue, res)
	c.queuedBytes += res.Size()
	c.wmu.Unlock()

	old, err := c.srv.cfg.Sessions.Bind(c.sess, c.srv.cfg.C2S.MaxSessionsPerAccount)
	if errors.Is(err, session.ErrTooManySessions) {
		c.wmu.Lock()
		c.queued = false
		c.queue, c.queuedBytes = c.queue[:0], 0
		closing := c.closing
		c.wmu.Unlock()
		c.sess, c.jid = nil, jid.JID{}
		if closing {
			// Close arrived meanwhile; the reader must now send its error.
			return false, errClosing
		}
		// §7.6.2.1: the account has reached its limit of sessions.
		return false, c.replyPreBind(iq, stanza.NewError(stanza.ResourceConstraint, "too many sessions for this account"))
	}
	if old != nil {
		// §7.7.2.2: the new session replaces the one with the same full
		// JID, which gets the conflict stream error.
		old.Close(&stanza.StreamError{Condition: stanza.StreamConflict, Text: "replaced by a new session"})
	}
	// No longer pending: counted before the client can see the result.
	c.srv.donePending(c)
	c.wmu.Lock()
	c.startWriterLocked()
	c.wmu.Unlock()
	c.srv.cfg.Modules.SessionBound(c.ctx, c.sess)
	c.startIdleTimer()
	return true, nil
}

// userJID is the authenticated bare JID.
func (c *Conn) userJID() jid.JID {
	j, err := jid.New(c.username, c.srv.cfg.Domain.Domain(), "")
	if err != nil {
		// The username came from SASL normalised with the same rules.
		panic("c2s: authenticated username is not a valid localpart: " + err.Error())
	}
	return j
}

func generateResource() string {
	var b [8]byte
	rand.Read(b[:])
	return "mote-" + hex.EncodeToString(b[:])
}

// replyPreBind writes an IQ error reply before the session exists.
func (c *Conn) replyPreBind(iq *stanza.Element, e stanza.Error) error {
	r := stanza.ErrorReply(iq, e)
	if r == nil {
		return nil
	}
	return c.writeRaw(r.AppendXML(nil, c.contentNS()))
}
