package module

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

type iqKey struct {
	target Target
	typ    string
	ns     string
	local  string
}

type prioritized[T any] struct {
	priority int
	seq      int
	fn       T
}

// Registry holds every registration made by modules: the IQ mux, disco
// features and identities, and hooks. It is written only while modules
// start (single goroutine) and sealed before the server accepts
// connections; after that it is read without locks.
type Registry struct {
	sealed     atomic.Bool
	iq         map[iqKey]IQHandler
	features   map[Target][]string
	identities map[Target][]Identity
	bound      []prioritized[SessionHook]
	end        []prioritized[SessionHook]
	idle       IdleHook
	idleAfter  time.Duration
	ready      []prioritized[SessionHook]
	removed    []prioritized[AccountHook]
	filters    []StanzaFilter
	delivered  []MessageHook
	sent       []SentHook
	register   RegistrationHandler
	rosters    Rosters
	rosterHook []RosterHook
	presSent   []SentHook
	acctDisco  AccountDisco
	services   map[string]ServiceHandler
	items      []Item
	presence   PresenceHandler
	undeliv    UndeliverableHandler
	streamFeat []func() *stanza.Element
	infos      []Info
	seq        int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{iq: make(map[iqKey]IQHandler), features: make(map[Target][]string),
		identities: make(map[Target][]Identity)}
}

// Seal closes registration; later registrations panic.
func (r *Registry) Seal() {
	sortHooks(r.bound)
	sortHooks(r.end)
	sortHooks(r.ready)
	sortHooks(r.removed)
	for t := range r.features {
		slices.Sort(r.features[t])
	}
	r.sealed.Store(true)
}

func sortHooks[T any](h []prioritized[T]) {
	sort.SliceStable(h, func(i, j int) bool {
		if h[i].priority != h[j].priority {
			return h[i].priority < h[j].priority
		}
		return h[i].seq < h[j].seq
	})
}

func (r *Registry) mustOpen(what string) {
	if r.sealed.Load() {
		panic("module: " + what + " after start")
	}
}

// IQHandler returns the handler for an IQ request, or nil: one map lookup.
func (r *Registry) IQHandler(t Target, typ, ns, local string) IQHandler {
	return r.iq[iqKey{t, typ, ns, local}]
}

// SessionBound runs the session-bound hooks in priority order.
func (r *Registry) SessionBound(ctx context.Context, s Session) {
	for _, h := range r.bound {
		h.fn(ctx, s)
	}
}

// SessionEnd runs the session-end hooks in priority order.
func (r *Registry) SessionEnd(ctx context.Context, s Session) {
	for _, h := range r.end {
		h.fn(ctx, s)
	}
}

// Idle returns the idle hook (nil when none) and after how long a silent
// session counts as idle.
func (r *Registry) Idle() (IdleHook, time.Duration) { return r.idle, r.idleAfter }

// Features returns the disco features registered for t, sorted.
func (r *Registry) Features(t Target) []string { return r.features[t] }

// Identities returns the registered disco identities of a target.
func (r *Registry) Identities(t Target) []Identity { return r.identities[t] }

// Modules returns the Info of every started module in start order.
func (r *Registry) Modules() []Info { return r.infos }

// Ready runs the OnReady hooks.
func (r *Registry) Ready(ctx context.Context, s Session) {
	for _, h := range r.ready {
		h.fn(ctx, s)
	}
}

// Filter runs the stanza filters; see StanzaFilter.
func (r *Registry) Filter(ctx context.Context, st *stanza.Element, from, to jid.JID) error {
	for _, f := range r.filters {
		if err := f(ctx, st, from, to); err != nil {
			return err
		}
	}
	return nil
}

// HasFilters reports whether any filter is registered.
func (r *Registry) HasFilters() bool { return len(r.filters) > 0 }

// MessageDelivered runs the message-delivered hooks.
func (r *Registry) MessageDelivered(ctx context.Context, st *stanza.Element, account jid.JID, to Session) {
	for _, h := range r.delivered {
		h(ctx, st, account, to)
	}
}

// MessageSent runs the message-sent hooks.
func (r *Registry) MessageSent(ctx context.Context, st *stanza.Element, from jid.JID) {
	for _, h := range r.sent {
		h(ctx, st, from)
	}
}

// PresenceSent runs the presence-sent hooks.
func (r *Registry) PresenceSent(ctx context.Context, st *stanza.Element, from jid.JID) {
	for _, h := range r.presSent {
		h(ctx, st, from)
	}
}

// Service returns the handler of a service domain, or nil.
func (r *Registry) Service(domain string) ServiceHandler { return r.services[domain] }

// Registration returns the pre-authentication registration handler, or nil.
func (r *Registry) Registration() RegistrationHandler { return r.register }

// Presence returns the presence handler, or nil.
func (r *Registry) Presence() PresenceHandler { return r.presence }

// Undeliverable returns the undeliverable-message handler, or nil.
func (r *Registry) Undeliverable() UndeliverableHandler { return r.undeliv }

// StreamFeatures returns the extra post-authentication stream features.
func (r *Registry) StreamFeatures() []*stanza.Element {
	out := make([]*stanza.Element, len(r.streamFeat))
	for i, f := range r.streamFeat {
		out[i] = f()
	}
	return out
}

// Router is what a Host needs from the router.
type Router interface {
	Route(ctx context.Context, st *stanza.Element)
	RouteParsed(ctx context.Context, st *stanza.Element, from, to jid.JID)
	SendIQ(ctx context.Context, iq *stanza.Element, f IQResultFunc)
}

// Deps are the collaborators every Host shares.
type Deps struct {
	Domain   jid.JID
	Logger   *slog.Logger
	Config   *config.Config
	Store    storage.Store
	Router   Router
	Sessions *session.Registry
}

// NewHost returns the Host handed to module m's Start.
func (r *Registry) NewHost(m Module, d Deps) Host {
	info := m.Info()
	if info.Name == "" {
		panic("module: module without a name")
	}
	for _, i := range r.infos {
		if i.Name == info.Name {
			panic("module: duplicate module " + info.Name)
		}
	}
	r.infos = append(r.infos, info)
	return &host{reg: r, name: info.Name, deps: d, log: d.Logger.With("module", info.Name)}
}

type host struct {
	reg  *Registry
	name string
	deps Deps
	log  *slog.Logger
}

var _ Host = (*host)(nil)

func (h *host) Domain() jid.JID                { return h.deps.Domain }
func (h *host) Logger() *slog.Logger           { return h.log }
func (h *host) Storage() storage.Store         { return h.deps.Store }
func (h *host) ServerConfig() *config.Config   { return h.deps.Config }
func (h *host) Config(v any) error             { return h.deps.Config.DecodeModule(h.name, v) }
func (h *host) Features(t Target) []string     { return h.reg.Features(t) }
func (h *host) Identities(t Target) []Identity { return h.reg.Identities(t) }
func (h *host) Rosters() Rosters               { return h.reg.rosters }
func (h *host) AccountDisco() AccountDisco     { return h.reg.acctDisco }
func (h *host) Modules() []Info                { return h.reg.Modules() }

func (h *host) Route(ctx context.Context, st *stanza.Element) { h.deps.Router.Route(ctx, st) }

func (h *host) RouteParsed(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	h.deps.Router.RouteParsed(ctx, st, from, to)
}

func (h *host) SendIQ(ctx context.Context, iq *stanza.Element, f IQResultFunc) {
	h.deps.Router.SendIQ(ctx, iq, f)
}

func (h *host) HandleIQ(t Target, typ, ns, local string, hd IQHandler) {
	h.check("HandleIQ", hd == nil)
	if typ != stanza.TypeGet && typ != stanza.TypeSet {
		panic(fmt.Sprintf("module: %s: IQ handler type %q is not get or set", h.name, typ))
	}
	if t != ToServer && t != ToAccount {
		panic("module: " + h.name + ": invalid IQ target")
	}
	k := iqKey{t, typ, ns, local}
	if _, dup := h.reg.iq[k]; dup {
		panic(fmt.Sprintf("module: %s: duplicate IQ handler for %s {%s}%s", h.name, typ, ns, local))
	}
	h.reg.iq[k] = hd
}

func (h *host) AddFeature(t Target, feature string) {
	h.reg.mustOpen("AddFeature")
	if slices.Contains(h.reg.features[t], feature) {
		panic("module: " + h.name + ": duplicate feature " + feature)
	}
	h.reg.features[t] = append(h.reg.features[t], feature)
}

func (h *host) AddIdentity(t Target, category, typ, name string) {
	h.reg.mustOpen("AddIdentity")
	if t != ToServer && t != ToAccount {
		panic("module: " + h.name + ": invalid identity target")
	}
	h.reg.identities[t] = append(h.reg.identities[t], Identity{category, typ, name})
}

func (h *host) OnSessionBound(priority int, hk SessionHook) {
	h.addSessionHook("OnSessionBound", &h.reg.bound, priority, hk)
}

func (h *host) OnSessionEnd(priority int, hk SessionHook) {
	h.addSessionHook("OnSessionEnd", &h.reg.end, priority, hk)
}

func (h *host) addSessionHook(what string, list *[]prioritized[SessionHook], priority int, hk SessionHook) {
	h.check(what, hk == nil)
	h.reg.seq++
	*list = append(*list, prioritized[SessionHook]{priority, h.reg.seq, hk})
}

// check panics on a registration after start, or with a nil or second
// (bad) handler.
func (h *host) check(what string, bad bool) {
	h.reg.mustOpen(what)
	if bad {
		panic("module: " + h.name + ": nil or second " + what)
	}
}

func (h *host) OnIdle(after time.Duration, hk IdleHook) {
	h.check("OnIdle hook (or a non-positive interval)", hk == nil || after <= 0 || h.reg.idle != nil)
	h.reg.idle = hk
	h.reg.idleAfter = after
}

func (h *host) OnReady(priority int, hk SessionHook) {
	h.addSessionHook("OnReady", &h.reg.ready, priority, hk)
}

func (h *host) HandlePresence(hd PresenceHandler) {
	h.check("presence handler", hd == nil || h.reg.presence != nil)
	h.reg.presence = hd
}

func (h *host) HandleUndeliverable(hd UndeliverableHandler) {
	h.check("undeliverable handler", hd == nil || h.reg.undeliv != nil)
	h.reg.undeliv = hd
}

func (h *host) AddStreamFeature(f func() *stanza.Element) {
	h.check("stream feature", f == nil)
	h.reg.streamFeat = append(h.reg.streamFeat, f)
}

func (h *host) Sessions(bare jid.JID) []Session { return h.deps.Sessions.Resources(bare) }

func (h *host) Session(full jid.JID) Session { return h.deps.Sessions.Get(full) }

func (h *host) OnAccountRemoved(priority int, hk AccountHook) {
	h.check("OnAccountRemoved", hk == nil)
	h.reg.seq++
	h.reg.removed = append(h.reg.removed, prioritized[AccountHook]{priority, h.reg.seq, hk})
}

func (h *host) RemoveAccount(ctx context.Context, account jid.JID, err *stanza.StreamError) error {
	return h.reg.RemoveAccount(ctx, h.deps.Store.Users(), h.deps.Sessions, account, err)
}

// RemoveAccount removes a local account (its bare JID) as
// Host.RemoveAccount does: it runs the account-removed hooks, deletes the
// account from users and closes its sessions with err. The server calls it
// for the admin API, so that an account removed by an administrator is
// forgotten by the modules like one cancelled with XEP-0077.
func (r *Registry) RemoveAccount(ctx context.Context, users storage.Users, sessions *session.Registry, account jid.JID, err *stanza.StreamError) error {
	for _, hk := range r.removed {
		hk.fn(ctx, account)
	}
	if derr := users.DeleteUser(ctx, account.Local()); derr != nil {
		return derr
	}
	for _, s := range sessions.Resources(account) {
		s.Close(err)
	}
	return nil
}

func (h *host) AddFilter(f StanzaFilter) {
	h.check("AddFilter", f == nil)
	h.reg.filters = append(h.reg.filters, f)
}

func (h *host) OnMessageDelivered(hk MessageHook) {
	h.check("OnMessageDelivered", hk == nil)
	h.reg.delivered = append(h.reg.delivered, hk)
}

func (h *host) OnMessageSent(hk SentHook) {
	h.check("OnMessageSent", hk == nil)
	h.reg.sent = append(h.reg.sent, hk)
}

func (h *host) HandleRegistration(hd RegistrationHandler) {
	h.check("HandleRegistration", hd == nil || h.reg.register != nil)
	h.reg.register = hd
}

func (h *host) Filter(ctx context.Context, st *stanza.Element, from, to jid.JID) error {
	return h.reg.Filter(ctx, st, from, to)
}

func (h *host) ProvideRosters(r Rosters) {
	h.check("ProvideRosters", r == nil || h.reg.rosters != nil)
	h.reg.rosters = r
}

func (h *host) Subscribed(ctx context.Context, user, contact jid.JID) bool {
	if h.reg.rosters == nil {
		return false
	}
	c, ok := h.reg.rosters.Contact(ctx, user, contact)
	return ok && c.ReceivesPresence()
}

func (h *host) OnRosterChange(hk RosterHook) {
	h.check("OnRosterChange", hk == nil)
	h.reg.rosterHook = append(h.reg.rosterHook, hk)
}

func (h *host) RosterChanged(ctx context.Context, user jid.JID, before, after Contact) {
	for _, hk := range h.reg.rosterHook {
		hk(ctx, user, before, after)
	}
}

func (h *host) OnPresenceSent(hk SentHook) {
	h.check("OnPresenceSent", hk == nil)
	h.reg.presSent = append(h.reg.presSent, hk)
}

func (h *host) ProvideAccountDisco(d AccountDisco) {
	h.check("ProvideAccountDisco", d == nil || h.reg.acctDisco != nil)
	h.reg.acctDisco = d
}

func (h *host) AddService(domain, name string, hd ServiceHandler) {
	h.reg.mustOpen("AddService")
	d, err := jid.NormalizeDomain(domain)
	if err != nil || d != domain || hd == nil || domain == h.deps.Domain.Domain() {
		panic("module: " + h.name + ": invalid service domain " + domain)
	}
	if _, dup := h.reg.services[domain]; dup {
		panic("module: " + h.name + ": duplicate service domain " + domain)
	}
	if h.reg.services == nil {
		h.reg.services = make(map[string]ServiceHandler)
	}
	h.reg.services[domain] = hd
	h.reg.items = append(h.reg.items, Item{JID: domain, Name: name})
}

func (h *host) ServiceItems() []Item { return h.reg.items }
