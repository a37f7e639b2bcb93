// Package blocking implements the Blocking Command (XEP-0191): a user
// blocks communication with JIDs; the server then delivers nothing from
// them and refuses to route anything to them.
//
// Every blocklist is held in memory, loaded at start: the filter the
// router runs on every stanza reads one atomic pointer and, when anyone
// blocks anything, a map; it takes no lock and reads no storage. The map
// is copied on every change (block, unblock), which is rare.
package blocking

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces.
const (
	NS       = "urn:xmpp:blocking"
	NSErrors = "urn:xmpp:blocking:errors"
)

// maxItems bounds one blocklist, so that a client cannot grow the
// in-memory state without limit.
const maxItems = 10000

// Module is the blocking module.
type Module struct {
	h      module.Host
	store  storage.Blocklists
	domain string
	nextID atomic.Uint64

	// Blocklists by username, in shards so that a change copies only a
	// shard's map; each map is never mutated, only replaced.
	shards   [nShards]atomic.Pointer[map[string]blockset]
	nonEmpty atomic.Int64  // accounts with a blocklist: 0 makes the filter free
	changes  atomic.Uint64 // replacements so far, for the login re-read
	wmu      sync.Mutex    // serialises replacements

	imu        sync.Mutex
	interested map[module.Session]struct{} // guarded by imu; sessions that requested the blocklist
}

// blockset is one account's blocked JIDs, normalised.
type blockset map[string]struct{}

// New returns the module.
func New() *Module { return &Module{interested: make(map[module.Session]struct{})} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "blocking", Requires: []string{"disco", "roster"},
		XEPs: []module.XEP{{Number: 191, Version: "1.3", Status: "complete"}}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	m.h, m.store, m.domain = h, h.Storage().Blocklists(), h.Domain().Domain()
	all, err := m.store.AllBlocklists(ctx)
	if err != nil {
		return err
	}
	for i := range m.shards {
		m.shards[i].Store(&map[string]blockset{})
	}
	for user, jids := range all {
		set := make(blockset, len(jids))
		for _, j := range jids {
			set[j] = struct{}{}
		}
		m.update(user, set)
	}
	h.AddFeature(module.ToServer, NS)
	h.AddFeature(module.ToAccount, NS)
	h.HandleIQ(module.ToAccount, stanza.TypeGet, NS, "blocklist", module.IQHandlerFunc(m.get))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "block", module.IQHandlerFunc(m.block))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "unblock", module.IQHandlerFunc(m.unblock))
	// An account with a blocklist in memory re-reads it at login, so that
	// one deleted and created again outside the server (mote user del and
	// add) does not inherit the old list; accounts without one read nothing.
	h.OnSessionBound(-10, func(ctx context.Context, s module.Session) {
		if m.lookup(s.JID().Local()) != nil {
			if err := m.reread(ctx, s.JID().Local()); err != nil {
				h.Logger().Error("reloading blocklist", "account", s.JID().Bare().String(), "err", err)
			}
		}
	})
	h.OnSessionEnd(10, func(_ context.Context, s module.Session) {
		m.imu.Lock()
		delete(m.interested, s)
		m.imu.Unlock()
	})
	h.OnAccountRemoved(10, func(_ context.Context, account jid.JID) { m.update(account.Local(), nil) })
	h.AddFilter(m.filter)
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// nShards is the number of blocklist shards.
const nShards = 64

func shardOf(user string) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(user); i++ {
		h = (h ^ uint32(user[i])) * 16777619
	}
	return int(h % nShards)
}

// lookup returns user's blockset, nil when it has none; never mutated.
func (m *Module) lookup(user string) blockset {
	return (*m.shards[shardOf(user)].Load())[user]
}

// refresh reloads user's blocklist from storage into memory after a
// change; storage is the truth, and reading it under wmu orders
// concurrent changes.
func (m *Module) refresh(ctx context.Context, user string) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	set, err := m.read(ctx, user)
	if err != nil {
		return err
	}
	m.replace(user, set)
	return nil
}

// reread is refresh at login: the read happens outside the lock, and its
// result is dropped if anything changed meanwhile (that change reflects
// storage already).
func (m *Module) reread(ctx context.Context, user string) error {
	before := m.changes.Load()
	set, err := m.read(ctx, user)
	if err != nil {
		return err
	}
	m.wmu.Lock()
	defer m.wmu.Unlock()
	if m.changes.Load() == before {
		m.replace(user, set)
	}
	return nil
}

func (m *Module) read(ctx context.Context, user string) (blockset, error) {
	jids, err := m.store.GetBlocklist(ctx, user)
	if err != nil {
		return nil, err
	}
	set := make(blockset, len(jids))
	for _, j := range jids {
		set[j] = struct{}{}
	}
	return set, nil
}

// update replaces user's blockset (nil or empty: none).
func (m *Module) update(user string, set blockset) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.replace(user, set)
}

// replace swaps in a copy of user's shard with its new set; wmu is held.
func (m *Module) replace(user string, set blockset) {
	sh := &m.shards[shardOf(user)]
	old := *sh.Load()
	next := make(map[string]blockset, len(old)+1)
	for u, s := range old {
		next[u] = s
	}
	_, had := old[user]
	if len(set) == 0 {
		delete(next, user)
		if had {
			m.nonEmpty.Add(-1)
		}
	} else {
		next[user] = set
		if !had {
			m.nonEmpty.Add(1)
		}
	}
	sh.Store(&next)
	m.changes.Add(1)
}

// matches reports whether j is blocked by a list holding jids, in the
// order of XEP-0191 §3.4 (full JID, bare JID, domain/resource, domain).
func matches(jids map[string]struct{}, j jid.JID) bool {
	if len(jids) == 0 {
		return false
	}
	if _, ok := jids[j.String()]; ok {
		return true
	}
	if j.Resource() != "" {
		if _, ok := jids[j.Bare().String()]; ok {
			return true
		}
		if d, err := jid.New("", j.Domain(), j.Resource()); err == nil {
			if _, ok := jids[d.String()]; ok {
				return true
			}
		}
	}
	_, ok := jids[j.Domain()]
	return ok
}

// filter is the router's stanza filter (XEP-0191 §3.3, §3.4).
func (m *Module) filter(_ context.Context, st *stanza.Element, from, to jid.JID) error {
	if m.nonEmpty.Load() == 0 {
		return nil // nobody blocks anything: the common case, free
	}
	if st.Attr("type") == stanza.TypeError || from.Bare() == to.Bare() {
		// Errors are answers, and one's own resources are never blocked.
		return nil
	}
	kind := stanza.KindOf(st)
	// Outbound: the sender blocked the recipient.
	if from.Local() != "" && from.Domain() == m.domain && matches(m.lookup(from.Local()), to) {
		if kind == stanza.KindPresence {
			return module.ErrDrop
		}
		e := stanza.NewError(stanza.NotAcceptable, "")
		e.Extra = stanza.NewElement(NSErrors, "blocked")
		return e
	}
	// Inbound: the recipient blocked the sender.
	if to.Local() == "" || to.Domain() != m.domain || !matches(m.lookup(to.Local()), from) {
		return nil
	}
	switch kind {
	case stanza.KindMessage:
		return stanza.NewError(stanza.ServiceUnavailable, "")
	case stanza.KindIQ:
		if t := st.Attr("type"); t == stanza.TypeGet || t == stanza.TypeSet {
			return stanza.NewError(stanza.ServiceUnavailable, "")
		}
	}
	return module.ErrDrop
}

// get returns the blocklist (§3.2) and subscribes the session to pushes.
func (m *Module) get(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := module.OwnAccount(iq, stanza.Forbidden)
	if err != nil {
		return nil, err
	}
	jids, err := m.store.GetBlocklist(ctx, from.Local())
	if err != nil {
		return nil, err
	}
	if s := m.h.Session(from); s != nil {
		m.imu.Lock()
		m.interested[s] = struct{}{}
		m.imu.Unlock()
	}
	res := stanza.NewElement(NS, "blocklist")
	for _, j := range jids {
		res.Append(stanza.NewElement(NS, "item", "jid", j))
	}
	return res, nil
}

// items parses the item children of a block or unblock command.
func items(cmd *stanza.Element) ([]jid.JID, error) {
	var out []jid.JID
	for _, c := range cmd.ChildElements() {
		if c.Space != NS || c.Local != "item" {
			continue
		}
		j, err := jid.Parse(c.Attr("jid"))
		if err != nil {
			return nil, stanza.NewError(stanza.JIDMalformed, "")
		}
		if !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	return out, nil
}

func strs(js []jid.JID) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.String()
	}
	return out
}

// block adds JIDs (§3.3): each one that received the user's presence gets
// unavailable presence first, then the block is in force.
func (m *Module) block(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := module.OwnAccount(iq, stanza.Forbidden)
	if err != nil {
		return nil, err
	}
	js, err := items(iq.FirstChild())
	if err != nil {
		return nil, err
	}
	if len(js) == 0 {
		return nil, stanza.NewError(stanza.BadRequest, "block at least one item")
	}
	user := from.Bare()
	cur, err := m.store.GetBlocklist(ctx, user.Local())
	if err != nil {
		return nil, err
	}
	if len(cur)+len(js) > maxItems {
		return nil, stanza.NewError(stanza.ResourceConstraint, "blocklist full")
	}
	if err := m.store.Block(ctx, user.Local(), strs(js)); err != nil {
		return nil, err
	}
	for _, j := range js {
		if j.Local() != "" && m.h.Subscribed(ctx, user, j.Bare()) {
			for _, r := range m.h.Sessions(user) {
				if r.Available() {
					m.h.Route(ctx, stanza.NewElement(stanza.NSClient, "presence", "type", stanza.TypeUnavailable,
						"from", r.JID().String(), "to", j.String()))
				}
			}
		}
	}
	if err := m.refresh(ctx, user.Local()); err != nil {
		return nil, err
	}
	m.push(user, "block", js)
	return nil, nil
}

// unblock removes JIDs, or all with no item (§3.4, §3.5); those allowed to
// receive the user's presence get it again.
func (m *Module) unblock(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := module.OwnAccount(iq, stanza.Forbidden)
	if err != nil {
		return nil, err
	}
	js, err := items(iq.FirstChild())
	if err != nil {
		return nil, err
	}
	user := from.Bare()
	if len(js) == 0 {
		cur, err := m.store.GetBlocklist(ctx, user.Local())
		if err != nil {
			return nil, err
		}
		for _, s := range cur {
			if j, err := jid.Parse(s); err == nil {
				js = append(js, j)
			}
		}
		err = m.store.Unblock(ctx, user.Local(), nil)
		if err != nil {
			return nil, err
		}
		if err := m.refresh(ctx, user.Local()); err != nil {
			return nil, err
		}
		m.push(user, "unblock", nil)
	} else {
		if err := m.store.Unblock(ctx, user.Local(), strs(js)); err != nil {
			return nil, err
		}
		if err := m.refresh(ctx, user.Local()); err != nil {
			return nil, err
		}
		m.push(user, "unblock", js)
	}
	for _, j := range js {
		if j.Local() == "" || !m.h.Subscribed(ctx, user, j.Bare()) {
			continue
		}
		for _, r := range m.h.Sessions(user) {
			if p := r.LastPresence(); p != nil && r.Available() {
				cp := p.ShallowCopy()
				cp.SetAttr("to", j.String())
				m.h.Route(ctx, cp)
			}
		}
	}
	return nil, nil
}

// push tells the sessions that requested the blocklist (§3.3).
func (m *Module) push(user jid.JID, cmd string, js []jid.JID) {
	var targets []module.Session
	m.imu.Lock()
	for s := range m.interested {
		if s.JID().Bare() == user {
			targets = append(targets, s)
		}
	}
	m.imu.Unlock()
	for _, s := range targets {
		el := stanza.NewElement(NS, cmd)
		for _, j := range js {
			el.Append(stanza.NewElement(NS, "item", "jid", j.String()))
		}
		iq := stanza.NewElement(stanza.NSClient, "iq", "type", stanza.TypeSet,
			"id", "block"+strconv.FormatUint(m.nextID.Add(1), 10), "to", s.JID().String()).Append(el)
		s.Send(iq)
	}
}
