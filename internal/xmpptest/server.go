// Package xmpptest is mote's integration harness: it starts the real server
// on loopback ports with a temporary data directory and drives it with
// scripted clients that speak XMPP over real sockets.
package xmpptest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/accounts"
	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/server"
)

// Server is a running mote on loopback.
type Server struct {
	*server.Server
	Config  *config.Config
	Addr    string     // STARTTLS listener, host:port
	TLSAddr string     // direct TLS listener, host:port
	WSAddr  string     // plain HTTP listener (ws://), host:port; "" when off
	WSSAddr string     // HTTPS listener (wss://), host:port; "" when off
	served  chan error // guarded by stopMu
	stopMu  sync.Mutex
}

// Start starts a server for the test and stops it at cleanup. yamlConfig,
// when not empty, is decoded over the test defaults (strictly, like a
// config file).
func Start(t testing.TB, yamlConfig string) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.C2S.Listen = "127.0.0.1:0"
	cfg.C2S.DirectTLSListen = "127.0.0.1:0"
	cfg.HTTP.Listen, cfg.HTTP.TLSListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	// Sessions park after a very short quiet spell, so that every test
	// also exercises parking and waking (see c2s/park.go).
	cfg.C2S.ParkIdleAfter = 10 * time.Millisecond
	if yamlConfig != "" {
		if err := cfg.Decode(strings.NewReader(yamlConfig)); err != nil {
			t.Fatalf("xmpptest: config: %v", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("xmpptest: %v", err)
	}
	// MOTE_TEST_LOG=debug (or info, warn, error) shows the server's log.
	var out io.Writer = io.Discard
	level := slog.LevelWarn
	if v := os.Getenv("MOTE_TEST_LOG"); v != "" {
		out = os.Stderr
		level.UnmarshalText([]byte(v))
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("xmpptest: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("xmpptest: %v", err)
	}
	s := &Server{Server: srv, Config: cfg, served: make(chan error, 1)}
	if a := srv.Addr(false); a != nil {
		s.Addr = a.String()
	}
	if a := srv.Addr(true); a != nil {
		s.TLSAddr = a.String()
	}
	if a := srv.WebAddr(false); a != nil {
		s.WSAddr = a.String()
	}
	if a := srv.WebAddr(true); a != nil {
		s.WSSAddr = a.String()
	}
	go func() { s.served <- srv.Serve() }()
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Stop shuts the server down and fails the test if Shutdown does not
// end within 10 s, with the goroutines of the moment in the message. It is
// idempotent and may be called from several goroutines (a test's own and
// its cleanup): the others wait for the first.
func (s *Server) Stop(t testing.TB) {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.served == nil {
		return
	}
	stuck := make(chan string, 1)
	dump := time.AfterFunc(10*time.Second, func() {
		var stacks strings.Builder
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		stuck <- stacks.String()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	dump.Stop()
	select {
	case stacks := <-stuck:
		t.Errorf("xmpptest: the server did not stop within 10 s; goroutines then:\n%s", stacks)
	default:
	}
	if err := <-s.served; err != nil {
		t.Errorf("xmpptest: serve: %v", err)
	}
	s.served = nil
}

// AddUser creates an account.
func (s *Server) AddUser(t testing.TB, username, password string) {
	t.Helper()
	if _, err := accounts.Add(context.Background(), s.Store().Users(), username, password); err != nil {
		t.Fatalf("xmpptest: add user %s: %v", username, err)
	}
}

// Domain is the served domain.
func (s *Server) Domain() string { return s.Config.Domain }

// WaitFor polls cond every few milliseconds until it holds or the deadline
// passes (no sleeping to synchronise on a fixed delay).
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("xmpptest: timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// DialTCP opens a plain TCP connection to addr.
func DialTCP(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("xmpptest: dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
