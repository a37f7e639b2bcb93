// Package admin is mote's operator HTTP interface, served on its own
// listener (config admin.listen, loopback by default): the JSON admin API
// under /api/v1 (accounts, sessions, publish-subscribe nodes, server
// statistics), Prometheus metrics at /metrics, and the health checks
// /healthz and /readyz. docs/admin-api.yaml describes the API (OpenAPI 3).
//
// # Authentication
//
// Every /api/ request carries the admin token as a bearer token
// (Authorization: Bearer <token>, RFC 6750 §2.1), compared in constant
// time; a missing or wrong token is 401 unauthorized. /metrics, /healthz
// and /readyz need no token, so that scrapers and probes work without
// configuration: they disclose no account data, and the listener is on
// loopback unless the operator moves it.
//
// # Errors
//
// Every error is JSON of one shape, {"error":{"code":..., "message":...}},
// with a stable code (see the Code constants) and the matching HTTP status.
// Messages are for people and may change.
//
// The package does not know the server: it calls a Backend, which
// internal/server implements with the same functions the CLI uses
// (internal/accounts).
package admin

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/mote-xmpp/mote/internal/admin/dashboard"
)

// Backend is the running server as the API sees it. Its methods may be
// called concurrently. An *Error return selects the response (its code
// and message are sent); any other error is logged and answered with
// internal, without detail.
type Backend interface {
	Accounts
	Sessions
	PubSub
	Devices
	Status
}

// Accounts manages accounts (the functions of internal/accounts).
type Accounts interface {
	// ListAccounts returns at most limit usernames after the username
	// after, in ascending byte order, and whether more follow.
	ListAccounts(ctx context.Context, after string, limit int) (names []string, more bool, err error)
	// Presence returns the online state of the account username.
	Presence(username string) Presence
	// Account returns one account.
	Account(ctx context.Context, username string) (Account, error)
	// CreateAccount creates an account and returns it (its name
	// normalised).
	CreateAccount(ctx context.Context, username, password string) (Account, error)
	// SetPassword replaces an account's password.
	SetPassword(ctx context.Context, username, password string) error
	// SetLoginPolicy sets how the account logs in: LoginPassword,
	// LoginCertificate or LoginBoth.
	SetLoginPolicy(ctx context.Context, username, policy string) error
	// DeleteAccount removes an account like XEP-0077 cancellation does:
	// the modules forget it and its sessions are closed.
	DeleteAccount(ctx context.Context, username string) error
}

// Account is an account as the API shows it.
type Account struct {
	Username string    `json:"username"`
	Created  time.Time `json:"created"`
	// LoginPolicy is how the account may log in: LoginPassword,
	// LoginCertificate or LoginBoth.
	LoginPolicy string `json:"login_policy"`
	Presence
}

// Login policies: with a password (SCRAM, PLAIN), with a client
// certificate (SASL EXTERNAL, XEP-0178), or either.
const (
	LoginPassword    = "password"
	LoginCertificate = "certificate"
	LoginBoth        = "both"
)

// Presence is an account's online state.
type Presence struct {
	// Online reports whether the account has a bound session.
	Online bool `json:"online"`
	// Sessions is the number of bound sessions.
	Sessions int `json:"sessions"`
	// Resources are the resources of the bound sessions, sorted.
	Resources []string `json:"resources"`
	// LastActive is when the account last sent anything: the latest of
	// its sessions' activity while online, else when its last session
	// ended. Nil when unknown (no session since the server started).
	LastActive *time.Time `json:"last_active,omitempty"`
}

// Sessions lists and closes client sessions.
type Sessions interface {
	// ListSessions returns the bound sessions, of one account (a
	// username) or of all when account is "", sorted by full JID.
	ListSessions(ctx context.Context, account string) ([]Session, error)
	// Kick closes the session bound to the full JID jid with a stream
	// error.
	Kick(ctx context.Context, jid string) error
}

// Session is a bound client session.
type Session struct {
	JID       string    `json:"jid"`
	Priority  int       `json:"priority"`
	Available bool      `json:"available"`
	Since     time.Time `json:"connected_since"`
	// Remote is the client's address (host:port).
	Remote string `json:"remote,omitempty"`
	// Transport is tcp, tls, websocket or websocket+tls.
	Transport string `json:"transport,omitempty"`
	// LastActive is when the client last sent anything.
	LastActive time.Time `json:"last_active"`
	// Detached reports a session waiting for stream-management resumption
	// (XEP-0198), its connection gone.
	Detached bool `json:"detached"`
}

// PubSub inspects the publish-subscribe component (pubsub.<domain>).
type PubSub interface {
	// PubSubService returns the component's address.
	PubSubService() string
	// PubSubNodes lists the nodes, sorted by node ID.
	PubSubNodes(ctx context.Context) ([]Node, error)
	// PubSubNode returns one node in detail.
	PubSubNode(ctx context.Context, node string) (NodeDetail, error)
	// PubSubItems returns a page of a leaf node's items, newest first:
	// at most limit items older than the item after ("" for the newest).
	PubSubItems(ctx context.Context, node, after string, limit int) (ItemPage, error)
	// DeletePubSubNode deletes a node as its owner would (XEP-0060 §8.4).
	DeletePubSubNode(ctx context.Context, node string) error
}

// Node is a node of the pubsub component.
type Node struct {
	Node    string    `json:"node"`
	Type    string    `json:"type"` // leaf or collection
	Title   string    `json:"title,omitempty"`
	Creator string    `json:"creator,omitempty"`
	Created time.Time `json:"created"`
	// Parents are the collections the node is in (XEP-0248).
	Parents []string `json:"parents"`
	// Subscribers is the number of subscriptions in state subscribed.
	Subscribers int `json:"subscribers"`
	// Items is the number of items of a leaf node.
	Items int `json:"items"`
	// LastItem is a leaf node's newest item, nil if it has none.
	LastItem *Item `json:"last_item,omitempty"`
}

// NodeDetail is one node with its configuration, subscriptions and
// affiliations.
type NodeDetail struct {
	Node
	// Config is the node's configuration as pubsub#node_config fields
	// (XEP-0060 §16.4.4): one string, or a list for list-multi and
	// jid-multi fields.
	Config map[string]any `json:"config"`
	// Children are the nodes of a collection.
	Children      []string       `json:"children,omitempty"`
	Subscriptions []Subscription `json:"subscriptions"`
	Affiliations  []Affiliation  `json:"affiliations"`
}

// Subscription is one subscription to a node.
type Subscription struct {
	JID   string `json:"jid"`
	SubID string `json:"subid,omitempty"`
	State string `json:"state"` // subscribed, unconfigured or pending
}

// Affiliation is one entity's affiliation with a node.
type Affiliation struct {
	JID         string `json:"jid"`
	Affiliation string `json:"affiliation"`
}

// ItemPage is a page of a node's items.
type ItemPage struct {
	Items []Item `json:"items"`
	// Count is the number of items of the node.
	Count int `json:"count"`
	// More reports whether older items follow the page.
	More bool `json:"-"`
}

// Item is a published item.
type Item struct {
	ID        string    `json:"id"`
	Publisher string    `json:"publisher,omitempty"`
	Published time.Time `json:"published"`
	// Payload is the item's payload element, serialised XML ("" if none).
	Payload string `json:"payload,omitempty"`
}

// Status reports on the server.
type Status interface {
	// Stats returns the server's statistics.
	Stats(ctx context.Context) (Stats, error)
	// Ready returns nil when the server serves: its listeners accept
	// connections and storage answers.
	Ready(ctx context.Context) error
}

// Stats are the figures of GET /api/v1/stats.
type Stats struct {
	Version       string         `json:"version"`
	Domain        string         `json:"domain"`
	Started       time.Time      `json:"started"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Connections   int            `json:"connections"`
	Sessions      int            `json:"sessions"`
	Accounts      int            `json:"accounts"`
	Stanzas       StanzaStats    `json:"stanzas"`
	PubSub        PubSubStats    `json:"pubsub"`
	Queues        map[string]int `json:"queues"`
	Go            RuntimeStats   `json:"go"`
}

// StanzaStats count stanzas by kind since the start.
type StanzaStats struct {
	In  map[string]uint64 `json:"in"`
	Out map[string]uint64 `json:"out"`
}

// PubSubStats describe the publish-subscribe component.
type PubSubStats struct {
	Service    string `json:"service"`
	Nodes      int    `json:"nodes"`
	Publishes  uint64 `json:"publishes"`
	Deliveries uint64 `json:"deliveries"`
}

// RuntimeStats describe the Go runtime.
type RuntimeStats struct {
	Version    string `json:"version"`
	Goroutines int    `json:"goroutines"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	HeapBytes  uint64 `json:"heap_bytes"`
	SysBytes   uint64 `json:"sys_bytes"`
	GCCycles   uint32 `json:"gc_cycles"`
}

// Options configure the handler.
type Options struct {
	// Backend is the server. Required.
	Backend Backend
	// Token is the bearer token of the API. Required: an empty token
	// would let anyone in.
	Token string
	// Metrics serves /metrics; nil leaves it out (404).
	Metrics http.Handler
	// Logger logs internal errors and the changes made through the API.
	Logger *slog.Logger
}

// maxBody bounds a request body.
const maxBody = 64 << 10

// New returns the handler of the admin listener. It panics when the
// backend or the token is missing (a wiring mistake).
func New(o Options) http.Handler {
	if o.Backend == nil || o.Token == "" {
		panic("admin: Options.Backend and Options.Token are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &api{b: o.Backend, log: o.Logger, token: tokenDigest(o.Token)}
	mux := http.NewServeMux()
	a.routes(mux)
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	// The web dashboard: assets without the token, data from /api/v1.
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", dashboard.Handler()))
	mux.Handle("GET /{$}", http.RedirectHandler("/dashboard/", http.StatusFound))
	return mux
}

// api holds what the handlers share.
type api struct {
	b     Backend
	log   *slog.Logger
	token [32]byte // SHA-256 of the token
}

// route is one path of the API with its methods.
type route struct {
	pattern string
	methods map[string]http.HandlerFunc
}

// routes registers the API's paths. Each path is registered once, without
// a method, so that a wrong method gets method_not_allowed in JSON with
// the Allow header (RFC 9110 §15.5.6); unknown paths under /api/ get
// not_found in JSON. Authentication comes first, so that an
// unauthenticated client learns nothing about paths.
func (a *api) routes(mux *http.ServeMux) {
	for _, r := range a.table() {
		mux.Handle(r.pattern, a.authenticated(methods(r.methods)))
	}
	mux.Handle("/api/", a.authenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, Errorf(CodeNotFound, "no such path: %s", r.URL.Path))
	})))
}

// table lists the API's paths (documented in docs/admin-api.yaml).
func (a *api) table() []route {
	return []route{
		{"/api/v1/accounts", map[string]http.HandlerFunc{"GET": a.listAccounts, "POST": a.createAccount}},
		{"/api/v1/accounts/{username}", map[string]http.HandlerFunc{"GET": a.getAccount, "DELETE": a.deleteAccount}},
		{"/api/v1/accounts/{username}/password", map[string]http.HandlerFunc{"PUT": a.setPassword}},
		{"/api/v1/accounts/{username}/login-policy", map[string]http.HandlerFunc{"PUT": a.setLoginPolicy}},
		{"/api/v1/sessions", map[string]http.HandlerFunc{"GET": a.listSessions}},
		{"/api/v1/sessions/{jid...}", map[string]http.HandlerFunc{"DELETE": a.kick}},
		{"/api/v1/pubsub/nodes", map[string]http.HandlerFunc{"GET": a.listNodes}},
		{"/api/v1/pubsub/nodes/{node}", map[string]http.HandlerFunc{"GET": a.getNode, "DELETE": a.deleteNode}},
		{"/api/v1/pubsub/nodes/{node}/items", map[string]http.HandlerFunc{"GET": a.listItems}},
		{"/api/v1/stats", map[string]http.HandlerFunc{"GET": a.stats}},
		{"/api/v1/devices", map[string]http.HandlerFunc{"GET": a.listDevices, "POST": a.createDevice}},
		{"/api/v1/device-batches", map[string]http.HandlerFunc{"POST": a.bulkDevices}},
		{"/api/v1/device-ca", map[string]http.HandlerFunc{"GET": a.deviceCA}},
		{"/api/v1/devices/{name}", map[string]http.HandlerFunc{"GET": a.getDevice, "DELETE": a.deleteDevice}},
		{"/api/v1/devices/{name}/revoke", map[string]http.HandlerFunc{"POST": a.revokeDevice}},
		{"/api/v1/devices/{name}/certificate", map[string]http.HandlerFunc{"POST": a.reissueDevice}},
		{"/api/v1/groups", map[string]http.HandlerFunc{"GET": a.listGroups}},
		{"/api/v1/groups/{group}", map[string]http.HandlerFunc{"GET": a.getGroup}},
	}
}

// methods dispatches by method; HEAD is served as GET (net/http drops
// the body).
func methods(m map[string]http.HandlerFunc) http.Handler {
	allow := allowHeader(m)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		h, ok := m[method]
		if !ok {
			w.Header().Set("Allow", allow)
			writeError(w, Errorf(CodeMethodNotAllowed, "%s is not allowed here (allowed: %s)", r.Method, allow))
			return
		}
		h(w, r)
	})
}
