package websocket_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// xmppjsDir holds the Node project of the xmpp.js test: package.json pins
// @xmpp/client and package-lock.json the rest; `npm ci` installs it
// (scripts/test does).
const xmppjsDir = "testdata/xmppjs"

// nodeCommand returns the node command line for script, failing the test
// with what to install when node or the project's modules are missing.
func nodeCommand(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the xmpp.js test (apt-get install nodejs npm; scripts/test installs it): %v", err)
	}
	if _, err := os.Stat(filepath.Join(xmppjsDir, "node_modules", "@xmpp", "client")); err != nil {
		t.Fatalf("@xmpp/client is not installed: run `npm ci` in internal/websocket/%s (scripts/test does): %v", xmppjsDir, err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	var flags []string
	var major, minor int
	fmt.Sscanf(strings.TrimSpace(string(out)), "v%d.%d", &major, &minor)
	switch {
	case major < 20 || major == 20 && minor < 10:
		t.Fatalf("@xmpp/client 0.14 needs node >= 20.10, found %s (Debian 12's nodejs is 18: use Debian 13's, or NodeSource's)", bytes.TrimSpace(out))
	case major < 22:
		// The global WebSocket (which @xmpp/websocket uses) is experimental
		// before node 22.
		flags = append(flags, "--experimental-websocket")
	}
	cmd := exec.CommandContext(ctx, node, append(flags, args...)...)
	cmd.Dir = xmppjsDir
	return cmd
}

// syncBuffer is a bytes.Buffer the test may read while the process
// writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestXmppJS: xmpp.js (@xmpp/client from npm, the library web
// applications use) connects over WebSocket (ws:// and wss://), logs in
// with SCRAM, binds, enables stream management, exchanges a message with a
// TCP client and closes the stream (testdata/xmppjs/chat.mjs).
func TestXmppJS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secure bool
		config string
	}{
		// On ws:// nothing is encrypted: authentication needs require_tls off.
		{"ws", false, "c2s: {require_tls: false}"},
		{"wss", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := xmpptest.Start(t, tc.config)
			s.AddUser(t, "alice", "secret")
			s.AddUser(t, "bob", "secret")
			bob := xmpptest.Login(t, s, "bob", "secret", "tcp")

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := nodeCommand(t, ctx, "chat.mjs", s.WSURL(tc.secure), s.Domain(), "alice", "secret", bob.JID)
			// The server's certificate is self-signed.
			cmd.Env = append(os.Environ(), "NODE_TLS_REJECT_UNAUTHORIZED=0", "NODE_NO_WARNINGS=1")
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() {
				t.Logf("chat.mjs:\n%s", out.String())
			}()

			m := bob.Expect(stanza.NSClient, "message")
			if m.Attr("from") != "alice@localhost/xmppjs" || m.Child(stanza.NSClient, "body").Text() != "hello from xmpp.js" {
				t.Fatalf("bob got %s", m)
			}
			bob.Send(`<message to='alice@localhost/xmppjs' type='chat' id='tcp1'><body>hello from tcp</body></message>`)
			if err := <-done; err != nil {
				t.Fatalf("chat.mjs failed: %v", err)
			}
			if !strings.Contains(out.String(), "closed") {
				t.Fatalf("chat.mjs did not close its stream")
			}
			alice, _ := jid.Parse("alice@localhost")
			xmpptest.WaitFor(t, "alice's session to end", 5*time.Second, func() bool {
				return len(s.Sessions().Resources(alice)) == 0
			})
		})
	}
}
