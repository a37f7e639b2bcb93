package pubsub

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/mote-xmpp/mote/internal/dataform"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/rsm"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// request is a <pubsub/> request split into its action element and the
// elements that may accompany it (<configure/> after <create/>,
// <options/> after <subscribe/>, <publish-options/> after <publish/>,
// an RSM <set/> with <items/>).
type request struct {
	verb      *stanza.Element
	companion *stanza.Element
}

// splitRequest checks the shape of a <pubsub/> element in namespace space:
// one action, optionally followed by the one companion element allowed
// for it (XEP-0060 §6.3.7, §7.1.5, §8.1.3).
func splitRequest(p *stanza.Element, companions map[string][2]string) (request, error) {
	els := p.ChildElements()
	if len(els) == 0 || els[0].Space != p.Space {
		return request{}, badRequest("the pubsub element carries no action")
	}
	r := request{verb: els[0]}
	if len(els) > 2 {
		return r, badRequest("too many elements in the pubsub element")
	}
	if len(els) == 2 {
		want, ok := companions[r.verb.Local]
		if !ok || els[1].Space != want[0] || els[1].Local != want[1] {
			return r, badRequest("unexpected <" + els[1].Local + "/> in the pubsub element")
		}
		r.companion = els[1]
	}
	return r, nil
}

var pubsubCompanions = map[string][2]string{
	"create":    {NS, "configure"},
	"subscribe": {NS, "options"},
	"publish":   {NS, "publish-options"},
	"items":     {nsRSM, "set"},
}

// pubsubIQ handles the requests of namespace
// http://jabber.org/protocol/pubsub: those of entities (XEP-0060 §5.6,
// §5.7), subscribers (§6), publishers (§7) and node creation (§8.1).
func (sv *service) pubsubIQ(ctx context.Context, from jid.JID, typ string, p *stanza.Element) (*stanza.Element, error) {
	r, err := splitRequest(p, pubsubCompanions)
	if err != nil {
		return nil, err
	}
	a := sv.actor(from)
	v := r.verb
	switch typ + " " + v.Local {
	case "set create":
		return sv.create(ctx, a, v, r.companion)
	case "set subscribe":
		return sv.subscribe(ctx, a, v, r.companion)
	case "set unsubscribe":
		return sv.unsubscribe(ctx, a, v)
	case "get options":
		return sv.getOptions(ctx, a, v)
	case "set options":
		return nil, sv.setOptions(ctx, a, v)
	case "get default":
		return sv.defaultSubOptions(ctx, v)
	case "get items":
		return sv.items(ctx, a, v, r.companion)
	case "get subscriptions":
		return sv.userSubscriptions(ctx, a, v), nil
	case "get affiliations":
		return sv.userAffiliations(ctx, a, v), nil
	case "set publish":
		return sv.publish(ctx, a, v, r.companion)
	case "set retract":
		return nil, sv.retract(ctx, a, v)
	}
	return nil, stanza.NewError(stanza.FeatureNotImplemented, "unknown pubsub request "+typ+" "+v.Local)
}

// subscriberJID parses the 'jid' attribute of a subscriber request: a
// missing one is jid-required (§6.3.4.3), an unparsable one invalid-jid.
func subscriberJID(el *stanza.Element) (jid.JID, error) {
	s := el.Attr("jid")
	if s == "" {
		return jid.JID{}, ps.ErrJIDRequired
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, ps.ErrInvalidJID
	}
	return j, nil
}

// subscriptionElement renders a subscription (§5.6, §6.1.2, §8.8.1);
// withNode says whether the 'node' attribute is included.
func subscriptionElement(space string, s *ps.Subscription, withNode bool) *stanza.Element {
	el := stanza.NewElement(space, "subscription")
	if withNode {
		el.SetAttr("node", string(s.Node))
	}
	el.SetAttr("jid", s.JID.String())
	if s.SubID != "" {
		el.SetAttr("subid", s.SubID)
	}
	el.SetAttr("subscription", s.State.String())
	return el
}

// subscribe subscribes to a node (XEP-0060 §6.1), with subscription
// options in the same request (§6.3.7): the result carries the
// subscription and, when options were given, the resulting options.
func (sv *service) subscribe(ctx context.Context, a ps.Actor, v, options *stanza.Element) (*stanza.Element, error) {
	node := ps.NodeID(v.Attr("node"))
	j, err := subscriberJID(v)
	if err != nil {
		return nil, err
	}
	var opts *ps.SubOptions
	if options != nil {
		// §6.3.7: <options/> follows <subscribe/> and has neither 'node'
		// nor 'jid'.
		if options.HasAttr("node") || options.HasAttr("jid") {
			return nil, badRequest("<options/> with <subscribe/> takes neither node nor jid")
		}
		if x := options.Child(nsDataXML, "x"); x != nil {
			if opts, err = parseSubOptionsForm(x, ps.DefaultSubOptions()); err != nil {
				return nil, err
			}
		}
	}
	sv.withAccess(ctx, &a, node)
	sub, err := sv.svc.Subscribe(ctx, a, node, j, opts)
	if err != nil {
		return nil, err
	}
	res := stanza.NewElement(NS, "pubsub")
	se := subscriptionElement(NS, &sub, true)
	if sub.State == ps.SubUnconfigured {
		// §6.1.5: options must be configured before notifications flow.
		se.Append(stanza.NewElement(NS, "subscribe-options").Append(stanza.NewElement(NS, "required")))
	}
	res.Append(se)
	if opts != nil {
		res.Append(stanza.NewElement(NS, "options").Append(subOptionsForm(dataform.TypeResult, sub.Options)))
	}
	return res, nil
}

// unsubscribe cancels a subscription (XEP-0060 §6.2); the result carries
// the subscription with state none.
func (sv *service) unsubscribe(ctx context.Context, a ps.Actor, v *stanza.Element) (*stanza.Element, error) {
	node := ps.NodeID(v.Attr("node"))
	j, err := subscriberJID(v)
	if err != nil {
		return nil, err
	}
	subID := v.Attr("subid")
	if err := sv.svc.Unsubscribe(ctx, a, node, j, subID); err != nil {
		return nil, err
	}
	sub := ps.Subscription{Node: node, JID: j, SubID: subID, State: ps.SubNone}
	return stanza.NewElement(NS, "pubsub").Append(subscriptionElement(NS, &sub, true)), nil
}

// optionsElement is the <options/> of a subscription (§6.3.2).
func optionsElement(node ps.NodeID, j jid.JID, subID string) *stanza.Element {
	el := stanza.NewElement(NS, "options", "node", string(node), "jid", j.String())
	if subID != "" {
		el.SetAttr("subid", subID)
	}
	return el
}

// getOptions returns a subscription's options form (XEP-0060 §6.3.1-2).
func (sv *service) getOptions(ctx context.Context, a ps.Actor, v *stanza.Element) (*stanza.Element, error) {
	node := ps.NodeID(v.Attr("node"))
	j, err := subscriberJID(v)
	if err != nil {
		return nil, err
	}
	subID := v.Attr("subid")
	o, err := sv.svc.SubscriptionOptions(ctx, a, node, j, subID)
	if err != nil {
		return nil, err
	}
	return stanza.NewElement(NS, "pubsub").Append(optionsElement(node, j, subID).Append(subOptionsForm(dataform.TypeForm, o))), nil
}

// setOptions applies a submitted options form (XEP-0060 §6.3.5): fields
// left out keep their value.
func (sv *service) setOptions(ctx context.Context, a ps.Actor, v *stanza.Element) error {
	node := ps.NodeID(v.Attr("node"))
	j, err := subscriberJID(v)
	if err != nil {
		return err
	}
	subID := v.Attr("subid")
	x := v.Child(nsDataXML, "x")
	if x == nil {
		return badRequest("no options form")
	}
	cur, err := sv.svc.SubscriptionOptions(ctx, a, node, j, subID)
	if err != nil {
		return err
	}
	o, err := parseSubOptionsForm(x, cur)
	if err != nil || o == nil {
		return err
	}
	return sv.svc.SetSubscriptionOptions(ctx, a, node, j, subID, *o)
}

// defaultSubOptions returns the default subscription options of the
// service or of a node (XEP-0060 §6.4; XEP-0248 §6.1 for collections).
func (sv *service) defaultSubOptions(ctx context.Context, v *stanza.Element) (*stanza.Element, error) {
	def := stanza.NewElement(NS, "default")
	if node := v.Attr("node"); node != "" {
		if _, err := sv.svc.Node(ctx, ps.NodeID(node)); err != nil {
			return nil, err
		}
		def.SetAttr("node", node)
	}
	def.Append(subOptionsForm(dataform.TypeResult, ps.DefaultSubOptions()))
	return stanza.NewElement(NS, "pubsub").Append(def), nil
}

// items retrieves items (XEP-0060 §6.5): all of them (up to the page
// size), the max_items most recent (§6.5.7), those named (§6.5.8), or a
// page of a result set (XEP-0059; the pubsub#rsm feature). A truncated
// result carries an RSM <set/> (§6.5.4). A node that does not persist
// items returns its last published item (§6.5.6).
func (sv *service) items(ctx context.Context, a ps.Actor, v, set *stanza.Element) (*stanza.Element, error) {
	node := ps.NodeID(v.Attr("node"))
	if node == "" {
		return nil, ps.ErrNodeIDRequired
	}
	q := ps.ItemQuery{SubID: v.Attr("subid")}
	for _, c := range v.ChildElements() {
		if c.Space != NS || c.Local != "item" {
			continue
		}
		id := c.Attr("id")
		if id == "" {
			return nil, badRequest("<item/> without id")
		}
		q.IDs = append(q.IDs, id)
	}
	if s := v.Attr("max_items"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, badRequest("max_items is not a positive integer")
		}
		q.Max = n
	}
	countOnly := false
	var req *rsm.Request
	if set != nil {
		r, err := rsm.ParseRequest(set)
		if err != nil {
			return nil, err
		}
		if r.Index >= 0 || (r.HasBefore && r.Before == "") {
			return nil, stanza.NewError(stanza.FeatureNotImplemented, "paging by index or from the end is not supported")
		}
		req = &r
		switch {
		case r.Max == 0:
			countOnly, q.Max = true, 1 // XEP-0059 §2.7: the count only
		case r.Max > 0 && (q.Max == 0 || r.Max < q.Max):
			q.Max = r.Max
		}
		q.After, q.Before = r.After, r.Before
	}
	sv.withAccess(ctx, &a, node)
	page, err := sv.svc.Items(ctx, a, node, q)
	var pe *ps.Error
	if errors.As(err, &pe) && errors.Is(err, ps.ErrUnsupported) && pe.Feature() == "persistent-items" && req == nil {
		// §6.5.6: a node without persistent items still has its last one.
		// Without one, the error stands (§6.5.9.4).
		if it, ok, lerr := sv.svc.LastPublished(ctx, a, node); lerr == nil && ok {
			page, err = ps.ItemPage{}, nil
			if len(q.IDs) == 0 || slices.Contains(q.IDs, it.ID) {
				page = ps.ItemPage{Items: []ps.Item{it}, Count: 1}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	withPublisher := sv.includesPublisher(ctx, node)
	items := stanza.NewElement(NS, "items", "node", string(node))
	if !countOnly {
		for i := range page.Items {
			items.Append(sv.itemElement(NS, &page.Items[i], withPublisher))
		}
	}
	res := stanza.NewElement(NS, "pubsub").Append(items)
	truncated := len(q.IDs) == 0 && v.Attr("max_items") == "" && page.Index+len(page.Items) < page.Count
	if req != nil || truncated {
		r := rsm.Response{FirstIndex: -1, Count: page.Count}
		if n := len(page.Items); n > 0 && !countOnly {
			r.First, r.FirstIndex, r.Last = page.Items[0].ID, page.Index, page.Items[n-1].ID
		}
		res.Append(r.Element())
	}
	return res, nil
}

// userSubscriptions lists the requester's subscriptions at the service,
// or at one node (XEP-0060 §5.6).
func (sv *service) userSubscriptions(ctx context.Context, a ps.Actor, v *stanza.Element) *stanza.Element {
	node := v.Attr("node")
	list := stanza.NewElement(NS, "subscriptions")
	if node != "" {
		list.SetAttr("node", node)
	}
	for _, s := range sv.svc.UserSubscriptions(ctx, a.JID) {
		if node == "" || string(s.Node) == node {
			list.Append(subscriptionElement(NS, &s, true))
		}
	}
	return stanza.NewElement(NS, "pubsub").Append(list)
}

// userAffiliations lists the requester's affiliations at the service, or
// with one node (XEP-0060 §5.7).
func (sv *service) userAffiliations(ctx context.Context, a ps.Actor, v *stanza.Element) *stanza.Element {
	node := v.Attr("node")
	list := stanza.NewElement(NS, "affiliations")
	if node != "" {
		list.SetAttr("node", node)
	}
	for _, af := range sv.svc.UserAffiliations(ctx, a.JID) {
		if node == "" || string(af.Node) == node {
			list.Append(stanza.NewElement(NS, "affiliation", "node", string(af.Node), "affiliation", af.Affiliation.String()))
		}
	}
	return stanza.NewElement(NS, "pubsub").Append(list)
}
