package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmppclient"
)

// writeBundle writes a device bundle as provisioning does: the private
// key (PKCS#8) and then a certificate, here self-signed.
func writeBundle(t *testing.T, dir, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDevices(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"car2", "car10", "car1"} {
		writeBundle(t, dir, name)
	}
	// The device CA and other files are not devices.
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("not a bundle"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
	os.Mkdir(filepath.Join(dir, "old.pem"), 0o700)

	devs, err := loadDevices(dir, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range devs {
		if d.Cert == nil || len(d.Cert.Certificate) != 1 || d.Cert.PrivateKey == nil {
			t.Errorf("%s: certificate %+v", d.Name, d.Cert)
		}
		names = append(names, d.Name)
	}
	if got := strings.Join(names, " "); got != "car1 car10 car2" {
		t.Errorf("devices %s, want car1 car10 car2 (sorted)", got)
	}
	if devs, err := loadDevices(dir, "localhost", 2); err != nil || len(devs) != 2 || devs[1].Name != "car10" {
		t.Errorf("-n 2: %v, %v", devs, err)
	}

	for i, tt := range []struct {
		setup func(dir string)
		want  string
	}{
		{func(string) {}, "no device bundles"},
		{func(dir string) { os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("x"), 0o600) }, "bad.pem"},
		{func(dir string) { writeBundle(t, dir, "a@b") }, "device name"},
	} {
		dir := t.TempDir()
		tt.setup(dir)
		if _, err := loadDevices(dir, "localhost", 0); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%d: %v, want an error with %q", i, err, tt.want)
		}
	}
	if _, err := loadDevices(filepath.Join(dir, "nope"), "localhost", 0); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestConfigValidate(t *testing.T) {
	devs := []Device{{Name: "a"}}
	for i, cfg := range []Config{
		{Devices: devs, Preset: "toaster"},
		{Devices: devs, Addr: "nowhere"},
		{},
		{Devices: devs, AlarmRate: 2},
		{Devices: devs, TunnelRate: -1},
		{Devices: devs, TunnelMin: time.Minute, TunnelMax: time.Second},
		{Devices: devs, Duration: -time.Second},
		{Devices: []Device{{Name: "a"}, {Name: "a"}}},
	} {
		if _, err := newSim(cfg); err == nil {
			t.Errorf("%d: %+v accepted", i, cfg)
		}
	}
	s, err := newSim(Config{Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.Addr != "127.0.0.1:5222" || c.Domain != "localhost" || c.Preset != "vitals" || c.Rate != time.Second ||
		c.Resource != "sim" || c.Service != "pubsub.localhost" || c.Concurrency != defaultConcurrency {
		t.Errorf("defaults %+v", c)
	}
	if _, ok := c.auth.(xmppclient.External); !ok {
		t.Errorf("login %T, want SASL EXTERNAL", c.auth)
	}
	d := s.devices[0]
	if d.bare != "a@localhost" || d.node != "devices/a" || !d.tls.InsecureSkipVerify || d.tls.ServerName != "localhost" {
		t.Errorf("device %+v", d)
	}
}
