// Package ping implements XMPP Ping (XEP-0199): it answers pings from
// clients and pings clients that have been silent, closing those that do
// not answer.
package ping

import (
	"context"
	"time"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/stanza"
)

// NS is the XEP-0199 namespace.
const NS = "urn:xmpp:ping"

// Config is the module's section of the configuration.
type Config struct {
	// Interval of silence after which the server pings a client
	// (XEP-0199 §4.2); zero disables server pings.
	Interval time.Duration `yaml:"interval"`
	// Timeout for the client's answer; a client that does not answer is
	// disconnected with connection-timeout (RFC 6120 §4.9.3.4).
	Timeout time.Duration `yaml:"timeout"`
}

// Module is the ping module.
type Module struct {
	cfg Config
	h   module.Host
}

// New returns the ping module with its defaults.
func New() *Module {
	return &Module{cfg: Config{Interval: 5 * time.Minute, Timeout: 60 * time.Second}}
}

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "ping", XEPs: []module.XEP{{Number: 199, Version: "2.0.1", Status: "complete"}},
		Requires: []string{"disco"}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	m.h = h
	// §4.1 client-to-server ping.
	h.AddFeature(module.ToServer, NS)
	h.HandleIQ(module.ToServer, stanza.TypeGet, NS, "ping", module.IQHandlerFunc(pong))
	// A ping with no 'to', or to the sender's own bare JID, is answered by
	// the server on the account's behalf (RFC 6121 §8.5.2.1.3); another
	// account's bare JID gets service-unavailable, as if nobody were there.
	h.AddFeature(module.ToAccount, NS)
	h.HandleIQ(module.ToAccount, stanza.TypeGet, NS, "ping", module.IQHandlerFunc(pongOwn))
	if m.cfg.Interval > 0 {
		h.OnIdle(m.cfg.Interval, m.pingIdle)
	}
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

func pong(context.Context, *stanza.Element) (*stanza.Element, error) { return nil, nil }

func pongOwn(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
	_, err := module.OwnAccount(iq, stanza.ServiceUnavailable)
	return nil, err
}

// pingIdle sends a server-to-client ping (XEP-0199 §4.2) to a silent
// session. Any reply, even an error, proves the client alive (§4.2.2);
// no reply within the timeout closes the session.
func (m *Module) pingIdle(ctx context.Context, s module.Session) {
	iq := stanza.NewElement(stanza.NSClient, "iq", "to", s.JID().String(), "type", stanza.TypeGet)
	iq.Append(stanza.NewElement(NS, "ping"))
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	m.h.SendIQ(ctx, iq, func(reply *stanza.Element, err error) {
		cancel()
		if reply == nil {
			s.Close(&stanza.StreamError{Condition: stanza.StreamConnectionTimeout, Text: "no answer to ping"})
		}
	})
}
