// Package websocket serves XMPP over WebSocket (RFC 7395) and connection
// discovery by host-meta (XEP-0156) on mote's public HTTP listeners.
//
// A WebSocket connection is an ordinary c2s connection: c2s frames the
// stream one element per message (internal/c2s/framing.go) and runs the
// same negotiation, SASL, binding, stream management, limits and shutdown
// as on TCP. This package is the transport: the handshake (path
// /xmpp-websocket, subprotocol "xmpp" required, the allowed origins, the
// connection limits applied before the upgrade) and a c2s.MessageConn over
// github.com/coder/websocket with deadlines and a message size limit.
package websocket

import (
	"bufio"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/coder/websocket"

	"github.com/mote-xmpp/mote/internal/c2s"
)

// Path is where the WebSocket endpoint is served.
const Path = "/xmpp-websocket"

// Subprotocol is the WebSocket subprotocol of XMPP (RFC 7395 §3.1).
const Subprotocol = "xmpp"

// Config configures the handler.
type Config struct {
	// C2S serves the connections.
	C2S *c2s.Server
	// AllowedOrigins lists the Origin values a WebSocket handshake may
	// carry (RFC 6455 §10.2), compared without regard to case; empty
	// allows any. A handshake without an Origin (not from a browser) is
	// always allowed.
	AllowedOrigins []string
	Logger         *slog.Logger
}

// NewHandler returns the handler of the public HTTP listeners: the
// WebSocket endpoint at Path and the host-meta documents (XEP-0156) at
// /.well-known/host-meta and /.well-known/host-meta.json.
func NewHandler(cfg Config) http.Handler {
	h := &handler{cfg: cfg, log: cfg.Logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, h.serveWebSocket)
	mux.HandleFunc("GET /.well-known/host-meta", serveHostMetaXML)
	mux.HandleFunc("GET /.well-known/host-meta.json", serveHostMetaJSON)
	return mux
}

type handler struct {
	cfg Config
	log *slog.Logger
}

// serveWebSocket upgrades a handshake to an XMPP stream served by c2s.
func (h *handler) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	// §3.1: the client offers the xmpp subprotocol; a handshake without it
	// would not be an XMPP connection, so it is refused.
	if !offers(r.Header, Subprotocol) {
		http.Error(w, `the "xmpp" WebSocket subprotocol is required (RFC 7395 §3.1)`, http.StatusBadRequest)
		return
	}
	if !h.originAllowed(r.Header.Get("Origin")) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "bad remote address", http.StatusInternalServerError)
		return
	}
	err = h.cfg.C2S.ServeMessageConn(ap.Addr(), func() (c2s.MessageConn, error) {
		hj := &hijackRecorder{ResponseWriter: w}
		ws, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
			Subprotocols: []string{Subprotocol},
			// Origins are checked above, against the configured list.
			InsecureSkipVerify: true,
		})
		if err != nil {
			return nil, err // Accept has answered
		}
		return newConn(ws, hj.conn, r.TLS), nil
	})
	switch {
	case errors.Is(err, c2s.ErrRefused), errors.Is(err, c2s.ErrServerClosed):
		// The connection limits, before any WebSocket work.
		http.Error(w, "try again later", http.StatusServiceUnavailable)
	case err != nil:
		h.log.Debug("websocket handshake failed", "remote", r.RemoteAddr, "err", err)
	}
}

// originAllowed checks a handshake's Origin against the allowed origins.
func (h *handler) originAllowed(origin string) bool {
	if origin == "" || len(h.cfg.AllowedOrigins) == 0 {
		return true
	}
	for _, o := range h.cfg.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// offers reports whether the handshake's Sec-WebSocket-Protocol lists p.
func offers(hd http.Header, p string) bool {
	for _, v := range hd.Values("Sec-WebSocket-Protocol") {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), p) {
				return true
			}
		}
	}
	return false
}

// hijackRecorder keeps the connection websocket.Accept hijacks, so that a
// close handshake can be bounded in time (conn.Close).
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = c
	return c, rw, err
}
