package pubsub

import (
	"context"

	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/jid"
)

// What the server's operators see of the service: the admin HTTP API
// (internal/admin, through internal/server) inspects and deletes the
// component's nodes, and the metrics read the counters and queue depths.
// Every call acts as the service itself, an administrator of every node
// (XEP-0060 §4.1); PEP services are the accounts' and are not listed.

// ComponentJID returns the address of the component (pubsub.<domain>).
func (m *Module) ComponentJID() jid.JID { return m.comp.jid }

// ComponentNodes returns the component's nodes, sorted by NodeID.
func (m *Module) ComponentNodes(ctx context.Context) []ps.Node {
	return m.comp.svc.Nodes(ctx)
}

// ComponentNodeCount returns the number of the component's nodes.
func (m *Module) ComponentNodeCount() int { return m.comp.svc.NodeCount() }

// NodeDetail is what an administrator sees of one node.
type NodeDetail struct {
	Node ps.Node
	// Subscriptions are the subscriptions in every state, pending ones
	// included, sorted by JID and SubID.
	Subscriptions []ps.Subscription
	// Affiliations are those other than none, sorted by JID.
	Affiliations []ps.Affiliated
	// Children are the nodes of a collection (XEP-0248), sorted.
	Children []ps.NodeID
	// Items is the number of items a leaf node holds.
	Items int
	// Last is a leaf node's newest item, nil if none.
	Last *ps.Item
}

// Subscribers counts the subscriptions in state subscribed.
func (d NodeDetail) Subscribers() int {
	n := 0
	for _, s := range d.Subscriptions {
		if s.State == ps.SubSubscribed {
			n++
		}
	}
	return n
}

// ComponentNodeSummary returns a node of the component with its
// subscriptions and its newest item: ComponentNode without pending
// subscriptions, affiliations and children, for lists.
func (m *Module) ComponentNodeSummary(ctx context.Context, n ps.Node) (NodeDetail, error) {
	return m.comp.nodeDetail(ctx, n, false)
}

// ComponentNode returns a node of the component; an error wrapping
// ps.ErrNodeNotFound if there is none.
func (m *Module) ComponentNode(ctx context.Context, id ps.NodeID) (NodeDetail, error) {
	n, err := m.comp.svc.Node(ctx, id)
	if err != nil {
		return NodeDetail{}, err
	}
	return m.comp.nodeDetail(ctx, n, true)
}

// nodeDetail fills in n's detail; full adds pending subscriptions,
// affiliations and children.
func (sv *service) nodeDetail(ctx context.Context, n ps.Node, full bool) (NodeDetail, error) {
	a, id := sv.serviceActor(), n.ID
	d := NodeDetail{Node: n}
	var err error
	if d.Subscriptions, err = sv.svc.Subscriptions(ctx, a, id); err != nil {
		return NodeDetail{}, err
	}
	if n.Type == ps.Collection && !full {
		return d, nil
	}
	if n.Type != ps.Collection {
		page, err := sv.svc.Items(ctx, a, id, ps.ItemQuery{Max: 1})
		if err != nil {
			return NodeDetail{}, err
		}
		d.Items = page.Count
		if len(page.Items) > 0 {
			d.Last = &page.Items[0]
		}
	}
	if !full {
		return d, nil
	}
	pending, err := sv.svc.Pending(ctx, a, id)
	if err != nil {
		return NodeDetail{}, err
	}
	d.Subscriptions = append(d.Subscriptions, pending...)
	if d.Affiliations, err = sv.svc.Affiliations(ctx, a, id); err != nil {
		return NodeDetail{}, err
	}
	if n.Type == ps.Collection {
		d.Children, err = sv.svc.Children(ctx, id)
	}
	return d, err
}

// ComponentItems returns a page of a leaf node's items, newest first: at
// most max (capped by max_items_per_request) older than the item after, or
// the newest when after is "". Errors wrap ps.ErrNodeNotFound,
// ps.ErrItemNotFound (no such item to page from) or another *ps.Error.
func (m *Module) ComponentItems(ctx context.Context, id ps.NodeID, after string, max int) (ps.ItemPage, error) {
	sv := m.comp
	return sv.svc.Items(ctx, sv.serviceActor(), id, ps.ItemQuery{After: after, Max: max})
}

// DeleteComponentNode deletes a node as its owner would (XEP-0060 §8.4):
// subscribers are told when the node has pubsub#notify_delete.
func (m *Module) DeleteComponentNode(ctx context.Context, id ps.NodeID) error {
	sv := m.comp
	if err := sv.svc.DeleteNode(ctx, sv.serviceActor(), id, ""); err != nil {
		return err
	}
	sv.nodeChanged(id)
	return nil
}

// Stats are the module's counters since it started, and its queues now.
type Stats struct {
	// Published counts the items publish requests stored, at the
	// component and at the PEP services.
	Published, PEPPublished uint64
	// Delivered counts the notification messages routed.
	Delivered, PEPDelivered uint64
	// QueuedNotifications is how many recipients wait in the delivery
	// queues (bounded by max_queued_notifications).
	QueuedNotifications int64
	// QueuedArchiveWrites is how many node archive writes wait.
	QueuedArchiveWrites int
}

// Stats returns the module's counters; zero before Start.
func (m *Module) Stats() Stats {
	st := Stats{
		Published: m.published[0].Load(), PEPPublished: m.published[1].Load(),
		Delivered: m.delivered[0].Load(), PEPDelivered: m.delivered[1].Load(),
	}
	if m.q != nil {
		st.QueuedNotifications = m.q.queued.Load()
	}
	if m.archiveOps != nil {
		st.QueuedArchiveWrites = len(m.archiveOps)
	}
	return st
}

// counterIndex is 0 for the component, 1 for a PEP service.
func (sv *service) counterIndex() int {
	if sv.isPEP() {
		return 1
	}
	return 0
}
