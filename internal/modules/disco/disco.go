// Package disco implements service discovery (XEP-0030) for the server and
// for accounts' bare JIDs.
package disco

import (
	"context"
	"slices"
	"sync"

	"github.com/mote-xmpp/mote/internal/caps"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces of XEP-0030.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Entity capabilities (XEP-0115).
const (
	NSCaps   = caps.NS
	CapsNode = "https://github.com/mote-xmpp/mote"
)

// Module answers disco#info and disco#items, and announces the server's
// entity capabilities in the stream features (XEP-0115 §6.3).
type Module struct {
	h        module.Host
	capsOnce sync.Once
	caps     *stanza.Element
	capsVer  string
}

// New returns the disco module.
func New() *Module { return &Module{} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "disco", XEPs: []module.XEP{{Number: 30, Version: "2.5.0", Status: "complete"},
		{Number: 115, Version: "1.6.0", Status: "complete"}}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	m.h = h
	h.AddIdentity(module.ToServer, "server", "im", "mote")
	h.AddFeature(module.ToServer, NSCaps)
	h.AddStreamFeature(func() *stanza.Element { m.initCaps(); return m.caps })
	for _, t := range []module.Target{module.ToServer, module.ToAccount} {
		h.AddFeature(t, NSInfo)
		h.AddFeature(t, NSItems)
		h.HandleIQ(t, stanza.TypeGet, NSInfo, "query", module.IQHandlerFunc(m.info))
		h.HandleIQ(t, stanza.TypeGet, NSItems, "query", module.IQHandlerFunc(m.items))
	}
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// target tells whether iq was addressed to the server or to an account
// (its bare JID, or no 'to' for the sender's own), which account, and
// whether the requester owns that account.
func target(iq *stanza.Element) (t module.Target, from, account jid.JID, own bool) {
	if to := iq.Attr("to"); to != "" {
		if j, err := jid.Parse(to); err != nil || j.Local() == "" {
			from, _ = jid.Parse(iq.Attr("from"))
			return module.ToServer, from, jid.JID{}, false
		}
	}
	from, account, own = module.Addressee(iq)
	return module.ToAccount, from, account, own
}

// info answers disco#info (XEP-0030 §3): the server's, that of its caps
// node (XEP-0115 §6.2), that of an account's bare JID, or that of one of
// an account's nodes (PEP, XEP-0163). An account's identities and
// features are told to the account itself and to contacts that receive
// its presence (RFC 6121 §8.5.2.1.3 lets the server answer on the
// account's behalf); others get service-unavailable, as for an account
// that does not exist.
func (m *Module) info(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	q := iq.FirstChild()
	t, from, account, own := target(iq)
	if node := q.Attr("node"); node != "" {
		if t == module.ToAccount {
			if d := m.h.AccountDisco(); d != nil {
				res, err := d.Info(ctx, from, account, node)
				if err == nil {
					res.SetAttr("node", node)
				}
				return res, err
			}
			return nil, stanza.NewError(stanza.ItemNotFound, "")
		}
		m.initCaps()
		if node != CapsNode+"#"+m.capsVer {
			return nil, stanza.NewError(stanza.ItemNotFound, "")
		}
		res := m.serverInfo()
		res.SetAttr("node", node)
		return res, nil
	}
	if t == module.ToServer {
		return m.serverInfo(), nil
	}
	if !own && !m.h.Subscribed(ctx, account, from.Bare()) {
		return nil, stanza.NewError(stanza.ServiceUnavailable, "")
	}
	res := stanza.NewElement(NSInfo, "query")
	// §3.1: an account's bare JID is an account/registered entity, and
	// whatever the modules add (pubsub/pep).
	res.Append(stanza.NewElement(NSInfo, "identity", "category", "account", "type", "registered"))
	appendIdentities(res, m.h.Identities(module.ToAccount))
	for _, f := range m.h.Features(t) {
		res.Append(stanza.NewElement(NSInfo, "feature", "var", f))
	}
	return res, nil
}

// appendIdentities adds the identities to a disco#info result, each once
// (XEP-0030 §3.1; XEP-0115 §5.4 would make the whole result ill-formed).
func appendIdentities(res *stanza.Element, ids []module.Identity) {
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue
		}
		el := stanza.NewElement(NSInfo, "identity", "category", id.Category, "type", id.Type)
		if id.Name != "" {
			el.SetAttr("name", id.Name)
		}
		res.Append(el)
	}
}

// serverInfo is the server's disco#info (features are unique already:
// AddFeature).
func (m *Module) serverInfo() *stanza.Element {
	res := stanza.NewElement(NSInfo, "query")
	appendIdentities(res, m.h.Identities(module.ToServer))
	for _, f := range m.h.Features(module.ToServer) {
		res.Append(stanza.NewElement(NSInfo, "feature", "var", f))
	}
	return res
}

// initCaps computes, once every module started, the server's entity
// capabilities: the sha-1 hash of the verification string of what
// serverInfo answers (XEP-0115 §5.1, §6.3).
func (m *Module) initCaps() {
	m.capsOnce.Do(func() {
		s, err := caps.VerString(m.serverInfo())
		if err != nil {
			// serverInfo lists no identity or feature twice and no
			// forms: VerString cannot fail.
			panic("disco: server disco#info: " + err.Error())
		}
		m.capsVer, _ = caps.Hash("sha-1", s)
		m.caps = caps.Caps{Hash: "sha-1", Node: CapsNode, Ver: m.capsVer}.Element()
	})
}

// items answers disco#items (XEP-0030 §4): the services of the server
// (§4.1), or the nodes of an account's bare JID that the requester may
// see (PEP, XEP-0163 §6.1). Without a source of account nodes an
// account has no items, told to the account only.
func (m *Module) items(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	q := iq.FirstChild()
	node := q.Attr("node")
	t, from, account, own := target(iq)
	res := stanza.NewElement(NSItems, "query")
	var items []module.Item
	switch d := m.h.AccountDisco(); {
	case t == module.ToServer:
		if node != "" {
			return nil, stanza.NewError(stanza.ItemNotFound, "")
		}
		items = m.h.ServiceItems()
	case d != nil:
		var err error
		if items, err = d.Items(ctx, from, account, node); err != nil {
			return nil, err
		}
	case node != "":
		return nil, stanza.NewError(stanza.ItemNotFound, "")
	case !own:
		return nil, stanza.NewError(stanza.ServiceUnavailable, "")
	}
	if node != "" {
		res.SetAttr("node", node)
	}
	for _, it := range items {
		el := stanza.NewElement(NSItems, "item", "jid", it.JID)
		if it.Node != "" {
			el.SetAttr("node", it.Node)
		}
		if it.Name != "" {
			el.SetAttr("name", it.Name)
		}
		res.Append(el)
	}
	return res, nil
}
