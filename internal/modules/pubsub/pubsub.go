// Package pubsub is the publish-subscribe service of XEP-0060 at
// pubsub.<domain>, with the collection nodes of XEP-0248 and result set
// management (XEP-0059) for item retrieval, and the Personal Eventing
// Protocol (XEP-0163) service of every account (see pep.go).
//
// It is a thin translation layer over the protocol-free core in
// internal/pubsub: requests are parsed into calls of a pubsub.Service,
// *pubsub.Error values are rendered as stanza errors with their
// http://jabber.org/protocol/pubsub#errors condition, and every
// pubsub.Event becomes one <message/> per recipient. Nodes, affiliations,
// subscriptions and items persist through the storage backend's
// pubsub.StoreProvider.
//
// # Notifications
//
// The core hands each operation's notification to Notify with the node
// locked, so Notify only appends the Event to a delivery queue. A few
// workers, each owning the queues of a fixed share of the nodes (so that
// the notifications of one node keep their order, XEP-0060 §7.1.2), build
// the event payload once per Event and route one shallow copy of a
// message per recipient: only the 'to' and 'id' attributes, and the SHIM
// headers of XEP-0131 where a recipient needs them (SubIDs, §7.1.2.4;
// the collection a notification came through, XEP-0248 §5.3), differ
// between recipients. Notifications go to the subscribed JID as given
// (§13.3): the router delivers those for a bare JID to the available
// resources and those for a full JID to that resource.
package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/dataform"
	"github.com/mote-xmpp/mote/internal/mam"
	"github.com/mote-xmpp/mote/internal/module"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/rsm"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces (XEP-0060 §16, XEP-0131, XEP-0203, XEP-0030).
const (
	NS        = "http://jabber.org/protocol/pubsub"
	NSEvent   = NS + "#event"
	NSOwner   = NS + "#owner"
	NSErrors  = NS + "#errors"
	NSSHIM    = "http://jabber.org/protocol/shim"
	NSDelay   = "urn:xmpp:delay"
	nsInfo    = "http://jabber.org/protocol/disco#info"
	nsItems   = "http://jabber.org/protocol/disco#items"
	nsRSM     = rsm.NS
	nsDataXML = dataform.NS
)

// FORM_TYPEs of the pubsub data forms (XEP-0060 §16.4).
const (
	formNodeConfig = NS + "#node_config"
	formSubOptions = NS + "#subscribe_options"
	formPublishOpt = NS + "#publish-options"
	formMetaData   = NS + "#meta-data"
	formSubAuth    = NS + "#subscribe_authorization"
)

// Who may create nodes (Config.Create).
const (
	CreateAll    = "all"    // every local account
	CreateAdmins = "admins" // the accounts listed in Config.Admins
)

// Config is the module's section of the configuration (modules.pubsub).
type Config struct {
	// Domain is the service's address; "" means "pubsub." and the
	// server's domain.
	Domain string `yaml:"domain"`
	// Name is the service's name in the server's disco#items and in its
	// disco#info identity.
	Name string `yaml:"name"`
	// Create says who may create nodes (XEP-0060 §8.1.1): "all" local
	// accounts, or only the "admins".
	Create string `yaml:"create"`
	// Admins are the bare JIDs of the service administrators: owners of
	// every node, allowed to act for other JIDs (§6.1.3.1) and exempt from
	// MaxNodesPerOwner.
	Admins []string `yaml:"admins"`
	// MaxNodes caps the nodes of the service.
	MaxNodes int `yaml:"max_nodes"`
	// MaxNodesPerOwner caps the nodes one account may create.
	MaxNodesPerOwner int `yaml:"max_nodes_per_owner"`
	// MaxItemsPerNode caps pubsub#max_items, and is what "max" means.
	MaxItemsPerNode int `yaml:"max_items_per_node"`
	// MaxSubscriptionsPerNode caps the subscriptions of one node
	// (too-many-subscriptions, §6.1.3.9).
	MaxSubscriptionsPerNode int `yaml:"max_subscriptions_per_node"`
	// MaxPayloadBytes caps the serialised payload of an item
	// (payload-too-big, §7.1.3.5); keep it below c2s.max_stanza_bytes.
	MaxPayloadBytes int `yaml:"max_payload_bytes"`
	// MaxItemsPerRequest is the largest page of an items request; the
	// requester pages with XEP-0059 for more (§6.5.4).
	MaxItemsPerRequest int `yaml:"max_items_per_request"`
	// MultiSubscribe lets one JID subscribe to a node several times, told
	// apart by SubID ("multi-subscribe", §6.1.6). Off, subscribing again
	// returns the existing subscription, which suits devices that
	// subscribe at every start.
	MultiSubscribe bool `yaml:"multi_subscribe"`
	// AutoCreate creates a missing node on publish, with the
	// publish-options preconditions as its configuration ("auto-create",
	// §7.1.4, §7.1.5).
	AutoCreate bool `yaml:"auto_create"`
	// ExpireInterval is how often items older than their node's
	// pubsub#item_expire are deleted from storage (they are invisible to
	// readers at once).
	ExpireInterval time.Duration `yaml:"expire_interval"`
	// MaxQueuedNotifications bounds the notifications waiting for
	// delivery. Beyond it, publishers wait (back-pressure) for up to
	// QueueWait and then get a wait/resource-constraint error; nothing
	// already accepted is dropped.
	MaxQueuedNotifications int `yaml:"max_queued_notifications"`
	// QueueWait is how long a request that would notify waits for room in
	// the delivery queue.
	QueueWait time.Duration `yaml:"queue_wait"`
	// Archive keeps every item published to a node of the service in the
	// node's message archive (XEP-0313 with a node, XEP-0442), for paging
	// through a sensor's history beyond pubsub#max_items.
	Archive bool `yaml:"archive"`
	// ArchiveMaxPerNode and ArchiveMaxAge bound each node's archive (0:
	// no bound); they are applied every expire_interval.
	ArchiveMaxPerNode int           `yaml:"archive_max_per_node"`
	ArchiveMaxAge     time.Duration `yaml:"archive_max_age"`
	// PEP configures the Personal Eventing Protocol service of every
	// account (XEP-0163).
	PEP PEPConfig `yaml:"pep"`
}

// PEPConfig is the configuration of the accounts' PEP services
// (modules.pubsub.pep).
type PEPConfig struct {
	// Enabled gives every account a PEP service at its bare JID.
	Enabled bool `yaml:"enabled"`
	// MaxNodes caps the nodes of one account.
	MaxNodes int `yaml:"max_nodes"`
	// MaxItemsPerNode caps pubsub#max_items of a PEP node (the default is
	// 1: PEP nodes usually hold the latest state).
	MaxItemsPerNode int `yaml:"max_items_per_node"`
	// MaxSubscriptionsPerNode caps the explicit subscriptions of one PEP
	// node (contacts with a presence subscription need none).
	MaxSubscriptionsPerNode int `yaml:"max_subscriptions_per_node"`
	// CapsCacheSize bounds the entity capabilities (XEP-0115) remembered
	// to filter notifications.
	CapsCacheSize int `yaml:"caps_cache_size"`
}

// Module is the publish-subscribe service.
type Module struct {
	cfg    Config
	h      module.Host
	log    *slog.Logger
	comp   *service // the component at pubsub.<domain>
	domain string   // the server's domain
	admins map[jid.JID]bool

	q        *deliverer
	idPrefix string
	nextID   atomic.Uint64

	pep *peps // the accounts' PEP services, nil when PEP is off

	stop    chan struct{}
	stopped chan struct{}
	bg      sync.WaitGroup // work started by hooks

	archiveOps  chan archiveOp // the node archiver's input (archive.go)
	archiveDone chan struct{}

	// Counters for Stats (admin.go): [0] the component, [1] PEP services.
	published [2]atomic.Uint64 // items stored by publish requests
	delivered [2]atomic.Uint64 // notification messages routed
}

// New returns the module with its defaults.
func New() *Module {
	return &Module{cfg: Config{
		Name:                    "Publish-Subscribe",
		Create:                  CreateAll,
		MaxNodes:                100_000,
		MaxNodesPerOwner:        1000,
		MaxItemsPerNode:         1000,
		MaxSubscriptionsPerNode: 1_000_000,
		MaxPayloadBytes:         64 << 10,
		MaxItemsPerRequest:      100,
		ExpireInterval:          10 * time.Minute,
		MaxQueuedNotifications:  4_000_000,
		QueueWait:               5 * time.Second,
		Archive:                 true,
		ArchiveMaxPerNode:       100_000,
		PEP: PEPConfig{
			Enabled:                 true,
			MaxNodes:                256,
			MaxItemsPerNode:         100,
			MaxSubscriptionsPerNode: 10_000,
			CapsCacheSize:           10_000,
		},
	}}
}

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "pubsub", Requires: []string{"disco", "roster"}, XEPs: []module.XEP{
		{Number: 60, Version: "1.30.0", Status: "partial: no leases, digests, show-values filtering, body generation, get-pending ad-hoc command, items of collections, paging by index or from the end"},
		{Number: 163, Version: "1.2.2", Status: "complete (no XEP-0033 replyto on notifications, a SHOULD)"},
		{Number: 248, Version: "0.5.0", Status: "partial: no associate/dissociate requests, no change of node type"},
		{Number: 59, Version: "1.0", Status: "partial: pubsub items only, no <index/>, no paging from the end"},
		{Number: 442, Version: "0.2.0", Status: "partial: archives of the component's nodes; PEP nodes are not archived"},
	}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	m.h, m.log, m.domain = h, h.Logger(), h.Domain().Domain()
	if err := m.checkConfig(); err != nil {
		return fmt.Errorf("pubsub: %w", err)
	}
	p, ok := h.Storage().(ps.StoreProvider)
	if !ok {
		return fmt.Errorf("pubsub: the storage backend %T does not store publish-subscribe data", h.Storage())
	}
	var b [6]byte
	rand.Read(b[:])
	m.idPrefix = hex.EncodeToString(b[:]) + "-"
	m.q = newDeliverer(m, runtime.GOMAXPROCS(0), m.cfg.MaxQueuedNotifications)
	comp := m.newService(m.comp.jid, jid.JID{})
	svc, err := ps.New(ctx, p.PubSubStore(comp.from), ps.Options{
		AutoCreate:     m.cfg.AutoCreate,
		MultiSubscribe: m.cfg.MultiSubscribe,
		CanCreate:      m.canCreate,
		Notifier:       comp,
		Available:      m.available,
		Limits: ps.Limits{
			MaxNodes:                m.cfg.MaxNodes,
			MaxNodesPerOwner:        m.cfg.MaxNodesPerOwner,
			MaxItemsPerNode:         m.cfg.MaxItemsPerNode,
			MaxSubscriptionsPerNode: m.cfg.MaxSubscriptionsPerNode,
			MaxSubscriptionsPerJID:  8,
			MaxPayloadSize:          m.cfg.MaxPayloadBytes,
			MaxItemsPerRequest:      m.cfg.MaxItemsPerRequest,
		},
	})
	if err != nil {
		return fmt.Errorf("pubsub: loading %s: %w", comp.jid, err)
	}
	comp.svc, m.comp = svc, comp
	if m.cfg.Archive {
		m.archiveOps, m.archiveDone = make(chan archiveOp, archiveQueue), make(chan struct{})
		comp.archive = m.archiveOps
		go m.archiveLoop(m.archiveOps, m.archiveDone)
	}
	if m.cfg.PEP.Enabled {
		if m.pep, err = m.startPEP(ctx, p); err != nil {
			return fmt.Errorf("pubsub: pep: %w", err)
		}
	}
	m.q.start()
	m.stop, m.stopped = make(chan struct{}), make(chan struct{})
	go m.expireLoop()
	h.AddService(comp.from, m.cfg.Name, comp.handle)
	h.OnAccountRemoved(20, m.accountRemoved)
	h.OnSessionEnd(30, m.sessionEnd)
	h.OnRosterChange(m.rosterChanged)
	return nil
}

// checkConfig validates the configuration and derives the service JID and
// the administrators.
func (m *Module) checkConfig() error {
	c := &m.cfg
	if c.Domain == "" {
		c.Domain = "pubsub." + m.domain
	}
	d, err := jid.NormalizeDomain(c.Domain)
	if err != nil || d != c.Domain || d == m.domain {
		return fmt.Errorf("domain %q: not a normalised domain other than the server's", c.Domain)
	}
	j, err := jid.Parse(d)
	if err != nil {
		return fmt.Errorf("domain %q: %w", d, err)
	}
	m.comp = &service{jid: j} // the address; Start builds the service
	switch c.Create {
	case CreateAll, CreateAdmins:
	default:
		return fmt.Errorf("create %q: want %q or %q", c.Create, CreateAll, CreateAdmins)
	}
	m.admins = make(map[jid.JID]bool, len(c.Admins))
	for _, a := range c.Admins {
		j, err := jid.Parse(a)
		if err != nil || !j.IsBare() || j.Local() == "" {
			return fmt.Errorf("admins: %q is not a bare account JID", a)
		}
		m.admins[j] = true
	}
	for _, l := range []struct {
		name string
		v    int
	}{
		{"max_nodes", c.MaxNodes}, {"max_nodes_per_owner", c.MaxNodesPerOwner},
		{"max_items_per_node", c.MaxItemsPerNode}, {"max_subscriptions_per_node", c.MaxSubscriptionsPerNode},
		{"max_payload_bytes", c.MaxPayloadBytes}, {"max_items_per_request", c.MaxItemsPerRequest},
		{"max_queued_notifications", c.MaxQueuedNotifications},
		{"pep.max_nodes", c.PEP.MaxNodes}, {"pep.max_items_per_node", c.PEP.MaxItemsPerNode},
		{"pep.max_subscriptions_per_node", c.PEP.MaxSubscriptionsPerNode}, {"pep.caps_cache_size", c.PEP.CapsCacheSize},
	} {
		if l.v <= 0 {
			return fmt.Errorf("%s must be positive", l.name)
		}
	}
	if c.ExpireInterval <= 0 || c.QueueWait <= 0 {
		return errors.New("expire_interval and queue_wait must be positive")
	}
	if c.ArchiveMaxPerNode < 0 || c.ArchiveMaxAge < 0 {
		return errors.New("archive_max_per_node and archive_max_age must not be negative")
	}
	return nil
}

// Stop implements module.Module: it stops the expiry loop and delivers
// the notifications still queued.
func (m *Module) Stop(ctx context.Context) error {
	if m.stop == nil {
		return nil
	}
	close(m.stop)
	<-m.stopped
	m.bg.Wait()
	m.stop = nil
	err := m.q.close(ctx)
	if m.archiveOps != nil {
		// The workers are done: nothing sends to the archiver any more.
		close(m.archiveOps)
		<-m.archiveDone
	}
	return err
}

// expireLoop deletes expired items now and then (pubsub#item_expire).
func (m *Module) expireLoop() {
	defer close(m.stopped)
	t := time.NewTicker(m.cfg.ExpireInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ExpireInterval)
			m.purgeArchives(ctx)
			for _, sv := range m.services() {
				if n, err := sv.svc.ExpireItems(ctx); err != nil {
					m.log.Error("expiring items", "service", sv.from, "err", err)
				} else if n > 0 {
					m.log.Debug("expired items", "service", sv.from, "count", n)
				}
			}
			cancel()
		}
	}
}

// canCreate decides who may create nodes (XEP-0060 §8.1.1).
func (m *Module) canCreate(a ps.Actor) bool {
	if a.Admin {
		return true
	}
	return m.cfg.Create == CreateAll && a.JID.Local() != "" && a.JID.Domain() == m.domain
}

// available reports whether a subscriber is online, for
// pubsub#presence_based_delivery (§13.6): a full JID's session is
// available, or one of a bare JID's is.
func (m *Module) available(j jid.JID) bool {
	if !j.IsBare() {
		s := m.h.Session(j)
		return s != nil && s.Available()
	}
	for _, s := range m.h.Sessions(j) {
		if s.Available() {
			return true
		}
	}
	return false
}

// services returns the component and the PEP services in memory.
func (m *Module) services() []*service {
	out := []*service{m.comp}
	if m.pep != nil {
		out = append(out, m.pep.loaded()...)
	}
	return out
}

// accountRemoved forgets a removed account: its PEP service (storage
// deletes the nodes with the account), and its subscriptions and
// affiliations at the component and at the PEP services in memory, so
// that an account registered again under its name inherits none.
// Storage removes the rows of services not in memory.
func (m *Module) accountRemoved(ctx context.Context, account jid.JID) {
	if m.pep != nil {
		m.pep.drop(account)
	}
	for _, sv := range m.services() {
		sv.forget(ctx, account)
	}
}

// forget cancels the subscriptions and removes the affiliations of the
// bare JID account at this service, and deletes the nodes it alone owns.
func (sv *service) forget(ctx context.Context, account jid.JID) {
	a := sv.serviceActor()
	for _, sub := range sv.svc.UserSubscriptions(ctx, account) {
		if err := sv.svc.Unsubscribe(ctx, a, sub.Node, sub.JID, sub.SubID); err != nil && !errors.Is(err, ps.ErrNoSuchSubscriber) {
			sv.log.Error("removing subscription of a removed account", "service", sv.from, "node", string(sub.Node), "err", err)
		}
	}
	for _, af := range sv.svc.UserAffiliations(ctx, account) {
		var err error
		if owners := sv.owners(ctx, af.Node); len(owners) == 1 && owners[0] == account {
			// Its own nodes go with the account (XEP-0077 §3.2: the
			// server removes the account's data).
			err = sv.svc.DeleteNode(ctx, a, af.Node, "")
			sv.nodeChanged(af.Node)
		} else {
			err = sv.svc.SetAffiliations(ctx, a, af.Node, []ps.Affiliated{{JID: account, Affiliation: ps.AffNone}})
			sv.nodeChanged(af.Node)
		}
		if err != nil && !errors.Is(err, ps.ErrNodeNotFound) {
			sv.log.Error("removing affiliation of a removed account", "service", sv.from, "node", string(af.Node), "err", err)
		}
	}
}

// actor returns the requester of a request from the JID from.
func (sv *service) actor(from jid.JID) ps.Actor {
	if sv.isPEP() {
		return ps.Actor{JID: from, Self: from.Bare() == sv.owner}
	}
	return ps.Actor{JID: from, Admin: sv.admins[from.Bare()]}
}

// serviceActor is the service itself, acting as an administrator (to read
// a node's owners, or to clean up).
func (sv *service) serviceActor() ps.Actor { return ps.Actor{JID: sv.jid, Admin: true} }

// withAccess adds to a the roster facts that the node's access model
// needs (XEP-0060 §4.5): whether an owner's roster gives the requester a
// presence subscription (presence), and in which of the owner's roster
// groups the requester is (roster). Nothing is looked up for other
// access models, or when the node does not exist (the Service reports
// that). The owner of a PEP node is the account.
func (sv *service) withAccess(ctx context.Context, a *ps.Actor, id ps.NodeID) {
	n, err := sv.svc.Node(ctx, id)
	if err != nil {
		return
	}
	am := n.Config.AccessModel
	if am != ps.AccessPresence && am != ps.AccessRoster {
		return
	}
	if sv.isPEP() {
		sv.rosterFacts(ctx, a, sv.owner)
		return
	}
	sv.rosterFacts(ctx, a, sv.owners(ctx, id)...)
}

// rosterFacts sets a.PresenceSubscribed and a.RosterGroups from the
// rosters of the local accounts among owners: the requester receives an
// owner's presence (subscription from or both), in these groups.
func (m *Module) rosterFacts(ctx context.Context, a *ps.Actor, owners ...jid.JID) {
	r := m.h.Rosters()
	if r == nil {
		return
	}
	me := a.JID.Bare()
	for _, o := range owners {
		if o.Domain() != m.domain || o.Local() == "" {
			continue
		}
		if c, ok := r.Contact(ctx, o, me); ok && c.ReceivesPresence() {
			a.PresenceSubscribed = true
			a.RosterGroups = append(a.RosterGroups, c.Groups...)
		}
	}
}

// owners returns the bare JIDs of a node's owners.
func (sv *service) owners(ctx context.Context, id ps.NodeID) []jid.JID {
	affs, _ := sv.svc.Affiliations(ctx, sv.serviceActor(), id)
	var out []jid.JID
	for _, a := range affs {
		if a.Affiliation == ps.AffOwner {
			out = append(out, a.JID)
		}
	}
	return out
}

// handle receives every stanza addressed to the service domain.
func (sv *service) handle(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	switch stanza.KindOf(st) {
	case stanza.KindIQ:
		typ := st.Attr("type")
		if typ != stanza.TypeGet && typ != stanza.TypeSet {
			return // replies to nothing the service asked
		}
		if to.Local() != "" || to.Resource() != "" {
			sv.replyError(ctx, st, nil, stanza.NewError(stanza.ServiceUnavailable, ""))
			return
		}
		if typ == stanza.TypeSet {
			// Back-pressure: a request that may notify waits for room
			// in the delivery queues.
			if err := sv.q.room(ctx, sv.cfg.QueueWait); err != nil {
				sv.replyError(ctx, st, nil, sv.stanzaError(err))
				return
			}
		}
		sv.handleIQ(ctx, st, from, typ)
	case stanza.KindMessage:
		sv.handleMessage(ctx, st, from, to)
	case stanza.KindPresence:
		sv.handlePresence(ctx, st, from, to)
	}
}

// handleIQ dispatches an IQ get or set by its payload.
func (sv *service) handleIQ(ctx context.Context, iq *stanza.Element, from jid.JID, typ string) {
	p := iq.FirstChild()
	if p == nil || iq.CountChildElements() != 1 {
		sv.replyError(ctx, iq, nil, stanza.NewError(stanza.BadRequest, "an IQ request carries exactly one payload"))
		return
	}
	var res *stanza.Element
	var err error
	switch {
	case p.Space == nsInfo && p.Local == "query" && typ == stanza.TypeGet:
		res, err = sv.discoInfo(ctx, p)
	case p.Space == nsItems && p.Local == "query" && typ == stanza.TypeGet:
		res, err = sv.discoItems(ctx, from, p)
	case p.Space == NS && p.Local == "pubsub":
		res, err = sv.pubsubIQ(ctx, from, typ, p)
	case p.Space == NSOwner && p.Local == "pubsub":
		res, err = sv.ownerIQ(ctx, from, typ, p)
	case p.Space == mam.NS && p.Local == "query" && typ == stanza.TypeSet:
		res, err = sv.archiveQuery(ctx, from, p)
	case p.Space == mam.NS && p.Local == "query" && sv.archiving():
		res = mam.Form()
	default:
		err = stanza.NewError(stanza.ServiceUnavailable, "")
	}
	if err != nil {
		var re *replyErr
		if errors.As(err, &re) {
			sv.replyError(ctx, iq, re.payload, re.err)
			return
		}
		sv.replyError(ctx, iq, nil, sv.stanzaError(err))
		return
	}
	r := stanza.IQResult(iq, res)
	r.SetAttr("from", sv.from)
	sv.h.Route(ctx, r)
}

// replyErr is an error reply whose payload is not the request's: the
// entries that failed, for §8.8.2.4 and §8.9.2.4.
type replyErr struct {
	payload *stanza.Element
	err     stanza.Error
}

func (e *replyErr) Error() string { return e.err.Error() }

// replyError sends the error reply to st, with payload instead of the
// request's children if not nil.
func (sv *service) replyError(ctx context.Context, st *stanza.Element, payload *stanza.Element, se stanza.Error) {
	var r *stanza.Element
	if payload != nil {
		c := st.ShallowCopy()
		c.Children = nil
		c.Append(payload)
		r = stanza.ErrorReply(c, se)
	} else {
		r = stanza.ErrorReply(st, se)
	}
	if r == nil || r.Attr("to") == "" {
		return
	}
	r.SetAttr("from", sv.from)
	sv.h.Route(ctx, r)
}

// stanzaError renders err as the stanza error to reply with: a
// *pubsub.Error with its condition, type, text and pubsub#errors
// application condition (with the 'feature' attribute of
// <unsupported/>, XEP-0060 §18.2), the errors of the data form and RSM
// parsers, or internal-server-error for anything else (logged).
func (m *Module) stanzaError(err error) stanza.Error {
	var se stanza.Error
	if errors.As(err, &se) {
		return se
	}
	var pe *ps.Error
	if errors.As(err, &pe) {
		se = stanza.Error{Type: stanza.ErrorType(pe.Type()), Condition: stanza.Condition(pe.Condition()), Text: pe.Text()}
		var ce *ps.ConfigError
		if errors.As(err, &ce) {
			se.Text = strings.TrimPrefix(ce.Error(), "pubsub: ")
		}
		if pe.App() != "" {
			se.Extra = stanza.NewElement(NSErrors, pe.App())
			if f := pe.Feature(); f != "" {
				se.Extra.SetAttr("feature", f)
			}
		}
		return se
	}
	var de *dataform.Error
	if errors.As(err, &de) {
		return de.StanzaError()
	}
	var re *rsm.Error
	if errors.As(err, &re) {
		return re.StanzaError()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return stanza.NewError(stanza.ResourceConstraint, "")
	}
	m.log.Error("pubsub request failed", "err", err)
	return stanza.NewError(stanza.InternalServerError, "")
}

// badRequest is a bad-request error with text.
func badRequest(text string) error { return stanza.NewError(stanza.BadRequest, text) }

// handlePresence answers the available presence a subscriber sends to
// the service with the last published item of each node it is subscribed
// to whose pubsub#send_last_published_item is on_sub_and_presence
// (XEP-0060 §4.3 "last-published", §6.1.7).
func (sv *service) handlePresence(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	if st.Attr("type") != "" || to.Local() != "" || from.IsZero() {
		return
	}
	a := sv.actor(from)
	done := map[ps.NodeID]bool{}
	for _, sub := range sv.svc.UserSubscriptions(ctx, from) {
		if done[sub.Node] || sub.State != ps.SubSubscribed || !sub.Options.Deliver ||
			(sub.JID != from && sub.JID != from.Bare()) {
			continue
		}
		done[sub.Node] = true
		n, err := sv.svc.Node(ctx, sub.Node)
		if err != nil || n.Type != ps.Leaf || !n.Config.DeliverNotifications ||
			n.Config.SendLastPublishedItem != ps.SendLastOnSubAndPresence {
			continue
		}
		it, ok, err := sv.svc.LastPublished(ctx, a, sub.Node)
		if err != nil || !ok {
			continue
		}
		if !n.Config.DeliverPayloads {
			it.Payload = nil
		}
		sv.Notify(ctx, &ps.Event{Kind: ps.EventPublish, Node: sub.Node, NotificationType: n.Config.NotificationType,
			Items: []ps.Item{it}, Replay: true, Recipients: []ps.Recipient{{JID: from}}})
	}
}

// handleMessage takes an owner's answer to a subscription approval
// request (XEP-0060 §8.6): a submitted pubsub#subscribe_authorization
// form. A cancelled form leaves the subscription pending. Errors go back
// as message errors; other messages are refused with service-unavailable.
func (sv *service) handleMessage(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	if st.Attr("type") == stanza.TypeError {
		return // a notification that bounced: nothing to do
	}
	x := st.Child(nsDataXML, "x")
	if x == nil || to.Local() != "" {
		sv.replyError(ctx, st, nil, stanza.NewError(stanza.ServiceUnavailable, ""))
		return
	}
	if err := sv.approval(ctx, from, x); err != nil {
		sv.replyError(ctx, st, nil, sv.stanzaError(err))
	}
}

// approval processes a submitted authorization form.
func (sv *service) approval(ctx context.Context, from jid.JID, x *stanza.Element) error {
	f, err := dataform.Parse(x)
	if err != nil {
		return err
	}
	if f.FormType() != formSubAuth {
		return badRequest("not a " + formSubAuth + " form")
	}
	switch f.Type {
	case dataform.TypeCancel:
		return nil // stays pending (§8.6)
	case dataform.TypeSubmit:
	default:
		return badRequest("the form must be submitted or cancelled")
	}
	node := f.Value("pubsub#node")
	if node == "" {
		return ps.ErrNodeIDRequired
	}
	subscriber, err := jid.Parse(f.Value("pubsub#subscriber_jid"))
	if err != nil {
		return ps.ErrJIDRequired
	}
	allow, present, err := f.Bool("pubsub#allow")
	if err != nil {
		return err
	}
	if !present {
		return badRequest("pubsub#allow is required")
	}
	return sv.svc.Approve(ctx, sv.actor(from), ps.NodeID(node), subscriber, f.Value("pubsub#subid"), allow)
}

// features are the pubsub features the service implements (XEP-0060
// §11, XEP-0248 §5.1), advertised as http://jabber.org/protocol/pubsub#…
// (the "last-published" feature is added per configuration).
var features = []string{
	"access-open", "collections", "config-node", "create-and-configure", "create-nodes",
	"delete-items", "delete-nodes", "instant-nodes", "item-ids", "last-published",
	"manage-subscriptions", "member-affiliation", "meta-data", "modify-affiliations",
	"multi-collections", "multi-items", "outcast-affiliation", "persistent-items",
	"presence-notifications", "publish", "publish-node-full", "publish-only-affiliation",
	"publish-options", "publisher-affiliation", "purge-nodes", "retract-items",
	"retrieve-affiliations", "retrieve-default", "retrieve-default-sub", "retrieve-items",
	"retrieve-subscriptions", "rsm", "subscribe", "subscription-notifications",
	"subscription-options",
}

// serviceFeatures returns the disco features of the service, sorted.
func (sv *service) serviceFeatures() []string {
	fs := []string{nsInfo, nsItems, NS}
	for _, f := range features {
		fs = append(fs, NS+"#"+f)
	}
	if sv.cfg.AutoCreate {
		fs = append(fs, NS+"#auto-create")
	}
	if sv.cfg.MultiSubscribe {
		fs = append(fs, NS+"#multi-subscribe")
	}
	if sv.archiving() {
		fs = append(fs, mam.NS) // node archives (XEP-0442)
	}
	slices.Sort(fs)
	return fs
}
