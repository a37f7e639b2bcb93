package main_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// serveMote starts `mote serve -c mote.yaml` in dir and waits until it
// has started. The lines it logs arrive on the returned channel (which
// is not closed until the process ends; a reader that stops reading only
// loses lines).
func serveMote(t *testing.T, dir string) (*exec.Cmd, <-chan string) {
	t.Helper()
	srv := exec.Command(moteBin, "serve", "-c", "mote.yaml")
	srv.Dir = dir
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody is looking for it
			}
		}
	}()
	waitLine(t, lines, "mote started", 30*time.Second)
	return srv, lines
}

// waitLine waits for a logged line containing s.
func waitLine(t *testing.T, lines <-chan string, s string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, s) {
				return l
			}
		case <-deadline:
			t.Fatalf("no log line with %q within %v", s, d)
		}
	}
}

// writeCert writes a self-signed certificate for localhost with the given
// serial number, and its key.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSIGHUPReloads: SIGHUP applies a new log.level from the configuration
// file and loads the certificate files again. Connections made afterwards
// get the new certificate, and tls-server-end-point channel binding works
// both on them and on a connection that began TLS before the reload (it
// binds to the certificate it was shown).
func TestSIGHUPReloads(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	addr := freePort(t)
	config := func(level string) {
		cfg := fmt.Sprintf("c2s: {listen: %q, direct_tls_listen: \"\"}\nadmin: {listen: \"\"}\nhttp: {listen: \"\", tls_listen: \"\"}\n"+
			"tls: {cert_file: %q, key_file: %q}\nlog: {level: %s}\n", addr, certFile, keyFile, level)
		if err := os.WriteFile(filepath.Join(dir, "mote.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config("info")
	srv, lines := serveMote(t, dir)
	mote(t, dir, "", "user", "add", "sensor1", "--password", "pw", "-c", "mote.yaml")

	// startTLS opens a stream up to TLS and returns the certificate shown.
	startTLS := func() (*xmpptest.Client, int64) {
		c := xmpptest.NewClient(t, xmpptest.DialTCP(t, addr), "localhost")
		c.OpenStream()
		c.StartTLS()
		st := c.TLSState()
		return c, st.PeerCertificates[0].SerialNumber.Int64()
	}
	before, serial := startTLS()
	if serial != 1 {
		t.Fatalf("serial %d before the reload", serial)
	}

	writeCert(t, certFile, keyFile, 2)
	config("debug")
	srv.Process.Signal(syscall.SIGHUP)
	if l := waitLine(t, lines, "log level set", 10*time.Second); !strings.Contains(l, "DEBUG") {
		t.Fatalf("log level line: %s", l)
	}
	waitLine(t, lines, "tls certificate loaded", 10*time.Second)

	after, serial := startTLS()
	if serial != 2 {
		t.Fatalf("serial %d after the reload", serial)
	}
	for name, c := range map[string]*xmpptest.Client{"before": before, "after": after} {
		if el := c.AuthSCRAMEndpoint("sensor1", "pw"); el.Local != "success" {
			t.Fatalf("tls-server-end-point on the connection from %s the reload: %s", name, el)
		}
	}
	// Debug lines are logged now: a SASL failure is one.
	third, _ := startTLS()
	if el := third.AuthSCRAM("SCRAM-SHA-256", "sensor1", "wrong"); el.Local != "failure" {
		t.Fatalf("a wrong password: %s", el)
	}
	if l := waitLine(t, lines, "sasl failure", 10*time.Second); !strings.Contains(l, "level=DEBUG") {
		t.Fatalf("debug line: %s", l)
	}

	// A broken certificate file leaves the current certificate in place.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Process.Signal(syscall.SIGHUP)
	waitLine(t, lines, "the certificate stays as it was", 10*time.Second)
	if _, serial := startTLS(); serial != 2 {
		t.Fatalf("serial %d after a failed reload", serial)
	}
}
