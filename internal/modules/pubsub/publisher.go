package pubsub

import (
	"context"

	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/stanza"
)

// publish publishes an item (XEP-0060 §7.1). The <item/> holds at most
// one payload element, which is stored serialised (AppendXML in a
// jabber:client context, read back with xmlstream.ParseStanza); its
// namespace must match pubsub#type when the node sets one (§7.1.3.6).
// The ItemID is generated when absent (§7.1.1) and returned in the result
// (§7.1.2). Publish-options are preconditions on the node's configuration
// (§7.1.5).
func (sv *service) publish(ctx context.Context, a ps.Actor, v, options *stanza.Element) (*stanza.Element, error) {
	node := ps.NodeID(v.Attr("node"))
	if node == "" {
		return nil, ps.ErrNodeIDRequired
	}
	var items []ps.Item
	var payloadNS string
	for _, c := range v.ChildElements() {
		if c.Space != NS || c.Local != "item" {
			return nil, badRequest("unexpected <" + c.Local + "/> in <publish/>")
		}
		if len(items) == 1 {
			// Batches were removed from XEP-0060 in version 1.13.
			return nil, badRequest("one item per publish request")
		}
		it := ps.Item{ID: c.Attr("id")}
		switch c.CountChildElements() {
		case 0:
		case 1:
			p := c.FirstChild()
			payloadNS = p.Space
			it.Payload = serialisePayload(p)
		default:
			return nil, ps.ErrInvalidPayload // one payload element per item
		}
		items = append(items, it)
	}
	var opts ps.PublishOptions
	if options != nil {
		x := options.Child(nsDataXML, "x")
		if x == nil {
			return nil, badRequest("<publish-options/> without a form")
		}
		pre, err := parsePreconditions(x)
		if err != nil {
			return nil, err
		}
		opts.Preconditions = pre
	}
	if payloadNS != "" {
		// §7.1.3.6: the payload's namespace must match pubsub#type.
		if n, err := sv.svc.Node(ctx, node); err == nil && n.Config.Type != "" && n.Config.Type != payloadNS {
			return nil, ps.ErrInvalidPayload
		}
	}
	ids, err := sv.svc.Publish(ctx, a, node, items, opts)
	if err != nil {
		return nil, err
	}
	sv.published[sv.counterIndex()].Add(uint64(len(ids)))
	pub := stanza.NewElement(NS, "publish", "node", string(node))
	for _, id := range ids {
		pub.Append(stanza.NewElement(NS, "item", "id", id))
	}
	return stanza.NewElement(NS, "pubsub").Append(pub), nil
}

// retract deletes items (XEP-0060 §7.2); with notify="true" or "1" the
// subscribers are told (§7.2.2.1) even if the node does not
// pubsub#notify_retract.
func (sv *service) retract(ctx context.Context, a ps.Actor, v *stanza.Element) error {
	notify := false
	switch v.Attr("notify") {
	case "", "0", "false":
	case "1", "true":
		notify = true
	default:
		return badRequest("notify is not a boolean")
	}
	var ids []string
	for _, c := range v.ChildElements() {
		if c.Space == NS && c.Local == "item" {
			ids = append(ids, c.Attr("id"))
		}
	}
	return sv.svc.Retract(ctx, a, ps.NodeID(v.Attr("node")), ids, notify)
}
