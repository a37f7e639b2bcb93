package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/accounts"
	"github.com/mote-xmpp/mote/internal/admin"
	"github.com/mote-xmpp/mote/internal/buildinfo"
	"github.com/mote-xmpp/mote/internal/metrics"
	"github.com/mote-xmpp/mote/internal/modules/mam"
	pubsubmod "github.com/mote-xmpp/mote/internal/modules/pubsub"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/timed"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// ops is the server's side for operators: the metrics, and the admin
// listener (config admin.listen) serving internal/admin.
type ops struct {
	metrics *metrics.Metrics
	started time.Time
	serving atomic.Bool // Serve started the listeners

	mu       sync.Mutex
	token    string       // guarded by mu; set by listenAdmin
	listener net.Listener // guarded by mu; nil when admin.listen is empty
	http     *http.Server // guarded by mu
}

// initOps creates the metrics and returns store timed for them (it sets
// s.store too). New calls it before anything uses the store.
func (s *Server) initOps(store storage.Store) storage.Store {
	s.ops.started = time.Now()
	s.ops.metrics = metrics.New(buildinfo.Version(), metrics.Sources{
		Connections: s.connectionCounts,
		Sessions:    func() int { return s.sessions.Count() },
		StanzasIn:   func() metrics.Stanzas { return s.router.Stats().In },
		StanzasOut:  s.sessions.Sent,
		PubSub: func() metrics.PubSub {
			p := s.pubsubModule()
			if p == nil {
				return metrics.PubSub{}
			}
			st := p.Stats()
			return metrics.PubSub{Published: st.Published, PEPPublished: st.PEPPublished,
				Delivered: st.Delivered, PEPDelivered: st.PEPDelivered}
		},
		Queues: s.queueDepths,
	})
	s.store = timed.Wrap(store, s.ops.metrics.StorageObserver)
	return s.store
}

// connectionCounts reads the c2s connections by transport and state.
func (s *Server) connectionCounts() []metrics.Connections {
	n := s.c2s.Counts()
	return []metrics.Connections{
		{Transport: "tcp", State: "bound", N: n.TCP.Bound},
		{Transport: "tcp", State: "pending", N: n.TCP.Pending},
		{Transport: "websocket", State: "bound", N: n.WebSocket.Bound},
		{Transport: "websocket", State: "pending", N: n.WebSocket.Pending},
	}
}

// queueDepths reads the queues of the pubsub and mam modules.
func (s *Server) queueDepths() []metrics.Queue {
	var qs []metrics.Queue
	if p := s.pubsubModule(); p != nil {
		st := p.Stats()
		qs = append(qs, metrics.Queue{Name: "pubsub_notifications", Depth: int(st.QueuedNotifications)},
			metrics.Queue{Name: "pubsub_archive", Depth: st.QueuedArchiveWrites})
	}
	for _, m := range s.modules {
		if a, ok := m.(*mam.Module); ok {
			qs = append(qs, metrics.Queue{Name: "mam_archive", Depth: a.QueueDepth()})
		}
	}
	return qs
}

// pubsubModule returns the pubsub module, or nil.
func (s *Server) pubsubModule() *pubsubmod.Module {
	for _, m := range s.modules {
		if p, ok := m.(*pubsubmod.Module); ok {
			return p
		}
	}
	return nil
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.ops.metrics }

// listenAdmin opens the admin listener (admin.listen; none when empty)
// and loads or creates the admin token.
func (s *Server) listenAdmin() error {
	addr := s.cfg.Admin.Listen
	if addr == "" {
		return nil
	}
	token, err := admin.LoadOrCreateToken(s.cfg.DataDir, s.cfg.Admin.Token)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: admin listen: %w", err)
	}
	log := s.log.With("component", "admin")
	h := admin.New(admin.Options{Backend: adminBackend{s}, Token: token, Metrics: s.ops.metrics.Handler(), Logger: log})
	s.ops.mu.Lock()
	s.ops.token, s.ops.listener = token, l
	s.ops.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	s.ops.mu.Unlock()
	if c := s.cfg.Admin.Token; c != "" && len(c) < minTokenLen {
		log.Warn("admin.token is short: anyone who guesses it administers the server", "min_length", minTokenLen)
	}
	if host, _, _ := net.SplitHostPort(addr); !isLoopback(host) {
		log.Warn("the admin API listens beyond loopback: protect the token and the network", "addr", l.Addr().String())
	}
	log.Info("admin listening", "addr", l.Addr().String())
	return nil
}

// minTokenLen is the shortest admin.token accepted without a warning.
const minTokenLen = 16

// isLoopback reports whether host (of a listen address) is a loopback
// address or localhost; "" (every interface) is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveAdmin serves the admin listener until shutdown.
func (s *Server) serveAdmin() {
	s.ops.mu.Lock()
	srv, l := s.ops.http, s.ops.listener
	s.ops.mu.Unlock()
	s.ops.serving.Store(true)
	if srv == nil {
		return
	}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin listener failed", "err", err)
		}
	}()
}

// shutdownAdmin stops the admin listener, letting requests under way
// finish within ctx.
func (s *Server) shutdownAdmin(ctx context.Context) {
	s.ops.serving.Store(false)
	s.ops.mu.Lock()
	srv, l := s.ops.http, s.ops.listener
	s.ops.http, s.ops.listener = nil, nil
	s.ops.mu.Unlock()
	if srv == nil {
		return
	}
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	l.Close() // in case Serve never ran
}

// AdminAddr returns the address of the admin listener, or nil.
func (s *Server) AdminAddr() net.Addr {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	if s.ops.listener == nil {
		return nil
	}
	return s.ops.listener.Addr()
}

// AdminToken returns the admin API's bearer token ("" before Listen, or
// without an admin listener).
func (s *Server) AdminToken() string {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	return s.ops.token
}

// RemoveAccount removes a local account as XEP-0077 cancellation does
// (module.Host.RemoveAccount): the modules forget it, everything stored
// for it is deleted and its sessions are closed with err.
func (s *Server) RemoveAccount(ctx context.Context, username string, err *stanza.StreamError) error {
	u, nerr := accounts.Normalize(username)
	if nerr != nil {
		return nerr
	}
	if _, gerr := s.store.Users().GetUser(ctx, u); gerr != nil {
		return gerr // not found: no hook runs for an account that does not exist
	}
	account, jerr := jid.New(u, s.cfg.Domain, "")
	if jerr != nil {
		return jerr
	}
	return s.registry.RemoveAccount(ctx, s.store.Users(), s.sessions, account, err)
}

// adminBackend is the server as internal/admin sees it.
type adminBackend struct{ s *Server }

var _ admin.Backend = adminBackend{}

// removedByAdmin is the stream error of the sessions of an account an
// administrator deleted.
func removedByAdmin() *stanza.StreamError {
	return &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "account removed by an administrator"}
}

// kickedByAdmin is the stream error of a session an administrator closed.
func kickedByAdmin() *stanza.StreamError {
	return &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "disconnected by an administrator"}
}

// apiError turns the errors of accounts, storage and pubsub into the
// admin API's.
func apiError(err error) error {
	var pe *ps.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, accounts.ErrInvalidUsername), errors.Is(err, accounts.ErrEmptyPassword),
		errors.Is(err, accounts.ErrInvalidPassword):
		return admin.Errorf(admin.CodeBadRequest, "%s", strings.TrimPrefix(err.Error(), "accounts: "))
	case errors.Is(err, storage.ErrExists):
		return admin.Errorf(admin.CodeConflict, "the account already exists")
	case errors.Is(err, storage.ErrNotFound):
		return admin.Errorf(admin.CodeNotFound, "no such account")
	case errors.Is(err, ps.ErrNodeNotFound), errors.Is(err, ps.ErrNodeIDRequired):
		return admin.Errorf(admin.CodeNotFound, "no such node")
	case errors.Is(err, ps.ErrItemNotFound):
		return admin.Errorf(admin.CodeBadRequest, "no such item to page from")
	case errors.As(err, &pe) && pe.Condition() != "internal-server-error":
		return admin.Errorf(admin.CodeBadRequest, "%s", strings.TrimPrefix(err.Error(), "pubsub: "))
	}
	return err
}

func (b adminBackend) ListAccounts(ctx context.Context, after string, limit int) ([]string, bool, error) {
	names, more, err := accounts.List(ctx, b.s.store.Users(), after, limit)
	return names, more, apiError(err)
}

func (b adminBackend) Account(ctx context.Context, username string) (admin.Account, error) {
	a, err := accounts.Get(ctx, b.s.store.Users(), username)
	if err != nil {
		return admin.Account{}, apiError(err)
	}
	cert, err := b.s.store.Devices().CertLogin(ctx, a.Username)
	if err != nil {
		return admin.Account{}, err
	}
	policy := admin.LoginPassword
	switch {
	case cert && a.HasPassword:
		policy = admin.LoginBoth
	case cert:
		policy = admin.LoginCertificate
	}
	return admin.Account{Username: a.Username, Created: a.Created.UTC(), LoginPolicy: policy, Presence: b.Presence(a.Username)}, nil
}

// SetLoginPolicy: a certificate-only account loses its password; the
// others need one (set it first).
func (b adminBackend) SetLoginPolicy(ctx context.Context, username, policy string) error {
	a, err := accounts.Get(ctx, b.s.store.Users(), username)
	if err != nil {
		return apiError(err)
	}
	if policy != admin.LoginCertificate && !a.HasPassword {
		return admin.Errorf(admin.CodeBadRequest, "the account has no password: set one first")
	}
	if policy == admin.LoginPassword {
		return apiError(b.s.store.Devices().SetCertLogin(ctx, a.Username, false))
	}
	if err := b.s.allowCertLogin(ctx, a.Username); err != nil {
		return apiError(err)
	}
	if policy == admin.LoginCertificate {
		return apiError(b.s.store.Users().SetCredentials(ctx, a.Username, map[string]storage.SCRAMKey{}))
	}
	return nil
}

// Presence reads the session registry: the bound resources, and the
// latest activity of their connections or when the last one ended.
func (b adminBackend) Presence(username string) admin.Presence {
	p := admin.Presence{Resources: []string{}}
	bare, err := jid.New(username, b.s.cfg.Domain, "")
	if err != nil {
		return p
	}
	var last time.Time
	for _, se := range b.s.sessions.Resources(bare) {
		p.Resources = append(p.Resources, se.JID().Resource())
		if t := se.Describe().LastActive; t.After(last) {
			last = t
		}
	}
	slices.Sort(p.Resources)
	p.Sessions, p.Online = len(p.Resources), len(p.Resources) > 0
	if !p.Online {
		last, _ = b.s.sessions.LastSeen(bare)
	}
	if !last.IsZero() {
		last = last.UTC()
		p.LastActive = &last
	}
	return p
}

func (b adminBackend) CreateAccount(ctx context.Context, username, password string) (admin.Account, error) {
	name, err := accounts.Add(ctx, b.s.store.Users(), username, password)
	if err != nil {
		return admin.Account{}, apiError(err)
	}
	return b.Account(ctx, name)
}

func (b adminBackend) SetPassword(ctx context.Context, username, password string) error {
	return apiError(accounts.SetPassword(ctx, b.s.store.Users(), username, password))
}

func (b adminBackend) DeleteAccount(ctx context.Context, username string) error {
	return apiError(accounts.Delete(ctx, b, username))
}

// DeleteUser implements accounts.Deleter through the modules.
func (b adminBackend) DeleteUser(ctx context.Context, username string) error {
	return b.s.RemoveAccount(ctx, username, removedByAdmin())
}

func (b adminBackend) ListSessions(ctx context.Context, account string) ([]admin.Session, error) {
	var ss []*session.Session
	if account != "" {
		u, err := accounts.Normalize(account)
		if err != nil {
			return nil, apiError(err)
		}
		j, err := jid.New(u, b.s.cfg.Domain, "")
		if err != nil {
			return nil, admin.Errorf(admin.CodeBadRequest, "invalid account %q", account)
		}
		ss = b.s.sessions.Resources(j)
	} else {
		ss = b.s.sessions.All()
	}
	out := make([]admin.Session, 0, len(ss))
	for _, se := range ss {
		info := se.Describe()
		out = append(out, admin.Session{JID: se.JID().String(), Priority: se.Priority(), Available: se.Available(),
			Since: se.BoundAt().UTC(), Remote: info.Remote, Transport: info.Transport,
			LastActive: info.LastActive.UTC(), Detached: info.Detached})
	}
	slices.SortFunc(out, func(x, y admin.Session) int { return strings.Compare(x.JID, y.JID) })
	return out, nil
}

func (b adminBackend) Kick(ctx context.Context, full string) error {
	j, err := jid.Parse(full)
	if err != nil || j.IsBare() || j.Local() == "" {
		return admin.Errorf(admin.CodeBadRequest, "%q is not the full JID of a session", full)
	}
	se := b.s.sessions.Get(j)
	if se == nil {
		return admin.Errorf(admin.CodeNotFound, "no session %s", j)
	}
	se.Close(kickedByAdmin())
	return nil
}

func (b adminBackend) pubsub() (*pubsubmod.Module, error) {
	p := b.s.pubsubModule()
	if p == nil {
		return nil, admin.Errorf(admin.CodeUnavailable, "publish-subscribe is not enabled")
	}
	return p, nil
}

func (b adminBackend) PubSubService() string {
	if p := b.s.pubsubModule(); p != nil {
		return p.ComponentJID().String()
	}
	return ""
}

func (b adminBackend) PubSubNodes(ctx context.Context) ([]admin.Node, error) {
	p, err := b.pubsub()
	if err != nil {
		return nil, err
	}
	nodes := p.ComponentNodes(ctx)
	out := make([]admin.Node, 0, len(nodes))
	for _, n := range nodes {
		d, err := p.ComponentNodeSummary(ctx, n)
		if errors.Is(err, ps.ErrNodeNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, apiError(err)
		}
		out = append(out, adminNode(d))
	}
	return out, nil
}

// adminNode converts a node with its summary.
func adminNode(d pubsubmod.NodeDetail) admin.Node {
	n := d.Node
	an := admin.Node{Node: string(n.ID), Type: n.Type.String(), Title: n.Config.Title, Created: n.Created.UTC(),
		Parents: make([]string, 0, len(n.Parents))}
	if !n.Creator.IsZero() {
		an.Creator = n.Creator.String()
	}
	for _, p := range n.Parents {
		an.Parents = append(an.Parents, string(p))
	}
	an.Subscribers, an.Items = d.Subscribers(), d.Items
	if d.Last != nil {
		it := adminItem(*d.Last)
		an.LastItem = &it
	}
	return an
}

func adminItem(it ps.Item) admin.Item {
	ai := admin.Item{ID: it.ID, Published: it.Published.UTC(), Payload: payloadXML(it.Payload)}
	if !it.Publisher.IsZero() {
		ai.Publisher = it.Publisher.String()
	}
	return ai
}

func (b adminBackend) PubSubNode(ctx context.Context, node string) (admin.NodeDetail, error) {
	p, err := b.pubsub()
	if err != nil {
		return admin.NodeDetail{}, err
	}
	d, err := p.ComponentNode(ctx, ps.NodeID(node))
	if err != nil {
		return admin.NodeDetail{}, apiError(err)
	}
	out := admin.NodeDetail{Node: adminNode(d), Config: map[string]any{},
		Subscriptions: make([]admin.Subscription, 0, len(d.Subscriptions)),
		Affiliations:  make([]admin.Affiliation, 0, len(d.Affiliations))}
	for _, f := range d.Node.Config.Form() {
		switch f.Type {
		case ps.FieldListMulti, ps.FieldJIDMulti:
			out.Config[f.Var] = append([]string{}, f.Values...)
		default:
			v := ""
			if len(f.Values) > 0 {
				v = f.Values[0]
			}
			out.Config[f.Var] = v
		}
	}
	for _, c := range d.Children {
		out.Children = append(out.Children, string(c))
	}
	for _, sub := range d.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, admin.Subscription{JID: sub.JID.String(), SubID: sub.SubID, State: sub.State.String()})
	}
	for _, a := range d.Affiliations {
		out.Affiliations = append(out.Affiliations, admin.Affiliation{JID: a.JID.String(), Affiliation: a.Affiliation.String()})
	}
	return out, nil
}

func (b adminBackend) PubSubItems(ctx context.Context, node, after string, limit int) (admin.ItemPage, error) {
	p, err := b.pubsub()
	if err != nil {
		return admin.ItemPage{}, err
	}
	page, err := p.ComponentItems(ctx, ps.NodeID(node), after, limit)
	if err != nil {
		return admin.ItemPage{}, apiError(err)
	}
	out := admin.ItemPage{Count: page.Count, Items: make([]admin.Item, 0, len(page.Items)),
		More: page.Index+len(page.Items) < page.Count}
	for _, it := range page.Items {
		out.Items = append(out.Items, adminItem(it))
	}
	return out, nil
}

// payloadXML returns a stored payload as XML text. The pubsub module
// stores the payload serialised inside a jabber:client stream, which
// declares no namespace the payload does not declare itself.
func payloadXML(b []byte) string { return string(b) }

func (b adminBackend) DeletePubSubNode(ctx context.Context, node string) error {
	p, err := b.pubsub()
	if err != nil {
		return err
	}
	return apiError(p.DeleteComponentNode(ctx, ps.NodeID(node)))
}

func (b adminBackend) Stats(ctx context.Context) (admin.Stats, error) {
	s := b.s
	names, err := s.store.Users().ListUsers(ctx)
	if err != nil {
		return admin.Stats{}, err
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	st := admin.Stats{
		Version:       buildinfo.Version(),
		Domain:        s.cfg.Domain,
		Started:       s.ops.started.UTC().Round(time.Second),
		UptimeSeconds: time.Since(s.ops.started).Seconds(),
		Connections:   s.c2s.ConnCount(),
		Sessions:      s.sessions.Count(),
		Accounts:      len(names),
		Stanzas:       admin.StanzaStats{In: map[string]uint64{}, Out: map[string]uint64{}},
		Queues:        map[string]int{},
		Go: admin.RuntimeStats{Version: runtime.Version(), Goroutines: runtime.NumGoroutine(),
			GOMAXPROCS: runtime.GOMAXPROCS(0), HeapBytes: mem.HeapAlloc, SysBytes: mem.Sys, GCCycles: mem.NumGC},
	}
	in, out := s.router.Stats().In, s.sessions.Sent()
	for _, k := range []stanza.Kind{stanza.KindMessage, stanza.KindPresence, stanza.KindIQ} {
		st.Stanzas.In[k.String()], st.Stanzas.Out[k.String()] = in[k], out[k]
	}
	if p := s.pubsubModule(); p != nil {
		c := p.Stats()
		st.PubSub = admin.PubSubStats{Service: p.ComponentJID().String(), Nodes: p.ComponentNodeCount(),
			Publishes: c.Published + c.PEPPublished, Deliveries: c.Delivered + c.PEPDelivered}
	}
	for _, q := range s.queueDepths() {
		st.Queues[q.Name] = q.Depth
	}
	return st, nil
}

// Ready implements admin.Status: the listeners are open and served, and
// storage answers a lookup of the empty username (never an account: an
// indexed query that finds nothing).
func (b adminBackend) Ready(ctx context.Context) error {
	s := b.s
	s.mu.Lock()
	up := len(s.listeners) > 0 && !s.listenersClosed
	s.mu.Unlock()
	if !up || !s.ops.serving.Load() {
		return errors.New("the listeners are not serving")
	}
	if _, err := s.store.Users().GetUser(ctx, ""); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}
