// Package vcard implements vcard-temp (XEP-0054): each account stores one
// vCard, which it alone may change and every local user may read.
package vcard

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

// NS is the XEP-0054 namespace, also its disco feature (§4).
const NS = "vcard-temp"

// key is the storage.Documents key of the vCard.
const key = "vcard-temp"

// Config is the module's section of the configuration.
type Config struct {
	// MaxBytes limits the serialised vCard; a larger one is refused with
	// not-acceptable.
	MaxBytes int `yaml:"max_bytes"`
}

// Module is the vcard-temp module.
type Module struct {
	cfg  Config
	docs storage.Documents
}

// New returns the module with its defaults.
func New() *Module { return &Module{cfg: Config{MaxBytes: 64 << 10}} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "vcard", Requires: []string{"disco"},
		XEPs: []module.XEP{{Number: 54, Version: "1.3.0", Status: "complete"}}}
}

// Start implements module.Module.
func (m *Module) Start(_ context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	// A stored vCard is read back with xmlstream.ParseStanza, whose limit
	// it must fit in.
	if m.cfg.MaxBytes <= 0 || m.cfg.MaxBytes > xmlstream.DefaultLimits.MaxStanzaBytes {
		return fmt.Errorf("vcard: max_bytes must be between 1 and %d", xmlstream.DefaultLimits.MaxStanzaBytes)
	}
	m.docs = h.Storage().Documents()
	h.AddFeature(module.ToServer, NS)
	h.HandleIQ(module.ToAccount, stanza.TypeGet, NS, "vCard", module.IQHandlerFunc(m.get))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "vCard", module.IQHandlerFunc(m.set))
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// get returns a vCard. The own one, when none is stored, is an empty
// <vCard/> (§3.1 allows either that or item-not-found). Another
// account's vCard is public (§3.3, §5). When that account has none, or
// does not exist (storage.Users.DeleteUser removes its documents), the
// answer is service-unavailable in both cases, so that it does not tell
// which accounts exist (§3.3: "The server MUST return the same error
// condition in both cases to help prevent directory harvesting attacks";
// since version 1.3.0 that condition MUST be service-unavailable).
func (m *Module) get(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	_, owner, own := module.Addressee(iq)
	if owner.Local() == "" {
		return nil, stanza.NewError(stanza.ServiceUnavailable, "")
	}
	doc, err := m.docs.GetDocument(ctx, owner.Local(), key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if !own {
			return nil, stanza.NewError(stanza.ServiceUnavailable, "")
		}
		return stanza.NewElement(NS, "vCard"), nil
	case err != nil:
		return nil, err
	}
	v, err := xmlstream.ParseStanza(doc)
	if err != nil {
		return nil, fmt.Errorf("vcard: stored vCard of %s: %w", owner.Local(), err)
	}
	return v, nil
}

// set replaces the sender's vCard (§3.2). Setting another account's is
// forbidden (§3.2 "SHOULD be forbidden or not-allowed"), whether or not
// that account exists. A vCard with no content removes the stored one.
//
// A vCard over max_bytes gets not-acceptable: XEP-0054 names no condition
// for it, and RFC 6120 §8.3.3.9 defines not-acceptable as a request that
// "does not meet criteria defined by the recipient or server", which a
// size limit is; policy-violation (§8.3.3.12) is about the content
// breaking a local policy, not its size. It is also what the private
// storage module answers for the same limit.
func (m *Module) set(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	_, owner, own := module.Addressee(iq)
	if !own || owner.Local() == "" {
		return nil, stanza.NewError(stanza.Forbidden, "")
	}
	v := iq.FirstChild()
	if empty(v) {
		return nil, m.docs.DeleteDocument(ctx, owner.Local(), key)
	}
	// The vCard is written as a top-level element of a jabber:client
	// stream, carrying its own xmlns, which is what ParseStanza reads.
	doc := v.AppendXML(nil, stanza.NSClient)
	if len(doc) > m.cfg.MaxBytes {
		return nil, stanza.NewError(stanza.NotAcceptable, fmt.Sprintf("vCard larger than %d bytes", m.cfg.MaxBytes))
	}
	return nil, m.docs.PutDocument(ctx, owner.Local(), key, doc)
}

// empty reports whether v has no attributes, no child elements and only
// whitespace as text.
func empty(v *stanza.Element) bool {
	return len(v.Attrs) == 0 && v.CountChildElements() == 0 && strings.TrimSpace(v.Text()) == ""
}
