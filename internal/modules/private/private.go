// Package private implements Private XML Storage (XEP-0049): an account
// stores arbitrary XML fragments on the server, each under the namespace of
// its root element, readable and writable by that account alone.
package private

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// NS is the XEP-0049 namespace, also its disco feature.
const NS = "jabber:iq:private"

// keyPrefix, followed by the fragment's namespace, is its storage.Documents
// key.
const keyPrefix = "private:"

// Config is the module's section of the configuration.
type Config struct {
	// MaxBytes limits what is stored under one namespace, serialised; a
	// larger set is refused with not-acceptable.
	MaxBytes int `yaml:"max_bytes"`
}

// Module is the private XML storage module.
type Module struct {
	cfg  Config
	docs storage.Documents
}

// New returns the module with its defaults.
func New() *Module { return &Module{cfg: Config{MaxBytes: 64 << 10}} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "private", Requires: []string{"disco"},
		XEPs: []module.XEP{{Number: 49, Version: "1.2", Status: "complete"}}}
}

// Start implements module.Module.
func (m *Module) Start(_ context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	// Stored data is read back with xmlstream.ParseStanza, whose limit it
	// must fit in.
	if m.cfg.MaxBytes <= 0 || m.cfg.MaxBytes > xmlstream.DefaultLimits.MaxStanzaBytes {
		return fmt.Errorf("private: max_bytes must be between 1 and %d", xmlstream.DefaultLimits.MaxStanzaBytes)
	}
	m.docs = h.Storage().Documents()
	h.AddFeature(module.ToServer, NS)
	h.HandleIQ(module.ToAccount, stanza.TypeGet, NS, "query", module.IQHandlerFunc(m.get))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "query", module.IQHandlerFunc(m.set))
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// own returns the sender's account when the IQ is addressed to it (no
// 'to', or its own bare JID). Any other account, existing or not, is
// forbidden (§2.3: "Forbidden" or "Service Unavailable", "the former
// condition is preferable"; §4).
func own(iq *stanza.Element) (string, error) {
	from, err := module.OwnAccount(iq, stanza.Forbidden)
	return from.Local(), err
}

// reserved reports whether ns is one the XEP reserves (§2.3: "namespaces
// beginning with 'jabber:' or 'http://jabber.org/', as well as
// 'vcard-temp'"), which covers jabber:client, jabber:server and
// jabber:iq:private itself (a child that declares no namespace of its own
// inherits jabber:iq:private).
func reserved(ns string) bool {
	return strings.HasPrefix(ns, "jabber:") || strings.HasPrefix(ns, "http://jabber.org/") || ns == "vcard-temp"
}

// fragment checks the children of the query and returns their common
// namespace. Errors (§2.3, §3):
//   - no child: bad-request. The XEP asks for "Bad Format" (§2.3 SHOULD,
//     §3), a condition RFC 6120 does not have, and elsewhere for "Not
//     Acceptable" (§2.3); bad-request is RFC 6120's condition for a
//     malformed request (§8.3.3.1).
//   - more than one namespace, which a get never may have ("A client MUST
//     NOT query for more than one namespace", §2.3): bad-request. A set
//     may hold several elements of one namespace (§2.3), stored together.
//   - a reserved namespace: not-acceptable, the condition §2.3 and §3
//     give for it, for get and set alike.
func fragment(q *stanza.Element, get bool) (string, error) {
	children := q.ChildElements()
	if len(children) == 0 {
		return "", stanza.NewError(stanza.BadRequest, "the query needs a child element")
	}
	if get && len(children) > 1 {
		return "", stanza.NewError(stanza.BadRequest, "query for one namespace at a time")
	}
	ns := children[0].Space
	for _, c := range children[1:] {
		if c.Space != ns {
			return "", stanza.NewError(stanza.BadRequest, "all children must be in one namespace")
		}
	}
	if reserved(ns) {
		return "", stanza.NewError(stanza.NotAcceptable, "reserved namespace")
	}
	return ns, nil
}

// get returns what is stored under the child's namespace, or the child
// itself, emptied, when nothing is.
func (m *Module) get(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	user, err := own(iq)
	if err != nil {
		return nil, err
	}
	q := iq.FirstChild()
	ns, err := fragment(q, true)
	if err != nil {
		return nil, err
	}
	doc, err := m.docs.GetDocument(ctx, user, keyPrefix+ns)
	if errors.Is(err, storage.ErrNotFound) {
		c := q.FirstChild()
		return stanza.NewElement(NS, "query").Append(stanza.NewElement(c.Space, c.Local)), nil
	}
	if err != nil {
		return nil, err
	}
	// The stored document is the whole <query/> of the set that stored it.
	res, err := xmlstream.ParseStanza(doc)
	if err != nil {
		return nil, fmt.Errorf("private: stored %s of %s: %w", ns, user, err)
	}
	return res, nil
}

// set stores the children, replacing what was stored under their
// namespace. More than max_bytes gets not-acceptable: XEP-0049 names no
// condition for it, and RFC 6120 §8.3.3.9 defines not-acceptable as a
// request that "does not meet criteria defined by the recipient or
// server", as the XEP does for what it refuses (§3).
func (m *Module) set(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	user, err := own(iq)
	if err != nil {
		return nil, err
	}
	q := iq.FirstChild()
	ns, err := fragment(q, false)
	if err != nil {
		return nil, err
	}
	// Stored as a <query/> holding only the elements (text between them
	// is dropped), written as a top-level element of a jabber:client
	// stream, which is what ParseStanza reads.
	st := stanza.NewElement(NS, "query").Append(q.ChildElements()...)
	doc := st.AppendXML(nil, stanza.NSClient)
	if len(doc) > m.cfg.MaxBytes {
		return nil, stanza.NewError(stanza.NotAcceptable, fmt.Sprintf("more than %d bytes", m.cfg.MaxBytes))
	}
	return nil, m.docs.PutDocument(ctx, user, keyPrefix+ns, doc)
}
