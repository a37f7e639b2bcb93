package c2s_test

import (
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// TestSlixmppInterop: two slixmpp clients (Debian's python3-slixmpp, an
// independent implementation) log in over STARTTLS and exchange messages.
func TestSlixmppInterop(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	xmpptest.RunSlixmpp(t, s, "testdata/slixmpp_chat.py")
}

// TestSlixmppStreamManagement: slixmpp's xep_0198 plugin enables
// resumable stream management, loses its TCP connection, resumes the
// session and receives what was sent meanwhile exactly once
// (testdata/slixmpp_sm.py).
func TestSlixmppStreamManagement(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	xmpptest.RunSlixmpp(t, s, "testdata/slixmpp_sm.py")
}
