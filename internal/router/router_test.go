package router_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/router"
	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// conn records what a session was sent.
type conn struct {
	mu   sync.Mutex
	got  []*stanza.Element
	full bool // Send refuses, like a full queue
}

func (c *conn) Send(st *stanza.Element) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full {
		return false
	}
	c.got = append(c.got, st)
	return true
}
func (c *conn) Close(*stanza.StreamError) {}

func (c *conn) take() []*stanza.Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.got
	c.got = nil
	return g
}

type fixture struct {
	r     *router.Router
	reg   *session.Registry
	obs   *observer
	conns map[string]*conn
	sess  map[string]*session.Session
}

// observer records the routing durations it is given, at about the cost
// of a Prometheus histogram (a few atomic operations).
type observer struct {
	n   atomic.Int64
	sum atomic.Uint64 // nanoseconds
}

func (o *observer) Observe(seconds float64) {
	o.n.Add(1)
	o.sum.Add(uint64(seconds * 1e9))
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	reg := session.NewRegistry()
	mods := module.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{reg: reg, obs: &observer{}, conns: map[string]*conn{}, sess: map[string]*session.Session{}}
	f.r = router.New(router.Config{Domain: jid.MustParse("example.com"), Sessions: reg, Modules: mods, Logger: log,
		IQTimeout: 200 * time.Millisecond, RouteDuration: f.obs})
	h := mods.NewHost(echoModule{}, module.Deps{Domain: jid.MustParse("example.com"), Logger: log, Router: f.r})
	h.HandleIQ(module.ToServer, stanza.TypeGet, "urn:echo", "q", module.IQHandlerFunc(func(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
		return stanza.NewElement("urn:echo", "a"), nil
	}))
	h.HandleIQ(module.ToServer, stanza.TypeSet, "urn:echo", "q", module.IQHandlerFunc(func(context.Context, *stanza.Element) (*stanza.Element, error) {
		return nil, stanza.NewError(stanza.NotAllowed, "")
	}))
	h.AddService("svc.example.com", "Echo service", func(ctx context.Context, st *stanza.Element, from, to jid.JID) {
		// Answer with the address the stanza was routed to, back to the sender.
		f.r.Route(ctx, stanza.NewElement(stanza.NSClient, "message", "from", to.String(), "to", from.String(), "id", st.Attr("id")))
	})
	mods.Seal()
	for _, s := range []struct {
		jid       string
		available bool
		priority  int
	}{
		{"dev@example.com/a", true, 1},
		{"dev@example.com/b", true, 5},
		{"dev@example.com/c", true, -1},
		{"dev@example.com/d", false, 0},
		{"sender@example.com/s", true, 0},
		{"neg@example.com/x", true, -3},
	} {
		c := &conn{}
		se := session.New(jid.MustParse(s.jid), c)
		se.SetPresence(s.available, s.priority)
		if _, err := reg.Bind(se, 10); err != nil {
			t.Fatal(err)
		}
		f.conns[s.jid] = c
		f.sess[s.jid] = se
	}
	return f
}

type echoModule struct{}

func (echoModule) Info() module.Info                        { return module.Info{Name: "echo"} }
func (echoModule) Start(context.Context, module.Host) error { return nil }
func (echoModule) Stop(context.Context) error               { return nil }

const sender = "sender@example.com/s"

func el(kind, to, typ string, payload *stanza.Element) *stanza.Element {
	e := stanza.NewElement(stanza.NSClient, kind, "id", "1", "from", sender)
	if to != "" {
		e.SetAttr("to", to)
	}
	if typ != "" {
		e.SetAttr("type", typ)
	}
	if payload != nil {
		e.Append(payload)
	}
	return e
}

func TestDelivery(t *testing.T) {
	body := func() *stanza.Element { return stanza.NewElement(stanza.NSClient, "body").AppendText("x") }
	q := func() *stanza.Element { return stanza.NewElement("urn:echo", "q") }
	tests := []struct {
		name string
		st   *stanza.Element
		// who receives the stanza itself, and what error the sender gets
		to      []string
		wantErr stanza.Condition
		result  bool // the sender gets an IQ result
	}{
		{"full JID", el("message", "dev@example.com/a", "chat", body()), []string{"dev@example.com/a"}, "", false},
		{"full JID of unavailable resource", el("message", "dev@example.com/d", "chat", body()), []string{"dev@example.com/d"}, "", false},
		{"bare JID: highest non-negative priority", el("message", "dev@example.com", "chat", body()), []string{"dev@example.com/b"}, "", false},
		{"bare JID: only negative priorities", el("message", "neg@example.com", "chat", body()), nil, stanza.ServiceUnavailable, false},
		{"bare JID: groupchat refused", el("message", "dev@example.com", "groupchat", body()), nil, stanza.ServiceUnavailable, false},
		{"bare JID: headline to every non-negative resource", el("message", "dev@example.com", "headline", body()), []string{"dev@example.com/a", "dev@example.com/b"}, "", false},
		{"bare JID: error dropped", el("message", "dev@example.com", "error", body()), nil, "", false},
		{"bare JID: probe not delivered", el("presence", "dev@example.com", "probe", nil), nil, "", false},
		{"unknown resource: chat goes to bare", el("message", "dev@example.com/zzz", "chat", body()), []string{"dev@example.com/b"}, "", false},
		{"unknown resource: headline dropped", el("message", "dev@example.com/zzz", "headline", body()), nil, "", false},
		{"unknown resource: groupchat", el("message", "dev@example.com/zzz", "groupchat", body()), nil, stanza.ServiceUnavailable, false},
		{"unknown user", el("message", "nobody@example.com", "chat", body()), nil, stanza.ServiceUnavailable, false},
		{"unknown user headline", el("message", "nobody@example.com", "headline", body()), nil, "", false},
		{"error message never bounces", el("message", "nobody@example.com", "error", body()), nil, "", false},
		{"iq to unknown resource", el("iq", "dev@example.com/zzz", "get", q()), nil, stanza.ServiceUnavailable, false},
		{"iq result to unknown resource dropped", el("iq", "dev@example.com/zzz", "result", nil), nil, "", false},
		{"presence to bare: available resources", el("presence", "dev@example.com", "", nil), []string{"dev@example.com/a", "dev@example.com/b", "dev@example.com/c"}, "", false},
		{"presence to unknown resource ignored", el("presence", "dev@example.com/zzz", "", nil), nil, "", false},
		{"remote domain", el("message", "x@remote.example", "chat", body()), nil, stanza.RemoteServerNotFound, false},
		{"server iq handled", el("iq", "example.com", "get", q()), nil, "", true},
		{"server iq handler error", el("iq", "example.com", "set", q()), nil, stanza.NotAllowed, false},
		{"server iq unhandled", el("iq", "example.com", "get", stanza.NewElement("urn:none", "q")), nil, stanza.ServiceUnavailable, false},
		{"message to server", el("message", "example.com", "chat", body()), nil, stanza.ServiceUnavailable, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.r.Route(context.Background(), tc.st)
			for j, c := range f.conns {
				got := c.take()
				if j == sender {
					switch {
					case tc.wantErr != "":
						if len(got) != 1 {
							t.Fatalf("sender got %d stanzas, want one %s error", len(got), tc.wantErr)
						}
						e, ok := stanza.ErrorFromElement(got[0])
						if !ok || e.Condition != tc.wantErr {
							t.Fatalf("sender got %s, want %s", got[0], tc.wantErr)
						}
					case tc.result:
						if len(got) != 1 || got[0].Attr("type") != "result" || got[0].Attr("to") != sender || got[0].Attr("from") != "example.com" {
							t.Fatalf("sender got %v, want a result", got)
						}
					default:
						if len(got) != 0 {
							t.Fatalf("sender got %s", got[0])
						}
					}
					continue
				}
				want := false
				for _, w := range tc.to {
					want = want || w == j
				}
				if want != (len(got) == 1) || len(got) > 1 {
					t.Errorf("%s got %d stanzas, want delivery %v", j, len(got), want)
				}
			}
		})
	}
}

// TestClosingReceiver: a resource whose queue refuses stanzas (a slow
// consumer being closed) is treated as absent (RFC 6121 §8.5.3.2).
func TestClosingReceiver(t *testing.T) {
	f := newFixture(t)
	f.conns["dev@example.com/b"].full = true
	f.r.Route(context.Background(), el("message", "dev@example.com/b", "chat", nil))
	if got := f.conns["dev@example.com/a"].take(); len(got) != 0 {
		t.Fatalf("lower priority resource got %v", got)
	}
	if got := f.conns[sender].take(); len(got) != 1 {
		t.Fatalf("sender got %v, want one error", got)
	}
	f.r.Route(context.Background(), el("iq", "dev@example.com/b", "get", stanza.NewElement("urn:x", "q")))
	got := f.conns[sender].take()
	if e, ok := stanza.ErrorFromElement(got[0]); len(got) != 1 || !ok || e.Condition != stanza.ServiceUnavailable {
		t.Fatalf("sender got %v", got)
	}
	// §8.2.3: a result is never answered with an error.
	f.r.Route(context.Background(), el("iq", "dev@example.com/b", "result", nil))
	if got := f.conns[sender].take(); len(got) != 0 {
		t.Fatalf("sender got %v for an undeliverable result", got)
	}
}

func TestSendIQ(t *testing.T) {
	f := newFixture(t)
	results := make(chan error, 3)
	// Answered by the client.
	f.r.SendIQ(context.Background(), stanza.NewElement(stanza.NSClient, "iq", "to", "dev@example.com/a", "type", "get"), func(r *stanza.Element, err error) { results <- err })
	req := f.conns["dev@example.com/a"].take()[0]
	reply := stanza.NewElement(stanza.NSClient, "iq", "id", req.Attr("id"), "from", "dev@example.com/a", "to", "example.com", "type", "result")
	// A reply from someone else is not taken for the answer.
	spoof := reply.ShallowCopy()
	spoof.SetAttr("from", sender)
	f.r.Route(context.Background(), spoof)
	f.r.Route(context.Background(), reply)
	if err := <-results; err != nil {
		t.Fatalf("reply: %v", err)
	}
	// To a missing resource: the router's own error completes it.
	f.r.SendIQ(context.Background(), stanza.NewElement(stanza.NSClient, "iq", "to", "dev@example.com/zzz", "type", "get").Append(stanza.NewElement("urn:x", "q")), func(r *stanza.Element, err error) { results <- err })
	if e, ok := (<-results).(stanza.Error); !ok || e.Condition != stanza.ServiceUnavailable {
		t.Fatalf("missing resource: %v", e)
	}
	// Unanswered: timeout.
	f.r.SendIQ(context.Background(), stanza.NewElement(stanza.NSClient, "iq", "to", "dev@example.com/b", "type", "get"), func(r *stanza.Element, err error) { results <- err })
	if e, ok := (<-results).(stanza.Error); !ok || e.Condition != stanza.RemoteServerTimeout {
		t.Fatalf("timeout: %v", e)
	}
}

// BenchmarkRouteFullJID measures the routing hot path for a message to a
// full JID: classification, registry lookup and enqueue.
func BenchmarkRouteFullJID(b *testing.B) {
	benchRoute(b, "dev@example.com/a", "dev@example.com/a")
}

// BenchmarkRouteBareJID measures delivery by priority to a bare JID.
func BenchmarkRouteBareJID(b *testing.B) {
	benchRoute(b, "dev@example.com", "dev@example.com/b")
}

// benchRoute routes a chat message to addr, draining the queue of the
// session that receives it now and then.
func benchRoute(b *testing.B, addr, receiver string) {
	f := newFixture(b)
	to := jid.MustParse(addr)
	from := jid.MustParse(sender)
	st := el("message", addr, "chat", stanza.NewElement(stanza.NSClient, "body").AppendText("21.5"))
	c := f.conns[receiver]
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.r.RouteFrom(ctx, st, from, to)
		if i%1024 == 0 {
			if i > 0 && len(c.take()) == 0 {
				b.Fatal("the receiver got nothing")
			}
		}
	}
}

// TestStats: RouteFrom counts what clients send by kind and times one
// stanza in RouteSample of each kind; the registry counts what its
// sessions take, by kind, whoever sends it.
func TestStats(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	from := jid.MustParse(sender)
	const n = 3 * router.RouteSample
	for range n {
		to := jid.MustParse("dev@example.com/a")
		f.r.RouteFrom(ctx, el("message", to.String(), "chat", stanza.NewElement(stanza.NSClient, "body").AppendText("x")), from, to)
	}
	iq := stanza.NewElement(stanza.NSClient, "iq", "type", "get", "id", "q", "to", "example.com", "from", sender).
		Append(stanza.NewElement("urn:echo", "q"))
	f.r.RouteFrom(ctx, iq, from, jid.MustParse("example.com"))
	f.sess["dev@example.com/b"].Send(stanza.NewElement(stanza.NSClient, "presence"))

	in := f.r.Stats().In
	if in[stanza.KindMessage] != n || in[stanza.KindIQ] != 1 || in[stanza.KindPresence] != 0 || in[stanza.KindNone] != 0 {
		t.Errorf("in %v", in)
	}
	out := f.reg.Sent()
	if out[stanza.KindMessage] != n || out[stanza.KindIQ] != 1 || out[stanza.KindPresence] != 1 {
		t.Errorf("out %v", out)
	}
	if got := f.obs.n.Load(); got != n/router.RouteSample {
		t.Errorf("%d durations observed for %d messages, want %d", got, n, n/router.RouteSample)
	}
}

// TestServiceDomain: stanzas to a hosted service domain, with or without
// a local part or resource, go to its handler; other domains still bounce.
func TestServiceDomain(t *testing.T) {
	f := newFixture(t)
	for _, to := range []string{"svc.example.com", "node@svc.example.com", "svc.example.com/res"} {
		f.r.Route(context.Background(), stanza.NewElement(stanza.NSClient, "message", "from", "sender@example.com/s", "to", to, "id", "m"))
		got := f.conns["sender@example.com/s"].take()
		if len(got) != 1 || got[0].Attr("from") != to || got[0].Attr("type") == "error" {
			t.Fatalf("to %s: got %v", to, got)
		}
	}
	f.r.Route(context.Background(), stanza.NewElement(stanza.NSClient, "message", "from", "sender@example.com/s", "to", "other.example.com", "id", "m"))
	if got := f.conns["sender@example.com/s"].take(); len(got) != 1 || got[0].Attr("type") != "error" {
		t.Fatalf("unhosted domain: got %v", got)
	}
}
