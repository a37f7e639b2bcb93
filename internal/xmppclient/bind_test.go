package xmppclient

import (
	"errors"
	"testing"

	"github.com/mote-xmpp/mote/stanza"
)

// TestBind runs resource binding (RFC 6120 §7) against scripted replies.
func TestBind(t *testing.T) {
	const bindFeature = `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`
	tests := []struct {
		name     string
		features string
		resource string
		reply    string // "" when nothing is to be sent
		wantJID  string
		wantErr  string
	}{
		{"chosen by the server", bindFeature, "",
			`<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid> user1@localhost/x1 </jid></bind></iq>`,
			"user1@localhost/x1", ""},
		{"escaped", bindFeature, "a<b&c",
			`<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>user1@localhost/a&lt;b&amp;c</jid></bind></iq>`,
			"user1@localhost/a<b&c", ""},
		{"refused", bindFeature, "sim",
			`<iq type='error' id='bind1'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
			"", "bind: stanza error: not-allowed"},
		{"no JID", bindFeature, "sim", `<iq type='result' id='bind1'/>`, "", "bind: no JID in the result"},
		{"not offered", `<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>`, "sim", "", "", "bind: not offered"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := inStream(t, func(p *peer) {
				if tt.reply == "" {
					return
				}
				iq := p.expect(stanza.NSClient, "iq")
				b := iq.Child(stanza.NSBind, "bind")
				if iq.Attr("type") != stanza.TypeSet || iq.Attr("id") != "bind1" || b == nil {
					p.t.Errorf("server: got %s", iq)
					return
				}
				r := b.Child(stanza.NSBind, "resource")
				if tt.resource == "" && r != nil || tt.resource != "" && (r == nil || r.Text() != tt.resource) {
					p.t.Errorf("server: resource in %s, want %q", iq, tt.resource)
				}
				p.send(`<presence from='user2@localhost/r'/>` + tt.reply)
			})
			err := c.Bind(parse(t, tt.features), tt.resource)
			if got := errText(err); got != tt.wantErr {
				t.Errorf("%d: error %q, want %q", i, got, tt.wantErr)
			}
			if c.JID != tt.wantJID {
				t.Errorf("%d: JID %q, want %q", i, c.JID, tt.wantJID)
			}
		})
	}
}

// TestBindErrorIsTyped: an error reply is a stanza.Error to inspect.
func TestBindErrorIsTyped(t *testing.T) {
	c := inStream(t, func(p *peer) {
		p.expect(stanza.NSClient, "iq")
		p.send(`<iq type='error' id='bind1'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
	})
	err := c.Bind(parse(t, `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`), "r")
	var se stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.Conflict {
		t.Errorf("error %v, want a stanza.Error with conflict", err)
	}
}
