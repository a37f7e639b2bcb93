// Package server assembles mote from its parts: configuration, storage,
// modules, router, session registry and the c2s listeners. cmd/mote and
// the integration harness (internal/xmpptest) both build servers with it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/auth"
	"github.com/mote-xmpp/mote/internal/c2s"
	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/modules"
	"github.com/mote-xmpp/mote/internal/router"
	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/postgres"
	"github.com/mote-xmpp/mote/internal/storage/sqlite"
	"github.com/mote-xmpp/mote/jid"
)

// Server is one running mote node.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	store    storage.Store
	sessions *session.Registry
	router   *router.Router
	registry *module.Registry
	modules  []module.Module
	c2s      *c2s.Server
	cert     atomic.Pointer[tls.Certificate] // served by every TLS listener; ReloadCertificate replaces it

	mu              sync.Mutex
	listeners       []listener   // guarded by mu
	listenersClosed bool         // guarded by mu; closeListeners ran
	pprof           *http.Server // guarded by mu; nil unless debug.pprof_listen

	stopReclaim chan struct{} // closed at shutdown; nil unless memory.reclaim_idle

	ops     ops     // metrics and the admin listener (admin.go)
	devices devices // the device CA and client-certificate logins (devices.go)
	web     web     // the public HTTP listeners: WebSocket, host-meta (http.go)

	shutdownOnce sync.Once
	shutdownErr  error
}

type listener struct {
	l         net.Listener
	directTLS bool
}

// OpenStore opens the configured storage backend, creating the data
// directory when needed.
func OpenStore(ctx context.Context, cfg *config.Config) (storage.Store, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	switch cfg.Storage.Driver {
	case "sqlite":
		return sqlite.Open(ctx, cfg.Path(cfg.Storage.Path))
	case "postgres":
		dsn := cfg.Storage.DSN
		if env := os.Getenv("MOTE_POSTGRES_DSN"); env != "" {
			dsn = env
		}
		return postgres.Open(ctx, dsn, postgres.Options{MaxConns: cfg.Storage.MaxConns})
	}
	return nil, fmt.Errorf("server: unknown storage driver %q", cfg.Storage.Driver)
}

// New builds a server: it opens storage, loads or creates the certificate
// and starts every module. It does not listen yet.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Server, error) {
	domain, err := jid.New("", cfg.Domain, "")
	if err != nil {
		return nil, fmt.Errorf("server: domain %q: %w", cfg.Domain, err)
	}
	store, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, store: store, sessions: session.NewRegistry(), registry: module.NewRegistry()}
	store = s.initOps(store)
	ok := false
	defer func() {
		if !ok {
			s.stopModules(context.Background())
			store.Close()
		}
	}()

	cert, err := loadOrCreateCert(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.DataDir, domain.Domain())
	if err != nil {
		return nil, err
	}
	s.cert.Store(&cert)
	secret, err := loadOrCreateSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.router = router.New(router.Config{Domain: domain, Sessions: s.sessions, Modules: s.registry, Logger: log.With("component", "router"),
		RouteDuration: s.ops.metrics.RouteDuration()})

	if err := s.startModules(ctx, domain); err != nil {
		return nil, err
	}
	certIdentities, err := s.initDevices(ctx, domain.Domain())
	if err != nil {
		return nil, err
	}
	s.registry.Seal()

	s.c2s = c2s.NewServer(c2s.Config{
		Domain:      domain,
		C2S:         cfg.C2S,
		Certificate: s.cert.Load,
		Auth: auth.NewServer(auth.Config{
			Users:      store.Users(),
			Normalize:  jid.NormalizeLocal,
			Secret:     secret,
			AllowPLAIN: cfg.C2S.AllowPLAIN,
			OnFailure:  s.ops.metrics.AuthFailure,

			CertIdentities: certIdentities,
			CertLogins:     s.certLogins(certIdentities),
		}),
		RequestClientCert: certIdentities != nil,
		Sessions:          s.sessions,
		Router:            s.router,
		Modules:           s.registry,
		Logger:            log.With("component", "c2s"),
		OnStreamError:     s.ops.metrics.StreamError,
	})
	if cfg.Memory.ReclaimIdle {
		s.stopReclaim = make(chan struct{})
		go s.reclaimLoop(s.stopReclaim)
	}
	ok = true
	return s, nil
}

// startModules starts the built-in modules in table order, checking that
// each one's requirements started before it.
func (s *Server) startModules(ctx context.Context, domain jid.JID) error {
	started := map[string]bool{}
	for _, m := range modules.Builtin() {
		info := m.Info()
		for _, r := range info.Requires {
			if !started[r] {
				return fmt.Errorf("server: module %s requires %s, which is not started before it", info.Name, r)
			}
		}
		h := s.registry.NewHost(m, module.Deps{Domain: domain, Logger: s.log, Config: s.cfg, Store: s.store, Router: s.router, Sessions: s.sessions})
		if err := m.Start(ctx, h); err != nil {
			return fmt.Errorf("server: module %s: %w", info.Name, err)
		}
		s.modules = append(s.modules, m)
		started[info.Name] = true
	}
	return nil
}

func (s *Server) stopModules(ctx context.Context) {
	for i := len(s.modules) - 1; i >= 0; i-- {
		if err := s.modules[i].Stop(ctx); err != nil {
			s.log.Error("module stop failed", "module", s.modules[i].Info().Name, "err", err)
		}
	}
	s.modules = nil
}

// Listen opens the configured listeners.
func (s *Server) Listen() error {
	for _, a := range []struct {
		addr      string
		directTLS bool
	}{{s.cfg.C2S.Listen, false}, {s.cfg.C2S.DirectTLSListen, true}} {
		if a.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", a.addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("server: listen: %w", err)
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, listener{l, a.directTLS})
		s.mu.Unlock()
		s.log.Info("listening", "addr", l.Addr().String(), "direct_tls", a.directTLS)
	}
	if addr := s.cfg.Debug.PprofListen; addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("server: pprof listen: %w", err)
		}
		s.mu.Lock()
		s.pprof = &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		s.mu.Unlock()
		go s.pprof.Serve(l)
		s.log.Info("serving pprof", "addr", l.Addr().String())
	}
	if err := s.listenWeb(); err != nil {
		s.closeListeners()
		return err
	}
	if err := s.listenAdmin(); err != nil {
		s.closeListeners()
		return err
	}
	return nil
}

// pprofMux serves the runtime profiles under /debug/pprof/.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func (s *Server) closeListeners() {
	s.closeWeb()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		l.l.Close()
	}
	s.listeners = nil
	s.listenersClosed = true
	if s.pprof != nil {
		s.pprof.Close()
		s.pprof = nil
	}
}

// Addr returns the address of the STARTTLS listener (directTLS false) or
// of the direct TLS listener, or nil.
func (s *Server) Addr(directTLS bool) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.directTLS == directTLS {
			return l.l.Addr()
		}
	}
	return nil
}

// Serve accepts connections on every listener until Shutdown.
func (s *Server) Serve() error {
	s.mu.Lock()
	ls := append([]listener(nil), s.listeners...)
	closed := s.listenersClosed
	s.mu.Unlock()
	if closed {
		return nil // shut down before serving
	}
	if len(ls) == 0 {
		return errors.New("server: no listeners")
	}
	s.serveAdmin()
	s.serveWeb()
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- s.c2s.Serve(l.l, l.directTLS) }()
	}
	var first error
	for range ls {
		if err := <-errc; err != nil && !errors.Is(err, c2s.ErrServerClosed) && first == nil {
			first = err
		}
	}
	return first
}

// Shutdown closes the listeners, sends every session system-shutdown,
// waits for them within ctx, then stops modules and storage.
// Calls after the first wait for it and return its result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.shutdownAdmin(ctx)
	s.shutdownWeb(ctx)
	err := s.c2s.Shutdown(ctx)
	s.closeListeners()
	if s.stopReclaim != nil {
		close(s.stopReclaim)
	}
	s.router.Close()
	s.stopModules(ctx)
	if cerr := s.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Store returns the storage backend.
func (s *Server) Store() storage.Store { return s.store }

// Sessions returns the live-session registry.
func (s *Server) Sessions() *session.Registry { return s.sessions }

// Modules returns the module registry.
func (s *Server) Modules() *module.Registry { return s.registry }

// C2S returns the client listener server.
func (s *Server) C2S() *c2s.Server { return s.c2s }
