package c2s

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// parseStanza parses one element in the jabber:client namespace.
func parseStanza(t *testing.T, xml string) *stanza.Element {
	t.Helper()
	d := xmlstream.NewDecoder(strings.NewReader(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`+xml), xmlstream.DefaultLimits)
	if ev, err := d.Next(); err != nil || ev.Kind != xmlstream.StreamStart {
		t.Fatalf("stream header: %v", err)
	}
	ev, err := d.Next()
	if err != nil {
		t.Fatalf("%s: %v", xml, err)
	}
	return ev.Elem
}

// TestCSIKeyOf: what an inactive session may hold, and what supersedes it
// (XEP-0352 §3.2).
func TestCSIKeyOf(t *testing.T) {
	const ev = `<event xmlns='http://jabber.org/protocol/pubsub#event'>`
	tests := []struct {
		xml  string
		want csiKey // zero: urgent
	}{
		// Presence updates, per sender; unavailable replaces available.
		{`<presence from='a@x/r'/>`, csiKey{heldPresence, "a@x/r", ""}},
		{`<presence from='a@x/r'><show>away</show><status>zzz</status></presence>`, csiKey{heldPresence, "a@x/r", ""}},
		{`<presence from='a@x/r' type='unavailable'/>`, csiKey{heldPresence, "a@x/r", ""}},
		// RFC 6121 §3: subscription states must not be lost; errors and
		// probes are never held either.
		{`<presence from='a@x' type='subscribe'/>`, csiKey{}},
		{`<presence from='a@x' type='subscribed'/>`, csiKey{}},
		{`<presence from='a@x' type='unsubscribe'/>`, csiKey{}},
		{`<presence from='a@x' type='unsubscribed'/>`, csiKey{}},
		{`<presence from='a@x' type='probe'/>`, csiKey{}},
		{`<presence from='a@x' type='error'/>`, csiKey{}},
		// Pubsub notifications, per sender and node.
		{`<message from='ps.x'>` + ev + `<items node='n'><item id='1'/></items></event></message>`, csiKey{heldPubSub, "ps.x", "n"}},
		{`<message from='ps.x' type='headline'>` + ev + `<items node='n'><retract id='1'/></items></event><delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/></message>`, csiKey{heldPubSub, "ps.x", "n"}},
		{`<message from='ps.x'>` + ev + `<purge node='n'/></event></message>`, csiKey{heldPubSub, "ps.x", "n"}},
		{`<message from='ps.x'>` + ev + `<delete node='n'/></event></message>`, csiKey{heldPubSub, "ps.x", "n"}},
		{`<message from='ps.x'>` + ev + `<configuration node='n'/></event></message>`, csiKey{}},
		{`<message from='ps.x'>` + ev + `<subscription node='n' jid='b@x' subscription='none'/></event></message>`, csiKey{}},
		{`<message from='ps.x'>` + ev + `<items/></event></message>`, csiKey{}},
		{`<message from='ps.x'>` + ev + `<items node='n'/></event><body>hi</body></message>`, csiKey{}},
		// Chat states alone, per sender.
		{`<message from='a@x/r' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`, csiKey{heldChatState, "a@x/r", ""}},
		{`<message from='a@x/r' type='chat'><paused xmlns='http://jabber.org/protocol/chatstates'/><thread>t</thread><no-store xmlns='urn:xmpp:hints'/><origin-id xmlns='urn:xmpp:sid:0' id='1'/></message>`, csiKey{heldChatState, "a@x/r", ""}},
		{`<message from='a@x/r' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/><body>hi</body></message>`, csiKey{}},
		{`<message from='a@x/r' type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/><received xmlns='urn:xmpp:receipts' id='m1'/></message>`, csiKey{}},
		{`<message from='a@x/r' type='error'><composing xmlns='http://jabber.org/protocol/chatstates'/><error type='cancel'/></message>`, csiKey{}},
		// Everything else is urgent.
		{`<message from='a@x/r'><body>hi</body></message>`, csiKey{}},
		{`<message from='a@x/r'><subject>s</subject></message>`, csiKey{}},
		{`<message from='a@x/r'><thread>t</thread></message>`, csiKey{}},
		{`<message from='a@x'><received xmlns='urn:xmpp:carbons:2'/></message>`, csiKey{}},
		{`<iq from='x' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`, csiKey{}},
		{`<iq from='x' type='result' id='1'/>`, csiKey{}},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, ok := csiKeyOf(parseStanza(t, tc.xml))
			if ok != (tc.want != csiKey{}) || got != tc.want {
				t.Errorf("%s: got %v %v, want %v", tc.xml, got, ok, tc.want)
			}
		})
	}
}

// TestHeldSet: one stanza per key, the latest, in the order the keys were
// first held; nothing beyond the bounds.
func TestHeldSet(t *testing.T) {
	el := func(id string) *stanza.Element { return stanza.NewElement(stanza.NSClient, "presence", "id", id) }
	ids := func(es []heldEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.el.Attr("id"))
		}
		return out
	}
	key := func(from string) csiKey { return csiKey{kind: heldPresence, from: from} }
	size := el("a1").Size()

	var h heldSet
	for _, s := range []struct{ from, id string }{{"a", "a1"}, {"b", "b1"}, {"a", "a2"}, {"c", "c1"}, {"a", "a3"}} {
		if !h.hold(key(s.from), el(s.id), 3, 3*size) {
			t.Fatalf("%s refused", s.id)
		}
	}
	if h.hold(key("d"), el("d1"), 3, 100*size) {
		t.Fatal("a fourth key was held")
	}
	if h.bytes != 3*size {
		t.Fatalf("bytes %d, want %d", h.bytes, 3*size)
	}
	if got := ids(h.take()); !slices.Equal(got, []string{"a3", "b1", "c1"}) {
		t.Fatalf("took %q", got)
	}
	if h.entries != nil || h.index != nil || h.bytes != 0 {
		t.Fatalf("not empty after take: %+v", h)
	}

	// The byte bound, for new keys and for a replacement that grows.
	if !h.hold(key("a"), el("a1"), 10, 2*size) || !h.hold(key("b"), el("b1"), 10, 2*size) {
		t.Fatal("refused within the bounds")
	}
	if h.hold(key("c"), el("c1"), 10, 2*size) {
		t.Fatal("held beyond the byte bound")
	}
	big := el("a2")
	big.AppendText(strings.Repeat("x", 100))
	if h.hold(key("a"), big, 10, 2*size) {
		t.Fatal("a replacement beyond the byte bound was held")
	}
	if got := ids(h.take()); !slices.Equal(got, []string{"a1", "b1"}) {
		t.Fatalf("took %q", got)
	}
}
