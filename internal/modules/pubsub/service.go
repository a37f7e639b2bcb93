package pubsub

import (
	"context"
	"hash/maphash"
	"sync"

	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/jid"
)

// service is the XMPP face of one pubsub.Service: the pubsub component at
// pubsub.<domain>, or the PEP service of one account (XEP-0163). It
// translates requests into calls of the core and Events into messages;
// what the services share (the host, the configuration, the delivery
// queues) is the Module's, embedded.
type service struct {
	*Module
	svc  *ps.Service
	jid  jid.JID // the service's address: the component's domain, or the account's bare JID
	from string  // jid as the 'from' of what the service sends
	// owner is the account of a PEP service; zero for the component.
	owner jid.JID
	hash  uint64 // spreads the services' nodes over the delivery queues
	// archive receives the node archive writes (archive.go); nil when the
	// service keeps none.
	archive chan<- archiveOp

	// itemReply caches, per node, whether notifications carry the
	// 'publisher' attribute (pubsub#itemreply "publisher", §7.1.2.3). It
	// is filled on demand by the delivery workers and dropped when the
	// handler changes or deletes a node.
	itemReply sync.Map   // ps.NodeID -> bool
	irMu      sync.Mutex // serialises the changes of itemReply
	irGen     uint64     // guarded by irMu; counts invalidations

	// wills caches the last wills of the component's nodes (lastwill.go).
	wills wills
}

// newService returns the XMPP face of a service at the address j; owner
// is the account of a PEP service, zero for the component. Its svc is
// set by the caller, with the service as Notifier.
func (m *Module) newService(j, owner jid.JID) *service {
	return &service{Module: m, jid: j, from: j.String(), owner: owner, hash: maphash.String(m.q.seed, j.String())}
}

// isPEP reports whether this is an account's PEP service.
func (sv *service) isPEP() bool { return !sv.owner.IsZero() }

// Notify implements pubsub.Notifier: the event goes to the delivery
// queue of its node.
func (sv *service) Notify(ctx context.Context, ev *ps.Event) { sv.q.enqueue(sv, ev) }
