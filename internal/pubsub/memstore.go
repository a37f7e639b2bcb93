package pubsub

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// MemStore is a Store in memory, for tests and for deployments that do not
// keep pubsub state across restarts. The zero value is ready to use; it is
// safe for concurrent use.
type MemStore struct {
	mu    sync.Mutex
	nodes map[NodeID]*memNode
}

type memNode struct {
	node  Node
	affs  map[jid.JID]Affiliation
	subs  map[subKey]Subscription
	items []Item // oldest first
}

type subKey struct {
	jid   jid.JID
	subID string
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{} }

// locked checks ctx, locks the store and returns node id with the
// function that unlocks it (nothing to unlock on error).
func (m *MemStore) locked(ctx context.Context, id NodeID) (*memNode, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	n, err := m.node(id)
	if err != nil {
		m.mu.Unlock()
		return nil, nil, err
	}
	return n, m.mu.Unlock, nil
}

func (m *MemStore) node(id NodeID) (*memNode, error) {
	n := m.nodes[id]
	if n == nil {
		return nil, storage.ErrNotFound
	}
	return n, nil
}

// LoadNodes implements Store.
func (m *MemStore) LoadNodes(ctx context.Context) ([]NodeState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]NodeState, 0, len(m.nodes))
	for _, n := range m.nodes {
		st := NodeState{Node: n.node.clone()}
		for j, a := range n.affs {
			st.Affiliations = append(st.Affiliations, Affiliated{Node: n.node.ID, JID: j, Affiliation: a})
		}
		slices.SortFunc(st.Affiliations, func(a, b Affiliated) int { return cmp.Compare(a.JID.String(), b.JID.String()) })
		for _, s := range n.subs {
			st.Subscriptions = append(st.Subscriptions, s.clone())
		}
		sortSubscriptions(st.Subscriptions)
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b NodeState) int { return cmp.Compare(a.Node.ID, b.Node.ID) })
	return out, nil
}

// CreateNode implements Store.
func (m *MemStore) CreateNode(ctx context.Context, st NodeState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nodes == nil {
		m.nodes = make(map[NodeID]*memNode)
	}
	if m.nodes[st.Node.ID] != nil {
		return storage.ErrExists
	}
	n := &memNode{node: st.Node.clone(), affs: make(map[jid.JID]Affiliation), subs: make(map[subKey]Subscription)}
	for _, a := range st.Affiliations {
		if a.Affiliation != AffNone {
			n.affs[a.JID] = a.Affiliation
		}
	}
	for _, s := range st.Subscriptions {
		n.subs[subKey{s.JID, s.SubID}] = s.clone()
	}
	m.nodes[st.Node.ID] = n
	return nil
}

// UpdateNode implements Store.
func (m *MemStore) UpdateNode(ctx context.Context, nd Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.node(nd.ID)
	if err != nil {
		return err
	}
	n.node = nd.clone()
	return nil
}

// DeleteNode implements Store.
func (m *MemStore) DeleteNode(ctx context.Context, id NodeID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.node(id); err != nil {
		return err
	}
	delete(m.nodes, id)
	for _, n := range m.nodes {
		if i := slices.Index(n.node.Parents, id); i >= 0 {
			n.node.Parents = slices.Delete(slices.Clone(n.node.Parents), i, i+1)
			if len(n.node.Parents) == 0 {
				n.node.Parents = nil
			}
		}
	}
	return nil
}

// SetAffiliation implements Store.
func (m *MemStore) SetAffiliation(ctx context.Context, id NodeID, j jid.JID, a Affiliation) error {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	if a == AffNone {
		delete(n.affs, j)
	} else {
		n.affs[j] = a
	}
	return nil
}

// PutSubscription implements Store.
func (m *MemStore) PutSubscription(ctx context.Context, id NodeID, s Subscription) error {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	n.subs[subKey{s.JID, s.SubID}] = s.clone()
	return nil
}

// DeleteSubscription implements Store.
func (m *MemStore) DeleteSubscription(ctx context.Context, id NodeID, j jid.JID, subID string) error {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	k := subKey{j, subID}
	if _, ok := n.subs[k]; !ok {
		return storage.ErrNotFound
	}
	delete(n.subs, k)
	return nil
}

// PutItem implements Store.
func (m *MemStore) PutItem(ctx context.Context, id NodeID, it Item, max int) ([]string, error) {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	n.items = slices.DeleteFunc(n.items, func(x Item) bool { return x.ID == it.ID })
	it.Payload = cloneSlice(it.Payload)
	n.items = append(n.items, it)
	return n.trim(max), nil
}

func (n *memNode) trim(max int) []string {
	if max < 0 || len(n.items) <= max {
		return nil
	}
	k := len(n.items) - max
	ids := make([]string, k)
	for i := range k {
		ids[i] = n.items[i].ID
	}
	n.items = slices.Delete(n.items, 0, k)
	return ids
}

// TrimItems implements Store.
func (m *MemStore) TrimItems(ctx context.Context, id NodeID, max int) ([]string, error) {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return n.trim(max), nil
}

// DeleteItem implements Store.
func (m *MemStore) DeleteItem(ctx context.Context, id NodeID, itemID string) error {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	i := slices.IndexFunc(n.items, func(x Item) bool { return x.ID == itemID })
	if i < 0 {
		return storage.ErrNotFound
	}
	n.items = slices.Delete(n.items, i, i+1)
	return nil
}

// DeleteItemsBefore implements Store.
func (m *MemStore) DeleteItemsBefore(ctx context.Context, id NodeID, t time.Time) ([]string, error) {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var ids []string
	n.items = slices.DeleteFunc(n.items, func(x Item) bool {
		if x.Published.Before(t) {
			ids = append(ids, x.ID)
			return true
		}
		return false
	})
	return ids, nil
}

// PurgeItems implements Store.
func (m *MemStore) PurgeItems(ctx context.Context, id NodeID) error {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	n.items = nil
	return nil
}

// CountItems implements Store.
func (m *MemStore) CountItems(ctx context.Context, id NodeID) (int, error) {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return 0, err
	}
	defer unlock()
	return len(n.items), nil
}

// Items implements Store.
func (m *MemStore) Items(ctx context.Context, id NodeID, q ItemQuery) (ItemPage, error) {
	n, unlock, err := m.locked(ctx, id)
	if err != nil {
		return ItemPage{}, err
	}
	defer unlock()
	// The selection, newest first.
	sel := make([]Item, 0, len(n.items))
	for i := len(n.items) - 1; i >= 0; i-- {
		it := n.items[i]
		if it.Published.Before(q.Since) {
			continue
		}
		if len(q.IDs) > 0 && !slices.Contains(q.IDs, it.ID) {
			continue
		}
		sel = append(sel, it)
	}
	lo, hi := 0, len(sel)
	switch {
	case q.After != "":
		i := slices.IndexFunc(sel, func(x Item) bool { return x.ID == q.After })
		if i < 0 {
			return ItemPage{}, storage.ErrNotFound
		}
		lo = i + 1
		if q.Max > 0 && hi-lo > q.Max {
			hi = lo + q.Max
		}
	case q.Before != "":
		i := slices.IndexFunc(sel, func(x Item) bool { return x.ID == q.Before })
		if i < 0 {
			return ItemPage{}, storage.ErrNotFound
		}
		hi = i
		if q.Max > 0 && hi-lo > q.Max {
			lo = hi - q.Max
		}
	default:
		if q.Max > 0 && hi > q.Max {
			hi = q.Max
		}
	}
	page := ItemPage{Items: make([]Item, 0, hi-lo), Count: len(sel), Index: lo}
	for _, it := range sel[lo:hi] {
		it.Payload = cloneSlice(it.Payload)
		page.Items = append(page.Items, it)
	}
	return page, nil
}

// sortSubscriptions orders subscriptions by JID, then SubID.
func sortSubscriptions(ss []Subscription) {
	slices.SortFunc(ss, func(a, b Subscription) int {
		if c := cmp.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		if c := cmp.Compare(a.JID.String(), b.JID.String()); c != 0 {
			return c
		}
		return cmp.Compare(a.SubID, b.SubID)
	})
}
