package c2s

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/mote-xmpp/mote/internal/auth"
	"github.com/mote-xmpp/mote/stanza"
)

// startTLS answers <starttls/> (RFC 6120 §5.4.2) and upgrades the
// connection; the stream then restarts over TLS (§5.4.3.3).
func (c *Conn) startTLS() error {
	if c.tlsConn != nil || c.authenticated || c.framed != nil {
		// §5.4.2.2: failure, and the stream is closed. On WebSocket TLS
		// is the transport's (RFC 7395 §3.9).
		buf, err := c.endElement([]byte(`<failure xmlns='` + stanza.NSTLS + `'/>`))
		if err == nil {
			c.writeRaw(c.appendClose(buf))
		}
		c.wmu.Lock()
		c.closing, c.closed = true, true
		c.wmu.Unlock()
		return errAlreadyClosed
	}
	if c.dec.Buffered() > 0 {
		// Bytes pipelined after <starttls/> would be read as plaintext
		// after the upgrade; the client is not allowed to send them
		// (§5.4.3.3) and they are a known injection vector.
		return &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "data after starttls"}
	}
	if err := c.writeRaw([]byte(`<proceed xmlns='` + stanza.NSTLS + `'/>`)); err != nil {
		return err
	}
	if err := c.handshake(); err != nil {
		if errors.Is(err, errClosing) {
			return err
		}
		c.logger().Debug("tls handshake failed", "err", err)
		c.wmu.Lock()
		c.closing, c.closed = true, true
		c.wmu.Unlock()
		return errAlreadyClosed
	}
	c.dec.Reset(activityReader{c})
	return nil
}

// handshake runs the TLS server handshake with its own deadline.
func (c *Conn) handshake() error {
	// The configuration is the server's, with a GetCertificate that
	// records the certificate this connection presents: the one its
	// tls-server-end-point channel binding must use, even if another is
	// loaded meanwhile.
	cfg := c.srv.tlsConfig.Clone()
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert := c.srv.cfg.Certificate()
		c.serverCert = cert.Leaf
		return cert, nil
	}
	tc := tls.Server(c.nc, cfg)
	// A deadline, not a context derived from c.ctx: that would leave a
	// child map in c.ctx for the connection's lifetime. Close wakes the
	// handshake by expiring the deadline.
	if err := c.setDeadline(time.Now().Add(c.srv.cfg.C2S.TLSHandshakeTimeout), true); err != nil {
		return err
	}
	if err := tc.Handshake(); err != nil {
		if c.isClosing() {
			return errClosing
		}
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.tlsConn = tc
	c.conn = tc
	c.streamOpen = false
	if c.closing {
		return errClosing
	}
	c.nc.SetDeadline(time.Time{})
	return nil
}

// connInfo describes the connection for SASL.
func (c *Conn) connInfo() auth.ConnInfo {
	sc := c.serverCert
	if sc == nil && c.framed != nil {
		// wss: the HTTP listener's handshake used the certificate current
		// then; a reload in between makes tls-server-end-point fail, and
		// the client may try again.
		sc = c.srv.cfg.Certificate().Leaf
	}
	return auth.ConnInfo{Domain: c.srv.cfg.Domain.Domain(), ServerCert: sc,
		PlusUnsupported: c.plusUnsupported, TLS: c.tlsState()}
}
