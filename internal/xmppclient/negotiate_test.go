package xmppclient

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// Stream features the scripted server offers.
const (
	featuresTLS  = `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`
	featuresBind = `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`
)

func featuresSASL(mechs ...string) string {
	s := `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>`
	for _, m := range mechs {
		s += `<mechanism>` + m + `</mechanism>`
	}
	return s + `</mechanisms></stream:features>`
}

// checkHeader checks the client's stream header: to the domain, from
// from ("" for none).
func checkHeader(p *peer, h *stanza.Element, from string) {
	if p.dead {
		return
	}
	if h.Attr("to") != "localhost" || h.Attr("from") != from || h.Attr("version") != "1.0" {
		p.t.Errorf("server: header to=%q from=%q version=%q; want to localhost, from %q", h.Attr("to"), h.Attr("from"), h.Attr("version"), from)
	}
}

// bindReply answers the client's bind request.
func bindReply(p *peer) {
	iq := p.expect(stanza.NSClient, "iq")
	p.send(`<iq type='result' id='` + iq.Attr("id") + `'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>dev1@localhost/sim</jid></bind></iq>`)
}

// TestNegotiate runs whole logins as wire transcripts: plain TCP with
// PLAIN, STARTTLS with SCRAM (RFC 6120 §5, §6), and direct TLS (XEP-0368)
// with EXTERNAL (XEP-0178), each followed by binding (§7). Once the
// stream is secured, its header names the client (§4.7.1).
func TestNegotiate(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	tests := []struct {
		name   string
		login  Login
		script func(p *peer)
	}{
		{"plain TCP, PLAIN", Login{Domain: "localhost", From: "dev1@localhost", User: "dev1", SASL: Plain{Password: "pw"}}, func(p *peer) {
			checkHeader(p, p.header(), "") // never secured: no from
			p.send(featuresSASL(MechSCRAMSHA1, MechPLAIN))
			if auth := p.expect(stanza.NSSASL, "auth"); unb64(p, auth) != "\x00dev1\x00pw" {
				p.t.Errorf("server: PLAIN %q", unb64(p, auth))
			}
			p.send(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
			checkHeader(p, p.restart(), "")
			p.send(featuresBind)
			bindReply(p)
		}},
		{"STARTTLS, SCRAM-SHA-256", Login{Domain: "localhost", From: "dev1@localhost", TLS: clientTLS, User: "dev1",
			SASL: SCRAM{Mech: MechSCRAMSHA256, Password: "pw"}}, func(p *peer) {
			checkHeader(p, p.header(), "")
			p.send(featuresTLS)
			p.expect(stanza.NSTLS, "starttls")
			p.send(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
			p.startTLS(serverTLS)
			checkHeader(p, p.header(), "dev1@localhost")
			p.send(featuresSASL(MechSCRAMSHA256))
			conv := scramServer(p.t, scram.SHA256, "dev1", "pw")
			final, err := conv.Step(scramFirst(p, conv, MechSCRAMSHA256))
			if err != nil {
				p.t.Errorf("server: client-final: %v", err)
			}
			p.send(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + b64(final) + `</success>`)
			checkHeader(p, p.restart(), "dev1@localhost")
			p.send(featuresBind)
			bindReply(p)
		}},
		{"direct TLS, EXTERNAL", Login{Domain: "localhost", From: "dev1@localhost", TLS: clientTLS, DirectTLS: true,
			SASL: External{}}, func(p *peer) {
			p.startTLS(serverTLS)
			checkHeader(p, p.header(), "dev1@localhost")
			p.send(featuresSASL(MechEXTERNAL))
			p.expect(stanza.NSSASL, "auth")
			p.send(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
			checkHeader(p, p.restart(), "dev1@localhost")
			p.send(featuresBind)
			bindReply(p)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := serve(t, tt.script)
			c := &Conn{Raw: nc, NC: nc}
			err := tt.login.Negotiate(t.Context(), c, func(features *stanza.Element) error {
				return c.Bind(features, "sim")
			})
			if err != nil || c.JID != "dev1@localhost/sim" {
				t.Fatalf("%d: %v, JID %q", i, err, c.JID)
			}
			if _, secured := c.NC.(*tls.Conn); secured != (tt.login.TLS != nil) {
				t.Errorf("%d: NC is %T", i, c.NC)
			}
		})
	}
}

// TestNegotiateFails checks the errors of a login, each naming its step.
func TestNegotiateFails(t *testing.T) {
	errEstablish := errors.New("establish failed")
	_, clientTLS := testTLS(t)
	tests := []struct {
		name    string
		tls     bool
		script  func(p *peer)
		wantErr string
		want    error // with errors.Is, when not nil
	}{
		{"STARTTLS not offered", true, func(p *peer) {
			p.header()
			p.send(featuresSASL(MechPLAIN))
		}, "starttls: not offered", nil},
		{"STARTTLS refused", true, func(p *peer) {
			p.header()
			p.send(featuresTLS)
			p.expect(stanza.NSTLS, "starttls")
			p.send(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
		}, "starttls: got <failure/>", nil},
		{"stream error", false, func(p *peer) {
			p.header()
			p.send(`<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`)
		}, "stream: stream error host-unknown", nil},
		{"no features", false, func(p *peer) {
			p.header()
			p.send(`<message/>`)
		}, "stream: want stream features, got <message/>", nil},
		{"stream closed", false, func(p *peer) {
			p.header()
			p.send(`</stream:stream>`)
		}, "stream: ", ErrStreamEnd},
		{"SASL failure", false, func(p *peer) {
			p.header()
			p.send(featuresSASL(MechPLAIN))
			p.expect(stanza.NSSASL, "auth")
			p.send(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>`)
		}, "sasl: not-authorized", nil},
		{"establish", false, func(p *peer) {
			p.header()
			p.send(featuresSASL(MechPLAIN))
			p.expect(stanza.NSSASL, "auth")
			p.send(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
			p.restart()
			p.send(featuresBind)
		}, "establish failed", errEstablish},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := serve(t, tt.script)
			c := &Conn{Raw: nc, NC: nc}
			l := Login{Domain: "localhost", User: "user1", SASL: Plain{Password: "pw"}}
			if tt.tls {
				l.TLS = clientTLS
			}
			err := l.Negotiate(t.Context(), c, func(*stanza.Element) error { return errEstablish })
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%d: error %v, want %q", i, err, tt.wantErr)
			}
		})
	}
}

// TestNegotiateCancelled: a login whose context has ended stops at once,
// however silent the server.
func TestNegotiateCancelled(t *testing.T) {
	nc := serve(t, func(p *peer) { p.next() }) // takes the header, says nothing
	c := &Conn{Raw: nc, NC: nc}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	l := Login{Domain: "localhost", User: "user1", SASL: Plain{Password: "pw"}}
	err := l.Negotiate(ctx, c, func(*stanza.Element) error { return nil })
	if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want the login interrupted", err)
	}
}

// TestNegotiateMote logs in to an in-process mote with every mechanism,
// over STARTTLS and direct TLS.
func TestNegotiateMote(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "user1", "pencil")
	tests := []struct {
		direct  bool
		sasl    Authenticator
		wantErr string
	}{
		{false, SCRAM{Mech: MechSCRAMSHA1, Password: "pencil"}, ""},
		{false, SCRAM{Mech: MechSCRAMSHA256, Password: "pencil"}, ""},
		{false, Plain{Password: "pencil"}, ""},
		{true, SCRAM{Mech: MechSCRAMSHA256, Password: "pencil"}, ""},
		{true, Plain{Password: "pencil"}, ""},
		{false, SCRAM{Mech: MechSCRAMSHA256, Password: "pen"}, "sasl: not-authorized"},
	}
	for i, tt := range tests {
		addr := s.Addr
		cfg := &tls.Config{ServerName: s.Domain(), InsecureSkipVerify: true}
		if tt.direct {
			addr = s.TLSAddr
			cfg.NextProtos = []string{"xmpp-client"}
		}
		nc := xmpptest.DialTCP(t, addr)
		c := &Conn{Raw: nc, NC: nc}
		l := Login{Domain: s.Domain(), TLS: cfg, DirectTLS: tt.direct, User: "user1", SASL: tt.sasl, Timeout: xmpptest.Timeout}
		err := l.Negotiate(t.Context(), c, func(features *stanza.Element) error { return c.Bind(features, "") })
		switch {
		case tt.wantErr == "" && (err != nil || !strings.HasPrefix(c.JID, "user1@"+s.Domain()+"/")):
			t.Errorf("%d: %T direct %v: %v, JID %q", i, tt.sasl, tt.direct, err, c.JID)
		case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
			t.Errorf("%d: %T direct %v: error %v, want %q", i, tt.sasl, tt.direct, err, tt.wantErr)
		}
		nc.Close()
	}
}
