package pubsub

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// stateRank orders states by how much they grant.
var stateRank = [numSubStates]int{SubNone: 0, SubPending: 1, SubUnconfigured: 2, SubSubscribed: 3}

// bestState returns the most granting state of subs; SubNone if empty.
func bestState(subs []Subscription) SubState {
	best := SubNone
	for i := range subs {
		if st := subs[i].State; st < numSubStates && stateRank[st] > stateRank[best] {
			best = st
		}
	}
	return best
}

// subsOfBare returns copies of the subscriptions of JIDs with bare JID b.
func (n *node) subsOfBare(b jid.JID) []Subscription {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	return slices.Clone(n.subs[b])
}

// subsOf returns copies of the subscriptions of exactly j.
func (n *node) subsOf(j jid.JID) []Subscription {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	var out []Subscription
	for _, s := range n.subs[j.Bare()] {
		if s.JID == j {
			out = append(out, s)
		}
	}
	return out
}

// putSub adds s, or replaces the subscription with its JID and SubID.
func (n *node) putSub(s Subscription) {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	b := s.JID.Bare()
	list := n.subs[b]
	if i := slices.IndexFunc(list, func(x Subscription) bool { return x.JID == s.JID && x.SubID == s.SubID }); i >= 0 {
		list[i] = s
	} else {
		n.subs[b] = append(list, s)
		n.nsubs++
	}
	n.fan.Store(nil)
}

// removeSub removes the subscription with the JID and SubID.
func (n *node) removeSub(j jid.JID, subID string) {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	b := j.Bare()
	list := n.subs[b]
	i := slices.IndexFunc(list, func(x Subscription) bool { return x.JID == j && x.SubID == subID })
	if i < 0 {
		return
	}
	list = slices.Delete(list, i, i+1)
	if len(list) == 0 {
		delete(n.subs, b)
	} else {
		n.subs[b] = list
	}
	n.nsubs--
	n.fan.Store(nil)
}

// subscriberSub returns the subscription of subscriber that a request
// with subID concerns: ErrNoSuchSubscriber when it has none, else as
// pickSub. The node's lock is held.
func (n *node) subscriberSub(subscriber jid.JID, subID string) (Subscription, error) {
	list := n.subsOf(subscriber)
	if len(list) == 0 {
		return Subscription{}, ErrNoSuchSubscriber
	}
	return pickSub(list, subID)
}

// pickSub selects the subscription a request with subID concerns
// (XEP-0060 §6.2.3, §6.3.4).
func pickSub(list []Subscription, subID string) (Subscription, error) {
	if subID == "" {
		if len(list) == 1 {
			return list[0], nil
		}
		return Subscription{}, ErrSubIDRequired
	}
	for _, s := range list {
		if s.SubID == subID {
			return s, nil
		}
	}
	return Subscription{}, ErrInvalidSubID
}

// checkSubscriber validates the subscriber JID of a request (XEP-0060
// §6.1.3.1, §6.2.3.3, §6.3.4.1); mismatch is the error for a mismatch.
func checkSubscriber(a *Actor, subscriber jid.JID, mismatch *Error) error {
	if subscriber.IsZero() {
		return ErrJIDRequired
	}
	if subscriber.Bare() != a.JID.Bare() && !a.Admin {
		return mismatch
	}
	return nil
}

// Subscribe subscribes the JID subscriber to the node (XEP-0060 §6.1) with
// the given options (nil: the defaults) and returns the subscription: its
// state is subscribed, pending when the access model is authorize and the
// requester has no affiliation (§6.1.4; the owners get an
// EventAuthorization and answer with Approve), or unconfigured when
// Options.RequireSubscriptionConfig is set and no options were given
// (§6.1.5). Without Options.MultiSubscribe a JID that is already
// subscribed gets its existing subscription (§6.1.6). A new subscriber
// receives the last published item if the node says so (§6.1.7).
//
// Errors: ErrJIDRequired, ErrInvalidJID (the subscriber's bare JID is not
// the requester's), a *ConfigError wrapping ErrInvalidSubOptions, those of
// Authorize for ActionSubscribe, ErrTooManySubscriptions.
func (s *Service) Subscribe(ctx context.Context, a Actor, id NodeID, subscriber jid.JID, opts *SubOptions) (Subscription, error) {
	if err := checkSubscriber(&a, subscriber, ErrInvalidJID); err != nil {
		return Subscription{}, err
	}
	o := DefaultSubOptions()
	if opts != nil {
		o = *opts
		o.ShowValues = cloneSlice(o.ShowValues)
		if err := o.Validate(); err != nil {
			return Subscription{}, err
		}
	}
	n, err := s.lockNode(id)
	if err != nil {
		return Subscription{}, err
	}
	defer n.mu.Unlock()
	aff := n.affs[a.JID.Bare()]
	existing := n.subsOf(subscriber)
	if err := Authorize(a, ActionSubscribe, &n.meta, aff, bestState(existing)); err != nil {
		return Subscription{}, err
	}
	if len(existing) > 0 && !s.opts.MultiSubscribe {
		return existing[0].clone(), nil
	}
	if l := s.limits.MaxSubscriptionsPerNode; l > 0 && n.nsubs >= l {
		return Subscription{}, ErrTooManySubscriptions.with("the node has its maximum number of subscriptions")
	}
	if l := s.limits.MaxSubscriptionsPerJID; l > 0 && len(existing) >= l {
		return Subscription{}, ErrTooManySubscriptions.with("the JID has its maximum number of subscriptions")
	}
	sub := Subscription{Node: id, JID: subscriber, SubID: s.subID(existing), Options: o}
	switch {
	case n.meta.Config.AccessModel == AccessAuthorize && a.effective(aff) == AffNone:
		sub.State = SubPending
	case opts == nil && s.opts.RequireSubscriptionConfig:
		sub.State = SubUnconfigured
	default:
		sub.State = SubSubscribed
	}
	if err := s.store.PutSubscription(ctx, id, sub.clone()); err != nil {
		return Subscription{}, err
	}
	n.putSub(sub)
	if sub.State == SubPending {
		sc := sub.clone()
		s.notify(ctx, &Event{Kind: EventAuthorization, Node: id, NotificationType: NotificationNormal,
			Subscription: &sc, Recipients: n.ownerRecipients()})
	} else {
		s.notifySub(ctx, n, sub)
	}
	s.sendLast(ctx, n, sub)
	return sub.clone(), nil
}

// subID returns a SubID unique among existing.
func (s *Service) subID(existing []Subscription) string {
	for {
		id := s.newID()
		if !slices.ContainsFunc(existing, func(x Subscription) bool { return x.SubID == id }) {
			return id
		}
	}
}

// notifySub tells the owners of a subscription change when the node has
// pubsub#notify_sub. n.mu is held.
func (s *Service) notifySub(ctx context.Context, n *node, sub Subscription) {
	if !n.meta.Config.NotifySub {
		return
	}
	sc := sub.clone()
	s.notify(ctx, &Event{Kind: EventSubscription, Node: n.id, NotificationType: n.meta.Config.NotificationType,
		Subscription: &sc, Recipients: n.ownerRecipients()})
}

// tellSubscriber tells a subscriber its subscription's new state
// (XEP-0060 §13.14). n.mu is held.
func (s *Service) tellSubscriber(ctx context.Context, n *node, sub Subscription) {
	sc := sub.clone()
	s.notify(ctx, &Event{Kind: EventSubscription, Node: n.id, NotificationType: n.meta.Config.NotificationType,
		Subscription: &sc, Recipients: []Recipient{{JID: sub.JID}}})
}

// sendLast sends the last published item to a new subscriber (XEP-0060
// §6.1.7, §13.10). n.mu is held. A failure to read the item is not the
// subscription's: it is dropped.
func (s *Service) sendLast(ctx context.Context, n *node, sub Subscription) {
	cfg := &n.meta.Config
	if n.meta.Type != Leaf || sub.State != SubSubscribed || !sub.Options.Deliver ||
		!cfg.DeliverNotifications || cfg.SendLastPublishedItem == SendLastNever {
		return
	}
	it, err := s.lastItem(ctx, n)
	if err != nil || it == nil {
		return
	}
	r := Recipient{JID: sub.JID}
	if len(n.subsOf(sub.JID)) > 1 {
		r.SubIDs = []string{sub.SubID}
	}
	s.notify(ctx, &Event{Kind: EventPublish, Node: n.id, NotificationType: cfg.NotificationType,
		Items: []Item{notification(cfg, *it)}, Replay: true, Recipients: []Recipient{r}})
}

// Unsubscribe cancels a subscription (XEP-0060 §6.2); subID may be empty
// when the JID holds one subscription. Errors: ErrJIDRequired, ErrForbidden
// (the subscriber's bare JID is not the requester's, §6.2.3.3),
// ErrNodeNotFound, ErrNoSuchSubscriber, ErrSubIDRequired, ErrInvalidSubID.
func (s *Service) Unsubscribe(ctx context.Context, a Actor, id NodeID, subscriber jid.JID, subID string) error {
	if err := checkSubscriber(&a, subscriber, ErrForbidden); err != nil {
		return err
	}
	n, err := s.lockNode(id)
	if err != nil {
		return err
	}
	defer n.mu.Unlock()
	sub, err := n.subscriberSub(subscriber, subID)
	if err != nil {
		return err
	}
	if err := s.deleteSub(ctx, n, sub); err != nil {
		return err
	}
	sub.State = SubNone
	s.notifySub(ctx, n, sub)
	return nil
}

// deleteSub removes a subscription from the store and the node.
func (s *Service) deleteSub(ctx context.Context, n *node, sub Subscription) error {
	if err := s.store.DeleteSubscription(ctx, n.id, sub.JID, sub.SubID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	n.removeSub(sub.JID, sub.SubID)
	return nil
}

// SubscriptionOptions returns a subscription's options (XEP-0060 §6.3).
// Errors as for Unsubscribe.
func (s *Service) SubscriptionOptions(ctx context.Context, a Actor, id NodeID, subscriber jid.JID, subID string) (SubOptions, error) {
	if err := checkSubscriber(&a, subscriber, ErrForbidden); err != nil {
		return SubOptions{}, err
	}
	n, err := s.lockNode(id)
	if err != nil {
		return SubOptions{}, err
	}
	defer n.mu.Unlock()
	sub, err := n.subscriberSub(subscriber, subID)
	if err != nil {
		return SubOptions{}, err
	}
	return sub.clone().Options, nil
}

// SetSubscriptionOptions replaces a subscription's options (XEP-0060
// §6.3.5); an unconfigured subscription becomes subscribed and gets the
// last published item. Errors as for Unsubscribe, and a *ConfigError
// wrapping ErrInvalidSubOptions.
func (s *Service) SetSubscriptionOptions(ctx context.Context, a Actor, id NodeID, subscriber jid.JID, subID string, opts SubOptions) error {
	if err := checkSubscriber(&a, subscriber, ErrForbidden); err != nil {
		return err
	}
	opts.ShowValues = cloneSlice(opts.ShowValues)
	if err := opts.Validate(); err != nil {
		return err
	}
	n, err := s.lockNode(id)
	if err != nil {
		return err
	}
	defer n.mu.Unlock()
	sub, err := n.subscriberSub(subscriber, subID)
	if err != nil {
		return err
	}
	sub.Options = opts
	configured := sub.State == SubUnconfigured
	if configured {
		sub.State = SubSubscribed
	}
	if err := s.store.PutSubscription(ctx, id, sub.clone()); err != nil {
		return err
	}
	n.putSub(sub)
	if configured {
		s.sendLast(ctx, n, sub)
	}
	return nil
}

// Subscriptions returns the node's subscriptions in state subscribed or
// unconfigured, for its owners (XEP-0060 §8.8.1), sorted by JID and SubID.
// Pending ones are listed by Pending.
func (s *Service) Subscriptions(ctx context.Context, a Actor, id NodeID) ([]Subscription, error) {
	return s.listSubs(a, id, func(st SubState) bool { return st == SubSubscribed || st == SubUnconfigured })
}

// Pending returns the subscriptions awaiting approval, for the node's
// owners (XEP-0060 §8.7), sorted by JID and SubID.
func (s *Service) Pending(ctx context.Context, a Actor, id NodeID) ([]Subscription, error) {
	return s.listSubs(a, id, func(st SubState) bool { return st == SubPending })
}

func (s *Service) listSubs(a Actor, id NodeID, keep func(SubState) bool) ([]Subscription, error) {
	n, err := s.lockNode(id)
	if err != nil {
		return nil, err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionManageSubscriptions); err != nil {
		return nil, err
	}
	var out []Subscription
	n.subMu.Lock()
	for _, list := range n.subs {
		for _, sub := range list {
			if keep(sub.State) {
				out = append(out, sub.clone())
			}
		}
	}
	n.subMu.Unlock()
	sortSubscriptions(out)
	return out, nil
}

// Approve answers a pending subscription request (XEP-0060 §8.6): allow
// makes it subscribed (the subscriber gets the last published item), deny
// removes it. Either way the subscriber is told (EventSubscription,
// §13.14). Errors: ErrNodeNotFound, ErrForbidden (not an owner),
// ErrNoSuchSubscriber (nothing pending for the JID), ErrSubIDRequired,
// ErrInvalidSubID.
func (s *Service) Approve(ctx context.Context, a Actor, id NodeID, subscriber jid.JID, subID string, allow bool) error {
	if subscriber.IsZero() {
		return ErrJIDRequired
	}
	n, err := s.lockNode(id)
	if err != nil {
		return err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionManageSubscriptions); err != nil {
		return err
	}
	pending := slices.DeleteFunc(n.subsOf(subscriber), func(x Subscription) bool { return x.State != SubPending })
	if len(pending) == 0 {
		return ErrNoSuchSubscriber.with("no pending subscription")
	}
	sub, err := pickSub(pending, subID)
	if err != nil {
		return err
	}
	return s.decide(ctx, n, sub, allow)
}

// decide approves or denies a pending subscription. n.mu is held.
func (s *Service) decide(ctx context.Context, n *node, sub Subscription, allow bool) error {
	if !allow {
		if err := s.deleteSub(ctx, n, sub); err != nil {
			return err
		}
		sub.State = SubNone
		s.tellSubscriber(ctx, n, sub)
		return nil
	}
	sub.State = SubSubscribed
	if err := s.store.PutSubscription(ctx, n.id, sub.clone()); err != nil {
		return err
	}
	n.putSub(sub)
	s.tellSubscriber(ctx, n, sub)
	s.notifySub(ctx, n, sub)
	s.sendLast(ctx, n, sub)
	return nil
}

// SetSubscriptions applies an owner's changes to the node's subscriptions
// (XEP-0060 §8.8.2): each entry sets the State of the subscription of JID
// with SubID (SubID may be empty when the JID holds one); SubNone removes
// it (all of the JID's if SubID is empty, §8.8.3); an entry for a JID
// without subscription creates one with default options. Options are not
// changed. Subscribers are told of changes (§13.14).
//
// Invalid entries (no JID, an unknown SubID, a missing SubID when the JID
// holds several, a subscription limit) are skipped and returned, with their
// current state, in a *PartialError wrapping ErrNotAcceptable (§8.8.2.4);
// the others are applied.
func (s *Service) SetSubscriptions(ctx context.Context, a Actor, id NodeID, changes []Subscription) error {
	n, err := s.lockNode(id)
	if err != nil {
		return err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionManageSubscriptions); err != nil {
		return err
	}
	var failed []Subscription
	fail := func(c Subscription, cur SubState) {
		failed = append(failed, Subscription{Node: id, JID: c.JID, SubID: c.SubID, State: cur})
	}
	for _, c := range changes {
		if c.JID.IsZero() || c.State >= numSubStates {
			fail(c, SubNone)
			continue
		}
		list := n.subsOf(c.JID)
		if c.State == SubNone {
			targets := list
			if c.SubID != "" {
				i := slices.IndexFunc(list, func(x Subscription) bool { return x.SubID == c.SubID })
				if i < 0 {
					fail(c, SubNone)
					continue
				}
				targets = list[i : i+1]
			}
			for _, sub := range targets {
				if err := s.deleteSub(ctx, n, sub); err != nil {
					return err
				}
				sub.State = SubNone
				s.tellSubscriber(ctx, n, sub)
			}
			continue
		}
		var sub Subscription
		switch cur, err := pickSub(list, c.SubID); {
		case err == nil:
			if cur.State == c.State {
				continue
			}
			sub = cur
		case c.SubID == "" && len(list) == 0:
			if l := s.limits.MaxSubscriptionsPerNode; l > 0 && n.nsubs >= l {
				fail(c, SubNone)
				continue
			}
			sub = Subscription{Node: id, JID: c.JID, SubID: s.subID(nil), Options: DefaultSubOptions()}
		default:
			fail(c, bestState(list))
			continue
		}
		sub.State = c.State
		if err := s.store.PutSubscription(ctx, id, sub.clone()); err != nil {
			return err
		}
		n.putSub(sub)
		s.tellSubscriber(ctx, n, sub)
		s.sendLast(ctx, n, sub)
	}
	if failed != nil {
		return &PartialError{Subscriptions: failed, Err: ErrNotAcceptable}
	}
	return nil
}

// Affiliations returns the node's affiliations other than none, for its
// owners (XEP-0060 §8.9.1), sorted by JID.
func (s *Service) Affiliations(ctx context.Context, a Actor, id NodeID) ([]Affiliated, error) {
	n, err := s.lockNode(id)
	if err != nil {
		return nil, err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionManageAffiliations); err != nil {
		return nil, err
	}
	out := make([]Affiliated, 0, len(n.affs))
	for j, aff := range n.affs {
		out = append(out, Affiliated{Node: id, JID: j, Affiliation: aff})
	}
	slices.SortFunc(out, func(x, y Affiliated) int { return cmp.Compare(x.JID.String(), y.JID.String()) })
	return out, nil
}

// SetAffiliations applies an owner's changes to the node's affiliations
// (XEP-0060 §8.9.2); JIDs are reduced to bare JIDs, AffNone removes one
// (§8.9.3). Side effects (§8.7.4): an outcast loses its subscriptions; a
// new owner or publisher has its pending subscriptions approved; on a
// whitelist node, an entity losing its affiliation loses its
// subscriptions. Subscribers are told (§13.14).
//
// Several entries for one JID are ErrBadRequest and nothing is applied.
// Entries that the state chart of §4.1 forbids, or that would leave the
// node without an owner, are skipped and returned with their current
// affiliation in a *PartialError wrapping ErrNotAcceptable (§8.9.2.4); the
// others are applied.
func (s *Service) SetAffiliations(ctx context.Context, a Actor, id NodeID, changes []Affiliated) error {
	for i, c := range changes {
		if slices.ContainsFunc(changes[:i], func(x Affiliated) bool { return x.JID.Bare() == c.JID.Bare() }) {
			return ErrBadRequest.with("several affiliations for one JID")
		}
	}
	n, err := s.lockNode(id)
	if err != nil {
		return err
	}
	defer n.mu.Unlock()
	if err := n.authorize(&a, ActionManageAffiliations); err != nil {
		return err
	}
	var failed []Affiliated
	for _, c := range changes {
		j := c.JID.Bare()
		cur := n.affs[j]
		if j.IsZero() || c.Affiliation >= numAffiliations || !ValidTransition(cur, c.Affiliation) ||
			(cur == AffOwner && c.Affiliation != AffOwner && n.owners() == 1) {
			failed = append(failed, Affiliated{Node: id, JID: j, Affiliation: cur})
			continue
		}
		if cur == c.Affiliation {
			continue
		}
		if err := s.store.SetAffiliation(ctx, id, j, c.Affiliation); err != nil {
			return err
		}
		if c.Affiliation == AffNone {
			delete(n.affs, j)
		} else {
			n.affs[j] = c.Affiliation
		}
		for _, sub := range n.subsOfBare(j) {
			var err error
			switch {
			case c.Affiliation == AffOutcast,
				c.Affiliation == AffNone && n.meta.Config.AccessModel == AccessWhitelist:
				err = s.cancel(ctx, n, sub)
			case sub.State == SubPending && (c.Affiliation == AffOwner || c.Affiliation == AffPublisher):
				err = s.decide(ctx, n, sub, true)
			}
			if err != nil {
				return err
			}
		}
	}
	if failed != nil {
		return &PartialError{Affiliations: failed, Err: ErrNotAcceptable}
	}
	return nil
}

// cancel removes a subscription and tells the subscriber. n.mu is held.
func (s *Service) cancel(ctx context.Context, n *node, sub Subscription) error {
	if err := s.deleteSub(ctx, n, sub); err != nil {
		return err
	}
	sub.State = SubNone
	s.tellSubscriber(ctx, n, sub)
	return nil
}

// owners counts the node's owners. n.mu is held.
func (n *node) owners() int {
	k := 0
	for _, a := range n.affs {
		if a == AffOwner {
			k++
		}
	}
	return k
}

// nodesSnapshot returns the current nodes.
func (s *Service) nodesSnapshot() []*node {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*node, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *node) int { return cmp.Compare(a.id, b.id) })
	return out
}

// UserSubscriptions returns the subscriptions, to every node, of JIDs with
// the bare JID of j (XEP-0060 §5.6), sorted by node, JID and SubID. It
// visits every node.
func (s *Service) UserSubscriptions(ctx context.Context, j jid.JID) []Subscription {
	b := j.Bare()
	var out []Subscription
	for _, n := range s.nodesSnapshot() {
		for _, sub := range n.subsOfBare(b) {
			out = append(out, sub.clone())
		}
	}
	sortSubscriptions(out)
	return out
}

// UserAffiliations returns the affiliations, with every node, of the bare
// JID of j (XEP-0060 §5.7), sorted by node. It visits every node.
func (s *Service) UserAffiliations(ctx context.Context, j jid.JID) []Affiliated {
	b := j.Bare()
	var out []Affiliated
	for _, n := range s.nodesSnapshot() {
		n.mu.Lock()
		if aff := n.affs[b]; aff != AffNone && !n.deleted {
			out = append(out, Affiliated{Node: n.id, JID: b, Affiliation: aff})
		}
		n.mu.Unlock()
	}
	return out
}

// RecheckAccess re-evaluates the subscriptions of the bare JID of
// subscriber against the access model of each node and cancels those it
// no longer grants, telling the subscriber (XEP-0163 §7.1: after a roster
// change, for the presence and roster access models; XEP-0060 §13.14).
// facts returns the requester as the subscriber is now, for a node with
// these owners; it is called with the node locked and must not call the
// Service. It returns the cancelled subscriptions.
func (s *Service) RecheckAccess(ctx context.Context, subscriber jid.JID, facts func(n *Node, owners []jid.JID) Actor) ([]Subscription, error) {
	b := subscriber.Bare()
	var cancelled []Subscription
	for _, n := range s.nodesSnapshot() {
		n.mu.Lock()
		var err error
		if !n.deleted {
			subs := n.subsOfBare(b)
			if len(subs) > 0 {
				var owners []jid.JID
				for j, aff := range n.affs {
					if aff == AffOwner {
						owners = append(owners, j)
					}
				}
				a := facts(&n.meta, owners)
				a.JID = b
				err = Authorize(a, ActionSubscribe, &n.meta, n.affs[b], SubNone)
				if lostAccess(err) {
					err = nil
					for _, sub := range subs {
						if err = s.cancel(ctx, n, sub); err != nil {
							break
						}
						sub.State = SubNone
						cancelled = append(cancelled, sub.clone())
					}
				} else {
					err = nil
				}
			}
		}
		n.mu.Unlock()
		if err != nil {
			return cancelled, err
		}
	}
	return cancelled, nil
}

// Nodes returns every node of the service, sorted by NodeID.
func (s *Service) Nodes(ctx context.Context) []Node {
	nodes := s.nodesSnapshot()
	out := make([]Node, 0, len(nodes))
	for _, n := range nodes {
		n.mu.Lock()
		if !n.deleted {
			out = append(out, n.meta.clone())
		}
		n.mu.Unlock()
	}
	return out
}

// NodeCount returns the number of nodes of the service.
func (s *Service) NodeCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.nodes)
}

// lostAccess reports whether err means the access model refuses.
func lostAccess(err error) bool {
	for _, e := range []*Error{ErrPresenceSubscriptionRequired, ErrNotInRosterGroup, ErrClosedNode, ErrForbidden} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
