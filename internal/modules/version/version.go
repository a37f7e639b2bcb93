// Package version implements Software Version (XEP-0092) for the server.
package version

import (
	"context"
	"runtime"

	"github.com/mote-xmpp/mote/internal/buildinfo"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/stanza"
)

// NS is the XEP-0092 namespace.
const NS = "jabber:iq:version"

// Config is the module's section of the configuration.
type Config struct {
	// ShowOS includes the operating system in answers (XEP-0092 §3 lets
	// an administrator hide it).
	ShowOS bool `yaml:"show_os"`
}

// Module answers version queries addressed to the server.
type Module struct{ cfg Config }

// New returns the version module.
func New() *Module { return &Module{} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "version", XEPs: []module.XEP{{Number: 92, Version: "1.1", Status: "complete"}},
		Requires: []string{"disco"}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	h.AddFeature(module.ToServer, NS)
	h.HandleIQ(module.ToServer, stanza.TypeGet, NS, "query", module.IQHandlerFunc(m.answer))
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

func (m *Module) answer(context.Context, *stanza.Element) (*stanza.Element, error) {
	q := stanza.NewElement(NS, "query").Append(
		stanza.NewElement(NS, "name").AppendText("mote"),
		stanza.NewElement(NS, "version").AppendText(buildinfo.Version()),
	)
	if m.cfg.ShowOS {
		q.Append(stanza.NewElement(NS, "os").AppendText(runtime.GOOS + "/" + runtime.GOARCH))
	}
	return q, nil
}
