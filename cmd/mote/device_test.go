package main_test

import (
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// startFleetServer starts `mote serve` in a new directory with the
// admin API on a free port and returns the directory and the c2s address.
// c2s adds settings to the c2s section (YAML flow mapping entries, such
// as "resume_timeout: 2s").
func startFleetServer(t *testing.T, c2s string) (dir, addr string, srv *exec.Cmd) {
	t.Helper()
	dir = t.TempDir()
	addr = freePort(t)
	if c2s != "" {
		c2s = ", " + c2s
	}
	cfg := fmt.Sprintf("c2s: {listen: %q, direct_tls_listen: \"\"%s}\nadmin: {listen: %q}\nhttp: {listen: \"\", tls_listen: \"\"}\n",
		addr, c2s, freePort(t))
	if err := os.WriteFile(filepath.Join(dir, "mote.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, _ = serveMote(t, dir)
	return dir, addr, srv
}

// mustPair loads a key and certificate bundle.
func mustPair(t *testing.T, bundle []byte) tls.Certificate {
	t.Helper()
	cert, err := tls.X509KeyPair(bundle, bundle)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestDeviceCommands: `mote device enrol` provisions a CSV of devices
// through the running server with a progress bar and writes their
// bundles; each logs in with its certificate; list, revoke, reissue and
// remove work.
func TestDeviceCommands(t *testing.T) {
	dir, addr, _ := startFleetServer(t, "")
	var csv strings.Builder
	csv.WriteString("name,group\n")
	for i := range 5 {
		fmt.Fprintf(&csv, "monitor-%d,ward1\n", i)
	}
	csv.WriteString("# a comment\ntruck-1,fleet\n")
	if err := os.WriteFile(filepath.Join(dir, "devices.csv"), []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(moteBin, "device", "enrol", "--csv", "devices.csv", "--out", "certs", "-c", "mote.yaml")
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("enrol: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "6 of 6 devices provisioned") || !strings.Contains(stderr.String(), "6/6") {
		t.Fatalf("enrol output: %q progress: %q", stdout.String(), stderr.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, "certs", "monitor-3.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle: %v %v", fi, err)
	}

	login := func(name string) error {
		b, err := os.ReadFile(filepath.Join(dir, "certs", name+".pem"))
		if err != nil {
			return err
		}
		cert, err := tls.X509KeyPair(b, b)
		if err != nil {
			return err
		}
		c := xmpptest.NewClient(t, xmpptest.DialTCP(t, addr), "localhost")
		c.Certificate = &cert
		c.OpenStream()
		c.StartTLS()
		if el := c.AuthExternal(""); el.Local != "success" {
			return fmt.Errorf("%s", el)
		}
		return nil
	}
	for _, name := range []string{"monitor-0", "truck-1"} {
		if err := login(name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	out := mote(t, dir, "", "device", "list", "-c", "mote.yaml")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 7 || !strings.Contains(lines[6], "truck-1") || !strings.Contains(lines[6], "fleet") {
		t.Fatalf("list:\n%s", out)
	}
	// Enrolling again: every row is a conflict, reported, exit status 1.
	cmd = exec.Command(moteBin, "device", "enrol", "--csv", "devices.csv", "--out", "certs2", "-c", "mote.yaml")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "0 of 6") || !strings.Contains(string(b), "already exists") {
		t.Fatalf("enrol again: %v\n%s", err, b)
	}

	mote(t, dir, "", "device", "revoke", "monitor-0", "-c", "mote.yaml")
	if err := login("monitor-0"); err == nil {
		t.Fatal("a revoked certificate logs in")
	}
	mote(t, dir, "", "device", "reissue", "monitor-0", "--out", "certs", "-c", "mote.yaml")
	if err := login("monitor-0"); err != nil {
		t.Fatalf("reissued: %v", err)
	}
	if out := mote(t, dir, "", "device", "ca", "-c", "mote.yaml"); !strings.HasPrefix(out, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("ca: %q", out)
	}
	mote(t, dir, "", "device", "provision", "solo", "--group", "lab", "--out", "certs", "-c", "mote.yaml")
	if err := login("solo"); err != nil {
		t.Fatalf("provisioned: %v", err)
	}
	mote(t, dir, "", "device", "remove", "solo", "-c", "mote.yaml")
	if err := login("solo"); err == nil {
		t.Fatal("a removed device logs in")
	}
}
