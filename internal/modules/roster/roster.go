// Package roster implements XMPP instant messaging and presence for the
// accounts of this server (RFC 6121): the roster (§2), presence
// subscriptions (§3, with the state machine of package subscription) and
// presence broadcast, probes and directed presence (§4). The three are one
// module because each step of one changes the others.
//
// Rosters of accounts with a bound session, and of accounts an operation
// is working on, are held in memory; storage is read when an account
// comes online and written on every roster change, never on the way of a
// presence broadcast or a message.
package roster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/subscription"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces.
const (
	NS            = "jabber:iq:roster"
	NSVersioning  = "urn:xmpp:features:rosterver"    // RFC 6121 §2.6.1
	NSPreApproval = "urn:xmpp:features:pre-approval" // RFC 6121 §3.4.1
)

// Limits on what a client may put in an item (RFC 6121 §2.3.3).
const (
	maxNameBytes   = 1023
	maxGroupBytes  = 1023
	maxGroupsCount = 64
)

// Config is the module's section of the configuration.
type Config struct {
	// MaxItems caps the items of one roster; a roster set or subscription
	// request beyond it is refused with not-allowed (RFC 6121 §2.3.3).
	MaxItems int `yaml:"max_items"`
}

// Module is the roster and presence module.
type Module struct {
	cfg    Config
	h      module.Host
	log    *slog.Logger
	store  storage.Rosters
	users  storage.Users
	domain jid.JID
	nextID atomic.Uint64

	// The rosters in memory, in shards so that the presence of unrelated
	// accounts does not contend on one lock.
	shards [nShards]accountShard

	mu sync.Mutex
	// pendingUsers holds the accounts that may have pending requests
	// (loaded at start, added to on every new one), so that loading a
	// roster reads them only when there may be some.
	pendingUsers map[string]struct{} // guarded by mu
}

const nShards = 64

type accountShard struct {
	mu       sync.Mutex
	accounts map[jid.JID]*account // guarded by mu
}

func (m *Module) shard(bare jid.JID) *accountShard {
	h := uint32(2166136261) // FNV-1a of the bare JID
	s := bare.String()
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return &m.shards[h%nShards]
}

// loaded returns the accounts whose roster is in memory.
func (m *Module) loaded() []jid.JID {
	var out []jid.JID
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for j := range sh.accounts {
			out = append(out, j)
		}
		sh.mu.Unlock()
	}
	return out
}

// existing returns bare's entry if its roster is in memory.
func (m *Module) existing(bare jid.JID) *account {
	sh := m.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.accounts[bare]
}

// account is one account's roster in memory.
type account struct {
	refs int // guarded by its shard's mu: bound sessions plus operations in progress

	mu      sync.Mutex
	loaded  bool
	version int64
	items   map[jid.JID]*storage.RosterItem
	pending map[jid.JID][]byte // subscription requests awaiting an answer
}

// New returns the module with its defaults.
func New() *Module {
	m := &Module{cfg: Config{MaxItems: 1000}}
	for i := range m.shards {
		m.shards[i].accounts = make(map[jid.JID]*account)
	}
	return m
}

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "roster", Requires: []string{"disco"}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	if m.cfg.MaxItems <= 0 {
		return fmt.Errorf("roster: max_items must be positive")
	}
	m.h, m.log, m.domain = h, h.Logger(), h.Domain()
	m.store, m.users = h.Storage().Rosters(), h.Storage().Users()
	users, err := m.store.PendingUsers(ctx)
	if err != nil {
		return err
	}
	m.pendingUsers = make(map[string]struct{}, len(users))
	for _, u := range users {
		m.pendingUsers[u] = struct{}{}
	}
	h.HandleIQ(module.ToAccount, stanza.TypeGet, NS, "query", module.IQHandlerFunc(m.get))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "query", module.IQHandlerFunc(m.set))
	h.AddFeature(module.ToServer, NSVersioning)
	ver, sub := stanza.NewElement(NSVersioning, "ver"), stanza.NewElement(NSPreApproval, "sub")
	h.AddStreamFeature(func() *stanza.Element { return ver })
	h.AddStreamFeature(func() *stanza.Element { return sub })
	h.HandlePresence(m.presence)
	h.OnSessionBound(0, m.sessionBound)
	h.OnSessionEnd(0, m.sessionEnd)
	h.OnAccountRemoved(0, m.accountRemoved)
	h.ProvideRosters((*rosters)(m))
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

func (m *Module) ref(bare jid.JID) *account {
	sh := m.shard(bare)
	sh.mu.Lock()
	a := sh.accounts[bare]
	if a == nil {
		a = &account{}
		sh.accounts[bare] = a
	}
	a.refs++
	sh.mu.Unlock()
	return a
}

func (m *Module) unref(bare jid.JID, a *account) {
	sh := m.shard(bare)
	sh.mu.Lock()
	a.refs--
	if a.refs == 0 && sh.accounts[bare] == a {
		delete(sh.accounts, bare)
	}
	sh.mu.Unlock()
}

// lock returns bare's roster, loaded and locked; unlock releases it.
// Operations on two accounts lock them one after the other, never both.
func (m *Module) lock(ctx context.Context, bare jid.JID) (*account, error) {
	a := m.ref(bare)
	a.mu.Lock()
	if !a.loaded {
		if err := m.load(ctx, bare, a); err != nil {
			a.mu.Unlock()
			m.unref(bare, a)
			return nil, err
		}
	}
	return a, nil
}

func (m *Module) unlock(bare jid.JID, a *account) {
	a.mu.Unlock()
	m.unref(bare, a)
}

func (m *Module) load(ctx context.Context, bare jid.JID, a *account) error {
	r, err := m.store.GetRoster(ctx, bare.Local())
	if err != nil {
		return err
	}
	m.mu.Lock()
	_, maybe := m.pendingUsers[bare.Local()]
	m.mu.Unlock()
	var pend []storage.PendingIn
	if maybe {
		if pend, err = m.store.GetPendingIn(ctx, bare.Local()); err != nil {
			return err
		}
		if len(pend) == 0 {
			// Safe: new requests are stored under this account's roster
			// lock, which the caller holds.
			m.mu.Lock()
			delete(m.pendingUsers, bare.Local())
			m.mu.Unlock()
		}
	}
	a.version = r.Version
	a.items = make(map[jid.JID]*storage.RosterItem, len(r.Items))
	for i := range r.Items {
		j, err := jid.Parse(r.Items[i].Contact)
		if err != nil {
			m.log.Warn("skipping unparsable roster item", "account", bare.String(), "contact", r.Items[i].Contact)
			continue
		}
		a.items[j] = &r.Items[i]
	}
	a.pending = make(map[jid.JID][]byte, len(pend))
	for _, p := range pend {
		if j, err := jid.Parse(p.Contact); err == nil {
			a.pending[j] = p.Stanza
		}
	}
	a.loaded = true
	return nil
}

func (m *Module) sessionBound(_ context.Context, s module.Session) { m.ref(s.JID().Bare()) }

// state returns the subscription state of contact in a.
func (a *account) state(contact jid.JID) subscription.State {
	st := subscription.State{}
	if it := a.items[contact]; it != nil {
		st.Sub, st.PendingOut, st.Approved = it.Subscription, it.Ask, it.Approved
	}
	_, st.PendingIn = a.pending[contact]
	return st
}

// local reports whether j is an account of this server's domain.
func (m *Module) local(j jid.JID) bool { return j.Local() != "" && j.Domain() == m.domain.Domain() }

func itemElement(it *storage.RosterItem) *stanza.Element {
	e := stanza.NewElement(NS, "item", "jid", it.Contact)
	if it.Name != "" {
		e.SetAttr("name", it.Name)
	}
	e.SetAttr("subscription", it.Subscription.String())
	if it.Ask {
		e.SetAttr("ask", "subscribe")
	}
	if it.Approved {
		e.SetAttr("approved", "true")
	}
	for _, g := range it.Groups {
		e.Append(stanza.NewElement(NS, "group").AppendText(g))
	}
	return e
}

func version(v int64) string { return strconv.FormatInt(v, 10) }

// get answers a roster get (RFC 6121 §2.2) and makes the session an
// interested resource; with a current 'ver' the answer is empty (§2.6.3).
func (m *Module) get(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := module.OwnAccount(iq, stanza.Forbidden) // RFC 6121 §2.1.5
	if err != nil {
		return nil, err
	}
	if s := m.h.Session(from); s != nil {
		s.SetInterested()
	}
	a, err := m.lock(ctx, from.Bare())
	if err != nil {
		return nil, err
	}
	defer m.unlock(from.Bare(), a)
	q := iq.FirstChild()
	ver := version(a.version)
	if q.HasAttr("ver") && q.Attr("ver") == ver {
		return nil, nil
	}
	res := stanza.NewElement(NS, "query")
	if q.HasAttr("ver") {
		res.SetAttr("ver", ver)
	}
	keys := make([]jid.JID, 0, len(a.items))
	for j := range a.items {
		keys = append(keys, j)
	}
	slices.SortFunc(keys, func(x, y jid.JID) int {
		if x.String() < y.String() {
			return -1
		}
		if x.String() > y.String() {
			return 1
		}
		return 0
	})
	for _, j := range keys {
		res.Append(itemElement(a.items[j]))
	}
	return res, nil
}

// set handles a roster set: add or update an item (§2.3, §2.4) or remove
// one (§2.5).
func (m *Module) set(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := module.OwnAccount(iq, stanza.Forbidden) // RFC 6121 §2.1.5
	if err != nil {
		return nil, err
	}
	var item *stanza.Element
	n := 0
	for _, c := range iq.FirstChild().ChildElements() {
		if c.Space == NS && c.Local == "item" {
			item = c
			n++
		}
	}
	if n != 1 {
		return nil, stanza.NewError(stanza.BadRequest, "a roster set carries exactly one item")
	}
	contact, err := jid.Parse(item.Attr("jid"))
	if err != nil || contact.Resource() != "" {
		return nil, stanza.NewError(stanza.BadRequest, "the item's jid must be a bare JID")
	}
	if item.Attr("subscription") == "remove" {
		return nil, m.remove(ctx, from.Bare(), contact)
	}
	name := item.Attr("name")
	if len(name) > maxNameBytes {
		return nil, stanza.NewError(stanza.NotAcceptable, "name too long")
	}
	var groups []string
	for _, g := range item.ChildElements() {
		if g.Space != NS || g.Local != "group" {
			continue
		}
		t := g.Text()
		switch {
		case t == "":
			return nil, stanza.NewError(stanza.NotAcceptable, "empty group name")
		case len(t) > maxGroupBytes:
			return nil, stanza.NewError(stanza.NotAcceptable, "group name too long")
		case slices.Contains(groups, t):
			return nil, stanza.NewError(stanza.BadRequest, "duplicate group")
		}
		groups = append(groups, t)
	}
	if len(groups) > maxGroupsCount {
		return nil, stanza.NewError(stanza.NotAcceptable, "too many groups")
	}

	user := from.Bare()
	a, err := m.lock(ctx, user)
	if err != nil {
		return nil, err
	}
	it := storage.RosterItem{Contact: contact.String()}
	if old := a.items[contact]; old != nil {
		it = *old
	} else if len(a.items) >= m.cfg.MaxItems {
		m.unlock(user, a)
		return nil, stanza.NewError(stanza.NotAllowed, "roster full")
	}
	it.Name, it.Groups = name, groups
	v, err := m.store.PutRosterItem(ctx, user.Local(), it)
	if err != nil {
		m.unlock(user, a)
		return nil, err
	}
	old := a.items[contact]
	a.items[contact], a.version = &it, v
	m.changed(ctx, user, contact, old, &it)
	m.unlock(user, a)
	m.push(user, itemElement(&it), v)
	return nil, nil
}

// remove deletes an item (§2.5.2): subscriptions both ways are cancelled
// first, as if the user had sent unsubscribe and unsubscribed.
func (m *Module) remove(ctx context.Context, user, contact jid.JID) error {
	a, err := m.lock(ctx, user)
	if err != nil {
		return err
	}
	it := a.items[contact]
	if it == nil {
		m.unlock(user, a)
		return stanza.NewError(stanza.ItemNotFound, "")
	}
	st := a.state(contact)
	v, err := m.store.DeleteRosterItem(ctx, user.Local(), contact.String())
	if err != nil {
		m.unlock(user, a)
		return err
	}
	delete(a.items, contact)
	a.version = v
	m.changed(ctx, user, contact, it, nil)
	if st.PendingIn {
		if err := m.store.DeletePendingIn(ctx, user.Local(), contact.String()); err != nil {
			m.log.Warn("removing pending request", "err", err)
		}
		delete(a.pending, contact)
	}
	m.unlock(user, a)
	m.push(user, stanza.NewElement(NS, "item", "jid", contact.String(), "subscription", "remove"), v)

	if st.Sub == storage.SubTo || st.Sub == storage.SubBoth || st.PendingOut {
		m.toContact(ctx, user, contact, subscription.Unsubscribe)
	}
	if st.Sub == storage.SubFrom || st.Sub == storage.SubBoth || st.PendingIn {
		m.toContact(ctx, user, contact, subscription.Unsubscribed)
		m.sendUnavailable(ctx, user, contact)
	}
	return nil
}

// push sends a roster push to the account's interested resources
// (§2.1.6). From is left out: it means the account itself.
func (m *Module) push(user jid.JID, item *stanza.Element, v int64) {
	for _, s := range m.h.Sessions(user) {
		if !s.Interested() {
			continue
		}
		iq := stanza.NewElement(stanza.NSClient, "iq", "type", stanza.TypeSet,
			"id", "push"+strconv.FormatUint(m.nextID.Add(1), 10), "to", s.JID().String())
		iq.Append(stanza.NewElement(NS, "query", "ver", version(v)).Append(item))
		s.Send(iq)
	}
}
