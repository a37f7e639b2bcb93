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

// TestSlixmppPEPInterop: slixmpp clients with its xep_0115, xep_0163 and
// xep_0118 plugins publish a User Tune to their PEP service and receive
// it, filtered by the +notify features of slixmpp's own caps hash, and a
// resource logging in later receives the last tune
// (testdata/slixmpp_pep.py).
func TestSlixmppPEPInterop(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "juliet", "secret")
	s.AddUser(t, "romeo", "secret")
	befriend(t, s, "juliet", "romeo")
	xmpptest.RunSlixmpp(t, s, "testdata/slixmpp_pep.py")
}
