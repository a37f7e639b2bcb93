package pubsub

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// PublishOptions qualify a publish request.
type PublishOptions struct {
	// Preconditions are the fields of the publish-options form (XEP-0060
	// §7.1.5): node_config option names and the values the node's
	// configuration must have, in the syntax of ParseOption (so "1" and
	// "true" are the same). pubsub#node_type is compared with the node's
	// type. With Options.AutoCreate a missing node is created with them.
	Preconditions map[string][]string
}

// Publish publishes items to a leaf node (XEP-0060 §7.1) and returns their
// ItemIDs, generating those not given (§7.1.1). The service sets each
// item's Publisher (the requester) and Published time; an ItemID that
// exists replaces that item and makes it the newest (§13.9). Items beyond
// pubsub#max_items are dropped, oldest first, or refused, per
// pubsub#publish_node_full (§7.1.2.5); a node that does not persist items
// keeps none (but remembers the last one for new subscribers, §13.10).
//
// The Notifier gets one EventPublish (payloads included if
// pubsub#deliver_payloads) whose recipients are the node's subscribers and
// those of the collections above it, filtered by presence if
// pubsub#presence_based_delivery (see the package documentation), and
// with retract-oldest one EventRetract for the items dropped.
//
// A missing node is created first if Options.AutoCreate is set (§7.1.4).
// Errors: ErrNodeIDRequired, ErrNodeNotFound, those of Authorize for
// ActionPublish, ErrPreconditionNotMet, ErrItemRequired (a persistent or
// payload node, and no item), ErrItemForbidden (a transient
// notification-only node, and an item), ErrPayloadRequired,
// ErrPayloadTooBig, ErrMaxItemsExceeded (a batch larger than max_items,
// §13.11), ErrNodeFull, ErrBadRequest (an invalid ItemID).
func (s *Service) Publish(ctx context.Context, a Actor, id NodeID, items []Item, opts PublishOptions) ([]string, error) {
	if a.JID.IsZero() {
		return nil, ErrBadRequest.with("no requester")
	}
	for i := range items {
		if err := checkID("ItemID", items[i].ID); err != nil {
			return nil, err
		}
	}
	n, err := s.lookup(id)
	if errors.Is(err, ErrNodeNotFound) && s.opts.AutoCreate {
		n, err = s.autoCreate(ctx, &a, id, opts)
	}
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return nil, ErrNodeNotFound
	}
	if err := n.authorize(&a, ActionPublish); err != nil {
		return nil, err
	}
	if err := checkPreconditions(&n.meta, opts.Preconditions); err != nil {
		return nil, err
	}
	cfg := &n.meta.Config
	// The event type rules of §4.3 and §7.1.3.7.
	if !cfg.PersistItems && !cfg.DeliverPayloads {
		if len(items) > 0 {
			return nil, ErrItemForbidden
		}
	} else if len(items) == 0 {
		return nil, ErrItemRequired
	}
	maxPayload := s.maxPayload(cfg)
	now := s.timestamp()
	out := make([]Item, len(items))
	ids := make([]string, len(items))
	for i, it := range items {
		if cfg.DeliverPayloads && len(it.Payload) == 0 {
			return nil, ErrPayloadRequired
		}
		if maxPayload > 0 && len(it.Payload) > maxPayload {
			return nil, ErrPayloadTooBig.with("the limit is " + strconv.Itoa(maxPayload) + " bytes")
		}
		if it.ID == "" {
			it.ID = s.newID()
		}
		out[i] = Item{ID: it.ID, Publisher: a.JID, Payload: cloneSlice(it.Payload), Published: now}
		ids[i] = it.ID
	}
	var trimmed []string
	if max := s.maxItems(cfg); cfg.PersistItems && max != 0 && len(out) > 0 {
		distinct := len(dedupeStrings(ids))
		if max > 0 && distinct > max {
			return nil, ErrMaxItemsExceeded
		}
		if cfg.PublishNodeFull == FullReject && max > 0 {
			if err := s.checkRoom(ctx, n.id, ids, distinct, max); err != nil {
				return nil, err
			}
		}
		for _, it := range out {
			t, err := s.store.PutItem(ctx, n.id, it, max)
			if err != nil {
				return nil, err
			}
			trimmed = append(trimmed, t...)
		}
	}
	if len(out) > 0 {
		last := out[len(out)-1]
		n.last, n.lastOK = &last, true
	}
	if cfg.DeliverNotifications {
		rs := s.available(cfg, n.itemRecipients())
		evItems := out
		if !cfg.DeliverPayloads {
			evItems = make([]Item, len(out))
			for i, it := range out {
				evItems[i] = notification(cfg, it)
			}
		}
		s.notify(ctx, &Event{Kind: EventPublish, Node: n.id, NotificationType: cfg.NotificationType, Items: evItems, Recipients: rs})
		if len(trimmed) > 0 && cfg.PublishNodeFull == FullRetractOldest {
			s.notify(ctx, &Event{Kind: EventRetract, Node: n.id, NotificationType: cfg.NotificationType, ItemIDs: trimmed, Recipients: rs})
		}
	}
	return ids, nil
}

// notification returns it as notifications carry it: without payload
// unless the node delivers payloads.
func notification(cfg *Config, it Item) Item {
	if !cfg.DeliverPayloads {
		it.Payload = nil
	}
	return it
}

// checkRoom refuses a publish that would take a node with publish_node_full
// "reject" over max items (XEP-0060 §7.1.3.4).
func (s *Service) checkRoom(ctx context.Context, id NodeID, ids []string, distinct, max int) error {
	count, err := s.store.CountItems(ctx, id)
	if err != nil {
		return err
	}
	page, err := s.store.Items(ctx, id, ItemQuery{IDs: ids})
	if err != nil {
		return err
	}
	if count-len(page.Items)+distinct > max {
		return ErrNodeFull
	}
	return nil
}

func dedupeStrings(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// autoCreate creates a missing node for a publish (XEP-0060 §7.1.4): the
// default configuration with the preconditions applied (§7.1.5).
func (s *Service) autoCreate(ctx context.Context, a *Actor, id NodeID, opts PublishOptions) (*node, error) {
	cfg := s.defaults.Clone()
	for name, vs := range opts.Preconditions {
		if name == "pubsub#node_type" {
			if len(vs) != 1 || vs[0] != Leaf.String() {
				return nil, ErrPreconditionNotMet.with(name)
			}
			continue
		}
		apply, err := ParseOption(name, vs)
		if err != nil {
			return nil, ErrPreconditionNotMet.with(err.Error())
		}
		apply(&cfg)
	}
	n, err := s.create(ctx, a, NodeSpec{ID: id, Config: &cfg})
	if errors.Is(err, ErrConflict) { // created meanwhile
		return s.lookup(id)
	}
	return n, err
}

// checkPreconditions checks publish-options against the node (XEP-0060
// §7.1.5): unknown fields and values that differ fail.
func checkPreconditions(meta *Node, pre map[string][]string) error {
	for name, vs := range pre {
		if name == "pubsub#node_type" {
			if len(vs) != 1 {
				return ErrPreconditionNotMet.with(name)
			}
			t, err := ParseNodeType(vs[0])
			if err != nil || t != meta.Type {
				return ErrPreconditionNotMet.with(name)
			}
			continue
		}
		apply, err := ParseOption(name, vs)
		if err != nil {
			return ErrPreconditionNotMet.with(err.Error())
		}
		c := meta.Config.Clone()
		apply(&c)
		if !c.Equal(meta.Config) {
			return ErrPreconditionNotMet.with(name)
		}
	}
	return nil
}

// Retract deletes items (XEP-0060 §7.2): all of them or none. The requester
// needs the right to delete its own items, and to delete any for items
// others published (§4.1). Subscribers are notified (EventRetract) if
// notify is set or the node has pubsub#notify_retract (§7.2.2.1).
// Errors: ErrNodeIDRequired, ErrItemRequired (no ItemID), ErrNodeNotFound,
// those of Authorize, ErrItemNotFound.
func (s *Service) Retract(ctx context.Context, a Actor, id NodeID, itemIDs []string, notify bool) error {
	if id == "" {
		return ErrNodeIDRequired
	}
	if len(itemIDs) == 0 || slices.Contains(itemIDs, "") {
		return ErrItemRequired
	}
	itemIDs = dedupeStrings(itemIDs)
	n, err := s.lockNode(id)
	if err != nil {
		return err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionDeleteOwnItem); err != nil {
		return err
	}
	cfg := &n.meta.Config
	page, err := s.store.Items(ctx, id, ItemQuery{IDs: itemIDs, Since: s.expiredBefore(cfg)})
	if err != nil {
		return err
	}
	for _, iid := range itemIDs {
		if !slices.ContainsFunc(page.Items, func(it Item) bool { return it.ID == iid }) {
			return ErrItemNotFound.with("item " + strconv.Quote(iid) + " does not exist")
		}
	}
	for _, it := range page.Items {
		if it.Publisher.Bare() != a.JID.Bare() {
			if err := n.authorize(&a, ActionDeleteAnyItem); err != nil {
				return err
			}
			break
		}
	}
	for _, iid := range itemIDs {
		if err := s.store.DeleteItem(ctx, id, iid); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if n.last != nil && n.last.ID == iid {
			n.last, n.lastOK = nil, false
		}
	}
	if cfg.DeliverNotifications && (notify || cfg.NotifyRetract) {
		s.notify(ctx, &Event{Kind: EventRetract, Node: id, NotificationType: cfg.NotificationType,
			ItemIDs: itemIDs, Recipients: s.available(cfg, n.itemRecipients())})
	}
	return nil
}

// Purge deletes every item of the node (XEP-0060 §8.5). With
// pubsub#notify_retract the subscribers get one EventPurge (§8.5.2).
// Errors: ErrNodeNotFound, those of Authorize for ActionPurge.
func (s *Service) Purge(ctx context.Context, a Actor, id NodeID) error {
	n, err := s.lockNode(id)
	if err != nil {
		return err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionPurge); err != nil {
		return err
	}
	if err := s.store.PurgeItems(ctx, id); err != nil {
		return err
	}
	n.last, n.lastOK = nil, true
	cfg := &n.meta.Config
	if cfg.DeliverNotifications && cfg.NotifyRetract {
		s.notify(ctx, &Event{Kind: EventPurge, Node: id, NotificationType: cfg.NotificationType,
			Recipients: withoutSubIDs(s.available(cfg, n.itemRecipients()))})
	}
	return nil
}

// expiredBefore returns the time before which items have expired
// (pubsub#item_expire), or the zero time.
func (s *Service) expiredBefore(cfg *Config) time.Time {
	if cfg.ItemExpire <= 0 {
		return time.Time{}
	}
	return s.timestamp().Add(-cfg.ItemExpire)
}

// Items returns items of a leaf node (XEP-0060 §6.5), newest first: those
// named in q.IDs, or a page of at most q.Max (capped by
// Limits.MaxItemsPerRequest) before or after a cursor (XEP-0059). Expired
// items are never returned. Errors: ErrNodeNotFound, those of Authorize for
// ActionRetrieveItems, ErrSubIDRequired and ErrInvalidSubID (§6.5.9.1-2),
// ErrItemNotFound (a cursor that is not an item), ErrBadRequest (both
// cursors, or a negative Max).
func (s *Service) Items(ctx context.Context, a Actor, id NodeID, q ItemQuery) (ItemPage, error) {
	if q.After != "" && q.Before != "" || q.Max < 0 {
		return ItemPage{}, ErrBadRequest.with("invalid paging request")
	}
	n, err := s.lockNode(id)
	if err != nil {
		return ItemPage{}, err
	}
	b := a.JID.Bare()
	aff := n.affs[b]
	mine := n.subsOfBare(b)
	err = Authorize(a, ActionRetrieveItems, &n.meta, aff, bestState(mine))
	if err == nil && a.effective(aff) == AffNone {
		switch {
		case q.SubID != "" && !slices.ContainsFunc(mine, func(x Subscription) bool { return x.SubID == q.SubID }):
			err = ErrInvalidSubID
		case q.SubID == "" && len(mine) > 1:
			err = ErrSubIDRequired
		}
	}
	if since := s.expiredBefore(&n.meta.Config); since.After(q.Since) {
		q.Since = since
	}
	n.mu.Unlock()
	if err != nil {
		return ItemPage{}, err
	}
	if l := s.limits.MaxItemsPerRequest; l > 0 && (q.Max == 0 || q.Max > l) {
		q.Max = l
	}
	q.IDs = cloneSlice(q.IDs)
	page, err := s.store.Items(ctx, id, q)
	if errors.Is(err, storage.ErrNotFound) {
		if q.After != "" || q.Before != "" {
			return ItemPage{}, ErrItemNotFound.with("no such item to page from")
		}
		return ItemPage{}, ErrNodeNotFound
	}
	return page, err
}

// LastPublished returns the node's last published item and whether there
// is one, for sending it to a subscriber that comes online
// (pubsub#send_last_published_item on_sub_and_presence, XEP-0060 §6.1.7;
// XEP-0163 §4.3.4). It is available to subscribers and to whoever may
// retrieve items, also for nodes that do not persist items (§13.10).
func (s *Service) LastPublished(ctx context.Context, a Actor, id NodeID) (Item, bool, error) {
	n, err := s.lockNode(id)
	if err != nil {
		return Item{}, false, err
	}
	defer n.mu.Unlock()
	b := a.JID.Bare()
	aff := a.effective(n.affs[b])
	state := bestState(n.subsOfBare(b))
	switch {
	case aff == AffOutcast:
		return Item{}, false, ErrForbidden.with("outcast")
	case state == SubSubscribed || Allowed(aff, ActionRetrieveItems):
	case aff != AffNone:
		return Item{}, false, ErrForbidden.with(aff.String() + " may not retrieve items")
	default:
		if err := checkAccess(&a, &n.meta.Config, ActionRetrieveItems, state); err != nil {
			return Item{}, false, err
		}
	}
	if n.meta.Type != Leaf {
		return Item{}, false, Unsupported("retrieve-items")
	}
	it, err := s.lastItem(ctx, n)
	if err != nil || it == nil {
		return Item{}, false, err
	}
	c := *it
	c.Payload = cloneSlice(c.Payload)
	return c, true, nil
}

// lastItem returns the node's last published item, nil if none or
// expired. n.mu is held.
func (s *Service) lastItem(ctx context.Context, n *node) (*Item, error) {
	cfg := &n.meta.Config
	if !n.lastOK {
		n.last = nil
		if cfg.PersistItems && n.meta.Type == Leaf {
			page, err := s.store.Items(ctx, n.id, ItemQuery{Max: 1})
			if err != nil {
				return nil, err
			}
			if len(page.Items) > 0 {
				it := page.Items[0]
				n.last = &it
			}
		}
		n.lastOK = true
	}
	if n.last != nil && n.last.Published.Before(s.expiredBefore(cfg)) {
		return nil, nil
	}
	return n.last, nil
}

// ExpireItems deletes the expired items of every node with
// pubsub#item_expire (XEP-0060 §17.4.4) and returns how many it deleted.
// Items expire for readers at once; this reclaims their storage, so the
// caller runs it now and then. No notifications are sent.
func (s *Service) ExpireItems(ctx context.Context) (int, error) {
	var errs []error
	total := 0
	for _, n := range s.nodesSnapshot() {
		n.mu.Lock()
		cfg := &n.meta.Config
		if !n.deleted && n.meta.Type == Leaf && cfg.PersistItems && cfg.ItemExpire > 0 {
			ids, err := s.store.DeleteItemsBefore(ctx, n.id, s.expiredBefore(cfg))
			if err != nil {
				errs = append(errs, err)
			}
			total += len(ids)
			if n.last != nil && slices.Contains(ids, n.last.ID) {
				n.last, n.lastOK = nil, false
			}
		}
		n.mu.Unlock()
		if ctx.Err() != nil {
			break
		}
	}
	return total, errors.Join(errs...)
}
