package c2s_test

import (
	"context"
	"crypto/tls"
	"runtime"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// parkedPair logs in alice and bob (xmpptest parks sessions after 10ms of
// quiet) and waits until both readers are parked.
func parkedPair(t *testing.T) (*xmpptest.Server, *xmpptest.Client, *xmpptest.Client) {
	t.Helper()
	s, a, b := twoUsers(t, "")
	waitParked(t, s, 2)
	return s, a, b
}

func waitParked(t *testing.T, s *xmpptest.Server, n int) {
	t.Helper()
	xmpptest.WaitFor(t, "parked sessions", 5*time.Second, func() bool { return s.C2S().Parked() == n })
}

// TestParkedSessionsHoldNoGoroutine: idle sessions give up their reader
// goroutine, and get one back when input arrives.
func TestParkedSessionsHoldNoGoroutine(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {max_sessions_per_account: 64}")
	s.AddUser(t, "dev", "secret")
	const n = 40
	base := runtime.NumGoroutine()
	clients := make([]*xmpptest.Client, n)
	for i := range clients {
		clients[i] = xmpptest.Login(t, s, "dev", "secret", "")
	}
	waitParked(t, s, n)
	// The test's own client side has no goroutines per connection either,
	// so whatever remains per session is a small constant at most.
	if got := runtime.NumGoroutine() - base; got >= n {
		t.Fatalf("%d goroutines for %d parked sessions", got, n)
	}
	for _, c := range clients {
		ping(t, c, "localhost")
	}
	waitParked(t, s, n)
}

// TestParkedReceiveAndSend: a parked session receives (the writer needs no
// reader) and a parked sender is woken by its input.
func TestParkedReceiveAndSend(t *testing.T) {
	s, a, b := parkedPair(t)
	for i := range 3 {
		a.Send(`<message to='bob@localhost/sensor' id='m` + string(rune('0'+i)) + `'><body>x</body></message>`)
		m := b.Expect(stanza.NSClient, "message")
		if m.Attr("from") != "alice@localhost/phone" {
			t.Fatalf("got %s", m)
		}
		waitParked(t, s, 2)
	}
}

// TestParkedSplitStanza: a stanza that arrives in pieces with quiet spells
// between them (each long enough to park) is read whole.
func TestParkedSplitStanza(t *testing.T) {
	s, a, b := parkedPair(t)
	parts := []string{`<message to='bob@loc`, `alhost/sensor' id='split'><bo`, `dy>pieces</body></mess`, `age>`}
	for i, p := range parts {
		a.Send(p)
		if i < len(parts)-1 {
			waitParked(t, s, 2)
		}
	}
	m := b.Expect(stanza.NSClient, "message")
	if body := m.Child(stanza.NSClient, "body"); m.Attr("id") != "split" || body == nil || body.Text() != "pieces" {
		t.Fatalf("got %s", m)
	}
}

// TestParkedConflict: a parked session replaced by a new login of the same
// resource gets the conflict stream error.
func TestParkedConflict(t *testing.T) {
	s, a, _ := parkedPair(t)
	xmpptest.Login(t, s, "alice", "secret", "phone")
	a.ExpectStreamError(stanza.StreamConflict)
}

// TestParkedShutdown: parked sessions get system-shutdown.
func TestParkedShutdown(t *testing.T) {
	s, a, b := parkedPair(t)
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		close(done)
	}()
	a.ExpectStreamError(stanza.StreamSystemShutdown)
	b.ExpectStreamError(stanza.StreamSystemShutdown)
	<-done
}

// TestParkedPeerVanishes: a parked session whose TCP connection drops is
// unbound.
func TestParkedPeerVanishes(t *testing.T) {
	s, a, _ := parkedPair(t)
	a.Conn.(*tls.Conn).NetConn().Close()
	alice := jid.MustParse("alice@localhost")
	xmpptest.WaitFor(t, "session end", 5*time.Second, func() bool {
		return len(s.Sessions().Resources(alice)) == 0
	})
	if got := s.C2S().Parked(); got != 1 {
		t.Fatalf("parked = %d, want 1", got)
	}
}
