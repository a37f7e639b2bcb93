package c2s_test

// The hostile-input suite: each attack gets the right error, the offender
// is closed, a bystander session keeps working and the server's memory
// stays bounded.

import (
	"encoding/base64"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// arena is a server with a bystander session that every attack must leave
// alone.
type arena struct {
	s         *xmpptest.Server
	bystander *xmpptest.Client
}

func newArena(t *testing.T, cfg string) *arena {
	t.Helper()
	s := xmpptest.Start(t, cfg)
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	return &arena{s: s, bystander: xmpptest.Login(t, s, "bob", "secret", "bystander")}
}

// check runs attack and verifies the bystander and the heap afterwards.
func (a *arena) check(t *testing.T, attack func(t *testing.T)) {
	t.Helper()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	attack(t)
	ping(t, a.bystander, "localhost")
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 16<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
}

// dial returns a client negotiated up to stage.
func (a *arena) dial(t *testing.T, st stage) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Dial(t, a.s)
	if st == plain {
		return c
	}
	c.OpenStream()
	c.StartTLS()
	if st == secured {
		return c
	}
	if el := c.AuthPLAIN("alice", "secret"); el.Local != "success" {
		t.Fatalf("auth: %s", el)
	}
	c.Restart()
	if st == bound {
		c.Bind("attacker")
	}
	return c
}

func TestHostileInput(t *testing.T) {
	a := newArena(t, "")
	tests := []struct {
		name  string
		stage stage
		send  []string // written one after the other
		want  stanza.StreamCondition
	}{
		{"billion laughs", plain, []string{`<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><stream:stream>`}, stanza.StreamRestrictedXML},
		{"external entity", plain, []string{`<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`}, stanza.StreamRestrictedXML},
		{"undeclared entity in stanza", bound, []string{`<message to='bob@localhost'><body>&xxe;</body></message>`}, stanza.StreamRestrictedXML},
		{"NUL character reference", bound, []string{`<message><body>&#0;</body></message>`}, stanza.StreamNotWellFormed},
		{"surrogate character reference", bound, []string{`<message><body>&#xD800;</body></message>`}, stanza.StreamNotWellFormed},
		{"raw control character", bound, []string{"<message><body>\x01</body></message>"}, stanza.StreamNotWellFormed},
		{"comment in stanza", bound, []string{`<message><!-- x --></message>`}, stanza.StreamRestrictedXML},
		{"processing instruction in stanza", bound, []string{`<message><?php x?></message>`}, stanza.StreamRestrictedXML},
		{"deep nesting", bound, []string{strings.Repeat("<a>", 10000)}, stanza.StreamPolicyViolation},
		{"wide element", bound, []string{"<message>" + strings.Repeat("<b/>", 100000)}, stanza.StreamPolicyViolation},
		{"many attributes", bound, []string{"<message " + manyAttrs(5000) + "/>"}, stanza.StreamPolicyViolation},
		{"endless open tag", bound, []string{"<message " + manyAttrs(20000)}, stanza.StreamPolicyViolation},
		{"huge attribute value", bound, []string{"<message to='" + strings.Repeat("a", 300<<10) + "'/>"}, stanza.StreamPolicyViolation},
		{"huge element name", bound, []string{"<" + strings.Repeat("n", 300<<10) + "/>"}, stanza.StreamPolicyViolation},
		{"huge pre-auth stanza", plain, []string{header, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + strings.Repeat("A", 20<<10)}, stanza.StreamPolicyViolation},
		{"invalid UTF-8 split across reads", bound, []string{"<message><body>\xe2", "\x82", "\x28</body></message>"}, stanza.StreamUnsupportedEncoding},
		{"overlong UTF-8", bound, []string{"<message><body>\xc0\xaf</body></message>"}, stanza.StreamUnsupportedEncoding},
		{"from spoofing", bound, []string{`<message from='bob@localhost/bystander' to='bob@localhost/bystander'><body>hi</body></message>`}, stanza.StreamInvalidFrom},
		{"stanza before authentication", secured, []string{`<message to='bob@localhost/bystander'><body>hi</body></message>`}, stanza.StreamNotAuthorized},
		{"stanza before bind", authenticated, []string{`<iq type='get' id='1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`}, stanza.StreamNotAuthorized},
		{"XML declaration mid-stream", bound, []string{header}, stanza.StreamNotWellFormed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.check(t, func(t *testing.T) {
				c := a.dial(t, tc.stage)
				for _, s := range tc.send {
					c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
					if _, err := c.Conn.Write([]byte(s)); err != nil {
						break // the server may close before it read everything
					}
				}
				c.ExpectStreamError(tc.want)
			})
		})
	}
}

// TestPipelinedAfterStartTLS: plaintext bytes sent behind <starttls/> would
// be read as if they came over TLS (a known injection); they are refused.
func TestPipelinedAfterStartTLS(t *testing.T) {
	a := newArena(t, "")
	a.check(t, func(t *testing.T) {
		c := a.dial(t, plain)
		c.OpenStream()
		c.Send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>`)
		c.ExpectStreamError(stanza.StreamPolicyViolation)
	})
}

// TestAuthzidAbuse: alice may not authorise as bob (RFC 6120 §6.4.6).
func TestAuthzidAbuse(t *testing.T) {
	a := newArena(t, "")
	a.check(t, func(t *testing.T) {
		c := a.dial(t, secured)
		c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` +
			base64.StdEncoding.EncodeToString([]byte("bob@localhost\x00alice\x00secret")) + `</auth>`)
		if f := c.Expect(stanza.NSSASL, "failure"); f.Child(stanza.NSSASL, "invalid-authzid") == nil {
			t.Fatalf("got %s", f)
		}
	})
}

// scramFirst sends a SCRAM-SHA-256 client-first message and returns the
// decoded server-first message's salt and iteration count.
func scramFirst(t *testing.T, c *xmpptest.Client, user string) (salt, iter string) {
	t.Helper()
	cl, _ := scram.SHA256.NewClient(user, "x", "")
	first, _ := cl.NewConversation().Step("")
	c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>` + base64.StdEncoding.EncodeToString([]byte(first)) + `</auth>`)
	ch := c.Expect(stanza.NSSASL, "challenge")
	b, err := base64.StdEncoding.DecodeString(ch.Text())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Split(string(b), ",") {
		switch {
		case strings.HasPrefix(f, "s="):
			salt = f[2:]
		case strings.HasPrefix(f, "i="):
			iter = f[2:]
		}
	}
	c.Send(`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
	c.Expect(stanza.NSSASL, "failure")
	return salt, iter
}

// TestNoAccountEnumeration: an unknown user's SCRAM challenge looks like a
// real one (same iteration count, same salt length, the same salt every
// time) and the final failure is the same as for a wrong password.
func TestNoAccountEnumeration(t *testing.T) {
	a := newArena(t, "")
	c := a.dial(t, secured)
	realSalt, realIter := scramFirst(t, c, "alice")
	fakeSalt, fakeIter := scramFirst(t, c, "mallory")
	c2 := a.dial(t, secured)
	fakeSalt2, _ := scramFirst(t, c2, "mallory")
	if realIter != fakeIter || len(realSalt) != len(fakeSalt) {
		t.Fatalf("real i=%s s=%q, unknown i=%s s=%q", realIter, realSalt, fakeIter, fakeSalt)
	}
	if fakeSalt != fakeSalt2 {
		t.Fatalf("unknown user's salt changes between attempts: %q %q", fakeSalt, fakeSalt2)
	}
	wrong := a.dial(t, secured).AuthSCRAM("SCRAM-SHA-256", "alice", "nope").String()
	unknown := a.dial(t, secured).AuthSCRAM("SCRAM-SHA-256", "mallory", "nope").String()
	if wrong != unknown {
		t.Fatalf("failures differ:\n%s\n%s", wrong, unknown)
	}
}

// TestSlowloris: a client that stalls at any negotiation step is dropped
// after the step timeout, and one that trickles bytes is dropped by the
// total bind timeout.
func TestSlowloris(t *testing.T) {
	a := newArena(t, "c2s: {step_timeout: 400ms, tls_handshake_timeout: 400ms, bind_timeout: 1500ms}")
	steps := []struct {
		name  string
		setup func(t *testing.T) *xmpptest.Client
		want  stanza.StreamCondition // "" when the server just closes (inside TLS handshake)
	}{
		{"silent after connect", func(t *testing.T) *xmpptest.Client { return a.dial(t, plain) }, stanza.StreamConnectionTimeout},
		{"half a stream header", func(t *testing.T) *xmpptest.Client {
			c := a.dial(t, plain)
			c.Send(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='local`)
			return c
		}, stanza.StreamConnectionTimeout},
		{"silent after features", func(t *testing.T) *xmpptest.Client {
			c := a.dial(t, plain)
			c.OpenStream()
			return c
		}, stanza.StreamConnectionTimeout},
		{"silent after TLS", func(t *testing.T) *xmpptest.Client { return a.dial(t, secured) }, stanza.StreamConnectionTimeout},
		{"silent inside SASL", func(t *testing.T) *xmpptest.Client {
			c := a.dial(t, secured)
			c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>`)
			c.Expect(stanza.NSSASL, "challenge")
			return c
		}, stanza.StreamConnectionTimeout},
		{"silent before bind", func(t *testing.T) *xmpptest.Client { return a.dial(t, authenticated) }, stanza.StreamConnectionTimeout},
		{"trickling a stanza", func(t *testing.T) *xmpptest.Client {
			c := a.dial(t, authenticated)
			// One byte every 100 ms keeps each read within the step
			// timeout; the bind timeout still ends it.
			go func() {
				for _, b := range []byte(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`) {
					time.Sleep(100 * time.Millisecond)
					c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := c.Conn.Write([]byte{b}); err != nil {
						return
					}
				}
			}()
			return c
		}, stanza.StreamConnectionTimeout},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			a.check(t, func(t *testing.T) {
				c := st.setup(t)
				c.ExpectStreamError(st.want)
			})
		})
	}
	t.Run("inside the TLS handshake", func(t *testing.T) {
		a.check(t, func(t *testing.T) {
			raw := xmpptest.DialTCP(t, a.s.TLSAddr)
			raw.Write([]byte{0x16, 0x03, 0x01}) // the start of a ClientHello record
			raw.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := raw.Read(make([]byte, 1)); err == nil {
				t.Fatal("server wrote during a stalled handshake")
			}
		})
	})
}

// TestAuthBackoff: repeated failures from one address are answered ever
// more slowly, on new connections too.
func TestAuthBackoff(t *testing.T) {
	a := newArena(t, "c2s: {max_auth_failures: 10}")
	c := a.dial(t, secured)
	var last time.Duration
	for i := range 6 {
		start := time.Now()
		if f := c.AuthPLAIN("alice", "wrong"); f.Local != "failure" {
			t.Fatalf("attempt %d: %s", i, f)
		}
		last = time.Since(start)
	}
	// Three free failures, then 250 ms, 500 ms, 1 s.
	if last < 900*time.Millisecond {
		t.Fatalf("sixth failure answered after %v, want back-off of about 1 s", last)
	}
	// A new connection from the same address is held back before its
	// first attempt is even processed; the right password still works.
	c2 := a.dial(t, secured)
	start := time.Now()
	if el := c2.AuthPLAIN("alice", "secret"); el.Local != "success" {
		t.Fatalf("right password after back-off: %s", el)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("new connection not held back (%v)", d)
	}
}

// TestTrafficShaping: a session over its read rate is paused, not
// buffered: its stanzas arrive at the configured rate.
func TestTrafficShaping(t *testing.T) {
	a := newArena(t, "c2s: {read_rate: 40960, read_burst: 16384, max_stanza_bytes: 16384, max_stanza_bytes_pre_auth: 10240}")
	c := a.dial(t, bound)
	body := strings.Repeat("z", 8000)
	start := time.Now()
	const n = 12 // ~96 KB: 16 KB of burst, then 80 KB at 40 KB/s ≈ 2 s
	go func() {
		for range n {
			c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			c.Conn.Write([]byte(`<message to='alice@localhost/attacker'><body>` + body + `</body></message>`))
		}
	}()
	for range n {
		c.Expect(stanza.NSClient, "message")
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("%d KB arrived in %v despite a 40 KB/s rate", n*8, d)
	}
	ping(t, a.bystander, "localhost")
}
