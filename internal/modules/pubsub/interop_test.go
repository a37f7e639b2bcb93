package pubsub_test

import (
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// TestSlixmppPubsubInterop: two slixmpp clients (Debian's python3-slixmpp,
// an independent implementation, with its xep_0060 and xep_0004 plugins)
// create and configure a node, subscribe, publish, receive the
// notifications, retrieve, retract, purge and delete
// (testdata/slixmpp_pubsub.py).
func TestSlixmppPubsubInterop(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	xmpptest.RunSlixmpp(t, s, "testdata/slixmpp_pubsub.py")
}
