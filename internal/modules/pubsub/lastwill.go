package pubsub

import (
	"context"
	"sync"

	"github.com/mote-xmpp/mote/internal/module"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
)

// Last wills (issue 8). A node of the component may name a payload in its
// configuration (mote#last_will, ps.Config.LastWill). When the last
// session of an account that publishes to that node (affiliation owner,
// publisher or publish-only) ends without a clean stream close (the
// connection was lost or closed by the server, or a stream management
// session was not resumed in time: session.Session.Lost), the service
// publishes the payload to the node as item ps.LastWillItem, with the
// account as publisher. Subscribers learn that a device dropped off
// whether or not they receive its presence. A clean close publishes
// nothing, nor does a server shutdown.
//
// Which accounts have which wills is computed from the nodes on demand
// and cached until a node is created, configured, deleted or its
// affiliations change (service.nodeChanged): sessions end far more often
// than nodes change.

// wills is the cache of the component's last wills.
type wills struct {
	mu    sync.Mutex
	gen   uint64                  // guarded by mu; bumped by nodeChanged
	built uint64                  // guarded by mu; the gen byJID was built at
	byJID map[jid.JID][]ps.NodeID // guarded by mu; nil when stale
}

// invalidate marks the cache stale.
func (w *wills) invalidate() {
	w.mu.Lock()
	w.gen++
	w.byJID = nil
	w.mu.Unlock()
}

// willsOf returns the nodes that have a last will for the account,
// building the cache if it is stale.
func (sv *service) willsOf(ctx context.Context, account jid.JID) []ps.NodeID {
	w := &sv.wills
	w.mu.Lock()
	if w.byJID != nil && w.built == w.gen {
		ids := w.byJID[account]
		w.mu.Unlock()
		return ids
	}
	gen := w.gen
	w.mu.Unlock()

	byJID := map[jid.JID][]ps.NodeID{}
	a := sv.serviceActor()
	for _, n := range sv.svc.Nodes(ctx) {
		if n.Config.LastWill == "" || n.Type == ps.Collection {
			continue
		}
		affs, err := sv.svc.Affiliations(ctx, a, n.ID)
		if err != nil {
			continue // deleted meanwhile
		}
		for _, af := range affs {
			switch af.Affiliation {
			case ps.AffOwner, ps.AffPublisher, ps.AffPublishOnly:
				if af.JID.Domain() == sv.domain && af.JID.Local() != "" {
					b := af.JID.Bare()
					byJID[b] = append(byJID[b], n.ID)
				}
			}
		}
	}
	w.mu.Lock()
	if w.gen == gen { // nothing changed while it was built
		w.byJID, w.built = byJID, gen
	}
	w.mu.Unlock()
	return byJID[account]
}

// sessionEnd publishes the last wills of an account whose last session
// was lost. The publishing is done on another goroutine: the hook must not
// block.
func (m *Module) sessionEnd(_ context.Context, s module.Session) {
	if !s.Lost() {
		return
	}
	account := s.JID().Bare()
	if len(m.h.Sessions(account)) > 0 {
		return // another resource is still online
	}
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		m.publishWills(context.Background(), account)
	}()
}

// publishWills publishes account's last wills at the component.
func (m *Module) publishWills(ctx context.Context, account jid.JID) {
	sv := m.comp
	for _, id := range sv.willsOf(ctx, account) {
		n, err := sv.svc.Node(ctx, id)
		if err != nil || n.Config.LastWill == "" {
			continue
		}
		payload, err := xmlstream.ParseStanza([]byte(n.Config.LastWill))
		if err != nil {
			continue // Validate keeps this from happening
		}
		// The account is the publisher; Admin lets the service publish
		// for it whatever the node's publish model (willsOf checked that
		// its affiliation lets it publish).
		a := ps.Actor{JID: account, Admin: true}
		item := ps.Item{ID: ps.LastWillItem, Payload: serialisePayload(payload)}
		if _, err := sv.svc.Publish(ctx, a, id, []ps.Item{item}, ps.PublishOptions{}); err != nil {
			m.log.Warn("last will not published", "account", account.String(), "node", string(id), "err", err)
			continue
		}
		sv.published[sv.counterIndex()].Add(1)
		m.log.Debug("last will published", "account", account.String(), "node", string(id))
	}
}
