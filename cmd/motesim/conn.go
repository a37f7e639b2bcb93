package main

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/xmppclient"
	"github.com/mote-xmpp/mote/stanza"
)

// Network timeouts.
const (
	dialTimeout  = 10 * time.Second // TCP connect
	loginTimeout = 30 * time.Second // from dial to a bound (or resumed) session
	writeTimeout = 10 * time.Second // one write
	closeWait    = 2 * time.Second  // the server's closing tag after ours
)

// conn is one connection of a device. During login the login goroutine
// owns it; afterwards its reader goroutine owns Dec, and the device
// writes (Conn.Write) under device.mu, which keeps the stream management
// count in step with the order on the wire.
type conn struct {
	xmppclient.Conn // the sockets, the decoder and the bound JID

	closing atomic.Bool   // the device ended the connection on purpose
	done    chan struct{} // closed when the reader ends
	err     error         // why the reader ended; read it after done is closed
}

// newConn returns the connection over the TCP socket raw.
func newConn(raw net.Conn) *conn {
	return &conn{Conn: xmppclient.Conn{Raw: raw, NC: raw, WriteTimeout: writeTimeout}, done: make(chan struct{})}
}

// errStale is returned for what the server sends on a connection the
// device left.
var errStale = errors.New("motesim: the device left this connection")

// stanzaErr describes an error stanza (RFC 6120 §8.3).
func stanzaErr(el *stanza.Element) error {
	if e, ok := stanza.ErrorFromElement(el); ok {
		return e
	}
	return stanza.NewError(stanza.UndefinedCondition, "")
}
