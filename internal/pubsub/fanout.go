package pubsub

import (
	"slices"

	"github.com/mote-xmpp/mote/jid"
)

// Fan-out.
//
// A publish must not walk the subscriptions. Each node keeps an immutable
// snapshot of its deliverable subscriptions (a fanout), built on demand
// after a change and shared by every later publish until the next change.
// A leaf also caches the merged recipient list of its item events: its own
// subscribers plus those of every collection above it whose subscription
// type and depth cover it (XEP-0248 §6.1). The cache is valid while the
// leaf's snapshot, its list of ancestors and each ancestor's snapshot are
// the ones it was built from (pointer comparisons), so a publish in the
// steady state costs a few atomic loads, and a subscription change costs
// the next publish one rebuild, linear in the subscribers.

// fanout is a snapshot of a node's deliverable subscriptions: state
// subscribed and option deliver on.
type fanout struct {
	entries []fanEntry  // one per subscription
	direct  []Recipient // one per subscribed JID, for the node's own events
}

// fanEntry is one deliverable subscription.
type fanEntry struct {
	jid   jid.JID
	subID string
	typ   SubscriptionType
	depth int
	multi bool // the JID holds several subscriptions to the node
}

// ancestor is a collection above a node, at a distance of depth links.
type ancestor struct {
	n     *node
	depth int
}

// mergedCache is a leaf's recipient list for item events, with what it was
// built from.
type mergedCache struct {
	own        *fanout
	ancs       *[]ancestor
	fans       []*fanout
	recipients []Recipient
}

func deliverable(s *Subscription) bool { return s.State == SubSubscribed && s.Options.Deliver }

// covers reports whether a subscription depth reaches a descendant at the
// given distance.
func covers(depth, distance int) bool { return depth == DepthAll || depth >= distance }

// fanout returns the node's snapshot, building it if stale.
func (n *node) fanout() *fanout {
	if f := n.fan.Load(); f != nil {
		return f
	}
	n.subMu.Lock()
	defer n.subMu.Unlock()
	if f := n.fan.Load(); f != nil {
		return f
	}
	f := buildFanout(n.subs, n.nsubs)
	n.fan.Store(f)
	return f
}

// buildFanout builds the snapshot of subs. subMu is held.
func buildFanout(subs map[jid.JID][]Subscription, nsubs int) *fanout {
	f := &fanout{entries: make([]fanEntry, 0, nsubs), direct: make([]Recipient, 0, len(subs))}
	for _, list := range subs {
		if len(list) == 1 { // the common case: one subscription per bare JID
			s := &list[0]
			if deliverable(s) {
				f.entries = append(f.entries, fanEntry{jid: s.JID, subID: s.SubID, typ: s.Options.Type, depth: s.Options.Depth})
				f.direct = append(f.direct, Recipient{JID: s.JID})
			}
			continue
		}
		for i := range list {
			j := list[i].JID
			if slices.ContainsFunc(list[:i], func(x Subscription) bool { return x.JID == j }) {
				continue // this JID is done
			}
			total := 0
			for k := i; k < len(list); k++ {
				if list[k].JID == j {
					total++
				}
			}
			var ids []string
			for k := i; k < len(list); k++ {
				s := &list[k]
				if s.JID == j && deliverable(s) {
					ids = append(ids, s.SubID)
					f.entries = append(f.entries, fanEntry{jid: j, subID: s.SubID, typ: s.Options.Type, depth: s.Options.Depth, multi: total > 1})
				}
			}
			if len(ids) > 0 {
				r := Recipient{JID: j}
				if total > 1 {
					r.SubIDs = ids
				}
				f.direct = append(f.direct, r)
			}
		}
	}
	return f
}

// itemRecipients returns the recipients of the leaf's item events (publish,
// retract, purge): its deliverable subscribers and those of the collections
// above it with subscription type "items" (or "all") and a depth that
// reaches it. n.mu is held. The result is shared: it must not be modified.
func (n *node) itemRecipients() []Recipient {
	own := n.fanout()
	ancp := n.ancestors.Load()
	var ancs []ancestor
	if ancp != nil {
		ancs = *ancp
	}
	if c := n.merged; c != nil && c.own == own && c.ancs == ancp {
		valid := true
		for i := range ancs {
			if ancs[i].n.fanout() != c.fans[i] {
				valid = false
				break
			}
		}
		if valid {
			return c.recipients
		}
	}
	c := &mergedCache{own: own, ancs: ancp, fans: make([]*fanout, len(ancs))}
	extra, sources, only := 0, 0, -1
	for i, a := range ancs {
		f := a.n.fanout()
		c.fans[i] = f
		k := 0
		for j := range f.entries {
			if e := &f.entries[j]; e.typ.items() && covers(e.depth, a.depth) {
				k++
			}
		}
		if k > 0 {
			extra += k
			sources++
			only = i
		}
	}
	switch {
	case extra == 0:
		c.recipients = own.direct
	case sources == 1 && len(own.entries) == 0:
		c.recipients = throughOne(&ancs[only], c.fans[only], extra)
	default:
		c.recipients = merge(own, ancs, c.fans, extra)
	}
	n.merged = c
	return c.recipients
}

// throughOne returns the recipients reached through one collection only. The
// entries of one JID are adjacent in a fanout, so no map is needed.
func throughOne(a *ancestor, f *fanout, extra int) []Recipient {
	out := make([]Recipient, 0, extra)
	for i := 0; i < len(f.entries); {
		e := &f.entries[i]
		k := i + 1
		for k < len(f.entries) && f.entries[k].jid == e.jid {
			k++
		}
		r := Recipient{JID: e.jid, Collection: a.n.id}
		matched := false
		for j := i; j < k; j++ {
			if x := &f.entries[j]; x.typ.items() && covers(x.depth, a.depth) {
				matched = true
				if e.multi { // SubIDs only for JIDs with several subscriptions
					r.SubIDs = append(r.SubIDs, x.subID)
				}
			}
		}
		if matched {
			out = append(out, r)
		}
		i = k
	}
	return out
}

// merge combines the leaf's subscriptions with its ancestors' item
// subscriptions into one recipient per JID.
func merge(own *fanout, ancs []ancestor, fans []*fanout, extra int) []Recipient {
	type acc struct {
		r     Recipient
		first string   // the first SubID
		more  []string // all SubIDs, once there are several
		multi bool
	}
	idx := make(map[jid.JID]int, len(own.direct)+extra)
	accs := make([]acc, 0, len(own.direct)+extra)
	add := func(e *fanEntry, coll NodeID) {
		i, ok := idx[e.jid]
		if !ok {
			idx[e.jid] = len(accs)
			accs = append(accs, acc{r: Recipient{JID: e.jid, Collection: coll}, first: e.subID, multi: e.multi})
			return
		}
		a := &accs[i]
		if a.more == nil {
			a.more = []string{a.first}
		}
		a.more = append(a.more, e.subID)
		a.multi = a.multi || e.multi
	}
	for k := range own.entries {
		add(&own.entries[k], "")
	}
	for i, anc := range ancs { // nearest first: the Collection is the nearest one
		for k := range fans[i].entries {
			if e := &fans[i].entries[k]; e.typ.items() && covers(e.depth, anc.depth) {
				add(e, anc.n.id)
			}
		}
	}
	out := make([]Recipient, len(accs))
	for i := range accs {
		a := &accs[i]
		out[i] = a.r
		switch {
		case a.more != nil:
			out[i].SubIDs = a.more
		case a.multi:
			out[i].SubIDs = []string{a.first}
		}
	}
	return out
}

// nodeRecipients returns the recipients of an event about the node itself
// (configuration, deletion, creation): its subscribers (all of them,
// pending and unconfigured included, if all; else the deliverable ones),
// and the subscribers of the collections above it with subscription type
// "nodes" (or "all") and a depth that reaches it. SubIDs are never set
// (XEP-0060 §13.16). The list is sorted by JID.
func (n *node) nodeRecipients(all bool) []Recipient {
	var out []Recipient
	seen := make(map[jid.JID]bool)
	n.subMu.Lock()
	for _, list := range n.subs {
		for i := range list {
			s := &list[i]
			if (all || deliverable(s)) && !seen[s.JID] {
				seen[s.JID] = true
				out = append(out, Recipient{JID: s.JID})
			}
		}
	}
	n.subMu.Unlock()
	if ancp := n.ancestors.Load(); ancp != nil {
		for _, a := range *ancp {
			f := a.n.fanout()
			for k := range f.entries {
				e := &f.entries[k]
				if e.typ.nodes() && covers(e.depth, a.depth) && !seen[e.jid] {
					seen[e.jid] = true
					out = append(out, Recipient{JID: e.jid, Collection: a.n.id})
				}
			}
		}
	}
	sortRecipients(out)
	return out
}

// withoutSubIDs returns rs with no SubIDs (purge notifications, XEP-0060
// §13.16), copying only if needed.
func withoutSubIDs(rs []Recipient) []Recipient {
	if !slices.ContainsFunc(rs, func(r Recipient) bool { return r.SubIDs != nil }) {
		return rs
	}
	out := make([]Recipient, len(rs))
	for i, r := range rs {
		r.SubIDs = nil
		out[i] = r
	}
	return out
}

// available keeps the recipients that are online, for nodes with
// pubsub#presence_based_delivery (XEP-0060 §13.6).
func (s *Service) available(cfg *Config, rs []Recipient) []Recipient {
	if !cfg.PresenceBasedDelivery || s.opts.Available == nil {
		return rs
	}
	out := make([]Recipient, 0, len(rs))
	for _, r := range rs {
		if s.opts.Available(r.JID) {
			out = append(out, r)
		}
	}
	return out
}

// ownerRecipients returns the node's owners, sorted. n.mu is held.
func (n *node) ownerRecipients() []Recipient {
	var out []Recipient
	for j, a := range n.affs {
		if a == AffOwner {
			out = append(out, Recipient{JID: j})
		}
	}
	sortRecipients(out)
	return out
}
