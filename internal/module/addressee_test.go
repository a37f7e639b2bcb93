package module_test

import (
	"testing"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/stanza"
)

func TestAddressee(t *testing.T) {
	for _, tc := range []struct {
		to, account string
		own         bool
	}{
		{"", "alice@example.com", true},
		{"alice@example.com", "alice@example.com", true},
		{"alice@example.com/other", "alice@example.com", true},
		{"bob@example.com", "bob@example.com", false},
		{"example.com", "example.com", false},
	} {
		iq := stanza.NewElement(stanza.NSClient, "iq", "from", "alice@example.com/phone")
		if tc.to != "" {
			iq.SetAttr("to", tc.to)
		}
		from, to, own := module.Addressee(iq)
		if from.String() != "alice@example.com/phone" || to.String() != tc.account || own != tc.own {
			t.Errorf("to %q: got %s %s %v", tc.to, from, to, own)
		}
		_, err := module.OwnAccount(iq, stanza.NotAllowed)
		if se, isErr := err.(stanza.Error); (err == nil) != tc.own || (err != nil && (!isErr || se.Condition != stanza.NotAllowed)) {
			t.Errorf("to %q: OwnAccount err = %v", tc.to, err)
		}
	}
}
