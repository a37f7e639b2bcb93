package mam_test

import (
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// TestSlixmppMAMInterop: two slixmpp clients (Debian's python3-slixmpp,
// an independent implementation, with its xep_0313, xep_0359 and
// xep_0441 plugins) exchange messages; one retrieves its archive whole
// and paged both ways, checks the bodies and their order, the stanza-ids
// against the archive IDs, the metadata and its preferences
// (testdata/slixmpp_mam.py).
func TestSlixmppMAMInterop(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	xmpptest.RunSlixmpp(t, s, "testdata/slixmpp_mam.py")
}
