package c2s

import (
	"encoding/base64"
	"errors"
	"time"

	"github.com/mote-xmpp/mote/internal/auth"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// authenticate runs one SASL exchange started by <auth/> (RFC 6120 §6.4).
// It returns true after success, when the stream restarts; false after a
// failure the client may retry; an error closes the stream.
func (c *Conn) authenticate(el *stanza.Element) (bool, error) {
	if c.authenticated {
		return false, &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "already authenticated"}
	}
	if !c.secure() && c.srv.cfg.C2S.RequireTLS {
		// §5.3.1 and §6.4.6: TLS first (on WebSocket: wss, RFC 7395 §3.9).
		return false, c.connFailure(el, "encryption-required", nil)
	}
	// Back-off: an address with recent failures waits before each new
	// attempt is even looked at.
	if err := c.pause(c.srv.authFails.Delay(c.ipKey(), time.Now())); err != nil {
		return false, err
	}
	in, err := decodeSASL(el.Text())
	if err != nil {
		return false, c.connFailure(el, "incorrect-encoding", nil)
	}
	ex, err := c.srv.cfg.Auth.Start(c.ctx, el.Attr("mechanism"), c.connInfo())
	if err != nil {
		return false, c.saslFailure(err, nil)
	}
	for {
		out, done, err := ex.Step(c.ctx, in)
		if err != nil {
			return false, c.saslFailure(err, ex)
		}
		if done {
			return true, c.saslSuccess(ex.Username(), out)
		}
		// §6.4.3: a challenge; empty data is sent as "=".
		if err := c.writeRaw(saslElement("challenge", out, true)); err != nil {
			return false, err
		}
		ev, err := c.next()
		if err != nil {
			return false, err
		}
		switch {
		case ev.Kind == xmlstream.StreamEnd:
			return false, errStreamClosed
		case ev.Elem.Space == stanza.NSSASL && ev.Elem.Local == "response":
			if in, err = decodeSASL(ev.Elem.Text()); err != nil {
				return false, c.connFailure(el, "incorrect-encoding", ex)
			}
		case ev.Elem.Space == stanza.NSSASL && ev.Elem.Local == "abort":
			// §6.4.4: the client aborts.
			return false, c.connFailure(el, "aborted", ex)
		case stanza.KindOf(ev.Elem) != stanza.KindNone:
			return false, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "authenticate first"}
		default:
			return false, &stanza.StreamError{Condition: stanza.StreamUnsupportedStanzaType, Text: "unexpected element during SASL"}
		}
	}
}

// decodeSASL decodes base64 SASL data; "=" is an empty response and no
// text at all is no response (RFC 6120 §6.4.2).
func decodeSASL(s string) ([]byte, error) {
	switch s {
	case "":
		return nil, nil
	case "=":
		return []byte{}, nil
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// saslElement builds <name>base64(data)</name> in the SASL namespace.
func saslElement(name string, data []byte, emptyAsEquals bool) []byte {
	buf := []byte("<" + name + " xmlns='" + stanza.NSSASL + "'>")
	switch {
	case len(data) > 0:
		buf = base64.StdEncoding.AppendEncode(buf, data)
	case emptyAsEquals:
		buf = append(buf, '=')
	}
	return append(buf, "</"+name+">"...)
}

// connFailure is saslFailure for a failure the connection decides itself
// (not package auth), which it reports to the metrics.
func (c *Conn) connFailure(auth0 *stanza.Element, condition string, ex auth.Exchange) error {
	c.srv.cfg.Auth.Failed(auth0.Attr("mechanism"), condition)
	return c.saslFailure(&auth.Failure{Condition: condition}, ex)
}

// saslFailure reports a failed exchange (§6.4.5) and closes the stream
// after too many (policy-violation, §6.4.5 last paragraph). A wrong
// password counts against the address and the account tried: once either
// has failed more than a few times recently, the failure is answered only
// after an exponentially growing delay (c2s.auth_backoff_max).
func (c *Conn) saslFailure(err error, ex auth.Exchange) error {
	if errors.Is(err, auth.ErrUnsupportedChannelBinding) {
		c.plusUnsupported = true
	}
	var f *auth.Failure
	if !errors.As(err, &f) {
		c.logger().Error("sasl exchange failed", "err", err)
		f = &auth.Failure{Condition: "temporary-auth-failure"}
	}
	c.authFailures++
	if f.Condition == auth.NotAuthorized {
		now := time.Now()
		fails := c.srv.authFails
		fails.Record(c.ipKey(), now)
		d := fails.Delay(c.ipKey(), now)
		if ex != nil && ex.Attempted() != "" {
			acct := "account:" + ex.Attempted()
			fails.Record(acct, now)
			d = max(d, fails.Delay(acct, now))
		}
		if err := c.pause(d); err != nil {
			return err
		}
	}
	fe := stanza.NewElement(stanza.NSSASL, "failure").Append(stanza.NewElement(stanza.NSSASL, f.Condition))
	if f.Text != "" {
		t := stanza.NewElement(stanza.NSSASL, "text")
		t.Attrs = append(t.Attrs, stanza.Attr{Space: stanza.NSXML, Local: "lang", Value: "en"})
		fe.Append(t.AppendText(f.Text))
	}
	if err := c.writeRaw(fe.AppendXML(nil, stanza.NSClient)); err != nil {
		return err
	}
	if c.authFailures >= c.srv.cfg.C2S.MaxAuthFailures {
		return &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "too many authentication failures"}
	}
	c.logger().Debug("sasl failure", "condition", f.Condition, "text", f.Text, "err", f.Err)
	return nil
}

// saslSuccess sends <success/> and prepares the restart (§6.4.6): the
// larger post-authentication limits apply from the new stream on.
func (c *Conn) saslSuccess(username string, additional []byte) error {
	c.authenticated = true
	c.username = username
	if err := c.writeRaw(saslElement("success", additional, false)); err != nil {
		return err
	}
	c.dec.Restart()
	c.dec.SetLimits(c.srv.postAuth)
	if c.framed != nil {
		c.framed.restart(c.srv.postAuth.MaxStanzaBytes) // RFC 7395 §3.7
	}
	c.wmu.Lock()
	c.streamOpen = false
	c.wmu.Unlock()
	return nil
}

// ipKey keys per-address limits.
func (c *Conn) ipKey() string { return "ip:" + c.ip.String() }
