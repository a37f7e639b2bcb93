package xmpptest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// DebianPython is Debian's interpreter, where python3-slixmpp installs.
const DebianPython = "/usr/bin/python3"

// RunSlixmpp runs the slixmpp script (a path relative to the calling
// test's package) against s as `script HOST PORT ARGS...`, with this package's
// testdata (the shared slixmpptest module) on PYTHONPATH and a 60 s bound,
// and fails the test with its output unless it exits 0.
func RunSlixmpp(t testing.TB, s *Server, script string, args ...string) {
	t.Helper()
	if err := exec.Command(DebianPython, "-c", "import slixmpp").Run(); err != nil {
		t.Fatalf("python3-slixmpp is required (apt-get install python3-slixmpp; scripts/test installs it): %v", err)
	}
	_, self, _, _ := runtime.Caller(0)
	host, port, _ := net.SplitHostPort(s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, DebianPython, append([]string{script, host, port}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(filepath.Dir(self), "testdata"))
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", script, out)
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
}
