package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// login opens connection number idx (0-based, which picks the source
// address) and negotiates a session for user: stream (RFC 6120 §4),
// STARTTLS or direct TLS (§5, XEP-0368), SASL (§6), resource binding (§7),
// the legacy session IQ when the server requires it (RFC 3921 §3), and
// initial presence (RFC 6121 §4.2) unless o.NoPresence. The reader is not
// started.
//
// Features are looked up by name, so their order does not matter.
func (o *Options) login(ctx context.Context, idx int, user string, st *stats) (*conn, error) {
	raw, err := o.dial(ctx, idx)
	if err != nil {
		return nil, err
	}
	c := &conn{raw: raw, nc: raw, st: st}
	if err := o.negotiate(ctx, c, user); err != nil {
		raw.Close()
		return nil, fmt.Errorf("%s: %w", user, err)
	}
	return c, nil
}

func (o *Options) negotiate(ctx context.Context, c *conn, user string) error {
	deadline := time.Now().Add(loginTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.raw.SetDeadline(deadline)
	// A cancelled run interrupts the login at once.
	stop := context.AfterFunc(ctx, func() { c.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	secure := false
	if o.TLS == TLSDirect {
		if err := o.handshake(c); err != nil {
			return err
		}
		secure = true
	}
	c.dec = xmlstream.NewDecoder(c.nc, xmlstream.DefaultLimits)
	authed := false
	for {
		features, err := o.openStream(c)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		switch {
		case !secure && o.TLS == TLSStartTLS:
			if err := o.startTLS(c, features); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
			c.dec.Reset(c.nc) // RFC 6120 §5.4.3.3: a fresh stream over TLS
			secure = true
		case !authed:
			if err := o.authenticate(c, features, user); err != nil {
				return fmt.Errorf("sasl: %w", err)
			}
			c.dec.Restart() // RFC 6120 §6.4.6
			authed = true
		default:
			if err := o.bind(c, features); err != nil {
				return err
			}
			if err := ctxErr(ctx); err != nil {
				return err
			}
			c.raw.SetDeadline(time.Time{})
			return nil
		}
	}
}

// startTLS asks for TLS and runs the handshake (RFC 6120 §5.4.2).
func (o *Options) startTLS(c *conn, features *stanza.Element) error {
	if features.Child(stanza.NSTLS, "starttls") == nil {
		return errors.New("not offered")
	}
	if err := c.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`); err != nil {
		return err
	}
	el, err := c.next()
	if err != nil {
		return err
	}
	if el.Space != stanza.NSTLS || el.Local != "proceed" {
		return fmt.Errorf("got <%s/>", el.Local)
	}
	return o.handshake(c)
}

// handshake runs the TLS client handshake. Servers under test use self-
// signed certificates, so the chain is not verified.
func (o *Options) handshake(c *conn) error {
	cfg := &tls.Config{
		ServerName:         o.Domain,
		InsecureSkipVerify: true,
	}
	if o.TLS == TLSDirect {
		cfg.NextProtos = []string{"xmpp-client"} // XEP-0368 §4
	}
	if !o.PostQuantum {
		cfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	tc := tls.Client(c.raw, cfg)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.nc = tc
	return nil
}

// openStream sends a stream header and returns the server's features
// (RFC 6120 §4.2, §4.3.2).
func (o *Options) openStream(c *conn) (*stanza.Element, error) {
	if err := c.write(`<?xml version='1.0'?><stream:stream to='` + string(appendEscaped(nil, o.Domain)) +
		`' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`); err != nil {
		return nil, err
	}
	ev, err := c.dec.Next()
	if err != nil {
		return nil, err
	}
	if ev.Kind != xmlstream.StreamStart {
		return nil, errors.New("no stream header from the server")
	}
	el, err := c.next()
	if err != nil {
		return nil, err
	}
	if el.Space != stanza.NSStream || el.Local != "features" {
		return nil, fmt.Errorf("want stream features, got <%s/>", el.Local)
	}
	return el, nil
}

// authenticate runs SASL with the configured mechanism (RFC 6120 §6.4).
func (o *Options) authenticate(c *conn, features *stanza.Element, user string) error {
	mechs := features.Child(stanza.NSSASL, "mechanisms")
	if mechs == nil {
		return errors.New("not offered")
	}
	offered := false
	for _, m := range mechs.ChildElements() {
		if m.Local == "mechanism" && strings.TrimSpace(m.Text()) == o.Mech {
			offered = true
		}
	}
	if !offered {
		return fmt.Errorf("server does not offer %s", o.Mech)
	}
	if o.Mech == MechPLAIN {
		// RFC 4616: [authzid] NUL authcid NUL passwd.
		msg := "\x00" + user + "\x00" + o.Password
		if err := c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` +
			base64.StdEncoding.EncodeToString([]byte(msg)) + `</auth>`); err != nil {
			return err
		}
		el, err := c.next()
		if err != nil {
			return err
		}
		return saslOutcome(el)
	}
	hash := scram.SHA1
	if o.Mech == MechSCRAMSHA256 {
		hash = scram.SHA256
	}
	cl, err := hash.NewClient(user, o.Password, "")
	if err != nil {
		return fmt.Errorf("scram: %w", err)
	}
	// RFC 5802 without channel binding: the gs2 flag is "n".
	conv := cl.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return fmt.Errorf("scram: %w", err)
	}
	if err := c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='` + o.Mech + `'>` +
		base64.StdEncoding.EncodeToString([]byte(first)) + `</auth>`); err != nil {
		return err
	}
	for {
		el, err := c.next()
		if err != nil {
			return err
		}
		if el.Space != stanza.NSSASL || (el.Local != "challenge" && el.Local != "success") {
			return saslOutcome(el)
		}
		data, err := saslData(el)
		if err != nil {
			return fmt.Errorf("bad base64 from the server: %w", err)
		}
		if el.Local == "success" {
			// RFC 6120 §6.4.6: the server-final message may come with
			// <success/> or in a last challenge.
			if len(data) > 0 && !conv.Done() {
				if _, err := conv.Step(string(data)); err != nil {
					return fmt.Errorf("scram: %w", err)
				}
			}
			if !conv.Valid() {
				return errors.New("scram: the server did not prove it knows the password")
			}
			return nil
		}
		resp, err := conv.Step(string(data))
		if err != nil {
			c.write(`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
			return fmt.Errorf("scram: %w", err)
		}
		if err := c.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` +
			base64.StdEncoding.EncodeToString([]byte(resp)) + `</response>`); err != nil {
			return err
		}
	}
}

// saslData decodes the base64 payload of a challenge or success; "=" is
// explicitly empty data (RFC 6120 §6.4.2).
func saslData(el *stanza.Element) ([]byte, error) {
	text := strings.TrimSpace(el.Text())
	if text == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(text)
}

// saslOutcome turns the server's last SASL element into nil for <success/>
// or an error naming the failure condition.
func saslOutcome(el *stanza.Element) error {
	if el.Space == stanza.NSSASL && el.Local == "success" {
		return nil
	}
	if el.Space == stanza.NSSASL && el.Local == "failure" {
		cond := "failure"
		if f := el.FirstChild(); f != nil {
			cond = f.Local
		}
		return errors.New(cond)
	}
	return fmt.Errorf("unexpected <%s/>", el.Local)
}

// bind binds a resource (RFC 6120 §7), opens the legacy session if the
// server requires it, and sends initial presence unless o.NoPresence.
func (o *Options) bind(c *conn, features *stanza.Element) error {
	if features.Child(stanza.NSBind, "bind") == nil {
		return errors.New("bind: not offered")
	}
	req := `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`
	if o.Resource != "" {
		req = `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` +
			string(appendEscaped(nil, o.Resource)) + `</resource></bind></iq>`
	}
	res, err := c.call(req, "bind1")
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if b := res.Child(stanza.NSBind, "bind"); b != nil {
		if j := b.Child(stanza.NSBind, "jid"); j != nil {
			c.jid = strings.TrimSpace(j.Text())
		}
	}
	if c.jid == "" {
		return errors.New("bind: no JID in the result")
	}
	// RFC 6121 dropped the session IQ; servers that still list it without
	// <optional/> expect it (draft-cridland-xmpp-session-01).
	if s := features.Child(stanza.NSSession, "session"); s != nil && s.Child(stanza.NSSession, "optional") == nil {
		if _, err := c.call(`<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`, "sess1"); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	if o.NoPresence {
		return nil
	}
	pres := `<presence/>`
	if o.Priority != nil {
		pres = `<presence><priority>` + strconv.Itoa(*o.Priority) + `</priority></presence>`
	}
	return c.write(pres)
}

// write sends s during login, when only the login goroutine uses c.
func (c *conn) write(s string) error {
	_, err := c.nc.Write([]byte(s))
	return err
}

// next returns the next top-level element during login.
func (c *conn) next() (*stanza.Element, error) {
	for {
		ev, err := c.dec.Next()
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case xmlstream.Element:
			if ev.Elem.Space == stanza.NSStream && ev.Elem.Local == "error" {
				return nil, streamErr(ev.Elem)
			}
			return ev.Elem, nil
		case xmlstream.StreamEnd:
			return nil, errStreamEnd
		}
	}
}

// call sends an IQ request with the given id during login and returns its
// result, skipping anything else the server sends meanwhile.
func (c *conn) call(req, id string) (*stanza.Element, error) {
	el, err := c.exchange(req, id)
	if err != nil {
		return nil, err
	}
	if el.Attr("type") == stanza.TypeResult {
		return el, nil
	}
	return nil, stanzaErr(el)
}

// exchange sends an IQ request with the given id while no reader runs and
// returns its reply, a result or an error IQ, skipping anything else the
// server sends meanwhile.
func (c *conn) exchange(req, id string) (*stanza.Element, error) {
	if err := c.write(req); err != nil {
		return nil, err
	}
	for {
		el, err := c.next()
		if err != nil {
			return nil, err
		}
		if stanza.KindOf(el) == stanza.KindIQ && el.Attr("id") == id && isReply(el) {
			return el, nil
		}
	}
}
