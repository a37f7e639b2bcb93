package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"

	"github.com/mote-xmpp/mote/internal/xmppclient"
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
	c := &conn{Conn: xmppclient.Conn{Raw: raw, NC: raw}, st: st}
	l := xmppclient.Login{
		Domain:    o.Domain,
		TLS:       o.tlsConfig(),
		DirectTLS: o.TLS == TLSDirect,
		User:      user,
		SASL:      o.authenticator(),
		Timeout:   loginTimeout,
	}
	if err := l.Negotiate(ctx, &c.Conn, func(features *stanza.Element) error {
		return o.establish(&c.Conn, features)
	}); err != nil {
		raw.Close()
		return nil, fmt.Errorf("%s: %w", user, err)
	}
	return c, nil
}

// tlsConfig returns the TLS client configuration, nil for TLSNone.
// Servers under test use self-signed certificates, so the chain is not
// verified.
func (o *Options) tlsConfig() *tls.Config {
	if o.TLS == TLSNone {
		return nil
	}
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
	return cfg
}

// authenticator returns the SASL mechanism of o.Mech with o.Password.
func (o *Options) authenticator() xmppclient.Authenticator {
	if o.Mech == MechPLAIN {
		return xmppclient.Plain{Password: o.Password}
	}
	return xmppclient.SCRAM{Mech: o.Mech, Password: o.Password}
}

// establish binds a resource (RFC 6120 §7), opens the legacy session if
// the server requires it, and sends initial presence unless o.NoPresence.
func (o *Options) establish(c *xmppclient.Conn, features *stanza.Element) error {
	if err := c.Bind(features, o.Resource); err != nil {
		return err
	}
	// RFC 6121 dropped the session IQ; servers that still list it without
	// <optional/> expect it (draft-cridland-xmpp-session-01).
	if s := features.Child(stanza.NSSession, "session"); s != nil && s.Child(stanza.NSSession, "optional") == nil {
		res, err := c.Exchange(`<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`, "sess1")
		if err == nil && res.Attr("type") != stanza.TypeResult {
			err = stanzaErr(res)
		}
		if err != nil {
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
	return c.WriteString(pres)
}
