package register_test

import (
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/modules/register"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// secured returns a client on an encrypted stream, not authenticated.
func secured(t *testing.T, s *xmpptest.Server) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	return c
}

// registerIQ sends a registration set with query's content and returns
// the reply.
func registerIQ(c *xmpptest.Client, query string) *stanza.Element {
	c.Send(`<iq type='set' id='r' to='localhost'><query xmlns='jabber:iq:register'>` + query + `</query></iq>`)
	return c.Expect(stanza.NSClient, "iq")
}

func wantError(t *testing.T, what string, r *stanza.Element, cond stanza.Condition) {
	t.Helper()
	if e, ok := stanza.ErrorFromElement(r); r.Attr("type") != "error" || !ok || e.Condition != cond {
		t.Fatalf("%s: want %s, got %s", what, cond, r)
	}
}

// TestRegisterNewAccount covers the error cases of XEP-0077 §3.1 before
// authentication; none echoes the password.
func TestRegisterNewAccount(t *testing.T) {
	s := xmpptest.Start(t, "modules: {register: {allow_registration: true}}")
	s.AddUser(t, "alice", "secret")
	for _, tc := range []struct {
		name, query string
		want        stanza.Condition
	}{
		{"taken", `<username>alice</username><password>pw-taken</password>`, stanza.Conflict},
		{"taken, other case", `<username>ALICE</username><password>pw-taken</password>`, stanza.Conflict},
		{"no password", `<username>carol</username>`, stanza.NotAcceptable},
		{"empty password", `<username>carol</username><password/>`, stanza.NotAcceptable},
		{"no username", `<password>pw-nouser</password>`, stanza.NotAcceptable},
		{"empty username", `<username></username><password>pw-nouser</password>`, stanza.NotAcceptable},
		{"data form only", `<x xmlns='jabber:x:data' type='submit'/>`, stanza.NotAcceptable},
		{"invalid username", `<username>car ol@x</username><password>pw-badname</password>`, stanza.JIDMalformed},
		{"unusable password", "<username>carol</username><password>pw-\uFB01</password>", stanza.NotAcceptable},
		{"remove", `<remove/>`, stanza.UnexpectedRequest},
	} {
		c := secured(t, s)
		r := registerIQ(c, tc.query)
		wantError(t, tc.name, r, tc.want)
		if strings.Contains(r.String(), "pw-") || r.FirstChild().FirstChild() != nil {
			t.Fatalf("%s: the error echoes the request: %s", tc.name, r)
		}
	}
	// The failed attempts created nothing and used none of the quota.
	for _, u := range []string{"carol", "dave", "erin"} {
		c := secured(t, s)
		if r := registerIQ(c, `<username>`+u+`</username><password>secret</password>`); r.Attr("type") != "result" {
			t.Fatalf("register %s: %s", u, r)
		}
	}
	xmpptest.Login(t, s, "carol", "secret", "phone")
	if el := secured(t, s).AuthSCRAM("SCRAM-SHA-256", "alice", "pw-taken"); el.Local != "failure" {
		t.Fatalf("a conflicting registration changed alice's password: %s", el)
	}
}

// TestRegistrationRateLimit: over registrations_per_ip within the window,
// resource-constraint (type wait); the limiter itself is tested in
// limiter_test.go (other addresses cannot be had on loopback).
func TestRegistrationRateLimit(t *testing.T) {
	s := xmpptest.Start(t, "modules: {register: {allow_registration: true, registrations_per_ip: 2, registration_window: 1h}}")
	for _, u := range []string{"u1", "u2"} {
		if r := registerIQ(secured(t, s), `<username>`+u+`</username><password>secret</password>`); r.Attr("type") != "result" {
			t.Fatalf("register %s: %s", u, r)
		}
	}
	r := registerIQ(secured(t, s), `<username>u3</username><password>secret</password>`)
	wantError(t, "third registration", r, stanza.ResourceConstraint)
	if e, _ := stanza.ErrorFromElement(r); e.Type != stanza.Wait {
		t.Fatalf("want type wait: %s", r)
	}
	if el := secured(t, s).AuthSCRAM("SCRAM-SHA-256", "u3", "secret"); el.Local != "failure" {
		t.Fatalf("the refused account exists: %s", el)
	}
	// Getting the form is not limited.
	c := secured(t, s)
	c.Send(`<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>`)
	if r := c.Expect(stanza.NSClient, "iq"); r.Attr("type") != "result" {
		t.Fatalf("form after the limit: %s", r)
	}
}

// TestRegisteredAfterLogin: once authenticated, a get says registered, as
// before, whether or not registration is allowed.
func TestRegisteredAfterLogin(t *testing.T) {
	s := xmpptest.Start(t, "modules: {register: {allow_registration: true}}")
	s.AddUser(t, "alice", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	a.Send(`<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>`)
	r := a.Expect(stanza.NSClient, "iq")
	if q := r.FirstChild(); r.Attr("type") != "result" || q == nil || q.Child(register.NS, "registered") == nil {
		t.Fatalf("get after login: %s", r)
	}
}

func TestInfo(t *testing.T) {
	for _, x := range register.New().Info().XEPs {
		if x.Number == 77 && x.Status != "complete" {
			t.Fatalf("XEP-0077 status %q", x.Status)
		}
	}
}
