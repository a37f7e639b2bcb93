// Package entitytime implements Entity Time (XEP-0202) for the server.
package entitytime

import (
	"context"
	"time"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/stanza"
)

// NS is the XEP-0202 namespace.
const NS = "urn:xmpp:time"

// Module answers time queries addressed to the server.
type Module struct {
	now func() time.Time
}

// New returns the time module.
func New() *Module { return &Module{now: time.Now} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "time", XEPs: []module.XEP{{Number: 202, Version: "2.0", Status: "complete"}},
		Requires: []string{"disco"}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	h.AddFeature(module.ToServer, NS)
	h.HandleIQ(module.ToServer, stanza.TypeGet, NS, "time", module.IQHandlerFunc(m.answer))
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// answer gives the server's time zone offset and UTC time in XEP-0082
// format (XEP-0202 §4).
func (m *Module) answer(context.Context, *stanza.Element) (*stanza.Element, error) {
	now := m.now()
	return stanza.NewElement(NS, "time").Append(
		stanza.NewElement(NS, "tzo").AppendText(now.Format("-07:00")),
		stanza.NewElement(NS, "utc").AppendText(now.UTC().Format("2006-01-02T15:04:05.000Z")),
	), nil
}
