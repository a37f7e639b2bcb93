package pubsub

import (
	"context"

	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// discoInfo answers disco#info (XEP-0030): the service's identity
// pubsub/service and its features (XEP-0060 §5.1, XEP-0248 §5.1), or a
// node's identity pubsub/leaf or pubsub/collection with its meta-data
// form (§5.3, §5.4).
func (sv *service) discoInfo(ctx context.Context, q *stanza.Element) (*stanza.Element, error) {
	res := stanza.NewElement(nsInfo, "query")
	node := q.Attr("node")
	if node == "" {
		id := stanza.NewElement(nsInfo, "identity", "category", "pubsub", "type", "service")
		if sv.cfg.Name != "" {
			id.SetAttr("name", sv.cfg.Name)
		}
		res.Append(id)
		for _, f := range sv.serviceFeatures() {
			res.Append(stanza.NewElement(nsInfo, "feature", "var", f))
		}
		return res, nil
	}
	res.SetAttr("node", node)
	n, err := sv.svc.Node(ctx, ps.NodeID(node))
	if err != nil {
		return nil, err
	}
	id := stanza.NewElement(nsInfo, "identity", "category", "pubsub", "type", n.Type.String())
	if n.Config.Title != "" {
		id.SetAttr("name", n.Config.Title)
	}
	res.Append(id)
	res.Append(stanza.NewElement(nsInfo, "feature", "var", NS))
	var children []ps.NodeID
	if n.Type == ps.Collection {
		children, _ = sv.svc.Children(ctx, n.ID)
	}
	var owners, publishers []string
	affs, _ := sv.svc.Affiliations(ctx, sv.serviceActor(), n.ID)
	for _, a := range affs {
		switch a.Affiliation {
		case ps.AffOwner:
			owners = append(owners, a.JID.String())
		case ps.AffPublisher, ps.AffPublishOnly:
			publishers = append(publishers, a.JID.String())
		}
	}
	res.Append(metaDataForm(n, children, owners, publishers))
	return res, nil
}

// discoItems answers disco#items (XEP-0030): the top-level nodes of the
// service (XEP-0060 §5.2), the children of a collection (XEP-0248 §5.2),
// or the items of a leaf node, each named by its ItemID (§5.5) and
// subject to the node's access model.
func (sv *service) discoItems(ctx context.Context, from jid.JID, q *stanza.Element) (*stanza.Element, error) {
	node := q.Attr("node")
	res := stanza.NewElement(nsItems, "query")
	if node != "" {
		res.SetAttr("node", node)
		n, err := sv.svc.Node(ctx, ps.NodeID(node))
		if err != nil {
			return nil, err
		}
		if n.Type == ps.Leaf {
			a := sv.actor(from)
			sv.withAccess(ctx, &a, n.ID)
			page, err := sv.svc.Items(ctx, a, n.ID, ps.ItemQuery{})
			if err != nil {
				return nil, err
			}
			for _, it := range page.Items {
				res.Append(stanza.NewElement(nsItems, "item", "jid", sv.from, "name", it.ID))
			}
			return res, nil
		}
	}
	ids, err := sv.svc.Children(ctx, ps.NodeID(node))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		el := stanza.NewElement(nsItems, "item", "jid", sv.from, "node", string(id))
		if n, err := sv.svc.Node(ctx, id); err == nil && n.Config.Title != "" {
			el.SetAttr("name", n.Config.Title)
		}
		res.Append(el)
	}
	return res, nil
}
