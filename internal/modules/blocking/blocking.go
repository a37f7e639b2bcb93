// Package blocking implements the Blocking Command (XEP-0191): a user
// blocks communication with JIDs; the server then delivers nothing from
// them and refuses to route anything to them.
//
// Blocklists of accounts with a bound session are held in memory, so the
// filter the router runs on every stanza reads no storage; a message for
// an account that is offline (and would be stored) is checked against
// storage, which that path touches anyway.
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

	mu    sync.RWMutex
	lists map[jid.JID]*list // guarded by mu; accounts with a bound session
}

type list struct {
	refs       int                         // bound sessions; guarded by Module.mu
	mu         sync.RWMutex                // guards the fields below
	jids       map[string]struct{}         // blocked JIDs, normalised
	interested map[module.Session]struct{} // sessions that requested the blocklist
}

// New returns the module.
func New() *Module { return &Module{lists: make(map[jid.JID]*list)} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "blocking", Requires: []string{"disco", "roster"},
		XEPs: []module.XEP{{Number: 191, Version: "1.3", Status: "complete"}}}
}

// Start implements module.Module.
func (m *Module) Start(_ context.Context, h module.Host) error {
	m.h, m.store, m.domain = h, h.Storage().Blocklists(), h.Domain().Domain()
	h.AddFeature(module.ToServer, NS)
	h.AddFeature(module.ToAccount, NS)
	h.HandleIQ(module.ToAccount, stanza.TypeGet, NS, "blocklist", module.IQHandlerFunc(m.get))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "block", module.IQHandlerFunc(m.block))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "unblock", module.IQHandlerFunc(m.unblock))
	h.OnSessionBound(-10, m.sessionBound) // before presence: the list is in force from the start
	h.OnSessionEnd(10, m.sessionEnd)
	h.AddFilter(m.filter)
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

func (m *Module) sessionBound(ctx context.Context, s module.Session) {
	bare := s.JID().Bare()
	m.mu.Lock()
	l := m.lists[bare]
	if l != nil {
		l.refs++
		m.mu.Unlock()
		return
	}
	l = &list{refs: 1, jids: map[string]struct{}{}, interested: map[module.Session]struct{}{}}
	m.lists[bare] = l
	// Loaded under l.mu, taken before the list is visible unlocked, so that
	// the filter never sees it half loaded.
	l.mu.Lock()
	m.mu.Unlock()
	if jids, err := m.store.GetBlocklist(ctx, bare.Local()); err != nil {
		m.h.Logger().Error("loading blocklist", "account", bare.String(), "err", err)
	} else {
		for _, j := range jids {
			l.jids[j] = struct{}{}
		}
	}
	l.mu.Unlock()
}

func (m *Module) sessionEnd(_ context.Context, s module.Session) {
	bare := s.JID().Bare()
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lists[bare]
	if l == nil {
		return
	}
	l.mu.Lock()
	delete(l.interested, s)
	l.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(m.lists, bare)
	}
}

func (m *Module) list(bare jid.JID) *list {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.lists[bare]
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

func (l *list) blocks(j jid.JID) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return matches(l.jids, j)
}

// filter is the router's stanza filter (XEP-0191 §3.3, §3.4).
func (m *Module) filter(ctx context.Context, st *stanza.Element, from, to jid.JID) error {
	if st.Attr("type") == stanza.TypeError || from.Bare() == to.Bare() {
		// Errors are answers, and one's own resources are never blocked.
		return nil
	}
	kind := stanza.KindOf(st)
	// Outbound: the sender blocked the recipient.
	if from.Local() != "" && from.Domain() == m.domain {
		if l := m.list(from.Bare()); l != nil && l.blocks(to) {
			if kind == stanza.KindPresence {
				return module.ErrDrop
			}
			e := stanza.NewError(stanza.NotAcceptable, "")
			e.Extra = stanza.NewElement(NSErrors, "blocked")
			return e
		}
	}
	// Inbound: the recipient blocked the sender.
	if to.Local() == "" || to.Domain() != m.domain {
		return nil
	}
	blocked := false
	if l := m.list(to.Bare()); l != nil {
		blocked = l.blocks(from)
	} else if kind == stanza.KindMessage {
		// Offline: the message would be stored, so storage is read anyway.
		jids, err := m.store.GetBlocklist(ctx, to.Local())
		if err != nil {
			return err
		}
		set := make(map[string]struct{}, len(jids))
		for _, j := range jids {
			set[j] = struct{}{}
		}
		blocked = matches(set, from)
	}
	if !blocked {
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

// own checks that a request concerns the sender's own account.
func own(iq *stanza.Element) (jid.JID, error) {
	from, err := jid.Parse(iq.Attr("from"))
	if err != nil {
		return jid.JID{}, stanza.NewError(stanza.BadRequest, "")
	}
	if to := iq.Attr("to"); to != "" {
		if t, err := jid.Parse(to); err != nil || t != from.Bare() {
			return jid.JID{}, stanza.NewError(stanza.Forbidden, "")
		}
	}
	return from, nil
}

// get returns the blocklist (§3.2) and subscribes the session to pushes.
func (m *Module) get(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := own(iq)
	if err != nil {
		return nil, err
	}
	jids, err := m.store.GetBlocklist(ctx, from.Local())
	if err != nil {
		return nil, err
	}
	if l := m.list(from.Bare()); l != nil {
		if s := m.h.Session(from); s != nil {
			l.mu.Lock()
			l.interested[s] = struct{}{}
			l.mu.Unlock()
		}
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
	from, err := own(iq)
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
	if l := m.list(user); l != nil {
		l.mu.Lock()
		for _, j := range js {
			l.jids[j.String()] = struct{}{}
		}
		l.mu.Unlock()
	}
	m.push(user, "block", js)
	return nil, nil
}

// unblock removes JIDs, or all with no item (§3.4, §3.5); those allowed to
// receive the user's presence get it again.
func (m *Module) unblock(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := own(iq)
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
		if l := m.list(user); l != nil {
			l.mu.Lock()
			clear(l.jids)
			l.mu.Unlock()
		}
		m.push(user, "unblock", nil)
	} else {
		if err := m.store.Unblock(ctx, user.Local(), strs(js)); err != nil {
			return nil, err
		}
		if l := m.list(user); l != nil {
			l.mu.Lock()
			for _, j := range js {
				delete(l.jids, j.String())
			}
			l.mu.Unlock()
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
	l := m.list(user)
	if l == nil {
		return
	}
	l.mu.RLock()
	targets := make([]module.Session, 0, len(l.interested))
	for s := range l.interested {
		targets = append(targets, s)
	}
	l.mu.RUnlock()
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
