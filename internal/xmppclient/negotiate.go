package xmppclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// Login is how a client negotiates its stream (RFC 6120 §4.3).
type Login struct {
	Domain string // the server's domain: the stream's to (§4.7.2)
	// From is the stream's from once the stream is secured (§4.7.1),
	// usually the client's bare JID; "" sends none.
	From string
	// TLS is the client's TLS configuration; nil for a plain TCP stream,
	// which the server must allow. Its NextProtos is the caller's: direct
	// TLS asks for "xmpp-client" (XEP-0368 §4).
	TLS *tls.Config
	// DirectTLS makes the handshake the first thing on the connection
	// (XEP-0368) instead of STARTTLS (§5).
	DirectTLS bool
	User      string        // the authentication identity, usually the JID's localpart
	SASL      Authenticator // authenticates User (§6); must not be nil
	// Timeout bounds the whole negotiation, with the context's deadline;
	// 0 leaves only the context's.
	Timeout time.Duration
}

// Negotiate negotiates the stream of c, a connection whose Raw and NC are
// set: TLS, directly or by STARTTLS, unless l.TLS is nil; SASL; and then
// establish, called with the features of the authenticated stream, which
// binds a resource (Bind) or resumes a session. Features are looked up by
// name, so their order does not matter.
//
// The negotiation is bounded by l.Timeout and ends when ctx does (see
// Conn.Bound); after success, c has no deadline and ctx no longer
// touches it. After an error the caller closes c.
func (l *Login) Negotiate(ctx context.Context, c *Conn, establish func(features *stanza.Element) error) error {
	end := c.Bound(ctx, l.Timeout)
	if err := l.negotiate(c, establish); err != nil {
		end()
		return err
	}
	return end()
}

func (l *Login) negotiate(c *Conn, establish func(features *stanza.Element) error) error {
	secure := false
	if l.TLS != nil && l.DirectTLS {
		if err := c.handshake(l.TLS); err != nil {
			return err
		}
		secure = true
	}
	c.Dec = xmlstream.NewDecoder(c.NC, xmlstream.DefaultLimits)
	authed := false
	for {
		features, err := l.openStream(c, secure)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		switch {
		case !secure && l.TLS != nil:
			if err := c.startTLS(l.TLS, features); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
			c.Dec.Reset(c.NC) // RFC 6120 §5.4.3.3: a fresh stream over TLS
			secure = true
		case !authed:
			if err := l.SASL.Authenticate(c, Mechanisms(features), l.User); err != nil {
				return fmt.Errorf("sasl: %w", err)
			}
			c.Dec.Restart() // RFC 6120 §6.4.6
			authed = true
		default:
			return establish(features)
		}
	}
}

// openStream sends a stream header and returns the server's features
// (RFC 6120 §4.2, §4.3.2). Once the stream is secured, the header names
// l.From as its from (§4.7.1).
func (l *Login) openStream(c *Conn, secure bool) (*stanza.Element, error) {
	b := []byte(`<?xml version='1.0'?><stream:stream to='`)
	b = stanza.AppendEscaped(b, l.Domain, true)
	if secure && l.From != "" {
		b = append(b, `' from='`...)
		b = stanza.AppendEscaped(b, l.From, true)
	}
	b = append(b, `' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`...)
	if err := c.Write(b); err != nil {
		return nil, err
	}
	ev, err := c.Dec.Next()
	if err != nil {
		return nil, err
	}
	if ev.Kind != xmlstream.StreamStart {
		return nil, errors.New("no stream header from the server")
	}
	el, err := c.Next()
	if err != nil {
		return nil, err
	}
	if el.Space != stanza.NSStream || el.Local != "features" {
		return nil, fmt.Errorf("want stream features, got <%s/>", el.Local)
	}
	return el, nil
}

// startTLS asks for TLS and runs the handshake (RFC 6120 §5.4.2).
func (c *Conn) startTLS(cfg *tls.Config, features *stanza.Element) error {
	if features.Child(stanza.NSTLS, "starttls") == nil {
		return errors.New("not offered")
	}
	if err := c.WriteString(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`); err != nil {
		return err
	}
	el, err := c.Next()
	if err != nil {
		return err
	}
	if el.Space != stanza.NSTLS || el.Local != "proceed" {
		return fmt.Errorf("got <%s/>", el.Local)
	}
	return c.handshake(cfg)
}

// handshake runs the TLS client handshake over Raw and makes NC the TLS
// connection.
func (c *Conn) handshake(cfg *tls.Config) error {
	tc := tls.Client(c.Raw, cfg)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.NC = tc
	return nil
}

// Where the tools look for a server unless told otherwise: the
// xmpp-client port (RFC 6120 §14.7) on the loopback, for the domain
// localhost.
const (
	DefaultAddr   = "127.0.0.1:5222"
	DefaultDomain = "localhost"
)
