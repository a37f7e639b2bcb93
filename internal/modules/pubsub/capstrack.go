package pubsub

import (
	"context"
	"sync"

	"github.com/mote-xmpp/mote/internal/caps"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// capsTracker knows which notifications each available resource wants:
// the "+notify" features of the entity capabilities (XEP-0115) in its
// last broadcast presence (filtered notifications, XEP-0060 §9.2;
// XEP-0163 §4.3). A verified ver is looked up in a bounded cache shared
// by every session; an unknown one is asked of the resource itself with
// a disco#info request (XEP-0115 §6.2) and, once verified (§5.4), cached.
// The features of a ver that does not verify, or of legacy caps without
// a hash, serve only the session that sent them.
type capsTracker struct {
	m     *Module
	cache *caps.Cache

	mu   sync.RWMutex
	sess map[jid.JID]*capsEntry // full JID -> the caps of its last available presence
}

// capsEntry is a session's caps and, once known, its features.
type capsEntry struct {
	c   caps.Caps
	set *caps.Set // nil while the disco#info request is out
}

func newCapsTracker(m *Module, size int) *capsTracker {
	return &capsTracker{m: m, cache: caps.NewCache(size), sess: make(map[jid.JID]*capsEntry)}
}

// has reports whether the resource full wants notifications of feature
// ("<node>+notify").
func (t *capsTracker) has(full jid.JID, feature string) bool {
	t.mu.RLock()
	e := t.sess[full]
	t.mu.RUnlock()
	return e != nil && e.set.Has(feature)
}

// interested returns the available resources of the bare JID that want
// notifications of feature.
func (t *capsTracker) interested(h module.Host, bare jid.JID, feature string) []jid.JID {
	var out []jid.JID
	for _, s := range h.Sessions(bare) {
		if s.Available() && t.has(s.JID(), feature) {
			out = append(out, s.JID())
		}
	}
	return out
}

// presence follows the broadcast presence of a session (module.SentHook):
// unavailable forgets its caps; available presence with caps that differ
// from the session's previous ones (or its initial presence) records them
// and sends the last items of the nodes it newly wants. Presence with
// the same caps again sends nothing (XEP-0163 §4.3.2).
func (t *capsTracker) presence(ctx context.Context, st *stanza.Element, from jid.JID) {
	s := t.m.h.Session(from)
	c, ok := caps.Parse(st)
	if s == nil || !s.Available() || !ok {
		t.forget(from)
		return
	}
	t.mu.Lock()
	old := t.sess[from]
	if old != nil && old.c == c {
		t.mu.Unlock()
		return
	}
	e := &capsEntry{c: c}
	known := false
	if c.Hash != "" {
		e.set, known = t.cache.Get(c.Hash, c.Ver)
	}
	t.sess[from] = e
	t.mu.Unlock()
	var had *caps.Set
	if old != nil {
		had = old.set
	}
	if known {
		t.m.pep.online(ctx, from, e.set.Has, had.Has)
		return
	}
	t.ask(ctx, from, e, had)
}

// ask sends the disco#info request that tells what the caps of entry e
// of the session full stand for.
func (t *capsTracker) ask(ctx context.Context, full jid.JID, e *capsEntry, had *caps.Set) {
	iq := stanza.NewElement(stanza.NSClient, "iq", "type", stanza.TypeGet, "to", full.String())
	iq.Append(stanza.NewElement(nsInfo, "query", "node", e.c.InfoNode()))
	t.m.h.SendIQ(ctx, iq, func(reply *stanza.Element, err error) {
		if err != nil || reply.Attr("type") != stanza.TypeResult {
			return // the session gets no filtered notifications
		}
		q := reply.Child(nsInfo, "query")
		if q == nil {
			return
		}
		set := caps.NewSet(caps.Features(q))
		if e.c.Hash != "" && caps.Verify(e.c, q) {
			t.cache.Put(e.c.Hash, e.c.Ver, set)
		}
		t.mu.Lock()
		current := t.sess[full] == e
		if current {
			t.sess[full] = &capsEntry{c: e.c, set: set}
		}
		t.mu.Unlock()
		if current {
			t.m.pep.online(context.Background(), full, set.Has, had.Has)
		}
	})
}

// forget drops what is known of a session's caps. Most sessions (devices)
// send none: for them it takes only the read lock.
func (t *capsTracker) forget(full jid.JID) {
	t.mu.RLock()
	_, ok := t.sess[full]
	t.mu.RUnlock()
	if !ok {
		return
	}
	t.mu.Lock()
	delete(t.sess, full)
	t.mu.Unlock()
}

// sessionEnd forgets the caps of a session that ended.
func (t *capsTracker) sessionEnd(_ context.Context, s module.Session) { t.forget(s.JID()) }
