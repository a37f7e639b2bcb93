package module_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/stanza"
)

type fakeModule struct {
	name  string
	start func(module.Host)
}

func (m fakeModule) Info() module.Info { return module.Info{Name: m.name} }
func (m fakeModule) Start(_ context.Context, h module.Host) error {
	m.start(h)
	return nil
}
func (fakeModule) Stop(context.Context) error { return nil }

func deps() module.Deps {
	return module.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: config.Default()}
}

var nopIQ = module.IQHandlerFunc(func(context.Context, *stanza.Element) (*stanza.Element, error) { return nil, nil })

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestWiringMistakesPanic(t *testing.T) {
	r := module.NewRegistry()
	h := r.NewHost(fakeModule{name: "a"}, deps())
	h.HandleIQ(module.ToServer, stanza.TypeGet, "urn:x", "q", nopIQ)
	mustPanic(t, "duplicate IQ handler", func() { h.HandleIQ(module.ToServer, stanza.TypeGet, "urn:x", "q", nopIQ) })
	mustPanic(t, "nil handler", func() { h.HandleIQ(module.ToServer, stanza.TypeSet, "urn:x", "q", nil) })
	mustPanic(t, "result handler", func() { h.HandleIQ(module.ToServer, stanza.TypeResult, "urn:x", "q", nopIQ) })
	mustPanic(t, "duplicate module", func() { r.NewHost(fakeModule{name: "a"}, deps()) })
	h.AddFeature(module.ToServer, "urn:x")
	mustPanic(t, "duplicate feature", func() { h.AddFeature(module.ToServer, "urn:x") })
	r.Seal()
	mustPanic(t, "registration after start", func() { h.HandleIQ(module.ToServer, stanza.TypeSet, "urn:y", "q", nopIQ) })
}

func TestDispatchAndHookOrder(t *testing.T) {
	r := module.NewRegistry()
	h := r.NewHost(fakeModule{name: "a"}, deps())
	h.HandleIQ(module.ToAccount, stanza.TypeSet, "urn:x", "q", nopIQ)
	var order []int
	for _, p := range []int{20, 10, 30, 10} {
		h.OnSessionBound(p, func(context.Context, module.Session) { order = append(order, p) })
	}
	r.Seal()
	if r.IQHandler(module.ToAccount, stanza.TypeSet, "urn:x", "q") == nil {
		t.Fatal("handler not found")
	}
	if r.IQHandler(module.ToServer, stanza.TypeSet, "urn:x", "q") != nil || r.IQHandler(module.ToAccount, stanza.TypeGet, "urn:x", "q") != nil {
		t.Fatal("handler found under the wrong key")
	}
	r.SessionBound(context.Background(), nil)
	if want := []int{10, 10, 20, 30}; len(order) != 4 || order[0] != want[0] || order[2] != want[2] || order[3] != want[3] {
		t.Fatalf("hook order %v", order)
	}
}
