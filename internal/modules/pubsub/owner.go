package pubsub

import (
	"context"
	"errors"
	"slices"

	"github.com/mote-xmpp/mote/internal/dataform"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// create creates a node (XEP-0060 §8.1): named or instant (§8.1.1), with
// the default configuration or the one submitted in <configure/>
// (§8.1.3), of type leaf or, with pubsub#node_type, collection, and in
// the collections of pubsub#collection (XEP-0248 §7.1, §7.2). The result
// names the node.
func (sv *service) create(ctx context.Context, a ps.Actor, v, configure *stanza.Element) (*stanza.Element, error) {
	spec := ps.NodeSpec{ID: ps.NodeID(v.Attr("node"))}
	if configure != nil {
		if configure.HasAttr("node") {
			return nil, badRequest("<configure/> with <create/> takes no node")
		}
		if x := configure.Child(nsDataXML, "x"); x != nil {
			nf, err := parseNodeForm(x, sv.svc.DefaultNodeConfig())
			if err != nil {
				return nil, err
			}
			if nf != nil {
				if len(nf.children) > 0 {
					return nil, ps.ErrInvalidOptions // children are added by configuring them (pubsub#collection)
				}
				spec.Config = &nf.cfg
				if nf.typ != nil {
					spec.Type = *nf.typ
				}
				spec.Parents = nf.parents
			}
		}
	}
	id, err := sv.svc.CreateNode(ctx, a, spec)
	if err != nil {
		return nil, err
	}
	sv.nodeChanged(id)
	return stanza.NewElement(NS, "pubsub").Append(stanza.NewElement(NS, "create", "node", string(id))), nil
}

// ownerIQ handles the owner requests of namespace
// http://jabber.org/protocol/pubsub#owner (XEP-0060 §8.2-8.9).
func (sv *service) ownerIQ(ctx context.Context, from jid.JID, typ string, p *stanza.Element) (*stanza.Element, error) {
	r, err := splitRequest(p, nil) // owner requests have no companions
	if err != nil {
		return nil, err
	}
	a := sv.actor(from)
	v := r.verb
	node := ps.NodeID(v.Attr("node"))
	switch typ + " " + v.Local {
	case "get configure":
		return sv.getConfig(ctx, a, node)
	case "set configure":
		return nil, sv.setConfig(ctx, a, node, v)
	case "get default":
		return sv.defaultConfig(v)
	case "set delete":
		redirect := ""
		if rd := v.Child(NSOwner, "redirect"); rd != nil {
			redirect = rd.Attr("uri")
		}
		err := sv.svc.DeleteNode(ctx, a, node, redirect)
		if err == nil {
			sv.nodeChanged(node)
		}
		return nil, err
	case "set purge":
		return nil, sv.svc.Purge(ctx, a, node)
	case "get subscriptions":
		return sv.ownerSubscriptions(ctx, a, node)
	case "set subscriptions":
		return nil, sv.setSubscriptions(ctx, a, node, v)
	case "get affiliations":
		return sv.ownerAffiliations(ctx, a, node)
	case "set affiliations":
		return nil, sv.setAffiliations(ctx, a, node, v)
	}
	return nil, stanza.NewError(stanza.FeatureNotImplemented, "unknown pubsub#owner request "+typ+" "+v.Local)
}

// getConfig returns a node's configuration form (XEP-0060 §8.2.1-2), with
// its type and collections (XEP-0248 §7.2).
func (sv *service) getConfig(ctx context.Context, a ps.Actor, node ps.NodeID) (*stanza.Element, error) {
	cfg, err := sv.svc.Configuration(ctx, a, node)
	if err != nil {
		return nil, err
	}
	n, err := sv.svc.Node(ctx, node)
	if err != nil {
		return nil, err
	}
	var children []ps.NodeID
	if n.Type == ps.Collection {
		children, _ = sv.svc.Children(ctx, node)
	}
	c := stanza.NewElement(NSOwner, "configure", "node", string(node)).Append(nodeConfigForm(dataform.TypeForm, cfg, &n, children))
	return stanza.NewElement(NSOwner, "pubsub").Append(c), nil
}

// setConfig applies a submitted configuration form (XEP-0060 §8.2.4):
// fields left out keep their value, a cancelled form changes nothing.
// pubsub#collection moves the node to other collections and
// pubsub#children changes a collection's children (XEP-0248 §7.2); the
// node type cannot change (not-allowed with invalid-options, §7.2.3.4).
func (sv *service) setConfig(ctx context.Context, a ps.Actor, node ps.NodeID, v *stanza.Element) error {
	x := v.Child(nsDataXML, "x")
	if x == nil {
		return badRequest("no configuration form")
	}
	cur, err := sv.svc.Configuration(ctx, a, node)
	if err != nil {
		return err
	}
	nf, err := parseNodeForm(x, cur)
	if err != nil || nf == nil {
		return err
	}
	n, err := sv.svc.Node(ctx, node)
	if err != nil {
		return err
	}
	if nf.typ != nil && *nf.typ != n.Type {
		return ps.ErrInvalidOptions
	}
	var addChildren, dropChildren []ps.NodeID
	if nf.hasChildren {
		if n.Type != ps.Collection && len(nf.children) > 0 {
			return ps.ErrInvalidOptions // XEP-0248 §7.2.3.1: a leaf has no children
		}
		old, _ := sv.svc.Children(ctx, node)
		for _, c := range nf.children {
			if !slices.Contains(old, c) {
				addChildren = append(addChildren, c)
			}
		}
		for _, c := range old {
			if !slices.Contains(nf.children, c) {
				dropChildren = append(dropChildren, c)
			}
		}
	}
	if err := sv.svc.Configure(ctx, a, node, nf.cfg); err != nil {
		return err
	}
	sv.nodeChanged(node)
	if nf.hasParents && !sameSet(nf.parents, n.Parents) {
		if err := sv.svc.SetParents(ctx, a, node, nf.parents); err != nil {
			return err
		}
	}
	for _, c := range addChildren {
		if err := sv.reparent(ctx, a, c, node, true); err != nil {
			return err
		}
	}
	for _, c := range dropChildren {
		if err := sv.reparent(ctx, a, c, node, false); err != nil {
			return err
		}
	}
	return nil
}

// reparent adds the collection coll to the parents of child, or removes
// it.
func (sv *service) reparent(ctx context.Context, a ps.Actor, child, coll ps.NodeID, add bool) error {
	n, err := sv.svc.Node(ctx, child)
	if err != nil {
		return err
	}
	parents := slices.DeleteFunc(slices.Clone(n.Parents), func(p ps.NodeID) bool { return p == coll })
	if add {
		parents = append(parents, coll)
	}
	return sv.svc.SetParents(ctx, a, child, parents)
}

// sameSet reports whether a and b hold the same NodeIDs.
func sameSet(a, b []ps.NodeID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// defaultConfig returns the default node configuration (XEP-0060 §8.3),
// for leaf nodes or, with type='collection', collections (XEP-0248
// §7.3).
func (sv *service) defaultConfig(v *stanza.Element) (*stanza.Element, error) {
	t := ps.Leaf
	if s := v.Attr("type"); s != "" {
		var err error
		if t, err = ps.ParseNodeType(s); err != nil {
			return nil, badRequest("unknown node type")
		}
	}
	n := ps.Node{Type: t}
	def := stanza.NewElement(NSOwner, "default").Append(nodeConfigForm(dataform.TypeForm, sv.svc.DefaultNodeConfig(), &n, nil))
	return stanza.NewElement(NSOwner, "pubsub").Append(def), nil
}

// ownerSubscriptions lists a node's subscriptions (XEP-0060 §8.8.1).
func (sv *service) ownerSubscriptions(ctx context.Context, a ps.Actor, node ps.NodeID) (*stanza.Element, error) {
	subs, err := sv.svc.Subscriptions(ctx, a, node)
	if err != nil {
		return nil, err
	}
	list := stanza.NewElement(NSOwner, "subscriptions", "node", string(node))
	for i := range subs {
		list.Append(subscriptionElement(NSOwner, &subs[i], false))
	}
	return stanza.NewElement(NSOwner, "pubsub").Append(list), nil
}

// setSubscriptions applies an owner's changes to a node's subscriptions
// (XEP-0060 §8.8.2): state none removes a subscription (§8.8.3), an
// entry without 'subscription' is left alone. Entries that cannot be
// applied come back with their current state in a not-acceptable error
// (§8.8.2.4); the others are applied.
func (sv *service) setSubscriptions(ctx context.Context, a ps.Actor, node ps.NodeID, v *stanza.Element) error {
	var changes []ps.Subscription
	for _, c := range v.ChildElements() {
		if c.Space != NSOwner || c.Local != "subscription" || !c.HasAttr("subscription") {
			continue
		}
		j, err := jid.Parse(c.Attr("jid"))
		if err != nil {
			return stanza.NewError(stanza.JIDMalformed, "")
		}
		st, err := ps.ParseSubState(c.Attr("subscription"))
		if err != nil {
			return err
		}
		changes = append(changes, ps.Subscription{JID: j, SubID: c.Attr("subid"), State: st})
	}
	err := sv.svc.SetSubscriptions(ctx, a, node, changes)
	var pe *ps.PartialError
	if errors.As(err, &pe) {
		list := stanza.NewElement(NSOwner, "subscriptions", "node", string(node))
		for i := range pe.Subscriptions {
			list.Append(subscriptionElement(NSOwner, &pe.Subscriptions[i], false))
		}
		return &replyErr{payload: stanza.NewElement(NSOwner, "pubsub").Append(list), err: sv.stanzaError(pe.Err)}
	}
	return err
}

// ownerAffiliations lists a node's affiliations (XEP-0060 §8.9.1).
func (sv *service) ownerAffiliations(ctx context.Context, a ps.Actor, node ps.NodeID) (*stanza.Element, error) {
	affs, err := sv.svc.Affiliations(ctx, a, node)
	if err != nil {
		return nil, err
	}
	list := stanza.NewElement(NSOwner, "affiliations", "node", string(node))
	for _, af := range affs {
		list.Append(stanza.NewElement(NSOwner, "affiliation", "jid", af.JID.String(), "affiliation", af.Affiliation.String()))
	}
	return stanza.NewElement(NSOwner, "pubsub").Append(list), nil
}

// setAffiliations applies an owner's changes to a node's affiliations
// (XEP-0060 §8.9.2): none removes one (§8.9.3), an entry without
// 'affiliation' is left alone, two entries for one JID are bad-request.
// Entries the state chart of §4.1 forbids, or that would leave the node
// without an owner, come back with their current affiliation in a
// not-acceptable error (§8.9.2.4); the others are applied.
func (sv *service) setAffiliations(ctx context.Context, a ps.Actor, node ps.NodeID, v *stanza.Element) error {
	var changes []ps.Affiliated
	for _, c := range v.ChildElements() {
		if c.Space != NSOwner || c.Local != "affiliation" || !c.HasAttr("affiliation") {
			continue
		}
		j, err := jid.Parse(c.Attr("jid"))
		if err != nil {
			return stanza.NewError(stanza.JIDMalformed, "")
		}
		af, err := ps.ParseAffiliation(c.Attr("affiliation"))
		if err != nil {
			return err
		}
		changes = append(changes, ps.Affiliated{JID: j, Affiliation: af})
	}
	err := sv.svc.SetAffiliations(ctx, a, node, changes)
	sv.nodeChanged(node) // some may have changed even on error

	var pe *ps.PartialError
	if errors.As(err, &pe) {
		list := stanza.NewElement(NSOwner, "affiliations", "node", string(node))
		for _, af := range pe.Affiliations {
			list.Append(stanza.NewElement(NSOwner, "affiliation", "jid", af.JID.String(), "affiliation", af.Affiliation.String()))
		}
		return &replyErr{payload: stanza.NewElement(NSOwner, "pubsub").Append(list), err: sv.stanzaError(pe.Err)}
	}
	return err
}
