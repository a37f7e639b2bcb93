// Package disco implements service discovery (XEP-0030) for the server and
// for accounts' bare JIDs.
package disco

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"
	"sync"

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
	NSCaps   = "http://jabber.org/protocol/caps"
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
	h.AddIdentity("server", "im", "mote")
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

// target tells whether iq was addressed to the server or to an account,
// and whether the requester owns that account. An account's features are
// told only to the account itself until rosters exist (RFC 6121 §8.5.2.1.3
// lets the server answer on the account's behalf).
func target(iq *stanza.Element) (t module.Target, own bool) {
	from, _ := jid.Parse(iq.Attr("from"))
	if iq.Attr("to") == "" {
		return module.ToAccount, true
	}
	to, err := jid.Parse(iq.Attr("to"))
	if err != nil || to.Local() == "" {
		return module.ToServer, false
	}
	return module.ToAccount, to.Bare() == from.Bare()
}

// info answers disco#info (XEP-0030 §3). Nodes are not supported yet:
// a query with a node gets item-not-found (§3.1).
func (m *Module) info(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	q := iq.FirstChild()
	t, own := target(iq)
	if node := q.Attr("node"); node != "" {
		// XEP-0115 §6.2: the server's caps node answers like the server.
		m.initCaps()
		if t != module.ToServer || node != CapsNode+"#"+m.capsVer {
			return nil, stanza.NewError(stanza.ItemNotFound, "")
		}
		res := m.serverInfo()
		res.SetAttr("node", node)
		return res, nil
	}
	if t == module.ToAccount && !own {
		return nil, stanza.NewError(stanza.ServiceUnavailable, "")
	}
	if t == module.ToServer {
		return m.serverInfo(), nil
	}
	res := stanza.NewElement(NSInfo, "query")
	// §3.1: an account's bare JID is an account/registered entity.
	res.Append(stanza.NewElement(NSInfo, "identity", "category", "account", "type", "registered"))
	for _, f := range m.h.Features(t) {
		res.Append(stanza.NewElement(NSInfo, "feature", "var", f))
	}
	return res, nil
}

// serverInfo is the server's disco#info.
func (m *Module) serverInfo() *stanza.Element {
	res := stanza.NewElement(NSInfo, "query")
	for _, id := range m.h.Identities() {
		el := stanza.NewElement(NSInfo, "identity", "category", id.Category, "type", id.Type)
		if id.Name != "" {
			el.SetAttr("name", id.Name)
		}
		res.Append(el)
	}
	for _, f := range m.h.Features(module.ToServer) {
		res.Append(stanza.NewElement(NSInfo, "feature", "var", f))
	}
	return res
}

// initCaps computes the verification string once every module started
// (XEP-0115 §5.1; no data forms, no xml:lang on identities).
func (m *Module) initCaps() {
	m.capsOnce.Do(func() {
		ids := m.h.Identities()
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = id.Category + "/" + id.Type + "//" + id.Name
		}
		sort.Strings(keys)
		feats := append([]string(nil), m.h.Features(module.ToServer)...)
		sort.Strings(feats)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "<")
		}
		for _, f := range feats {
			b.WriteString(f + "<")
		}
		sum := sha1.Sum([]byte(b.String()))
		m.capsVer = base64.StdEncoding.EncodeToString(sum[:])
		m.caps = stanza.NewElement(NSCaps, "c", "hash", "sha-1", "node", CapsNode, "ver", m.capsVer)
	})
}

// items answers disco#items (XEP-0030 §4): no items yet.
func (m *Module) items(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	q := iq.FirstChild()
	if q.Attr("node") != "" {
		return nil, stanza.NewError(stanza.ItemNotFound, "")
	}
	t, own := target(iq)
	if t == module.ToAccount && !own {
		return nil, stanza.NewError(stanza.ServiceUnavailable, "")
	}
	res := stanza.NewElement(NSItems, "query")
	if t == module.ToServer {
		// §4.1: the services this server hosts.
		for _, it := range m.h.ServiceItems() {
			el := stanza.NewElement(NSItems, "item", "jid", it.JID)
			if it.Name != "" {
				el.SetAttr("name", it.Name)
			}
			res.Append(el)
		}
	}
	return res, nil
}
