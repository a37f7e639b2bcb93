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
	if c.tlsConn != nil || c.authenticated {
		// §5.4.2.2: failure, and the stream is closed.
		c.writeRaw([]byte(`<failure xmlns='` + stanza.NSTLS + `'/></stream:stream>`))
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
	tc := tls.Server(c.nc, c.srv.tlsConfig)
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
	info := auth.ConnInfo{Domain: c.srv.cfg.Domain.Domain(), ServerCert: c.srv.cfg.ServerCert, PlusUnsupported: c.plusUnsupported}
	if c.tlsConn != nil {
		st := c.tlsConn.ConnectionState()
		info.TLS = &st
	}
	return info
}
