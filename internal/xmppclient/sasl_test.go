package xmppclient

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/stanza"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// unb64 decodes the payload of a SASL element the client sent.
func unb64(p *peer, el *stanza.Element) string {
	b, err := base64.StdEncoding.DecodeString(el.Text())
	if err != nil {
		p.t.Errorf("server: %s: %v", el, err)
	}
	return string(b)
}

// scramServer returns the server's side of a SCRAM conversation that knows
// user's password.
func scramServer(t *testing.T, hash scram.HashGeneratorFcn, user, password string) *scram.ServerConversation {
	t.Helper()
	cl, err := hash.NewClient(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	creds := cl.GetStoredCredentials(scram.KeyFactors{Salt: "QSXCR+Q6sek8bf92", Iters: 4096})
	srv, err := hash.NewServer(func(u string) (scram.StoredCredentials, error) {
		if u != user {
			return scram.StoredCredentials{}, errors.New("no such user")
		}
		return creds, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv.NewConversation()
}

// scramFirst takes the client's <auth/> and answers with the
// server-first message; it returns the client-final message.
func scramFirst(p *peer, conv *scram.ServerConversation, mech string) string {
	auth := p.expect(stanza.NSSASL, "auth")
	if got := auth.Attr("mechanism"); !p.dead && got != mech {
		p.t.Errorf("server: mechanism %q, want %q", got, mech)
	}
	first, err := conv.Step(unb64(p, auth))
	if err != nil {
		p.t.Errorf("server: client-first: %v", err)
	}
	p.send(`<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + b64(first) + `</challenge>`)
	return unb64(p, p.expect(stanza.NSSASL, "response"))
}

// TestSCRAM runs the client's side of SCRAM (RFC 5802, RFC 6120 §6.4)
// against the server's, which ends it in the ways RFC 6120 allows and in
// ways a client must refuse.
func TestSCRAM(t *testing.T) {
	const user, password = "user1", "pencil"
	success := func(final string) string {
		return `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + b64(final) + `</success>`
	}
	tests := []struct {
		name    string
		mech    string
		offered []string
		// server takes over after the client's response to the first
		// challenge: final is the server-final message, or "" when the
		// client's proof was wrong.
		server  func(p *peer, final string)
		wantErr string // "" for success
	}{
		{"final with success", MechSCRAMSHA256, []string{MechSCRAMSHA256}, func(p *peer, final string) {
			p.send(success(final))
		}, ""},
		{"SHA-1", MechSCRAMSHA1, []string{MechPLAIN, MechSCRAMSHA1}, func(p *peer, final string) {
			p.send(success(final))
		}, ""},
		{"final in a challenge", MechSCRAMSHA256, []string{MechSCRAMSHA256}, func(p *peer, final string) {
			p.send(`<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + b64(final) + `</challenge>`)
			if resp := p.expect(stanza.NSSASL, "response"); resp.Text() != "" {
				p.t.Errorf("server: response to the final challenge %q, want empty", resp.Text())
			}
			p.send(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
		}, ""},
		{"success without proof", MechSCRAMSHA256, []string{MechSCRAMSHA256}, func(p *peer, _ string) {
			p.send(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
		}, "scram: the server did not prove it knows the password"},
		{"forged proof", MechSCRAMSHA256, []string{MechSCRAMSHA256}, func(p *peer, _ string) {
			p.send(success("v=" + b64(strings.Repeat("x", 32))))
		}, "scram: server validation failed"},
		{"bad base64", MechSCRAMSHA256, []string{MechSCRAMSHA256}, func(p *peer, _ string) {
			p.send(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>!!</success>`)
		}, "bad base64 from the server: illegal base64 data at input byte 0"},
		{"failure", MechSCRAMSHA256, []string{MechSCRAMSHA256}, func(p *peer, _ string) {
			p.send(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text xml:lang='en'>wrong</text></failure>`)
		}, "not-authorized: wrong"},
		{"not offered", MechSCRAMSHA256, []string{MechSCRAMSHA1}, nil, "the server does not offer SCRAM-SHA-256"},
		{"not SCRAM", MechPLAIN, []string{MechPLAIN}, nil, `xmppclient: "PLAIN" is not a SCRAM mechanism`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash := scram.SHA256
			if tt.mech == MechSCRAMSHA1 {
				hash = scram.SHA1
			}
			conv := scramServer(t, hash, user, password)
			c := inStream(t, func(p *peer) {
				if tt.server == nil {
					return
				}
				final, err := conv.Step(scramFirst(p, conv, tt.mech))
				if err != nil {
					p.t.Errorf("server: client-final: %v", err)
				}
				tt.server(p, final)
			})
			err := SCRAM{Mech: tt.mech, Password: password}.Authenticate(c, tt.offered, user)
			if got := errText(err); got != tt.wantErr {
				t.Errorf("%d: error %q, want %q", i, got, tt.wantErr)
			}
		})
	}
}

// TestSCRAMWrongPassword: the server refuses the client's proof.
func TestSCRAMWrongPassword(t *testing.T) {
	conv := scramServer(t, scram.SHA256, "user1", "pencil")
	c := inStream(t, func(p *peer) {
		if _, err := conv.Step(scramFirst(p, conv, MechSCRAMSHA256)); err == nil {
			p.t.Errorf("server: a wrong password was accepted")
		}
		p.send(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>`)
	})
	err := SCRAM{Mech: MechSCRAMSHA256, Password: "pen"}.Authenticate(c, []string{MechSCRAMSHA256}, "user1")
	var f *Failure
	if !errors.As(err, &f) || f.Condition != "not-authorized" || f.Text != "" || err.Error() != "not-authorized" {
		t.Errorf("error %v (%#v), want the failure not-authorized", err, f)
	}
}

// TestOneMessage checks the mechanisms of one message: PLAIN's of RFC
// 4616 (an empty authorization identity, the user and the password), and
// EXTERNAL's empty authorization identity ("=", XEP-0178 §3) and its abort
// of a challenge, which it does not have.
func TestOneMessage(t *testing.T) {
	plain := b64("\x00user1\x00pen<cil>")
	tests := []struct {
		name     string
		sasl     Authenticator
		offered  []string
		wantAuth string // the <auth/> text, "" when the client must send none
		reply    string
		wantErr  string
	}{
		{"PLAIN", Plain{Password: "pen<cil>"}, []string{MechSCRAMSHA1, MechPLAIN}, plain,
			`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, ""},
		{"PLAIN refused", Plain{Password: "pen<cil>"}, []string{MechPLAIN}, plain,
			`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>`, "not-authorized"},
		{"no condition", Plain{Password: "pen<cil>"}, []string{MechPLAIN}, plain,
			`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, "failure"},
		{"something else", Plain{Password: "pen<cil>"}, []string{MechPLAIN}, plain,
			`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`, "unexpected <proceed/>"},
		{"PLAIN not offered", Plain{}, []string{MechSCRAMSHA1}, "", "", "the server does not offer PLAIN"},
		{"EXTERNAL", External{}, []string{MechEXTERNAL}, "=", `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, ""},
		{"EXTERNAL challenged", External{}, []string{MechEXTERNAL}, "=",
			`<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</challenge>`, "unexpected challenge"},
		{"EXTERNAL refused", External{}, []string{MechEXTERNAL}, "=",
			`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><text>no</text><not-authorized/></failure>`, "not-authorized: no"},
		{"EXTERNAL not offered", External{}, []string{MechPLAIN, MechSCRAMSHA1}, "", "",
			"the server does not offer EXTERNAL (offered: PLAIN SCRAM-SHA-1); did the TLS handshake present the certificate?"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := inStream(t, func(p *peer) {
				if tt.wantAuth == "" {
					return
				}
				if auth := p.expect(stanza.NSSASL, "auth"); auth.Text() != tt.wantAuth {
					p.t.Errorf("server: got %s, want the text %q", auth, tt.wantAuth)
				}
				p.send(tt.reply)
				if strings.HasPrefix(tt.reply, "<challenge") {
					p.expect(stanza.NSSASL, "abort")
				}
			})
			err := tt.sasl.Authenticate(c, tt.offered, "user1")
			if got := errText(err); got != tt.wantErr {
				t.Errorf("%d: error %q, want %q", i, got, tt.wantErr)
			}
		})
	}
}

func TestMechanisms(t *testing.T) {
	for i, tt := range []struct {
		features string
		want     []string
	}{
		{`<features/>`, nil},
		{`<features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism> SCRAM-SHA-1 </mechanism>` +
			`<mechanism>PLAIN</mechanism><other/></mechanisms></features>`, []string{MechSCRAMSHA1, MechPLAIN}},
	} {
		got := Mechanisms(parse(t, tt.features))
		if strings.Join(got, ",") != strings.Join(tt.want, ",") || len(got) != len(tt.want) {
			t.Errorf("%d: %q, want %q", i, got, tt.want)
		}
	}
}
