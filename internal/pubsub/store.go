package pubsub

import (
	"context"
	"time"

	"github.com/mote-xmpp/mote/jid"
)

// Store persists one publish-subscribe service: a pubsub component, or one
// account's PEP service. A backend serving many services hands out one
// Store per service (keyed by the service's JID, for instance); MemStore is
// the in-memory implementation.
//
// The Service keeps nodes, affiliations and subscriptions in memory (loaded
// once by LoadNodes) and writes every change through; items live in the
// Store only. Every method takes a context and returns its error when the
// context ends; absence is reported as storage.ErrNotFound, a taken NodeID
// as storage.ErrExists. The Service serialises the calls about one node;
// calls about different nodes may be concurrent. Slices passed in are not
// retained; slices returned are not retained by the Store.
//
// Items are ordered by publication: re-publishing an ItemID makes it the
// newest item (XEP-0060 §13.1). A SQL backend keeps a per-node sequence
// number for that order.
type Store interface {
	// LoadNodes returns every node with its affiliations and subscriptions.
	LoadNodes(ctx context.Context) ([]NodeState, error)
	// CreateNode stores a new node with its initial affiliations,
	// atomically; storage.ErrExists if the NodeID is taken.
	CreateNode(ctx context.Context, n NodeState) error
	// UpdateNode replaces a node's type, parents and configuration;
	// storage.ErrNotFound if there is no such node.
	UpdateNode(ctx context.Context, n Node) error
	// DeleteNode removes the node with its items, affiliations and
	// subscriptions, and removes it from the Parents of every other node,
	// atomically; storage.ErrNotFound if there is no such node.
	DeleteNode(ctx context.Context, id NodeID) error

	// SetAffiliation sets the affiliation of the bare JID j; AffNone
	// removes it.
	SetAffiliation(ctx context.Context, id NodeID, j jid.JID, a Affiliation) error
	// PutSubscription adds or replaces the subscription identified by
	// (s.JID, s.SubID).
	PutSubscription(ctx context.Context, id NodeID, s Subscription) error
	// DeleteSubscription removes a subscription; storage.ErrNotFound if
	// there is none.
	DeleteSubscription(ctx context.Context, id NodeID, j jid.JID, subID string) error

	// PutItem stores it as the newest item, replacing the item with the
	// same ID, then removes the oldest items beyond max (max < 0: no limit)
	// and returns their IDs, oldest first.
	PutItem(ctx context.Context, id NodeID, it Item, max int) (trimmed []string, err error)
	// TrimItems removes the oldest items beyond max and returns their IDs,
	// oldest first.
	TrimItems(ctx context.Context, id NodeID, max int) ([]string, error)
	// DeleteItem removes one item; storage.ErrNotFound if there is none.
	DeleteItem(ctx context.Context, id NodeID, itemID string) error
	// DeleteItemsBefore removes the items published before t and returns
	// their IDs, oldest first (pubsub#item_expire).
	DeleteItemsBefore(ctx context.Context, id NodeID, t time.Time) ([]string, error)
	// PurgeItems removes every item.
	PurgeItems(ctx context.Context, id NodeID) error
	// CountItems returns the number of items.
	CountItems(ctx context.Context, id NodeID) (int, error)
	// Items returns the items selected by q (see ItemQuery); a cursor that
	// names no selected item is storage.ErrNotFound.
	Items(ctx context.Context, id NodeID, q ItemQuery) (ItemPage, error)
}

// StoreProvider is a storage backend that holds many services. PubSubStore
// hands out the Store of one service, keyed by a string the caller chooses
// and keeps stable across restarts, such as "pubsub.example.com" for a
// pubsub component or "pep:alice" for the PEP service of the account alice.
// Services are isolated: nodes of one key are invisible to the others, and
// PubSubStore called again with the same key returns a Store over the same
// data. A backend that deletes accounts removes the PEP service "pep:" +
// username with the account.
type StoreProvider interface {
	PubSubStore(service string) Store
	// PubSubServices returns the keys, starting with prefix, of the
	// services that hold at least one node, sorted (a PEP module learns
	// which accounts have nodes without loading every account).
	PubSubServices(ctx context.Context, prefix string) ([]string, error)
}

// NodeState is a node with its affiliations and subscriptions, as loaded
// from and created in a Store.
type NodeState struct {
	Node          Node
	Affiliations  []Affiliated // bare JIDs, none of them AffNone
	Subscriptions []Subscription
}

// ItemQuery selects a node's items (XEP-0060 §6.5) and pages through them
// (XEP-0059). Results are newest first: the first page holds the most
// recent items, and After moves to older ones.
type ItemQuery struct {
	// IDs selects these items only (§6.5.8); the others select in paging
	// order. Unknown IDs are skipped.
	IDs []string
	// Max is the largest number of items returned (max_items, §6.5.7, or
	// the XEP-0059 <max/>); 0 means no limit.
	Max int
	// After returns the items older than the item with this ID (the next
	// page); Before returns the Max items newer than the item with this ID
	// (the previous page). At most one of them is set.
	After, Before string
	// Since excludes items published before it. The Service sets it from
	// pubsub#item_expire.
	Since time.Time
	// SubID is the requester's subscription, needed when it holds several
	// (§6.5.9.1). The Store ignores it.
	SubID string
}

// ItemPage is a page of items with what a XEP-0059 <set/> reports.
type ItemPage struct {
	Items []Item // newest first
	// Count is the number of items in the whole selection (all pages).
	Count int
	// Index is the position of Items[0] in the whole selection.
	Index int
}
