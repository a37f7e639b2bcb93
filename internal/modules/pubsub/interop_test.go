package pubsub_test

import (
	"context"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// debianPython is Debian's interpreter, where python3-slixmpp installs.
const debianPython = "/usr/bin/python3"

// TestSlixmppPubsubInterop: two slixmpp clients (Debian's python3-slixmpp,
// an independent implementation, with its xep_0060 and xep_0004 plugins)
// create and configure a node, subscribe, publish, receive the
// notifications, retrieve, retract, purge and delete
// (testdata/slixmpp_pubsub.py).
func TestSlixmppPubsubInterop(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import slixmpp").Run(); err != nil {
		t.Fatalf("python3-slixmpp is required (apt-get install python3-slixmpp; scripts/test installs it): %v", err)
	}
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	host, port, _ := net.SplitHostPort(s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, debianPython, "testdata/slixmpp_pubsub.py", host, port).CombinedOutput()
	t.Logf("slixmpp:\n%s", out)
	if err != nil {
		t.Fatalf("slixmpp publish-subscribe failed: %v", err)
	}
}
