package roster_test

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

// TestSlixmppInterop: two slixmpp clients (Debian's python3-slixmpp, an
// independent implementation) subscribe to each other, see each other's
// presence and roster items, exchange messages, and one receives a message
// sent while it was offline (testdata/slixmpp_im.py).
func TestSlixmppInterop(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import slixmpp").Run(); err != nil {
		t.Fatalf("python3-slixmpp is required (apt-get install python3-slixmpp; scripts/test installs it): %v", err)
	}
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	host, port, _ := net.SplitHostPort(s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, debianPython, "testdata/slixmpp_im.py", host, port).CombinedOutput()
	t.Logf("slixmpp:\n%s", out)
	if err != nil {
		t.Fatalf("slixmpp instant messaging failed: %v", err)
	}
}
