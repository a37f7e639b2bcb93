package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mote-xmpp/mote/internal/websocket"
)

// The public HTTP listeners (http.listen, http.tls_listen): XMPP over
// WebSocket (RFC 7395) and host-meta (XEP-0156), served by package
// websocket. A WebSocket connection is hijacked from net/http and becomes a
// c2s connection, so c2s.Server.Shutdown ends it like a TCP one
// (system-shutdown); the HTTP servers only stop accepting.

// web holds the public HTTP listeners.
type web struct {
	mu      sync.Mutex // guards the fields below
	servers []webServer
	closed  bool
}

type webServer struct {
	l   net.Listener
	tls bool
	srv *http.Server
}

// listenWeb opens the configured HTTP listeners.
func (s *Server) listenWeb() error {
	h := websocket.NewHandler(websocket.Config{
		C2S:            s.c2s,
		AllowedOrigins: s.cfg.HTTP.AllowedOrigins,
		Logger:         s.log.With("component", "websocket"),
	})
	for _, a := range []struct {
		addr   string
		secure bool
	}{{s.cfg.HTTP.Listen, false}, {s.cfg.HTTP.TLSListen, true}} {
		if a.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", a.addr)
		if err != nil {
			s.closeWeb()
			return fmt.Errorf("server: http listen: %w", err)
		}
		if a.secure {
			// The c2s certificate; HTTP/1.1 only, since WebSocket
			// connections are upgraded HTTP/1.1 requests.
			tc := s.c2s.TLSConfig()
			tc.NextProtos = []string{"http/1.1"}
			l = tls.NewListener(l, tc)
		}
		timeout := s.cfg.C2S.TLSHandshakeTimeout
		srv := &http.Server{
			Handler: h,
			// Bounds the TLS handshake and the request headers; after the
			// upgrade c2s sets its own deadlines.
			ReadHeaderTimeout: timeout,
			ReadTimeout:       timeout,
			WriteTimeout:      s.cfg.C2S.WriteTimeout,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
		s.web.mu.Lock()
		s.web.servers = append(s.web.servers, webServer{l: l, tls: a.secure, srv: srv})
		s.web.mu.Unlock()
		s.log.Info("listening", "addr", l.Addr().String(), "http", true, "tls", a.secure)
	}
	return nil
}

// serveWeb serves the HTTP listeners until closeWeb.
func (s *Server) serveWeb() {
	s.web.mu.Lock()
	defer s.web.mu.Unlock()
	if s.web.closed {
		return
	}
	for _, w := range s.web.servers {
		go func() {
			if err := w.srv.Serve(w.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http listener failed", "addr", w.l.Addr().String(), "err", err)
			}
		}()
	}
}

// closeWeb stops the HTTP listeners and their idle connections. WebSocket
// connections are not theirs any more (c2s ends them).
func (s *Server) closeWeb() {
	s.web.mu.Lock()
	defer s.web.mu.Unlock()
	s.web.closed = true
	for _, w := range s.web.servers {
		w.srv.Close()
		w.l.Close() // when never served
	}
	s.web.servers = nil
}

// shutdownWeb stops accepting HTTP connections and lets requests in
// progress (host-meta, handshakes) finish within ctx.
func (s *Server) shutdownWeb(ctx context.Context) {
	s.web.mu.Lock()
	servers := s.web.servers
	s.web.servers = nil
	s.web.closed = true
	s.web.mu.Unlock()
	for _, w := range servers {
		w.srv.Shutdown(ctx)
		w.l.Close()
	}
}

// WebAddr returns the address of the plain HTTP listener (secure false) or
// of the HTTPS one, or nil.
func (s *Server) WebAddr(secure bool) net.Addr {
	s.web.mu.Lock()
	defer s.web.mu.Unlock()
	for _, w := range s.web.servers {
		if w.tls == secure {
			return w.l.Addr()
		}
	}
	return nil
}
