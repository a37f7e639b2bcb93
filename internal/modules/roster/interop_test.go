package roster_test

import (
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// TestSlixmppInterop: two slixmpp clients (Debian's python3-slixmpp, an
// independent implementation) subscribe to each other, see each other's
// presence and roster items, exchange messages, and one receives a message
// sent while it was offline (testdata/slixmpp_im.py).
func TestSlixmppInterop(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	xmpptest.RunSlixmpp(t, s, "testdata/slixmpp_im.py")
}
