package c2s_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const header = `<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// TestStreamHeaderErrors covers the stream errors of RFC 6120 §4.9.3 that a
// bad stream header causes; the server sends its own header first
// (§4.9.1.2), then the error, then closes.
func TestStreamHeaderErrors(t *testing.T) {
	s := xmpptest.Start(t, "")
	tests := []struct {
		name   string
		header string
		want   stanza.StreamCondition
	}{
		{"wrong stream namespace", `<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://example.com/streams'>`, stanza.StreamInvalidNamespace},
		{"wrong content namespace", `<stream:stream to='localhost' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>`, stanza.StreamInvalidNamespace},
		{"unknown host", `<stream:stream to='example.org' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`, stanza.StreamHostUnknown},
		{"no version", `<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`, stanza.StreamUnsupportedVersion},
		{"old version", `<stream:stream to='localhost' version='0.9' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`, stanza.StreamUnsupportedVersion},
		{"not xml", `hello`, stanza.StreamNotWellFormed},
		{"dtd", `<?xml version='1.0'?><!DOCTYPE stream>`, stanza.StreamRestrictedXML},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := xmpptest.Dial(t, s)
			c.Send(tc.header)
			c.ExpectStreamError(tc.want)
		})
	}
}

// TestStreamErrorsAfterHeader covers stream errors caused by what follows a
// valid header.
// stage is how far a scripted client negotiates before a test step.
type stage int

const (
	plain stage = iota
	secured
	authenticated
	bound
)

func TestStreamErrorsAfterHeader(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	tests := []struct {
		name  string
		stage stage
		send  string
		want  stanza.StreamCondition
	}{
		{"comment", plain, `<!-- hi -->`, stanza.StreamRestrictedXML},
		{"processing instruction", plain, `<?foo bar?>`, stanza.StreamRestrictedXML},
		{"entity reference", plain, `<message>&foo;</message>`, stanza.StreamRestrictedXML},
		{"mismatched tags", plain, `<message></presence>`, stanza.StreamNotWellFormed},
		{"invalid utf-8", plain, "<message>\xff\xfe</message>", stanza.StreamUnsupportedEncoding},
		{"stanza before auth", plain, `<message to='alice@localhost'><body>hi</body></message>`, stanza.StreamNotAuthorized},
		{"stanza before auth over tls", secured, `<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>`, stanza.StreamNotAuthorized},
		{"unknown top-level element", secured, `<foo xmlns='urn:example'/>`, stanza.StreamUnsupportedStanzaType},
		{"stanza before bind", authenticated, `<message to='alice@localhost'><body>hi</body></message>`, stanza.StreamNotAuthorized},
		{"too big before auth", plain, `<message><body>` + strings.Repeat("x", 11<<10) + `</body></message>`, stanza.StreamPolicyViolation},
		{"too deep", bound, strings.Repeat("<a>", 40), stanza.StreamPolicyViolation},
		{"too many attributes", bound, "<message " + manyAttrs(100) + "/>", stanza.StreamPolicyViolation},
		{"too many children", bound, "<message>" + strings.Repeat("<x/>", 2000) + "</message>", stanza.StreamPolicyViolation},
		{"too many namespace declarations", bound, "<message " + manyNS(100) + "/>", stanza.StreamPolicyViolation},
		{"duplicate attribute", bound, "<message to='a@localhost' to='b@localhost'/>", stanza.StreamNotWellFormed},
		{"stanza in wrong namespace", bound, "<message xmlns='jabber:server'/>", stanza.StreamUnsupportedStanzaType},
		{"spoofed from", bound, "<message from='bob@localhost/x' to='alice@localhost'/>", stanza.StreamInvalidFrom},
		{"empty to", bound, "<message to=''/>", stanza.StreamImproperAddressing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := xmpptest.Dial(t, s)
			c.OpenStream()
			if tc.stage >= secured {
				c.StartTLS()
			}
			if tc.stage >= authenticated {
				if el := c.AuthPLAIN("alice", "secret"); el.Local != "success" {
					t.Fatalf("auth: %s", el)
				}
				c.Restart()
			}
			if tc.stage >= bound {
				c.Bind("r")
			}
			c.Send(tc.send)
			c.ExpectStreamError(tc.want)
		})
	}
}

// TestStartTLSRequired: with require_tls (the default) only STARTTLS is
// offered, and SASL before it fails with encryption-required
// (RFC 6120 §5.3.1, §6.5.4).
func TestStartTLSRequired(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.Dial(t, s)
	f := c.OpenStream()
	st := f.Child(stanza.NSTLS, "starttls")
	if st == nil || st.Child(stanza.NSTLS, "required") == nil || f.Child(stanza.NSSASL, "mechanisms") != nil {
		t.Fatalf("features before TLS: %s", f)
	}
	if el := c.AuthPLAIN("alice", "secret"); el.Local != "failure" || el.Child(stanza.NSSASL, "encryption-required") == nil {
		t.Fatalf("auth before TLS: %s", el)
	}
	f = c.StartTLS()
	mechs := f.Child(stanza.NSSASL, "mechanisms")
	if mechs == nil || f.Child(stanza.NSTLS, "starttls") != nil {
		t.Fatalf("features after TLS: %s", f)
	}
	var names []string
	for _, m := range mechs.ChildElements() {
		names = append(names, m.Text())
	}
	for _, want := range []string{"SCRAM-SHA-512-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		if !contains(names, want) {
			t.Errorf("mechanism %s not offered: %v", want, names)
		}
	}
	// XEP-0440: TLS 1.3 offers tls-exporter and tls-server-end-point.
	cb := f.Child("urn:xmpp:sasl-cb:0", "sasl-channel-binding")
	if cb == nil {
		t.Fatalf("no sasl-channel-binding feature: %s", f)
	}
	var types []string
	for _, e := range cb.ChildElements() {
		types = append(types, e.Attr("type"))
	}
	if !contains(types, "tls-exporter") || !contains(types, "tls-server-end-point") {
		t.Errorf("channel-binding types: %v", types)
	}
	if v := c.TLSState().Version; v < 0x0304 {
		t.Errorf("TLS version %x, want 1.3", v)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestNoPlainWithoutTLS: when TLS is optional, PLAIN is still never offered
// on a plaintext stream.
func TestNoPlainWithoutTLS(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {require_tls: false}")
	c := xmpptest.Dial(t, s)
	f := c.OpenStream()
	mechs := f.Child(stanza.NSSASL, "mechanisms")
	if mechs == nil {
		t.Fatalf("features: %s", f)
	}
	for _, m := range mechs.ChildElements() {
		if m.Text() == "PLAIN" || strings.HasSuffix(m.Text(), "-PLUS") {
			t.Errorf("%s offered without TLS", m.Text())
		}
	}
}

// TestSASLFailures: wrong passwords get not-authorized and the fifth failure
// closes the stream with policy-violation (RFC 6120 §6.4.5).
func TestSASLFailures(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	for i := 0; i < 4; i++ {
		el := c.AuthSCRAM("SCRAM-SHA-256", "alice", "wrong")
		if el.Local != "failure" || el.Child(stanza.NSSASL, "not-authorized") == nil {
			t.Fatalf("attempt %d: %s", i+1, el)
		}
	}
	el := c.AuthPLAIN("nobody", "x")
	if el.Local != "failure" || el.Child(stanza.NSSASL, "not-authorized") == nil {
		t.Fatalf("attempt 5: %s", el)
	}
	c.ExpectStreamError(stanza.StreamPolicyViolation)
}

// TestSASLIncorrectEncoding: bad base64 gets incorrect-encoding (§6.5.5).
func TestSASLIncorrectEncoding(t *testing.T) {
	s := xmpptest.Start(t, "")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!notbase64</auth>`)
	el := c.Expect(stanza.NSSASL, "failure")
	if el.Child(stanza.NSSASL, "incorrect-encoding") == nil {
		t.Fatalf("got %s", el)
	}
	c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-UNKNOWN'>=</auth>`)
	el = c.Expect(stanza.NSSASL, "failure")
	if el.Child(stanza.NSSASL, "invalid-mechanism") == nil {
		t.Fatalf("got %s", el)
	}
}

// TestDirectTLS: XEP-0368 — TLS first, then the stream with SASL offered
// and no STARTTLS.
func TestDirectTLS(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.DialTLS(t, s)
	f := c.OpenStream()
	if f.Child(stanza.NSTLS, "starttls") != nil || f.Child(stanza.NSSASL, "mechanisms") == nil {
		t.Fatalf("features: %s", f)
	}
	if el := c.AuthSCRAM("SCRAM-SHA-512-PLUS", "alice", "secret"); el.Local != "success" {
		t.Fatalf("auth: %s", el)
	}
	c.Restart()
	if res := c.Bind("dev"); res.Attr("type") != "result" || c.JID != "alice@localhost/dev" {
		t.Fatalf("bind: %s", res)
	}
}

// TestSCRAMMechanisms logs in with every SCRAM variant.
func TestSCRAMMechanisms(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "pässwörd")
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS"} {
		t.Run(mech, func(t *testing.T) {
			c := xmpptest.Dial(t, s)
			c.OpenStream()
			c.StartTLS()
			if el := c.AuthSCRAM(mech, "alice", "pässwörd"); el.Local != "success" {
				t.Fatalf("auth: %s", el)
			}
		})
	}
}

// TestNegotiationTimeout: a client that stops during negotiation gets
// connection-timeout (RFC 6120 §4.9.3.4).
func TestNegotiationTimeout(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {step_timeout: 300ms}")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	start := time.Now()
	c.ExpectStreamError(stanza.StreamConnectionTimeout)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

// TestBindTimeout: the total time before bind is bounded even when each
// step is quick.
func TestBindTimeout(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {bind_timeout: 500ms, step_timeout: 10s}")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.ExpectStreamError(stanza.StreamConnectionTimeout)
}

// TestPeerClose: the server answers the client's closing tag with its own
// (RFC 6120 §4.4).
func TestPeerClose(t *testing.T) {
	s := xmpptest.Start(t, "")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.Send(`</stream:stream>`)
	if ev := c.Next(); ev.Kind != xmlstream.StreamEnd {
		t.Fatalf("want the closing tag, got %v", ev.Kind)
	}
	c.ExpectClosed()
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d='%d'", i, i)
	}
	return b.String()
}

func manyNS(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " xmlns:p%d='urn:x:%d'", i, i)
	}
	return b.String()
}

// TestEndlessTokenBoundsMemory: a client streaming one endless token is cut
// off near the limit — the server neither buffers the whole input nor
// grows its heap — and other sessions carry on.
func TestEndlessTokenBoundsMemory(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	bob := xmpptest.Login(t, s, "bob", "secret", "ok")
	c := xmpptest.Login(t, s, "alice", "secret", "evil")

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	c.Send("<message to='bob@localhost/ok'><body>")
	chunk := []byte(strings.Repeat("A", 64<<10))
	sent := 0
	const maxSend = 64 << 20
	for sent < maxSend {
		c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Conn.Write(chunk)
		sent += n
		if err != nil {
			break
		}
	}
	if sent >= maxSend {
		t.Fatalf("server accepted %d bytes of one token", sent)
	}
	c.ExpectStreamError(stanza.StreamPolicyViolation)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
		t.Errorf("heap grew by %d bytes after an endless token", grown)
	}
	ping(t, bob, "localhost")
}
