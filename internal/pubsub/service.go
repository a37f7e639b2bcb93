package pubsub

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// Options configure a Service. The zero value is a generic pubsub service
// with DefaultConfig, DefaultLimits and no notifications.
type Options struct {
	// AutoCreate makes a publish to a missing node create it with the
	// default configuration and the publish-options preconditions
	// ("auto-create", XEP-0060 §7.1.4, §7.1.5; required for PEP, XEP-0163
	// §3).
	AutoCreate bool
	// Defaults is the configuration of new nodes; nil means
	// DefaultConfig(). A PEP service sets the presence access model
	// (XEP-0163 §5), and usually max_items 1.
	Defaults *Config
	// CanCreate decides who may create nodes (XEP-0060 §8.1.1); nil lets
	// anyone. A PEP service allows only the account itself (Actor.Self).
	CanCreate func(a Actor) bool
	// Notifier receives the events; nil drops them.
	Notifier Notifier
	// Available reports whether a JID is online, for nodes with
	// pubsub#presence_based_delivery (XEP-0060 §13.6); nil counts every
	// JID as available. It is called once per recipient of such a node's
	// notifications, with the node locked: it must be fast and must not
	// call the Service.
	Available func(j jid.JID) bool
	// RequireSubscriptionConfig makes subscriptions made without options
	// "unconfigured" until the subscriber submits options (XEP-0060
	// §6.1.5); unconfigured subscriptions get no notifications.
	RequireSubscriptionConfig bool
	// MultiSubscribe lets a JID hold several subscriptions to a node
	// ("multi-subscribe", XEP-0060 §6.1.6). Without it, subscribing again
	// returns the existing subscription.
	MultiSubscribe bool
	// Limits bound the memory a service uses; the zero value means
	// DefaultLimits().
	Limits Limits
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
	// NewID returns a new unique identifier for instant nodes, items and
	// subscriptions; nil means 128 random bits in hex. For tests.
	NewID func() string
}

// Limits bound what a Service holds. Zero fields mean no limit.
type Limits struct {
	// MaxNodes is the number of nodes in the service (ErrMaxNodesExceeded).
	MaxNodes int
	// MaxNodesPerOwner is the number of nodes one bare JID may create
	// (ErrMaxNodesExceeded); administrators are exempt.
	MaxNodesPerOwner int
	// MaxItemsPerNode caps pubsub#max_items and is what "max" means; a
	// larger value is refused with a *ConfigError.
	MaxItemsPerNode int
	// MaxSubscriptionsPerNode caps the subscriptions of one node
	// (ErrTooManySubscriptions).
	MaxSubscriptionsPerNode int
	// MaxSubscriptionsPerJID caps the subscriptions of one JID to one node
	// when MultiSubscribe is set (ErrTooManySubscriptions).
	MaxSubscriptionsPerJID int
	// MaxPayloadSize is the largest payload, in bytes (ErrPayloadTooBig);
	// it also caps pubsub#max_payload_size.
	MaxPayloadSize int
	// MaxItemsPerRequest is the most items one Items call returns
	// (XEP-0060 §6.5.4); the caller pages with XEP-0059 for more.
	MaxItemsPerRequest int
}

// DefaultLimits returns limits suited to a server for devices.
func DefaultLimits() Limits {
	return Limits{
		MaxNodes:                100_000,
		MaxNodesPerOwner:        1000,
		MaxItemsPerNode:         1000,
		MaxSubscriptionsPerNode: 1_000_000,
		MaxSubscriptionsPerJID:  8,
		MaxPayloadSize:          256 << 10,
		MaxItemsPerRequest:      100,
	}
}

// Service is one publish-subscribe service: a pubsub component
// (pubsub.<domain>) or one account's PEP service (XEP-0163 §2.1). It holds
// its nodes, affiliations and subscriptions in memory and writes them
// through to its Store; items are read from the Store. It is safe for
// concurrent use: operations on one node are serialised by a lock of the
// node's own, so operations on different nodes run in parallel.
//
// Every method that acts for an entity takes an Actor and checks it with
// Authorize; the errors are *Error values (or wrap one) except those of
// the Store, which are returned as they are.
type Service struct {
	store    Store
	opts     Options
	limits   Limits
	defaults Config
	now      func() time.Time
	newID    func() string

	// mu guards nodes and created, and the collection graph: node.children,
	// node.ancestors, and node.meta.Parents together with the node's mu.
	// Lock order: Service.mu, then node.mu (several only with Service.mu
	// held for writing), then node.subMu (innermost).
	mu      sync.RWMutex
	nodes   map[NodeID]*node
	created map[jid.JID]int // nodes per creator
}

// node is a node in memory.
type node struct {
	id NodeID // immutable

	mu      sync.Mutex // serialises the operations on the node
	meta    Node
	deleted bool
	affs    map[jid.JID]Affiliation // bare JID to affiliation, never AffNone
	last    *Item                   // cached last published item, if lastOK
	lastOK  bool
	merged  *mergedCache // recipients of item events, guarded by mu

	children  map[NodeID]*node           // guarded by Service.mu
	ancestors atomic.Pointer[[]ancestor] // written with Service.mu held

	subMu sync.Mutex                 // innermost lock: guards subs and nsubs
	subs  map[jid.JID][]Subscription // by the bare JID of the subscribed JID
	nsubs int
	fan   atomic.Pointer[fanout] // snapshot of subs; nil when stale
}

func newNode(meta Node) *node {
	return &node{
		id:       meta.ID,
		meta:     meta,
		affs:     make(map[jid.JID]Affiliation),
		children: make(map[NodeID]*node),
		subs:     make(map[jid.JID][]Subscription),
	}
}

// New returns the service persisted in store, loading its nodes,
// affiliations and subscriptions.
func New(ctx context.Context, store Store, opts Options) (*Service, error) {
	s := &Service{
		store:    store,
		opts:     opts,
		limits:   opts.Limits,
		defaults: DefaultConfig(),
		now:      opts.Now,
		newID:    opts.NewID,
		nodes:    make(map[NodeID]*node),
		created:  make(map[jid.JID]int),
	}
	if s.limits == (Limits{}) {
		s.limits = DefaultLimits()
	}
	if opts.Defaults != nil {
		s.defaults = opts.Defaults.Clone()
		if err := s.defaults.Validate(); err != nil {
			return nil, err
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = randomID
	}
	states, err := store.LoadNodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		n := newNode(st.Node.clone())
		for _, a := range st.Affiliations {
			if a.Affiliation != AffNone && a.Affiliation < numAffiliations {
				n.affs[a.JID.Bare()] = a.Affiliation
			}
		}
		for _, sub := range st.Subscriptions {
			sub = sub.clone()
			sub.Node = n.id
			b := sub.JID.Bare()
			n.subs[b] = append(n.subs[b], sub)
			n.nsubs++
		}
		s.nodes[n.id] = n
		s.created[n.meta.Creator]++
	}
	for _, n := range s.nodes {
		for _, p := range n.meta.Parents {
			if pn := s.nodes[p]; pn != nil {
				pn.children[n.id] = n
			}
		}
	}
	for _, n := range s.nodes {
		s.computeAncestors(n)
	}
	return s, nil
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// timestamp returns the current time without its monotonic reading.
func (s *Service) timestamp() time.Time { return s.now().UTC().Round(0) }

// checkID validates a NodeID or ItemID.
func checkID(kind, id string) error {
	if len(id) > maxIDLen || !utf8.ValidString(id) {
		return ErrBadRequest.with("invalid " + kind)
	}
	return nil
}

// lookup returns the node.
func (s *Service) lookup(id NodeID) (*node, error) {
	if id == "" {
		return nil, ErrNodeIDRequired
	}
	s.mu.RLock()
	n := s.nodes[id]
	s.mu.RUnlock()
	if n == nil {
		return nil, ErrNodeNotFound
	}
	return n, nil
}

// lockNode returns the node locked; the caller unlocks n.mu.
func (s *Service) lockNode(id NodeID) (*node, error) {
	n, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	if n.deleted {
		n.mu.Unlock()
		return nil, ErrNodeNotFound
	}
	return n, nil
}

// authorize checks the actor against the node; n.mu is held.
func (n *node) authorize(a *Actor, act Action) error {
	b := a.JID.Bare()
	return Authorize(*a, act, &n.meta, n.affs[b], bestState(n.subsOfBare(b)))
}

// notify hands ev to the Notifier.
func (s *Service) notify(ctx context.Context, ev *Event) {
	if s.opts.Notifier != nil {
		s.opts.Notifier.Notify(ctx, ev)
	}
}

// maxItems returns the number of items a node keeps; -1 for no limit.
func (s *Service) maxItems(c *Config) int {
	if c.MaxItems == MaxItemsMax {
		if s.limits.MaxItemsPerNode > 0 {
			return s.limits.MaxItemsPerNode
		}
		return -1
	}
	return c.MaxItems
}

// maxPayload returns the largest payload a node accepts; 0 for no limit.
func (s *Service) maxPayload(c *Config) int {
	m := s.limits.MaxPayloadSize
	if c.MaxPayloadSize > 0 && (m == 0 || c.MaxPayloadSize < m) {
		m = c.MaxPayloadSize
	}
	return m
}

// checkLimits refuses configurations beyond the service's limits.
func (s *Service) checkLimits(c *Config) error {
	if l := s.limits.MaxItemsPerNode; l > 0 && c.MaxItems > l {
		return &ConfigError{Field: "pubsub#max_items", Value: strconv.Itoa(c.MaxItems),
			Reason: "above the service's limit of " + strconv.Itoa(l), kind: ErrNotAcceptable}
	}
	if l := s.limits.MaxPayloadSize; l > 0 && c.MaxPayloadSize > l {
		return &ConfigError{Field: "pubsub#max_payload_size", Value: strconv.Itoa(c.MaxPayloadSize),
			Reason: "above the service's limit of " + strconv.Itoa(l), kind: ErrNotAcceptable}
	}
	return nil
}

// DefaultNodeConfig returns the configuration new nodes get (XEP-0060
// §8.3).
func (s *Service) DefaultNodeConfig() Config { return s.defaults.Clone() }

// NodeSpec describes a node to create.
type NodeSpec struct {
	// ID is the NodeID; "" asks for an instant node with a generated ID
	// (XEP-0060 §8.1.1).
	ID      NodeID
	Type    NodeType
	Parents []NodeID // collections to put the node in (XEP-0248 §7.2)
	Config  *Config  // nil: the service's defaults
}

// CreateNode creates a node owned by the requester (XEP-0060 §8.1) and
// returns its NodeID. Errors: ErrForbidden (Options.CanCreate, or not an
// owner of a parent), ErrConflict (the NodeID exists), a *ConfigError
// (invalid configuration), ErrMaxNodesExceeded (limits, or a parent's
// pubsub#children_max), ErrNodeNotFound (a parent does not exist),
// ErrInvalidOptions (a parent is not a collection, XEP-0248 §7.2.3.1).
//
// Subscribers of the parent collections with subscription type "nodes" are
// notified (EventCreate).
func (s *Service) CreateNode(ctx context.Context, a Actor, spec NodeSpec) (NodeID, error) {
	n, err := s.create(ctx, &a, spec)
	if err != nil {
		return "", err
	}
	return n.id, nil
}

func (s *Service) create(ctx context.Context, a *Actor, spec NodeSpec) (*node, error) {
	if a.JID.IsZero() {
		return nil, ErrBadRequest.with("no requester")
	}
	if s.opts.CanCreate != nil && !s.opts.CanCreate(*a) {
		return nil, ErrForbidden.with("may not create nodes")
	}
	if spec.Type > Collection {
		return nil, Unsupported("collections").with("unknown node type")
	}
	cfg := s.defaults.Clone()
	if spec.Config != nil {
		cfg = spec.Config.Clone()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkLimits(&cfg); err != nil {
		return nil, err
	}
	if err := checkID("NodeID", string(spec.ID)); err != nil {
		return nil, err
	}
	parents := dedupe(spec.Parents)
	creator := a.JID.Bare()

	s.mu.Lock()
	defer s.mu.Unlock()
	id := spec.ID
	if id == "" {
		for id == "" || s.nodes[id] != nil {
			id = NodeID(s.newID())
		}
	} else if s.nodes[id] != nil {
		return nil, ErrConflict.with("node exists")
	}
	if l := s.limits.MaxNodes; l > 0 && len(s.nodes) >= l {
		return nil, ErrMaxNodesExceeded.with("the service holds its maximum number of nodes")
	}
	if l := s.limits.MaxNodesPerOwner; l > 0 && !a.Admin && s.created[creator] >= l {
		return nil, ErrMaxNodesExceeded.with("the requester created its maximum number of nodes")
	}
	if err := s.checkParents(a, nil, parents, nil); err != nil {
		return nil, err
	}
	meta := Node{ID: id, Type: spec.Type, Parents: parents, Config: cfg, Created: s.timestamp(), Creator: creator}
	err := s.store.CreateNode(ctx, NodeState{
		Node:         meta.clone(),
		Affiliations: []Affiliated{{Node: id, JID: creator, Affiliation: AffOwner}},
	})
	if errors.Is(err, storage.ErrExists) {
		return nil, ErrConflict.with("node exists")
	}
	if err != nil {
		return nil, err
	}
	n := newNode(meta)
	n.affs[creator] = AffOwner
	n.lastOK = true // no items yet
	s.nodes[id] = n
	s.created[creator]++
	s.link(n, nil, parents)
	if len(parents) > 0 {
		if rs := n.nodeRecipients(false); len(rs) > 0 {
			s.notify(ctx, &Event{Kind: EventCreate, Node: id, NotificationType: cfg.NotificationType, Recipients: rs})
		}
	}
	return n, nil
}

// checkParents checks new parent collections for a node (XEP-0248 §7.2.3):
// child is nil for a node being created; existing parents are not checked
// again. Service.mu is held for writing.
func (s *Service) checkParents(a *Actor, child *node, parents, existing []NodeID) error {
	for _, pid := range parents {
		if slices.Contains(existing, pid) {
			continue
		}
		p := s.nodes[pid]
		if p == nil {
			return ErrNodeNotFound.with("collection " + strconv.Quote(string(pid)) + " does not exist")
		}
		if p.meta.Type != Collection {
			return ErrInvalidOptions.with(strconv.Quote(string(pid)) + " is not a collection")
		}
		if child != nil && (p == child || s.descends(p, child)) {
			return ErrInvalidOptions.with("the collections would form a cycle")
		}
		p.mu.Lock()
		err := p.authorize(a, ActionConfigure)
		full := p.meta.Config.ChildrenMax > 0 && len(p.children) >= p.meta.Config.ChildrenMax
		p.mu.Unlock()
		if err != nil {
			return ErrForbidden.with("not an owner of collection " + strconv.Quote(string(pid)))
		}
		if full {
			return ErrMaxNodesExceeded.with("collection " + strconv.Quote(string(pid)) + " is full")
		}
	}
	return nil
}

// descends reports whether x is a descendant of n. Service.mu is held.
func (s *Service) descends(x, n *node) bool {
	seen := make(map[*node]bool)
	stack := []*node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, ch := range c.children {
			if ch == x {
				return true
			}
			if !seen[ch] {
				seen[ch] = true
				stack = append(stack, ch)
			}
		}
	}
	return false
}

// link moves n from the collections old to new and recomputes the
// ancestors of n and its descendants. Service.mu is held for writing.
func (s *Service) link(n *node, old, new []NodeID) {
	for _, p := range old {
		if pn := s.nodes[p]; pn != nil {
			delete(pn.children, n.id)
		}
	}
	for _, p := range new {
		if pn := s.nodes[p]; pn != nil {
			pn.children[n.id] = n
		}
	}
	s.recomputeAncestors(n)
}

// recomputeAncestors recomputes the ancestors of n and its descendants.
func (s *Service) recomputeAncestors(n *node) {
	seen := map[*node]bool{n: true}
	stack := []*node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		s.computeAncestors(c)
		for _, ch := range c.children {
			if !seen[ch] {
				seen[ch] = true
				stack = append(stack, ch)
			}
		}
	}
}

// computeAncestors sets n.ancestors: every collection above n with its
// distance (the shortest path), nearest first. Service.mu is held.
func (s *Service) computeAncestors(n *node) {
	var out []ancestor
	seen := map[*node]bool{n: true}
	frontier := []*node{n}
	for depth := 1; len(frontier) > 0; depth++ {
		var next []*node
		for _, x := range frontier {
			for _, pid := range x.meta.Parents {
				p := s.nodes[pid]
				if p == nil || seen[p] {
					continue
				}
				seen[p] = true
				out = append(out, ancestor{n: p, depth: depth})
				next = append(next, p)
			}
		}
		frontier = next
	}
	if out == nil {
		n.ancestors.Store(nil)
		return
	}
	n.ancestors.Store(&out)
}

// Node returns the node's description (for disco#info and meta-data,
// XEP-0060 §5.3-5.4). It does not check access: the caller decides what
// it discloses.
func (s *Service) Node(ctx context.Context, id NodeID) (Node, error) {
	n, err := s.lockNode(id)
	if err != nil {
		return Node{}, err
	}
	defer n.mu.Unlock()
	return n.meta.clone(), nil
}

// Children returns the NodeIDs of the nodes in a collection, sorted; id ""
// means the service's root: the nodes that belong to no collection
// (XEP-0060 §5.2, XEP-0248 §5.2, §8.1).
func (s *Service) Children(ctx context.Context, id NodeID) ([]NodeID, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []NodeID
	if id == "" {
		for nid, n := range s.nodes {
			if len(n.meta.Parents) == 0 {
				out = append(out, nid)
			}
		}
	} else {
		n := s.nodes[id]
		if n == nil {
			return nil, ErrNodeNotFound
		}
		for cid := range n.children {
			out = append(out, cid)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Configuration returns the node's configuration, for its owners (XEP-0060
// §8.2.1).
func (s *Service) Configuration(ctx context.Context, a Actor, id NodeID) (Config, error) {
	n, err := s.lockNode(id)
	if err != nil {
		return Config{}, err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionConfigure); err != nil {
		return Config{}, err
	}
	return n.meta.Config.Clone(), nil
}

// Configure replaces the node's configuration (XEP-0060 §8.2.4). Lowering
// pubsub#max_items trims the oldest items; turning pubsub#persist_items off
// purges them. With pubsub#notify_config the subscribers, and those of the
// parent collections with subscription type "nodes", are notified
// (EventConfig, §8.2.5.3). Errors: ErrNodeNotFound, ErrForbidden, a
// *ConfigError.
func (s *Service) Configure(ctx context.Context, a Actor, id NodeID, cfg Config) error {
	cfg = cfg.Clone()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := s.checkLimits(&cfg); err != nil {
		return err
	}
	n, err := s.lockNode(id)
	if err != nil {
		return err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionConfigure); err != nil {
		return err
	}
	old := n.meta.Config
	upd := n.meta.clone()
	upd.Config = cfg.Clone()
	if err := s.store.UpdateNode(ctx, upd); err != nil {
		return err
	}
	n.meta.Config = cfg
	if n.meta.Type == Leaf {
		switch {
		case old.PersistItems && !cfg.PersistItems:
			if err := s.store.PurgeItems(ctx, id); err != nil {
				return err
			}
		case cfg.PersistItems:
			if m := s.maxItems(&cfg); m >= 0 && (m < s.maxItems(&old) || s.maxItems(&old) < 0) {
				if _, err := s.store.TrimItems(ctx, id, m); err != nil {
					return err
				}
				n.lastOK = n.lastOK && m > 0
			}
		}
	}
	if cfg.NotifyConfig {
		ev := &Event{Kind: EventConfig, Node: id, NotificationType: cfg.NotificationType,
			Recipients: s.available(&cfg, n.nodeRecipients(false))}
		if cfg.DeliverPayloads {
			c := cfg.Clone()
			ev.Config = &c
		}
		s.notify(ctx, ev)
	}
	return nil
}

// SetParents replaces the collections the node belongs to (pubsub#collection,
// XEP-0248 §7.2, §7.5, §7.6); nil or empty makes it a top-level node. The
// requester must own the node and every collection it is added to. Errors:
// ErrNodeNotFound, ErrForbidden, ErrInvalidOptions (a parent is a leaf, or
// a cycle), ErrMaxNodesExceeded (a parent's pubsub#children_max).
func (s *Service) SetParents(ctx context.Context, a Actor, id NodeID, parents []NodeID) error {
	if id == "" {
		return ErrNodeIDRequired
	}
	parents = dedupe(parents)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[id]
	if n == nil {
		return ErrNodeNotFound
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionConfigure); err != nil {
		return err
	}
	old := n.meta.Parents
	if err := s.checkParents(&a, n, parents, old); err != nil {
		return err
	}
	upd := n.meta.clone()
	upd.Parents = parents
	if err := s.store.UpdateNode(ctx, upd); err != nil {
		return err
	}
	n.meta.Parents = parents
	s.link(n, old, parents)
	return nil
}

// DeleteNode deletes the node with its items and subscriptions (XEP-0060
// §8.4); its children stay, without it as a parent (XEP-0248 §8.2). With
// pubsub#notify_delete every subscriber, pending and unconfigured ones
// included, and the subscribers of the parent collections with type
// "nodes" are notified (EventDelete, §8.4.2), with the redirect URI if
// given. Errors: ErrNodeNotFound, ErrForbidden.
func (s *Service) DeleteNode(ctx context.Context, a Actor, id NodeID, redirect string) error {
	if id == "" {
		return ErrNodeIDRequired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[id]
	if n == nil {
		return ErrNodeNotFound
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionDeleteNode); err != nil {
		return err
	}
	var ev *Event
	if n.meta.Config.NotifyDelete {
		ev = &Event{Kind: EventDelete, Node: id, NotificationType: n.meta.Config.NotificationType,
			Redirect: redirect, Recipients: n.nodeRecipients(true)}
	}
	if err := s.store.DeleteNode(ctx, id); err != nil {
		return err
	}
	n.deleted = true
	delete(s.nodes, id)
	if c := s.created[n.meta.Creator] - 1; c > 0 {
		s.created[n.meta.Creator] = c
	} else {
		delete(s.created, n.meta.Creator)
	}
	s.link(n, n.meta.Parents, nil)
	for _, ch := range n.children {
		ch.mu.Lock()
		ch.meta.Parents = slices.DeleteFunc(slices.Clone(ch.meta.Parents), func(p NodeID) bool { return p == id })
		if len(ch.meta.Parents) == 0 {
			ch.meta.Parents = nil
		}
		ch.mu.Unlock()
	}
	children := n.children
	n.children = make(map[NodeID]*node)
	for _, ch := range children {
		s.recomputeAncestors(ch)
	}
	n.subMu.Lock()
	n.subs, n.nsubs = make(map[jid.JID][]Subscription), 0
	n.fan.Store(nil)
	n.subMu.Unlock()
	if ev != nil {
		s.notify(ctx, ev)
	}
	return nil
}

// dedupe returns ids without duplicates and empty IDs, in order; nil if
// none remain.
func dedupe(ids []NodeID) []NodeID {
	var out []NodeID
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// sortRecipients orders recipients by JID.
func sortRecipients(rs []Recipient) {
	slices.SortFunc(rs, func(a, b Recipient) int { return cmp.Compare(a.JID.String(), b.JID.String()) })
}
