package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/mote-xmpp/mote/internal/xmppclient"
	"github.com/mote-xmpp/mote/stanza"
)

// session is what a login established on a new connection.
type session struct {
	c       *conn
	resumed bool   // the former session was resumed (XEP-0198 §5)
	h       uint32 // with resumed: the server's h
	failed  bool   // resumption was asked for and failed: this is a new session
	sm      bool   // stream management is enabled on the new session
	smID    string // its SM-ID; "" when it cannot be resumed
	// early are the stanzas the server sent between binding and
	// <enabled/>: not counted by stream management, handled first.
	early []*stanza.Element
}

// resumeFrom is the session a login tries to resume: its SM-ID and the
// device's h.
type resumeFrom struct {
	id string
	h  uint32
}

// login connects device d and negotiates (RFC 6120 §4): direct TLS
// (XEP-0368) or STARTTLS (§5) with the device's certificate, SASL (§6),
// and then either the resumption of prev (XEP-0198 §5) or resource binding
// (§7) and stream management (XEP-0198 §3). Once secured, the stream
// names the device's bare JID as its from (§4.7.1). Initial presence is
// the device's to send. The whole login is bounded by loginTimeout and
// ends when ctx does.
func (s *Sim) login(ctx context.Context, d *device, prev *resumeFrom) (*session, error) {
	raw, err := (&net.Dialer{Timeout: dialTimeout}).DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, err
	}
	c := newConn(raw)
	l := xmppclient.Login{
		Domain:    s.cfg.Domain,
		From:      d.bare,
		TLS:       d.tls,
		DirectTLS: s.cfg.DirectTLS,
		User:      d.name,
		SASL:      s.cfg.auth,
		Timeout:   loginTimeout,
	}
	var sess *session
	if err := l.Negotiate(ctx, &c.Conn, func(features *stanza.Element) (err error) {
		sess, err = s.establish(c, features, prev)
		return err
	}); err != nil {
		raw.Close()
		return nil, err
	}
	return sess, nil
}

// establish resumes prev (XEP-0198 §5) or, without one or when that
// fails, binds the resource (RFC 6120 §7) and enables stream management
// with resumption (XEP-0198 §3) when the server offers it.
func (s *Sim) establish(c *conn, features *stanza.Element, prev *resumeFrom) (*session, error) {
	smOffered := features.Child(NSSM, "sm") != nil
	sess := &session{c: c}
	if prev != nil {
		sess.failed = true
		if smOffered {
			ok, h, err := resume(c, prev)
			if err != nil {
				return nil, fmt.Errorf("resume: %w", err)
			}
			if ok {
				sess.resumed, sess.failed, sess.h = true, false, h
				return sess, nil
			}
		}
	}
	if err := c.Bind(features, s.cfg.Resource); err != nil {
		return nil, err
	}
	if !smOffered {
		return sess, nil
	}
	if err := c.WriteString(`<enable xmlns='` + NSSM + `' resume='true'/>`); err != nil {
		return nil, err
	}
	for {
		el, err := c.Next()
		if err != nil {
			return nil, fmt.Errorf("enable: %w", err)
		}
		if stanza.KindOf(el) != stanza.KindNone {
			sess.early = append(sess.early, el)
			continue
		}
		if el.Space != NSSM {
			return nil, fmt.Errorf("enable: unexpected <%s/>", el.Local)
		}
		switch el.Local {
		case "enabled":
			sess.sm = true
			if r := el.Attr("resume"); r == "true" || r == "1" {
				sess.smID = el.Attr("id")
			}
			return sess, nil
		case "failed":
			return sess, nil // the session goes on without stream management
		default:
			return nil, fmt.Errorf("enable: unexpected <%s/>", el.Local)
		}
	}
}

// resume asks for the resumption of prev and reports whether the server
// resumed it, with the server's h (XEP-0198 §5). <failed/> is not an
// error: the stream goes on to bind a new session.
func resume(c *conn, prev *resumeFrom) (ok bool, h uint32, err error) {
	b := []byte(`<resume xmlns='` + NSSM + `' previd='`)
	b = stanza.AppendEscaped(b, prev.id, true)
	b = append(b, `' h='`...)
	b = strconv.AppendUint(b, uint64(prev.h), 10)
	b = append(b, `'/>`...)
	if err := c.Write(b); err != nil {
		return false, 0, err
	}
	el, err := c.Next()
	if err != nil {
		return false, 0, err
	}
	if el.Space != NSSM {
		return false, 0, fmt.Errorf("unexpected <%s/>", el.Local)
	}
	switch el.Local {
	case "resumed":
		h, ok := parseH(el)
		if !ok {
			return false, 0, errors.New("<resumed/> without a valid h")
		}
		return true, h, nil
	case "failed":
		return false, 0, nil
	}
	return false, 0, fmt.Errorf("unexpected <%s/>", el.Local)
}
