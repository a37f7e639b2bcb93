package c2s_test

import (
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// In-Band Registration before authentication (XEP-0077 §3.1.1, §5); the
// registration semantics are tested in modules/register.

const (
	nsIQRegister  = "jabber:iq:register"
	nsRegisterFtr = "http://jabber.org/features/iq-register"
	regEnabled    = "modules: {register: {allow_registration: true}}"
	regGet        = `<iq type='get' id='reg1' to='localhost'><query xmlns='jabber:iq:register'/></iq>`
)

func regSet(id, user, password string) string {
	return `<iq type='set' id='` + id + `'><query xmlns='jabber:iq:register'><username>` + user +
		`</username><password>` + password + `</password></query></iq>`
}

func offersRegister(features *stanza.Element) bool {
	return features.Child(nsRegisterFtr, "register") != nil
}

// TestRegistrationOffByDefault: no feature, and a registration request is
// a stanza before authentication like any other (RFC 6120 §4.9.3.12).
func TestRegistrationOffByDefault(t *testing.T) {
	s := xmpptest.Start(t, "")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	if f := c.StartTLS(); offersRegister(f) {
		t.Fatalf("registration offered while off: %s", f)
	}
	c.Send(regGet)
	c.ExpectStreamError(stanza.StreamNotAuthorized)

	d := xmpptest.DialTLS(t, s)
	if f := d.OpenStream(); offersRegister(f) {
		t.Fatalf("registration offered on direct TLS while off: %s", f)
	}
}

// TestRegistrationNeedsTLS: the feature is offered, and requests are
// answered, only once the stream is encrypted (XEP-0077 §9), even where
// plaintext authentication is allowed.
func TestRegistrationNeedsTLS(t *testing.T) {
	s := xmpptest.Start(t, regEnabled+"\nc2s: {require_tls: false}")
	c := xmpptest.Dial(t, s)
	f := c.OpenStream()
	if offersRegister(f) || f.Child(stanza.NSSASL, "mechanisms") == nil {
		t.Fatalf("plaintext features: %s", f)
	}
	c.Send(regSet("r", "mallory", "secret"))
	c.ExpectStreamError(stanza.StreamNotAuthorized)

	c = xmpptest.Dial(t, s)
	c.OpenStream()
	if f := c.StartTLS(); !offersRegister(f) {
		t.Fatalf("no registration after STARTTLS: %s", f)
	}
	d := xmpptest.DialTLS(t, s)
	if f := d.OpenStream(); !offersRegister(f) {
		t.Fatalf("no registration on direct TLS: %s", f)
	}
	d.Send(regGet)
	if r := d.Expect(stanza.NSClient, "iq"); r.Attr("type") != stanza.TypeResult {
		t.Fatalf("get on direct TLS: %s", r)
	}
}

// TestRegisterThenLogin: the bootstrap of XEP-0077 §3.1.1 on one stream:
// fields, registration, then SASL as the new account and bind.
func TestRegisterThenLogin(t *testing.T) {
	s := xmpptest.Start(t, regEnabled)
	c := xmpptest.Dial(t, s)
	if f := c.OpenStream(); offersRegister(f) {
		t.Fatalf("registration offered before STARTTLS: %s", f)
	}
	c.StartTLS()

	c.Send(regGet)
	r := c.Expect(stanza.NSClient, "iq")
	q := r.Child(nsIQRegister, "query")
	if r.Attr("type") != stanza.TypeResult || r.Attr("id") != "reg1" || r.Attr("to") != "" || q == nil ||
		q.Child(nsIQRegister, "username") == nil || q.Child(nsIQRegister, "password") == nil ||
		q.Child(nsIQRegister, "instructions") == nil || q.Child(nsIQRegister, "registered") != nil {
		t.Fatalf("form: %s", r)
	}

	// A claimed sender is ignored: the reply goes to nobody else.
	c.Send(`<iq type='set' id='reg2' from='someone@localhost/x'><query xmlns='jabber:iq:register'><username>Juliet</username><password>R0m30!</password></query></iq>`)
	if r := c.Expect(stanza.NSClient, "iq"); r.Attr("type") != stanza.TypeResult || r.Attr("id") != "reg2" || r.Attr("to") != "" {
		t.Fatalf("registration: %s", r)
	}
	// §3.1.1: one identity per stream.
	c.Send(regSet("reg3", "romeo", "secret"))
	r = c.Expect(stanza.NSClient, "iq")
	if e, ok := stanza.ErrorFromElement(r); r.Attr("type") != "error" || !ok || e.Condition != stanza.NotAcceptable {
		t.Fatalf("second registration on the stream: %s", r)
	}

	if el := c.AuthSCRAM("SCRAM-SHA-256", "juliet", "R0m30!"); el.Local != "success" {
		t.Fatalf("login as the new account: %s", el)
	}
	if f := c.Restart(); offersRegister(f) {
		t.Fatalf("registration offered after authentication: %s", f)
	}
	if res := c.Bind("balcony"); res.Attr("type") != stanza.TypeResult || c.JID != "juliet@localhost/balcony" {
		t.Fatalf("bind: %s", res)
	}
	ping(t, c, "localhost")
	xmpptest.Login(t, s, "juliet", "R0m30!", "phone")
}

// TestRegistrationOtherStanzas: only a get or set to the server whose
// single child is the query is registration; anything else before
// authentication still ends the stream.
func TestRegistrationOtherStanzas(t *testing.T) {
	s := xmpptest.Start(t, regEnabled)
	s.AddUser(t, "alice", "secret")
	for _, tc := range []struct{ name, send string }{
		{"to an account", `<iq type='get' id='1' to='alice@localhost'><query xmlns='jabber:iq:register'/></iq>`},
		{"to another domain", `<iq type='get' id='1' to='example.org'><query xmlns='jabber:iq:register'/></iq>`},
		{"two children", `<iq type='get' id='1'><query xmlns='jabber:iq:register'/><query xmlns='jabber:iq:register'/></iq>`},
		{"result", `<iq type='result' id='1'><query xmlns='jabber:iq:register'/></iq>`},
		{"other namespace", `<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>`},
		{"message", `<message to='alice@localhost'><body>hi</body></message>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := xmpptest.Dial(t, s)
			c.OpenStream()
			c.StartTLS()
			c.Send(tc.send)
			c.ExpectStreamError(stanza.StreamNotAuthorized)
		})
	}
	// The pre-authentication size limit still applies.
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	big := make([]byte, 20<<10)
	for i := range big {
		big[i] = 'x'
	}
	c.Send(regSet("big", "bob", string(big)))
	c.ExpectStreamError(stanza.StreamPolicyViolation)
}
