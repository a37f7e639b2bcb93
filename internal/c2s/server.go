// Package c2s serves client-to-server XMPP connections (RFC 6120): stream
// negotiation (negotiate.go), STARTTLS and direct TLS (starttls.go), SASL
// (sasl.go), resource binding (bind.go), and the read and write loops of a
// bound session (conn.go, stanza.go). The same code serves streams framed
// in messages, XMPP over WebSocket (RFC 7395; framing.go), whose transport
// is package websocket's.
//
// Concurrency: each connection has one reader goroutine (serve) that owns
// all negotiation state and reads stanzas, and at most one writer goroutine
// (writeLoop) started on demand while the outbound queue is non-empty.
// Lock order: Server.mu before Conn.wmu; no other lock is held while
// either is taken.
package c2s

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mote-xmpp/mote/internal/auth"
	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/limit"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/router"
	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Config holds what every connection shares.
type Config struct {
	Domain jid.JID
	C2S    config.C2SConfig
	// Certificate returns the server certificate, its Leaf set (for
	// tls-server-end-point channel binding). It is called at each TLS
	// handshake, so that a certificate reloaded (SIGHUP) serves the
	// connections that follow.
	Certificate func() *tls.Certificate
	Auth        *auth.Server
	Sessions    *session.Registry
	Router      *router.Router
	Modules     *module.Registry
	Logger      *slog.Logger
	// RequestClientCert asks TLS clients for a certificate (not required:
	// without one a client logs in with a password), for SASL EXTERNAL
	// (XEP-0178). The certificate is verified by package auth, at login.
	RequestClientCert bool
	// OnStreamError, if set, is called with the condition of each stream
	// error sent (for metrics).
	OnStreamError func(stanza.StreamCondition)
}

// Server accepts client connections on any number of listeners.
type Server struct {
	cfg       Config
	tlsConfig *tls.Config
	preAuth   xmlstream.Limits
	postAuth  xmlstream.Limits
	log       *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{} // guarded by mu
	conns     map[*Conn]struct{}        // guarded by mu
	pending   map[netip.Addr]int        // guarded by mu; unbound connections per IP
	nPending  int                       // guarded by mu; unbound connections in total
	authFails *limit.Failures           // SASL failures per IP and per account
	opening   int                       // guarded by mu; admitted, transport handshake running (framing.go)
	// byTransport counts s.conns by transport (Conn.transport) and state;
	// guarded by mu.
	byTransport [2]ConnState
	closing     bool // guarded by mu
	refused     atomic.Int64
	parked      atomic.Int64   // sessions waiting in the poller (park.go)
	parks       atomic.Int64   // times a session parked, ever
	sm          smManager      // resumable stream management sessions (sm.go)
	wg          sync.WaitGroup // one per serving connection and listener
}

// NewServer returns a server; call Serve for each listener.
func NewServer(c Config) *Server {
	// RFC 9325 / DEVELOPERS.md: TLS 1.2 minimum; Go prefers TLS 1.3 when the
	// client offers it. Go never negotiates TLS compression.
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return c.Certificate(), nil
	}}
	if c.RequestClientCert {
		tc.ClientAuth = tls.RequestClientCert
	}
	tc.NextProtos = []string{"xmpp-client"} // XEP-0368 §3 ALPN
	pre := xmlstream.PreAuthLimits
	pre.MaxStanzaBytes = c.C2S.MaxStanzaBytesPreAuth
	post := xmlstream.DefaultLimits
	post.MaxStanzaBytes = c.C2S.MaxStanzaBytes
	if post.MaxTokenBytes > post.MaxStanzaBytes {
		post.MaxTokenBytes = post.MaxStanzaBytes
	}
	if pre.MaxTokenBytes > pre.MaxStanzaBytes {
		pre.MaxTokenBytes = pre.MaxStanzaBytes
	}
	return &Server{
		cfg: c, tlsConfig: tc, preAuth: pre, postAuth: post, log: c.Logger,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*Conn]struct{}),
		pending:   make(map[netip.Addr]int),
		authFails: &limit.Failures{Free: 3, Base: 250 * time.Millisecond, Max: c.C2S.AuthBackoffMax,
			HalfLife: 5 * time.Minute, MaxKeys: 1 << 16},
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("c2s: server closed")

// Serve accepts connections on l until Shutdown. directTLS selects XEP-0368
// direct TLS (TLS before the stream) instead of STARTTLS.
func (s *Server) Serve(l net.Listener, directTLS bool) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Like net/http: back off on temporary accept errors
				// (EMFILE) instead of spinning.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newConn(s, nc, directTLS)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		if !s.admitLocked(c.ip) {
			// Refused before any work: a cheap defence against
			// connection floods (the limits are in the config).
			s.mu.Unlock()
			s.refused.Add(1)
			nc.Close()
			continue
		}
		s.pending[c.ip]++
		s.nPending++
		s.addLocked(c)
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// admitLocked reports whether the connection limits leave room for one
// more connection from ip (not yet in s.conns). s.mu is held.
func (s *Server) admitLocked(ip netip.Addr) bool {
	return len(s.conns)+s.opening < s.cfg.C2S.MaxConnections && s.nPending < s.cfg.C2S.MaxPending &&
		s.pending[ip] < s.cfg.C2S.MaxPendingPerIP
}

// addLocked adds c, counted as pending. s.mu is held.
func (s *Server) addLocked(c *Conn) {
	c.pending = true
	s.conns[c] = struct{}{}
	s.byTransport[c.transport()].Pending++
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.donePendingLocked(c)
	s.byTransport[c.transport()].Bound--
	s.mu.Unlock()
	s.wg.Done()
}

// donePending stops counting c among its IP's unbound connections.
func (s *Server) donePending(c *Conn) {
	s.mu.Lock()
	s.donePendingLocked(c)
	s.mu.Unlock()
}

func (s *Server) donePendingLocked(c *Conn) {
	if !c.pending {
		return
	}
	c.pending = false
	st := &s.byTransport[c.transport()]
	st.Pending--
	st.Bound++
	s.nPending--
	if s.pending[c.ip]--; s.pending[c.ip] <= 0 {
		delete(s.pending, c.ip)
	}
}

// TLSConfig returns a copy of the c2s listeners' TLS configuration (the
// current server certificate, TLS 1.2 minimum), for other listeners that
// serve the same certificate; they set their own NextProtos.
//
// Client certificates are not asked for there: a browser would offer the
// user a choice of certificates.
func (s *Server) TLSConfig() *tls.Config {
	tc := s.tlsConfig.Clone()
	tc.ClientAuth = tls.NoClientCert
	return tc
}

// Refused returns how many connections were refused at accept because of
// the connection limits.
func (s *Server) Refused() int64 { return s.refused.Load() }

// Shutdown stops accepting, sends every connection the system-shutdown
// stream error (RFC 6120 §4.9.3.21) and waits until they are closed or ctx
// ends, when the remaining sockets are closed hard.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	shutdown := &stanza.StreamError{Condition: stanza.StreamSystemShutdown, Text: "server is shutting down"}
	for _, c := range conns {
		c.Close(shutdown)
	}
	// Sessions waiting to be resumed end now: what their clients did not
	// acknowledge goes to offline storage while the modules still run.
	for _, st := range s.sm.all() {
		st.expire()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
			c.wake()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// isClosing reports whether Shutdown has begun.
func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Parked returns the number of sessions whose reader is parked.
func (s *Server) Parked() int { return int(s.parked.Load()) }

// Parks returns how many times a session parked since the server started.
func (s *Server) Parks() int64 { return s.parks.Load() }

// ConnCount returns the number of open connections, bound or not.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ConnCounts are the open connections by transport.
type ConnCounts struct {
	// TCP counts connections on the c2s listeners; WebSocket those on the
	// HTTP listeners (RFC 7395).
	TCP, WebSocket ConnState
}

// ConnState splits connections into those with a bound resource and the
// others (negotiating).
type ConnState struct{ Bound, Pending int }

// Counts returns the open connections by transport and state.
func (s *Server) Counts() ConnCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ConnCounts{TCP: s.byTransport[0], WebSocket: s.byTransport[1]}
}

// transport indexes Server.byTransport: 0 on TCP, 1 on a message
// transport.
func (c *Conn) transport() int {
	if c.framed != nil {
		return 1
	}
	return 0
}
