package websocket_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// mechanisms returns the SASL mechanisms offered in features.
func mechanisms(features *stanza.Element) []string {
	var ms []string
	if m := features.Child(stanza.NSSASL, "mechanisms"); m != nil {
		for _, c := range m.ChildElements() {
			ms = append(ms, c.Text())
		}
	}
	return ms
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHandshakeNeedsSubprotocol: RFC 7395 §3.1, a handshake that does not
// offer the xmpp subprotocol is refused.
func TestHandshakeNeedsSubprotocol(t *testing.T) {
	s := xmpptest.Start(t, "")
	for i, tc := range []struct {
		name      string
		protocols []string
		status    int
	}{
		{"none", nil, http.StatusBadRequest},
		{"other", []string{"chat"}, http.StatusBadRequest},
		{"xmpp among others", []string{"chat", "xmpp"}, http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, _, resp, err := xmpptest.DialWSOptions(s.WSURL(false), &websocket.DialOptions{Subprotocols: tc.protocols})
			if resp == nil {
				t.Fatalf("%d: no response: %v", i, err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("%d: status %d, want %d (%v)", i, resp.StatusCode, tc.status, err)
			}
			if ws != nil {
				if ws.Subprotocol() != "xmpp" {
					t.Errorf("%d: subprotocol %q", i, ws.Subprotocol())
				}
				ws.CloseNow()
			}
		})
	}
}

// TestOrigins: http.allowed_origins restricts the Origin of a browser's
// handshake; a handshake without Origin (not a browser) is accepted.
func TestOrigins(t *testing.T) {
	s := xmpptest.Start(t, "http: {allowed_origins: ['https://app.example']}")
	for i, tc := range []struct {
		origin string
		status int
	}{
		{"", http.StatusSwitchingProtocols},
		{"https://app.example", http.StatusSwitchingProtocols},
		{"HTTPS://APP.EXAMPLE", http.StatusSwitchingProtocols},
		{"https://evil.example", http.StatusForbidden},
		{"http://app.example", http.StatusForbidden},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, _, resp, err := xmpptest.DialWSOptions(s.WSURL(false), &websocket.DialOptions{Subprotocols: []string{"xmpp"}, HTTPHeader: h})
		if resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%d: origin %q: response %v, want %d (%v)", i, tc.origin, resp, tc.status, err)
		}
		if ws != nil {
			ws.CloseNow()
		}
	}
}

// TestLoginAndChat is the whole path over wss://: <open/>, features
// without STARTTLS (RFC 7395 §3.9) and with channel binding, SCRAM with
// tls-exporter, the restart, bind, a message to a TCP client and its
// answer, and the close handshake.
func TestLoginAndChat(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	bob := xmpptest.Login(t, s, "bob", "secret", "tcp")

	c := xmpptest.DialWS(t, s, true)
	f := c.OpenStream()
	if c.Header.Attr("from") != s.Domain() || c.Header.Attr("version") != "1.0" || c.Header.Attr("id") == "" {
		t.Fatalf("open: %s", c.Header)
	}
	if f.Child(stanza.NSTLS, "starttls") != nil {
		t.Errorf("STARTTLS offered over WebSocket: %s", f)
	}
	ms := mechanisms(f)
	if !has(ms, "SCRAM-SHA-256-PLUS") || !has(ms, "PLAIN") {
		t.Errorf("wss mechanisms: %v", ms)
	}
	if el := c.AuthSCRAM("SCRAM-SHA-256-PLUS", "alice", "secret"); el.Local != "success" {
		t.Fatalf("auth: %s", el)
	}
	f = c.Restart()
	if f.Child(stanza.NSBind, "bind") == nil || f.Child("urn:xmpp:sm:3", "sm") == nil {
		t.Fatalf("features after auth: %s", f)
	}
	if res := c.Bind("browser"); res.Attr("type") != stanza.TypeResult {
		t.Fatalf("bind: %s", res)
	}
	if c.JID != "alice@localhost/browser" {
		t.Fatalf("jid %q", c.JID)
	}

	c.Send(`<message xmlns='jabber:client' to='bob@localhost/tcp' type='chat' id='m1'><body>over websocket</body></message>`)
	m := bob.Expect(stanza.NSClient, "message")
	if m.Attr("from") != c.JID || m.Child(stanza.NSClient, "body").Text() != "over websocket" {
		t.Fatalf("bob got %s", m)
	}
	bob.Send(`<message to='alice@localhost/browser' type='chat' id='m2'><body>over tcp</body></message>`)
	m = c.Expect(stanza.NSClient, "message")
	if m.Attr("from") != bob.JID || m.Child(stanza.NSClient, "body").Text() != "over tcp" {
		t.Fatalf("alice got %s", m)
	}

	c.Close()
	alice, _ := jid.Parse("alice@localhost")
	xmpptest.WaitFor(t, "alice's session to end", 5*time.Second, func() bool {
		return len(s.Sessions().Resources(alice)) == 0
	})
}

// TestPlainRequiresTLS: on ws:// the stream is unencrypted, so with
// c2s.require_tls (the default) authentication is refused, and PLAIN is
// never offered.
func TestPlainRequiresTLS(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.DialWS(t, s, false)
	f := c.OpenStream()
	ms := mechanisms(f)
	if f.Child(stanza.NSTLS, "starttls") != nil || has(ms, "PLAIN") || has(ms, "SCRAM-SHA-256-PLUS") {
		t.Fatalf("ws features: %s", f)
	}
	el := c.AuthSCRAM("SCRAM-SHA-256", "alice", "secret")
	if el.Local != "failure" || el.Child(stanza.NSSASL, "encryption-required") == nil {
		t.Fatalf("auth over ws://: %s", el)
	}
}

// TestPlainWithoutRequireTLS: with require_tls off, ws:// logs in with
// SCRAM (no channel binding, no PLAIN).
func TestPlainWithoutRequireTLS(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {require_tls: false}")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.LoginWS(t, s, false, "alice", "secret", "ws")
	c.Send(`<iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if r := c.Expect(stanza.NSClient, "iq"); r.Attr("type") != stanza.TypeResult || r.Attr("id") != "p1" {
		t.Fatalf("ping: %s", r)
	}
	c.Close()
}

func dial(t *testing.T, s *xmpptest.Server) *xmpptest.WSClient {
	return xmpptest.DialWS(t, s, true)
}

// TestStreamErrors: bad input gets a stream error in a message of its
// own, then <close/> and the WebSocket closing handshake (RFC 7395 §3.5,
// §3.6); an error at the start comes after the server's <open/>.
func TestStreamErrors(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {max_stanza_bytes_pre_auth: 2048}")
	s.AddUser(t, "alice", "secret")
	cases := []struct {
		name string
		open bool     // send <open/> first
		send []string // messages
		cond stanza.StreamCondition
	}{
		{"stream header instead of open", false,
			[]string{`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`},
			stanza.StreamInvalidNamespace},
		{"open in another namespace", false, []string{`<open xmlns='jabber:client' to='localhost' version='1.0'/>`}, stanza.StreamInvalidNamespace},
		{"no version", false, []string{`<open xmlns='` + xmpptest.NSFraming + `' to='localhost'/>`}, stanza.StreamUnsupportedVersion},
		{"unknown host", false, []string{`<open xmlns='` + xmpptest.NSFraming + `' to='example.org' version='1.0'/>`}, stanza.StreamHostUnknown},
		{"two elements in one message", true,
			[]string{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>`},
			stanza.StreamNotWellFormed},
		{"element split across messages", true,
			[]string{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>`, `</auth>`},
			stanza.StreamNotWellFormed},
		{"not well-formed", true, []string{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'></sasl>`}, stanza.StreamNotWellFormed},
		{"message over the size limit", true,
			[]string{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + strings.Repeat("A", 4096) + `</auth>`},
			stanza.StreamPolicyViolation},
		{"starttls", true, []string{`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`}, ""},
		{"stanza before authentication", true, []string{`<message xmlns='jabber:client' to='alice@localhost'><body>hi</body></message>`}, stanza.StreamNotAuthorized},
		{"second open", true, []string{`<open xmlns='` + xmpptest.NSFraming + `' to='localhost' version='1.0'/>`}, stanza.StreamUnsupportedStanzaType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s)
			if tc.open {
				c.OpenStream()
			}
			for _, m := range tc.send {
				c.Send(m)
			}
			if tc.cond == "" {
				// STARTTLS (RFC 7395 §3.9): <failure/>, then <close/>.
				c.Expect(stanza.NSTLS, "failure")
				c.Expect(xmpptest.NSFraming, "close")
				c.ExpectClosed()
				return
			}
			c.ExpectStreamError(tc.cond)
		})
	}
}

// TestBinaryMessage: XMPP data comes in text messages (RFC 7395 §3.2).
func TestBinaryMessage(t *testing.T) {
	s := xmpptest.Start(t, "")
	c := dial(t, s)
	c.OpenStream()
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageBinary, []byte(`<presence xmlns='jabber:client'/>`)); err != nil {
		t.Fatal(err)
	}
	c.ExpectStreamError(stanza.StreamUnsupportedEncoding)
}

// TestStanzaLimitAfterAuth: after authentication the larger limit applies,
// and a message over it is refused with policy-violation.
func TestStanzaLimitAfterAuth(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {max_stanza_bytes: 8192, max_stanza_bytes_pre_auth: 4096, read_burst: 8192}")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.LoginWS(t, s, true, "alice", "secret", "ws")
	body := strings.Repeat("x", 6000) // over the pre-auth limit, under this one
	c.Send(`<message xmlns='jabber:client' to='alice@localhost/ws'><body>` + body + `</body></message>`)
	if m := c.Expect(stanza.NSClient, "message"); m.Child(stanza.NSClient, "body").Text() != body {
		t.Fatalf("echo: %s", m)
	}
	c.Send(`<message xmlns='jabber:client' to='alice@localhost/ws'><body>` + strings.Repeat("x", 9000) + `</body></message>`)
	c.ExpectStreamError(stanza.StreamPolicyViolation)
}

// TestShutdown: WebSocket sessions get system-shutdown like TCP ones,
// bound or still negotiating.
func TestShutdown(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	bound := xmpptest.LoginWS(t, s, true, "alice", "secret", "ws")
	opening := dial(t, s)
	opening.OpenStream()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Stop(t)
	}()
	bound.ExpectStreamError(stanza.StreamSystemShutdown)
	opening.ExpectStreamError(stanza.StreamSystemShutdown)
	<-done
}

// TestPendingPerIP: the connection limits apply before the upgrade: over
// c2s.max_pending_per_ip the handshake is answered 503.
func TestPendingPerIP(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {max_pending_per_ip: 1}")
	first := dial(t, s)
	_, _, resp, _ := xmpptest.DialWSOptions(s.WSURL(true), &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second pending connection: %v, want 503", resp)
	}
	first.OpenStream()
}

// TestTolerated: an XML declaration before <open/> (allowed, RFC 7395
// §3.3.3), whitespace around an element and whitespace-only messages
// (whitespace keepalives, §3.8) do not disturb the stream.
func TestTolerated(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {require_tls: false}")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.DialWS(t, s, false)
	c.Send("<?xml version='1.0'?>\n<open xmlns='" + xmpptest.NSFraming + "' to='localhost' version='1.0'/>\n")
	c.Expect(xmpptest.NSFraming, "open")
	c.Expect(stanza.NSStream, "features")
	c.Send(" \r\n ")
	if el := c.AuthSCRAM("SCRAM-SHA-1", "alice", "secret"); el.Local != "success" {
		t.Fatalf("auth: %s", el)
	}
	c.Restart()
	c.Bind("ws")
	c.Send("  <iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>\n")
	if r := c.Expect(stanza.NSClient, "iq"); r.Attr("id") != "p1" || r.Attr("type") != stanza.TypeResult {
		t.Fatalf("ping: %s", r)
	}
	c.Close()
}

// TestResumeOnTCP: stream management is the same code on both transports,
// so a session enabled over WebSocket is resumed over TCP (XEP-0198 §5)
// and gets what it had not acknowledged.
func TestResumeOnTCP(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	bob := xmpptest.Login(t, s, "bob", "secret", "tcp")
	ws := xmpptest.LoginWS(t, s, true, "alice", "secret", "phone")
	ws.Send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	enabled := ws.Expect("urn:xmpp:sm:3", "enabled")
	id := enabled.Attr("id")
	if id == "" || enabled.Attr("resume") != "true" {
		t.Fatalf("enabled: %s", enabled)
	}
	bob.Send(`<message to='alice@localhost/phone' type='chat' id='b1'><body>one</body></message>`)
	ws.Expect(stanza.NSClient, "message")
	ws.Conn.CloseNow() // the network goes away: no <close/>
	bob.Send(`<message to='alice@localhost/phone' type='chat' id='b2'><body>two</body></message>`)

	tcp, _ := xmpptest.Authenticate(t, s, "alice", "secret")
	tcp.Send(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
	if r := tcp.Expect("urn:xmpp:sm:3", "resumed"); r.Attr("previd") != id {
		t.Fatalf("resumed: %s", r)
	}
	for _, want := range []string{"one", "two"} {
		m := tcp.Expect(stanza.NSClient, "message")
		if b := m.Child(stanza.NSClient, "body"); b == nil || b.Text() != want {
			t.Fatalf("want %q again, got %s", want, m)
		}
	}
}

// TestStepTimeout: a client that opens the WebSocket and sends nothing
// gets connection-timeout after c2s.step_timeout, after the server's
// <open/> (RFC 6120 §4.9.1.2, RFC 7395 §3.5).
func TestStepTimeout(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {step_timeout: 200ms}")
	c := dial(t, s)
	c.ExpectStreamError(stanza.StreamConnectionTimeout)
}
