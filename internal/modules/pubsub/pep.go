package pubsub

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/mote-xmpp/mote/internal/module"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// PEP (XEP-0163): every account is a pubsub service at its bare JID. Each
// is a pubsub.Service of its own over the storage service "pep:<username>",
// loaded on first use and kept while it has nodes. The set of accounts
// that have nodes is known from the start (one storage query), so that a
// login, a publish or a roster change never loads the services of
// accounts that have none.
//
// Notifications go to the explicit subscribers, and to the implicit ones
// (XEP-0163 §4.3): the account's own available resources and those of
// its contacts with a presence subscription that the node's access model
// admits, in both cases only the resources whose entity capabilities
// (XEP-0115) include "<node>+notify" (filtered notifications, XEP-0060
// §9.2). The recipients are computed by the delivery worker, not by the
// publisher. The last item of each node goes to a resource when it
// becomes available with such capabilities, and to a contact when it
// gains a presence subscription.

// pepPrefix starts the storage key of an account's PEP service.
const pepPrefix = "pep:"

// pepShards spreads the PEP services over locks.
const pepShards = 32

// peps holds the accounts' PEP services.
type peps struct {
	m      *Module
	store  ps.StoreProvider
	seed   maphash.Seed
	shards [pepShards]pepShard
	caps   *capsTracker
}

type pepShard struct {
	mu   sync.Mutex
	svcs map[string]*pepEntry // username -> loaded service
	has  map[string]bool      // usernames whose service has (or had) nodes
}

// pepEntry is a loaded PEP service and the requests using it.
type pepEntry struct {
	sv   *service
	refs int
}

// startPEP learns which accounts have PEP nodes and registers the PEP
// handlers.
func (m *Module) startPEP(ctx context.Context, p ps.StoreProvider) (*peps, error) {
	keys, err := p.PubSubServices(ctx, pepPrefix)
	if err != nil {
		return nil, err
	}
	pp := &peps{m: m, store: p, seed: maphash.MakeSeed(), caps: newCapsTracker(m, m.cfg.PEP.CapsCacheSize)}
	for i := range pp.shards {
		pp.shards[i].svcs = make(map[string]*pepEntry)
		pp.shards[i].has = make(map[string]bool)
	}
	for _, k := range keys {
		u := strings.TrimPrefix(k, pepPrefix)
		pp.shard(u).has[u] = true
	}
	h := m.h
	for _, typ := range []string{stanza.TypeGet, stanza.TypeSet} {
		h.HandleIQ(module.ToAccount, typ, NS, "pubsub", module.IQHandlerFunc(m.pepIQ))
		h.HandleIQ(module.ToAccount, typ, NSOwner, "pubsub", module.IQHandlerFunc(m.pepIQ))
	}
	h.AddIdentity(module.ToAccount, "pubsub", "pep", "")
	for _, f := range pepFeatures() {
		h.AddFeature(module.ToAccount, f)
	}
	h.ProvideAccountDisco(pp)
	h.OnPresenceSent(pp.caps.presence)
	h.OnSessionEnd(20, pp.caps.sessionEnd)
	return pp, nil
}

// pepFeatures are the disco features of a PEP service (XEP-0163 §8.1):
// the pubsub features of the component plus auto-create, auto-subscribe
// and filtered-notifications.
func pepFeatures() []string {
	fs := []string{NS}
	for _, f := range features {
		fs = append(fs, NS+"#"+f)
	}
	for _, f := range []string{"auto-create", "auto-subscribe", "filtered-notifications", "access-presence", "access-roster", "access-whitelist", "access-authorize"} {
		fs = append(fs, NS+"#"+f)
	}
	return fs
}

func (p *peps) shard(username string) *pepShard {
	return &p.shards[maphash.String(p.seed, username)%pepShards]
}

// has reports whether the account may have PEP nodes.
func (p *peps) has(account jid.JID) bool {
	u := account.Local()
	sh := p.shard(u)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.has[u]
}

// acquire returns the PEP service of a local account and the function
// that releases it. A service of an account without nodes is loaded only
// when create is set (the account itself asks, and may create one);
// otherwise acquire returns nil. A service released with no nodes is
// forgotten, so that accounts that never publish cost no memory.
func (p *peps) acquire(ctx context.Context, account jid.JID, create bool) (*service, func(), error) {
	u := account.Local()
	sh := p.shard(u)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.svcs[u]
	if e == nil {
		if !create && !sh.has[u] {
			return nil, func() {}, nil
		}
		sv, err := p.load(ctx, account)
		if err != nil {
			return nil, nil, err
		}
		e = &pepEntry{sv: sv}
		sh.svcs[u] = e
	}
	e.refs++
	return e.sv, func() { p.release(u, e) }, nil
}

// release ends a use of a PEP service.
func (p *peps) release(u string, e *pepEntry) {
	sh := p.shard(u)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e.refs--
	if e.sv.svc.NodeCount() > 0 {
		sh.has[u] = true
		return
	}
	if e.refs == 0 && sh.svcs[u] == e {
		delete(sh.svcs, u)
		delete(sh.has, u)
	}
}

// load builds the PEP service of account from storage.
func (p *peps) load(ctx context.Context, account jid.JID) (*service, error) {
	m := p.m
	sv := m.newService(account, account)
	def := ps.DefaultConfig()
	def.AccessModel = ps.AccessPresence // XEP-0163 §5
	def.MaxItems = 1
	svc, err := ps.New(ctx, p.store.PubSubStore(pepPrefix+account.Local()), ps.Options{
		AutoCreate: true, // XEP-0163 §3
		Defaults:   &def,
		CanCreate:  func(a ps.Actor) bool { return a.Self },
		Notifier:   sv,
		Available:  m.available,
		Limits: ps.Limits{
			MaxNodes:                m.cfg.PEP.MaxNodes,
			MaxNodesPerOwner:        m.cfg.PEP.MaxNodes,
			MaxItemsPerNode:         m.cfg.PEP.MaxItemsPerNode,
			MaxSubscriptionsPerNode: m.cfg.PEP.MaxSubscriptionsPerNode,
			MaxSubscriptionsPerJID:  8,
			MaxPayloadSize:          m.cfg.MaxPayloadBytes,
			MaxItemsPerRequest:      m.cfg.MaxItemsPerRequest,
		},
	})
	if err != nil {
		return nil, err
	}
	sv.svc = svc
	return sv, nil
}

// loaded returns the PEP services in memory.
func (p *peps) loaded() []*service {
	var out []*service
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		for _, e := range sh.svcs {
			out = append(out, e.sv)
		}
		sh.mu.Unlock()
	}
	return out
}

// drop forgets the PEP service of a removed account (storage deletes
// its nodes with the account).
func (p *peps) drop(account jid.JID) {
	u := account.Local()
	sh := p.shard(u)
	sh.mu.Lock()
	delete(sh.svcs, u)
	delete(sh.has, u)
	sh.mu.Unlock()
}

// pepIQ handles a pubsub or pubsub#owner request addressed to an
// account's bare JID, or with no 'to' (the sender's own account).
func (m *Module) pepIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, account, self := module.Addressee(iq)
	if account.Local() == "" {
		return nil, stanza.NewError(stanza.ServiceUnavailable, "")
	}
	typ := iq.Attr("type")
	sv, release, err := m.pep.acquire(ctx, account, self)
	if err != nil {
		return nil, err
	}
	defer release()
	if sv == nil {
		// No nodes: nothing to retrieve or subscribe to.
		if p := iq.FirstChild(); p.Space == NS && typ == stanza.TypeGet {
			if v := p.FirstChild(); v != nil && (v.Local == "subscriptions" || v.Local == "affiliations") {
				return stanza.NewElement(NS, "pubsub").Append(stanza.NewElement(NS, v.Local)), nil
			}
		}
		return nil, m.stanzaError(ps.ErrNodeNotFound)
	}
	if typ == stanza.TypeSet {
		if err := m.q.room(ctx, m.cfg.QueueWait); err != nil {
			return nil, err
		}
	}
	p := iq.FirstChild()
	var res *stanza.Element
	if p.Space == NS {
		res, err = sv.pubsubIQ(ctx, from, typ, p)
	} else {
		res, err = sv.ownerIQ(ctx, from, typ, p)
	}
	if err != nil {
		var re *replyErr
		if errors.As(err, &re) {
			sv.replyError(ctx, iq, re.payload, re.err)
			return nil, module.ErrReplied
		}
		return nil, m.stanzaError(err)
	}
	return res, nil
}

// pepRecipients returns the recipients of an event of a PEP service: the
// explicit subscribers (a bare JID replaced by its resources that want
// the node's notifications, when it has any) and the implicit ones
// (XEP-0163 §4.3), each JID once. Only item, purge and delete events
// have implicit recipients; a replayed last item goes where it was sent.
func (sv *service) pepRecipients(ctx context.Context, ev *ps.Event) []ps.Recipient {
	switch ev.Kind {
	case ps.EventPublish, ps.EventRetract, ps.EventPurge, ps.EventDelete:
		if !ev.Replay {
			break
		}
		fallthrough
	default:
		return ev.Recipients
	}
	tracker := sv.pep.caps
	feature := string(ev.Node) + "+notify"
	out := make([]ps.Recipient, 0, len(ev.Recipients)+4)
	seen := make(map[jid.JID]bool, cap(out))
	add := func(r ps.Recipient) {
		if !seen[r.JID] {
			seen[r.JID] = true
			out = append(out, r)
		}
	}
	for _, r := range ev.Recipients {
		if r.JID.IsBare() && r.JID.Domain() == sv.domain {
			if full := tracker.interested(sv.h, r.JID, feature); len(full) > 0 {
				for _, f := range full {
					add(ps.Recipient{JID: f, SubIDs: r.SubIDs, Collection: r.Collection})
				}
				continue
			}
		}
		add(r)
	}
	for _, f := range tracker.interested(sv.h, sv.owner, feature) {
		add(ps.Recipient{JID: f})
	}
	rosters := sv.h.Rosters()
	if rosters == nil {
		return out
	}
	// A deleted node has no configuration left: its contacts with a
	// presence subscription are told.
	var node *ps.Node
	if n, err := sv.svc.Node(ctx, ev.Node); err == nil {
		node = &n
	}
	var affs map[jid.JID]ps.Affiliation
	for _, c := range rosters.Contacts(ctx, sv.owner) {
		if !c.ReceivesPresence() {
			continue
		}
		full := tracker.interested(sv.h, c.JID, feature)
		if len(full) == 0 {
			continue
		}
		if node != nil {
			if affs == nil {
				affs = sv.affiliationMap(ctx, ev.Node)
			}
			a := ps.Actor{JID: c.JID, PresenceSubscribed: true, RosterGroups: c.Groups}
			if !ps.Implicit(a, node, affs[c.JID]) {
				continue
			}
		}
		for _, f := range full {
			add(ps.Recipient{JID: f})
		}
	}
	return out
}

// affiliationMap returns the affiliations with a node by bare JID.
func (sv *service) affiliationMap(ctx context.Context, id ps.NodeID) map[jid.JID]ps.Affiliation {
	affs, _ := sv.svc.Affiliations(ctx, sv.serviceActor(), id)
	out := make(map[jid.JID]ps.Affiliation, len(affs))
	for _, a := range affs {
		out[a.JID] = a.Affiliation
	}
	return out
}

// sendLast sends the last item of each node of the PEP service of owner
// that the resource full newly wants notifications of (wants, and not
// had) and may see: to a resource becoming available, to one whose
// capabilities changed, or to a contact that gained a presence
// subscription (XEP-0163 §4.3.2, "on_sub_and_presence").
func (p *peps) sendLast(ctx context.Context, owner, full jid.JID, wants, had func(feature string) bool) {
	if !p.has(owner) {
		return
	}
	sv, release, err := p.acquire(ctx, owner, false)
	if err != nil || sv == nil {
		return
	}
	defer release()
	a := ps.Actor{JID: full, Self: full.Bare() == owner}
	factsDone := a.Self
	for _, n := range sv.svc.Nodes(ctx) {
		f := string(n.ID) + "+notify"
		if n.Type != ps.Leaf || !wants(f) || (had != nil && had(f)) ||
			!n.Config.DeliverNotifications || n.Config.SendLastPublishedItem != ps.SendLastOnSubAndPresence {
			continue
		}
		if !factsDone {
			p.m.rosterFacts(ctx, &a, owner)
			factsDone = true
		}
		if !ps.Implicit(a, &n, sv.affiliationMap(ctx, n.ID)[full.Bare()]) {
			continue
		}
		it, ok, err := sv.svc.LastPublished(ctx, sv.serviceActor(), n.ID)
		if err != nil || !ok {
			continue
		}
		if !n.Config.DeliverPayloads {
			it.Payload = nil
		}
		sv.Notify(ctx, &ps.Event{Kind: ps.EventPublish, Node: n.ID, NotificationType: n.Config.NotificationType,
			Items: []ps.Item{it}, Replay: true, Recipients: []ps.Recipient{{JID: full}}})
	}
}

// online sends the last items a resource newly wants: those of the
// account's own PEP service and of the contacts whose presence it
// receives.
func (p *peps) online(ctx context.Context, full jid.JID, wants, had func(string) bool) {
	user := full.Bare()
	p.sendLast(ctx, user, full, wants, had)
	rosters := p.m.h.Rosters()
	if rosters == nil {
		return
	}
	for _, c := range rosters.Contacts(ctx, user) {
		if c.SeesPresence() && c.JID.Domain() == p.m.domain && p.has(c.JID) {
			p.sendLast(ctx, c.JID, full, wants, had)
		}
	}
}

// rosterChanged re-checks, after a change to user's roster item for a
// contact, the contact's explicit subscriptions to user's PEP nodes and
// to the component's nodes user owns (XEP-0163 §7.1), and sends the last
// items of user's PEP nodes to a contact that just gained a presence
// subscription. It runs with the roster locked, so the work is done on
// another goroutine.
func (m *Module) rosterChanged(_ context.Context, user jid.JID, before, after module.Contact) {
	if before.ReceivesPresence() == after.ReceivesPresence() && slices.Equal(before.Groups, after.Groups) {
		return
	}
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		ctx := context.Background()
		contact := after.JID
		for _, sv := range m.affected(ctx, user, contact) {
			sv.recheck(ctx, contact)
		}
		if m.pep != nil && after.ReceivesPresence() && !before.ReceivesPresence() && contact.Domain() == m.domain {
			for _, r := range m.h.Sessions(contact) {
				full := r.JID()
				m.pep.sendLast(ctx, user, full, func(f string) bool { return m.pep.caps.has(full, f) }, nil)
			}
		}
	}()
}

// affected returns the services where contact may hold subscriptions
// that a change to user's roster affects: user's PEP service, and the
// component.
func (m *Module) affected(ctx context.Context, user, contact jid.JID) []*service {
	out := []*service{m.comp}
	if m.pep != nil && m.pep.has(user) {
		if sv, release, err := m.pep.acquire(ctx, user, false); err == nil && sv != nil {
			release() // the service stays loaded: it has nodes
			out = append(out, sv)
		}
	}
	return out
}

// recheck cancels the subscriptions of contact that the access models no
// longer grant (XEP-0163 §7.1).
func (sv *service) recheck(ctx context.Context, contact jid.JID) {
	if len(sv.svc.UserSubscriptions(ctx, contact)) == 0 {
		return
	}
	cancelled, err := sv.svc.RecheckAccess(ctx, contact, func(n *ps.Node, owners []jid.JID) ps.Actor {
		a := ps.Actor{JID: contact}
		if am := n.Config.AccessModel; am == ps.AccessPresence || am == ps.AccessRoster {
			if sv.isPEP() {
				owners = []jid.JID{sv.owner}
			}
			sv.rosterFacts(ctx, &a, owners...)
		}
		return a
	})
	if err != nil {
		sv.log.Error("re-checking subscriptions after a roster change", "service", sv.from, "contact", contact.String(), "err", err)
	}
	for _, c := range cancelled {
		sv.log.Debug("subscription cancelled by a roster change", "service", sv.from, "node", string(c.Node), "jid", c.JID.String())
	}
}

// Items implements module.AccountDisco: the nodes of the account's PEP
// service that the requester may see (XEP-0163 §6.1: those it may
// subscribe to or retrieve items from; all of them for the account
// itself), or the children or items of one node.
func (p *peps) Items(ctx context.Context, from, account jid.JID, node string) ([]module.Item, error) {
	sv, release, err := p.acquire(ctx, account, false)
	if err != nil {
		return nil, err
	}
	defer release()
	if sv == nil {
		if node != "" {
			return nil, p.m.stanzaError(ps.ErrNodeNotFound)
		}
		return nil, nil
	}
	q := stanza.NewElement(nsItems, "query")
	if node != "" {
		q.SetAttr("node", node)
	}
	res, err := sv.discoItems(ctx, from, q)
	if err != nil {
		return nil, p.m.stanzaError(err)
	}
	a := sv.actor(from)
	var out []module.Item
	for _, el := range res.ChildElements() {
		it := module.Item{JID: el.Attr("jid"), Node: el.Attr("node"), Name: el.Attr("name")}
		if it.Node != "" && !a.Self {
			acc := a
			sv.withAccess(ctx, &acc, ps.NodeID(it.Node))
			if !sv.visible(ctx, acc, ps.NodeID(it.Node)) {
				continue
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// Info implements module.AccountDisco: a PEP node's identity and
// meta-data, for a requester that may see the node.
func (p *peps) Info(ctx context.Context, from, account jid.JID, node string) (*stanza.Element, error) {
	sv, release, err := p.acquire(ctx, account, false)
	if err != nil {
		return nil, err
	}
	defer release()
	if sv == nil {
		return nil, p.m.stanzaError(ps.ErrNodeNotFound)
	}
	if a := sv.actor(from); !a.Self {
		sv.withAccess(ctx, &a, ps.NodeID(node))
		if !sv.visible(ctx, a, ps.NodeID(node)) {
			return nil, p.m.stanzaError(ps.ErrNodeNotFound)
		}
	}
	res, err := sv.discoInfo(ctx, stanza.NewElement(nsInfo, "query", "node", node))
	if err != nil {
		return nil, p.m.stanzaError(err)
	}
	return res, nil
}

// visible reports whether a may subscribe to a node or retrieve its
// items.
func (sv *service) visible(ctx context.Context, a ps.Actor, id ps.NodeID) bool {
	n, err := sv.svc.Node(ctx, id)
	if err != nil {
		return false
	}
	aff := sv.affiliationMap(ctx, id)[a.JID.Bare()]
	return ps.Authorize(a, ps.ActionRetrieveItems, &n, aff, ps.SubNone) == nil ||
		ps.Authorize(a, ps.ActionSubscribe, &n, aff, ps.SubNone) == nil
}
