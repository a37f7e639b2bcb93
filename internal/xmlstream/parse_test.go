package xmlstream

import (
	"bytes"
	"testing"

	"github.com/mote-xmpp/mote/stanza"
)

func TestParseStanza(t *testing.T) {
	in := stanza.NewElement(stanza.NSClient, "presence", "type", "subscribe", "from", "a@example.com", "to", "b@example.com").
		Append(stanza.NewElement(stanza.NSClient, "status").AppendText("let me <in> & see"),
			stanza.NewElement("http://jabber.org/protocol/nick", "nick").AppendText("A"))
	b := in.AppendXML(nil, stanza.NSClient)
	got, err := ParseStanza(b)
	if err != nil {
		t.Fatalf("ParseStanza(%s): %v", b, err)
	}
	if out := got.AppendXML(nil, stanza.NSClient); !bytes.Equal(out, b) {
		t.Fatalf("round trip:\n got %s\nwant %s", out, b)
	}
	for _, bad := range []string{"", "<presence", "<presence/><message/>", "text", "<a:b/>"} {
		if _, err := ParseStanza([]byte(bad)); err == nil {
			t.Errorf("ParseStanza(%q) succeeded", bad)
		}
	}
}
