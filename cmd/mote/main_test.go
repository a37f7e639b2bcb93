package main_test

// End-to-end tests of the mote binary: the README's first command, account
// management while the server runs, check-config, and SIGTERM.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage/pgtest"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

var moteBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mote-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	moteBin = filepath.Join(dir, "mote")
	if out, err := exec.Command("go", "build", "-o", moteBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if err := pgtest.Stop(); err != nil { // the throwaway PostgreSQL of migrate_test.go
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func mote(t *testing.T, dir string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(moteBin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mote %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestServeUsersAndSIGTERM(t *testing.T) {
	dir := t.TempDir()
	addr, tlsAddr := freePort(t), freePort(t)
	cfg := fmt.Sprintf("c2s:\n  listen: %q\n  direct_tls_listen: %q\nlog:\n  level: info\n", addr, tlsAddr)
	adminAddr := freePort(t)
	cfg += fmt.Sprintf("admin: {listen: %q}\n", adminAddr)
	webAddr := freePort(t)
	cfg += fmt.Sprintf("http: {listen: %q, tls_listen: \"\"}\n", webAddr)
	if err := os.WriteFile(filepath.Join(dir, "mote.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mote(t, dir, "", "check-config", "-c", "mote.yaml"); !strings.Contains(out, "configuration OK") {
		t.Fatalf("check-config: %s", out)
	}

	srv, _ := serveMote(t, dir)
	// The self-signed certificate and database were created on first start.
	for _, f := range []string{"mote-data/cert.pem", "mote-data/key.pem", "mote-data/mote.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	// The admin API answers with the token generated into the data
	// directory (the README's curl command).
	token, err := os.ReadFile(filepath.Join(dir, "mote-data", "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+adminAddr+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"version"`) {
		t.Fatalf("admin stats: %d %s", resp.StatusCode, body)
	}

	// The HTTP listener serves WebSocket discovery (XEP-0156).
	resp, err = http.Get("http://" + webAddr + "/.well-known/host-meta.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ws://`+webAddr+`/xmpp-websocket"`) {
		t.Fatalf("host-meta.json: %d %s", resp.StatusCode, body)
	}

	// Accounts are managed while the server runs; the password comes on stdin.
	mote(t, dir, "s3cret\n", "user", "add", "Sensor1", "-c", "mote.yaml")
	mote(t, dir, "", "user", "add", "dashboard", "--password", "pw", "-c", "mote.yaml")
	if out := mote(t, dir, "", "user", "list", "-c", "mote.yaml"); out != "dashboard\nsensor1\n" {
		t.Fatalf("user list: %q", out)
	}
	cmd := exec.Command(moteBin, "user", "add", "sensor1", "--password", "x", "-c", "mote.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "already exists") {
		t.Fatalf("duplicate add: %v %s", err, out)
	}

	login := func(user, pw, res string) *xmpptest.Client {
		c := xmpptest.NewClient(t, xmpptest.DialTCP(t, addr), "localhost")
		c.OpenStream()
		c.StartTLS()
		if el := c.AuthSCRAM("SCRAM-SHA-256-PLUS", user, pw); el.Local != "success" {
			t.Fatalf("login %s: %s", user, el)
		}
		c.Restart()
		c.Bind(res)
		return c
	}
	sensor := login("sensor1", "s3cret", "dev")
	dash := login("dashboard", "pw", "web")
	sensor.Send(`<message to='dashboard@localhost/web'><body>21.5</body></message>`)
	if m := dash.Expect(stanza.NSClient, "message"); m.Attr("from") != "sensor1@localhost/dev" {
		t.Fatalf("got %s", m)
	}

	mote(t, dir, "n3w\n", "user", "passwd", "sensor1", "-c", "mote.yaml")
	c := xmpptest.NewClient(t, xmpptest.DialTCP(t, addr), "localhost")
	c.OpenStream()
	c.StartTLS()
	if el := c.AuthSCRAM("SCRAM-SHA-256", "sensor1", "s3cret"); el.Local != "failure" {
		t.Fatalf("old password still works: %s", el)
	}
	if el := c.AuthSCRAM("SCRAM-SHA-256", "sensor1", "n3w"); el.Local != "success" {
		t.Fatalf("new password refused: %s", el)
	}

	// SIGTERM: every session gets system-shutdown, exit within 10 s.
	start := time.Now()
	srv.Process.Signal(syscall.SIGTERM)
	sensor.ExpectStreamError(stanza.StreamSystemShutdown)
	dash.ExpectStreamError(stanza.StreamSystemShutdown)
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit within 10 s of SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))

	mote(t, dir, "", "user", "del", "sensor1", "-c", "mote.yaml")
	if out := mote(t, dir, "", "user", "list", "-c", "mote.yaml"); out != "dashboard\n" {
		t.Fatalf("after del: %q", out)
	}
}

func TestCheckConfigRejectsUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("c2s:\n  listn: ':5222'\n"), 0o600)
	cmd := exec.Command(moteBin, "check-config", "-c", "bad.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "listn") {
		t.Fatalf("check-config accepted an unknown key: %v %s", err, out)
	}
}

func TestVersion(t *testing.T) {
	if out := mote(t, t.TempDir(), "", "version"); !strings.HasPrefix(out, "mote ") {
		t.Fatalf("version: %q", out)
	}
}
