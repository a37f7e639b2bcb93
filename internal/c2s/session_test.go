package c2s_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

func twoUsers(t *testing.T, cfg string) (*xmpptest.Server, *xmpptest.Client, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, cfg)
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	return s, a, b
}

// TestMessageFullJID: a message to a full JID arrives with from stamped as
// the sender's full JID, whatever the sender put there (RFC 6120 §8.1.2.1).
func TestMessageFullJID(t *testing.T) {
	_, a, b := twoUsers(t, "")
	a.Send(`<message to='bob@localhost/sensor' type='chat' id='m1' from='alice@localhost'><body>hi &amp; bye</body></message>`)
	m := b.Expect(stanza.NSClient, "message")
	if m.Attr("from") != "alice@localhost/phone" || m.Attr("to") != "bob@localhost/sensor" || m.Attr("id") != "m1" {
		t.Fatalf("got %s", m)
	}
	if body := m.Child(stanza.NSClient, "body"); body == nil || body.Text() != "hi & bye" {
		t.Fatalf("body: %s", m)
	}
}

// TestMessageBareJID: a message to a bare JID goes to the available
// resources with the highest non-negative priority (RFC 6121 §8.5.2.1.1).
func TestMessageBareJID(t *testing.T) {
	s, a, b := twoUsers(t, "")
	b2 := xmpptest.Login(t, s, "bob", "secret", "laptop")
	b.Send(`<presence><priority>1</priority></presence>`)
	b.Expect(stanza.NSClient, "presence") // its own, echoed (RFC 6121 §4.2.2)
	b2.Send(`<presence><priority>5</priority></presence>`)
	b2.Expect(stanza.NSClient, "presence") // its own and the other resource's
	b2.Expect(stanza.NSClient, "presence")
	b.Expect(stanza.NSClient, "presence") // the new resource's
	// An IQ round trip orders the presence before the message.
	ping(t, b, "localhost")
	ping(t, b2, "localhost")
	a.Send(`<message to='bob@localhost' type='chat'><body>to the best</body></message>`)
	m := b2.Expect(stanza.NSClient, "message")
	if m.Attr("from") != "alice@localhost/phone" {
		t.Fatalf("got %s", m)
	}
	// The lower-priority resource gets nothing: its next stanza is the
	// answer to a ping sent after the message was routed.
	ping(t, b, "localhost")
}

func ping(t *testing.T, c *xmpptest.Client, to string) {
	t.Helper()
	id := fmt.Sprintf("ping-%d", time.Now().UnixNano())
	c.Send(`<iq type='get' id='` + id + `' to='` + to + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
	r := c.Expect(stanza.NSClient, "iq")
	if r.Attr("type") != "result" || r.Attr("id") != id {
		t.Fatalf("ping reply: %s", r)
	}
}

// TestIQBetweenDevices: an IQ to a full JID is delivered and the answer
// routed back.
func TestIQBetweenDevices(t *testing.T) {
	_, a, b := twoUsers(t, "")
	a.Send(`<iq type='get' id='q1' to='bob@localhost/sensor'><query xmlns='urn:example:sensor'/></iq>`)
	q := b.Expect(stanza.NSClient, "iq")
	if q.Attr("from") != "alice@localhost/phone" || q.Attr("type") != "get" {
		t.Fatalf("got %s", q)
	}
	b.Send(`<iq type='result' id='q1' to='alice@localhost/phone'><value xmlns='urn:example:sensor'>21.5</value></iq>`)
	r := a.Expect(stanza.NSClient, "iq")
	if r.Attr("from") != "bob@localhost/sensor" || r.Attr("type") != "result" || r.Child("urn:example:sensor", "value").Text() != "21.5" {
		t.Fatalf("got %s", r)
	}
}

// TestStanzaErrors checks the error replies of the routing rules.
func TestStanzaErrors(t *testing.T) {
	_, a, _ := twoUsers(t, "")
	tests := []struct {
		name string
		send string
		kind string
		want stanza.Condition
	}{
		{"iq to offline resource", `<iq type='get' id='e1' to='bob@localhost/gone'><query xmlns='urn:example'/></iq>`, "iq", stanza.ServiceUnavailable},
		{"iq to unknown user", `<iq type='get' id='e2' to='nobody@localhost/x'><query xmlns='urn:example'/></iq>`, "iq", stanza.ServiceUnavailable},
		{"message to unknown user", `<message id='e3' to='nobody@localhost' type='chat'><body>x</body></message>`, "message", stanza.ServiceUnavailable},
		{"groupchat message to an account", `<message id='e4' to='bob@localhost' type='groupchat'><body>x</body></message>`, "message", stanza.ServiceUnavailable},
		{"unhandled server iq", `<iq type='get' id='e5' to='localhost'><query xmlns='urn:example:none'/></iq>`, "iq", stanza.ServiceUnavailable},
		{"remote domain", `<message id='e6' to='bob@example.org'><body>x</body></message>`, "message", stanza.RemoteServerNotFound},
		{"malformed to", `<message id='e7' to='a@b@c'><body>x</body></message>`, "message", stanza.JIDMalformed},
		{"iq without payload", `<iq type='get' id='e8' to='localhost'/>`, "iq", stanza.BadRequest},
		{"iq with two payloads", `<iq type='get' id='e9' to='localhost'><a xmlns='x'/><b xmlns='x'/></iq>`, "iq", stanza.BadRequest},
		{"bad iq type", `<iq type='fetch' id='e10' to='localhost'><a xmlns='x'/></iq>`, "iq", stanza.BadRequest},
		{"bad priority", `<presence id='e11'><priority>500</priority></presence>`, "presence", stanza.BadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.Send(tc.send)
			r := a.Expect(stanza.NSClient, tc.kind)
			e, ok := stanza.ErrorFromElement(r)
			if r.Attr("type") != "error" || !ok || e.Condition != tc.want {
				t.Fatalf("want %s error, got %s", tc.want, r)
			}
		})
	}
}

// TestBindGenerated: with no resource requested the server generates one.
func TestBindGenerated(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.Login(t, s, "alice", "secret", "")
	if !strings.HasPrefix(c.JID, "alice@localhost/") || len(c.JID) <= len("alice@localhost/") {
		t.Fatalf("jid %q", c.JID)
	}
	// The legacy session IQ is accepted as a no-op (RFC 6121 Appendix E).
	c.Send(`<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`)
	if r := c.Expect(stanza.NSClient, "iq"); r.Attr("type") != "result" || r.Attr("id") != "s1" {
		t.Fatalf("session: %s", r)
	}
}

// TestResourceConflict: binding the same full JID again replaces the old
// session, which gets the conflict stream error (RFC 6120 §7.7.2.2).
func TestResourceConflict(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	old := xmpptest.Login(t, s, "alice", "secret", "dev")
	xmpptest.Login(t, s, "alice", "secret", "dev")
	old.ExpectStreamError(stanza.StreamConflict)
	xmpptest.WaitFor(t, "one session", 5*time.Second, func() bool { return s.Sessions().Count() == 1 })
}

// TestSessionLimit: the account's session cap yields resource-constraint.
func TestSessionLimit(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {max_sessions_per_account: 2}")
	s.AddUser(t, "alice", "secret")
	xmpptest.Login(t, s, "alice", "secret", "one")
	xmpptest.Login(t, s, "alice", "secret", "two")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	c.AuthPLAIN("alice", "secret")
	c.Restart()
	r := c.Bind("three")
	if e, ok := stanza.ErrorFromElement(r); !ok || e.Condition != stanza.ResourceConstraint {
		t.Fatalf("got %s", r)
	}
}

// TestServerModules: ping, version, time and disco answer.
func TestServerModules(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.Login(t, s, "alice", "secret", "x")
	ping(t, c, "localhost")

	c.Send(`<iq type='get' id='v' to='localhost'><query xmlns='jabber:iq:version'/></iq>`)
	r := c.Expect(stanza.NSClient, "iq")
	if q := r.Child("jabber:iq:version", "query"); q == nil || q.Child("jabber:iq:version", "name").Text() != "mote" {
		t.Fatalf("version: %s", r)
	}
	c.Send(`<iq type='get' id='t' to='localhost'><time xmlns='urn:xmpp:time'/></iq>`)
	r = c.Expect(stanza.NSClient, "iq")
	tm := r.Child("urn:xmpp:time", "time")
	if tm == nil {
		t.Fatalf("time: %s", r)
	}
	utc, err := time.Parse(time.RFC3339, tm.Child("urn:xmpp:time", "utc").Text())
	if err != nil || time.Since(utc).Abs() > time.Minute {
		t.Fatalf("time: %s (%v)", r, err)
	}
	c.Send(`<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	r = c.Expect(stanza.NSClient, "iq")
	q := r.Child("http://jabber.org/protocol/disco#info", "query")
	if q == nil {
		t.Fatalf("disco: %s", r)
	}
	var features []string
	for _, f := range q.ChildElements() {
		if f.Local == "feature" {
			features = append(features, f.Attr("var"))
		}
	}
	for _, want := range []string{"urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time", "http://jabber.org/protocol/disco#info"} {
		if !contains(features, want) {
			t.Errorf("disco lacks %s: %v", want, features)
		}
	}
	if id := q.Child("http://jabber.org/protocol/disco#info", "identity"); id == nil || id.Attr("category") != "server" {
		t.Errorf("identity: %s", q)
	}
}

// TestServerPingsIdleClient: a silent client gets a ping (XEP-0199 §4.2);
// answering keeps it, silence closes it with connection-timeout.
func TestServerPingsIdleClient(t *testing.T) {
	s := xmpptest.Start(t, "modules: {ping: {interval: 200ms, timeout: 300ms}}")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.Login(t, s, "alice", "secret", "x")
	p := c.Expect(stanza.NSClient, "iq")
	if p.Child("urn:xmpp:ping", "ping") == nil || p.Attr("type") != "get" || p.Attr("from") != "localhost" {
		t.Fatalf("want a ping, got %s", p)
	}
	c.Send(`<iq type='result' id='` + p.Attr("id") + `' from='alice@localhost/x' to='localhost'/>`)
	// Answered: a second ping comes after the next idle interval; ignore
	// it, and the server closes the stream.
	p = c.Expect(stanza.NSClient, "iq")
	if p.Child("urn:xmpp:ping", "ping") == nil {
		t.Fatalf("want a second ping, got %s", p)
	}
	c.ExpectStreamError(stanza.StreamConnectionTimeout)
}

// TestShutdown: every session gets system-shutdown and the server stops.
func TestShutdown(t *testing.T) {
	s, a, b := twoUsers(t, "")
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		close(done)
	}()
	a.ExpectStreamError(stanza.StreamSystemShutdown)
	b.ExpectStreamError(stanza.StreamSystemShutdown)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}

// TestOversizedStanzaIsolated: a stanza over the limit closes only the
// offending stream; other sessions carry on.
func TestOversizedStanzaIsolated(t *testing.T) {
	_, a, b := twoUsers(t, "c2s: {max_stanza_bytes: 65536}")
	a.Send(`<message to='bob@localhost/sensor'><body>` + strings.Repeat("A", 70000) + `</body></message>`)
	a.ExpectStreamError(stanza.StreamPolicyViolation)
	ping(t, b, "localhost")
}

// TestSlowConsumer: a receiver that stops reading is disconnected once its
// queue is full; the sender is never blocked and other sessions carry on.
func TestSlowConsumer(t *testing.T) {
	s, a, b := twoUsers(t, "c2s: {outbound_queue: 64, write_timeout: 2s}")
	_ = b // bob never reads
	s.AddUser(t, "carol", "secret")
	carol := xmpptest.Login(t, s, "carol", "secret", "flood")
	bob := jid.MustParse("bob@localhost")
	body := strings.Repeat("x", 4000)
	deadline := time.Now().Add(30 * time.Second)
	for len(s.Sessions().Resources(bob)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow consumer was never disconnected")
		}
		// carol never reads either: her writes must not block on bob.
		carol.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := carol.Conn.Write([]byte(`<message to='bob@localhost/sensor'><body>` + body + `</body></message>`)); err != nil {
			break // carol may be dropped as a slow consumer of bounces herself
		}
	}
	xmpptest.WaitFor(t, "bob to be disconnected", 10*time.Second, func() bool {
		return len(s.Sessions().Resources(bob)) == 0
	})
	// alice is unaffected.
	ping(t, a, "localhost")
}

// TestShutdownDuringNegotiation: a connection between SASL and bind, and a
// direct TLS connection that has not shaken hands, are closed at shutdown
// without resuming negotiation and without plaintext on the TLS port.
func TestShutdownDuringNegotiation(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	if el := c.AuthPLAIN("alice", "secret"); el.Local != "success" {
		t.Fatal(el)
	}
	c.RestartParser()
	raw := xmpptest.DialTCP(t, s.TLSAddr)
	xmpptest.WaitFor(t, "both connections accepted", 5*time.Second, func() bool { return s.C2S().ConnCount() == 2 })

	start := time.Now()
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		close(done)
	}()
	c.ExpectStreamError(stanza.StreamSystemShutdown)
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := raw.Read(make([]byte, 64)); n != 0 || err == nil {
		t.Errorf("direct TLS port wrote %d plaintext bytes (%v)", n, err)
	}
	<-done
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if n := s.Sessions().Count(); n != 0 {
		t.Errorf("%d sessions bound after shutdown", n)
	}
}

// TestQueueBytesBound: a client that sends itself large stanzas and never
// reads is dropped once its queue holds outbound_queue_bytes, long before
// outbound_queue stanzas, and the server's heap stays bounded.
func TestQueueBytesBound(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {outbound_queue_bytes: 1048576, write_timeout: 5s}")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	bob := xmpptest.Login(t, s, "bob", "secret", "ok")
	c := xmpptest.Login(t, s, "alice", "secret", "flood")
	alice := jid.MustParse("alice@localhost")

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	msg := []byte(`<message to='alice@localhost/flood'><body>` + strings.Repeat("x", 200<<10) + `</body></message>`)
	for i := 0; i < 1500 && len(s.Sessions().Resources(alice)) > 0; i++ {
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Conn.Write(msg); err != nil {
			break
		}
	}
	xmpptest.WaitFor(t, "the flooding session to be dropped", 20*time.Second, func() bool {
		return len(s.Sessions().Resources(alice)) == 0
	})
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 32<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	ping(t, bob, "localhost")
}

// TestPendingPerIP: connections from one address that have not bound are
// capped; bound sessions do not count.
func TestPendingPerIP(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {max_pending_per_ip: 2}")
	s.AddUser(t, "alice", "secret")
	xmpptest.Login(t, s, "alice", "secret", "bound") // bound: no longer pending
	xmpptest.DialTCP(t, s.Addr)
	xmpptest.DialTCP(t, s.Addr)
	xmpptest.WaitFor(t, "two pending connections", 5*time.Second, func() bool { return s.C2S().ConnCount() == 3 })
	third := xmpptest.DialTCP(t, s.Addr)
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil || s.C2S().Refused() != 1 {
		t.Fatalf("third pending connection not refused: %v, refused %d", err, s.C2S().Refused())
	}
}
