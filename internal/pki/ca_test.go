package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// newTestCA returns a device CA for domain, created in a fresh directory.
func newTestCA(t *testing.T, domain string) *CA {
	t.Helper()
	ca, err := LoadOrCreateCA(t.TempDir(), domain)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue returns a device certificate for req, failing the test on error.
func issue(t *testing.T, ca *CA, req IssueRequest) *Issued {
	t.Helper()
	iss, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// issueWith returns a certificate that Issue would make for req, changed by
// edit before signing.
func issueWith(t *testing.T, ca *CA, req IssueRequest, edit func(*x509.Certificate)) *Issued {
	t.Helper()
	tmpl, err := ca.leafTemplate(req)
	if err != nil {
		t.Fatal(err)
	}
	edit(tmpl)
	iss, err := ca.sign(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestLoadOrCreateCA(t *testing.T) {
	dir := t.TempDir()
	before := time.Now()
	first, err := LoadOrCreateCA(dir, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadOrCreateCA(dir, "other.example")
	if err != nil {
		t.Fatal(err)
	}
	if !first.Certificate().Equal(second.Certificate()) {
		t.Error("second load returned a different certificate")
	}
	if !first.key.Public().(*ecdsa.PublicKey).Equal(second.key.Public()) {
		t.Error("second load returned a different key")
	}
	if !bytes.Equal(first.PEM(), second.PEM()) {
		t.Error("PEM differs between loads")
	}

	for name, want := range map[string]os.FileMode{caKeyFile: 0o600, caCertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", name, got, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want the two CA files", len(entries))
	}

	c := first.Certificate()
	if got, want := c.Subject.CommonName, "mote device CA (example.com)"; got != want {
		t.Errorf("CN = %q, want %q", got, want)
	}
	if !slices.Equal(c.Subject.Organization, []string{"mote"}) {
		t.Errorf("O = %q, want mote", c.Subject.Organization)
	}
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA %v valid %v MaxPathLen %d zero %v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage %b", c.KeyUsage)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("key is %T, want ECDSA", c.PublicKey)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %x is not a positive 128-bit number", c.SerialNumber)
	}
	if nb := before.Add(-caBackdate).Truncate(time.Second); c.NotBefore.Before(nb) || c.NotBefore.After(time.Now().Add(-caBackdate)) {
		t.Errorf("NotBefore %v, want an hour before creation", c.NotBefore)
	}
	if years := c.NotAfter.Sub(c.NotBefore).Hours() / 24 / 365.25; years < 9.99 || years > 10.01 {
		t.Errorf("valid for %.2f years, want 10", years)
	}
}

func TestLoadOrCreateCAErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"key missing", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, caKeyFile)); err != nil {
				t.Fatal(err)
			}
		}},
		{"key of another CA", func(t *testing.T, dir string) {
			other := t.TempDir()
			if _, err := LoadOrCreateCA(other, "example.com"); err != nil {
				t.Fatal(err)
			}
			copyFile(t, filepath.Join(other, caKeyFile), filepath.Join(dir, caKeyFile))
		}},
		{"not a CA", func(t *testing.T, dir string) {
			ca, err := loadCA(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			iss := issue(t, ca, IssueRequest{JID: "sensor1@example.com"})
			writeFile(t, filepath.Join(dir, caCertFile), iss.CertPEM)
			writeFile(t, filepath.Join(dir, caKeyFile), iss.KeyPEM)
		}},
		{"garbage certificate", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, caCertFile), []byte("not a certificate"))
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreateCA(dir, "example.com"); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)
			if ca, err := LoadOrCreateCA(dir, "example.com"); err == nil {
				t.Fatalf("%d: loaded %v, want an error", i, ca.Certificate().Subject)
			}
		})
	}
	t.Run("empty domain", func(t *testing.T) {
		if _, err := LoadOrCreateCA(t.TempDir(), ""); err == nil {
			t.Fatal("created a CA for the empty domain")
		}
	})
}

func TestIssue(t *testing.T) {
	ca := newTestCA(t, "example.com")
	now := time.Now().Truncate(time.Second)
	iss := issue(t, ca, IssueRequest{
		JID:      "Sensor1@Example.COM",
		DNSNames: []string{"Sensor1.devices.example.com"},
		Now:      now,
	})
	c := iss.Certificate

	if err := c.CheckSignatureFrom(ca.Certificate()); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
	if got, want := c.Subject.CommonName, "sensor1@example.com"; got != want {
		t.Errorf("CN = %q, want the normalised JID %q", got, want)
	}
	if !c.NotBefore.Equal(now.Add(-5*time.Minute)) || !c.NotAfter.Equal(now.Add(DefaultValidity)) {
		t.Errorf("validity %v to %v, want %v to %v", c.NotBefore, c.NotAfter, now.Add(-5*time.Minute), now.Add(DefaultValidity))
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %b, want digitalSignature", c.KeyUsage)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || len(c.UnknownExtKeyUsage) > 0 {
		t.Errorf("extended key usage %v %v, want clientAuth only", c.ExtKeyUsage, c.UnknownExtKeyUsage)
	}
	if c.IsCA {
		t.Error("device certificate is a CA")
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %x is not a positive 128-bit number", c.SerialNumber)
	}
	if iss.Serial != c.SerialNumber.Text(16) {
		t.Errorf("Serial = %q, want %x", iss.Serial, c.SerialNumber)
	}
	if !bytes.Equal(c.AuthorityKeyId, ca.Certificate().SubjectKeyId) || len(c.AuthorityKeyId) == 0 {
		t.Errorf("AuthorityKeyId %x, want the CA's SubjectKeyId %x", c.AuthorityKeyId, ca.Certificate().SubjectKeyId)
	}
	var sans int
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidSubjectAltName) {
			sans++
			if ext.Critical {
				t.Error("subjectAltName is critical although the subject is not empty")
			}
		}
	}
	if sans != 1 {
		t.Errorf("%d subjectAltName extensions, want 1", sans)
	}
	id, err := Identities(c)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{XMPPAddrs: []string{"sensor1@example.com"}, DNSNames: []string{"sensor1.devices.example.com"}}
	if !equalIdentity(id, want) {
		t.Errorf("Identities = %+v, want %+v", id, want)
	}
	// crypto/x509 sees the dNSName, and nothing of the otherName.
	if !slices.Equal(c.DNSNames, want.DNSNames) || len(c.EmailAddresses) > 0 || len(c.URIs) > 0 {
		t.Errorf("crypto/x509 parsed DNSNames %q, emails %q, URIs %v", c.DNSNames, c.EmailAddresses, c.URIs)
	}

	// Two certificates for the same JID share nothing but the JID.
	again := issue(t, ca, IssueRequest{JID: "sensor1@example.com"})
	if again.Serial == iss.Serial || bytes.Equal(again.KeyPEM, iss.KeyPEM) {
		t.Error("second certificate reuses the serial number or the key")
	}
}

func TestIssueValidity(t *testing.T) {
	ca := newTestCA(t, "example.com")
	now := time.Now().Truncate(time.Second)
	tests := []struct {
		validity time.Duration
		want     time.Time
	}{
		0: {0, now.Add(DefaultValidity)},
		1: {time.Hour, now.Add(time.Hour)},
		2: {20 * 365 * 24 * time.Hour, ca.Certificate().NotAfter}, // cut at the CA's end
	}
	for i, tt := range tests {
		iss := issue(t, ca, IssueRequest{JID: "sensor1@example.com", Validity: tt.validity, Now: now})
		if got := iss.Certificate.NotAfter; !got.Equal(tt.want) {
			t.Errorf("%d: NotAfter %v, want %v", i, got, tt.want)
		}
	}
}

func TestIssueErrors(t *testing.T) {
	ca := newTestCA(t, "example.com")
	tests := []IssueRequest{
		0:  {JID: ""},
		1:  {JID: "example.com"},
		2:  {JID: "sensor1@example.com/res"},
		3:  {JID: "sen sor@example.com"},
		4:  {JID: "sensor1@"},
		5:  {JID: "sensor1@example.com", DNSNames: []string{"bad name.example.com"}},
		6:  {JID: "sensor1@example.com", DNSNames: []string{""}},
		7:  {JID: "sensor1@example.com", DNSNames: []string{"-bad.example.com"}},
		8:  {JID: "sensor1@example.com", DNSNames: []string{"bücher.example"}},
		9:  {JID: "sensor1@example.com", Validity: -time.Hour},
		10: {JID: "sensor1@example.com", Now: ca.Certificate().NotAfter.Add(time.Hour)},
	}
	for i, req := range tests {
		iss, err := ca.Issue(req)
		if err == nil {
			t.Errorf("%d: Issue(%+v) made %v, want an error", i, req, iss.Certificate.Subject)
			continue
		}
		t.Logf("%d: %v", i, err)
	}
}

func TestValidDNSName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"example.com", true},
		{"a.b-c.example", true},
		{"*.devices.example.com", true},
		{"localhost", true},
		{"*", false},
		{"a.*.example", false},
		{"example..com", false},
		{"example.com.", false},
		{"-a.example", false},
		{"a-.example", false},
		{"a_b.example", false},
		{strings.Repeat("a", 64) + ".example", false},
		{strings.Repeat("a.", 127) + "ab", false},
	}
	for i, tt := range tests {
		if got := validDNSName(tt.name); got != tt.ok {
			t.Errorf("%d: validDNSName(%q) = %v, want %v", i, tt.name, got, tt.ok)
		}
	}
}

func TestBundle(t *testing.T) {
	ca := newTestCA(t, "example.com")
	iss := issue(t, ca, IssueRequest{JID: "sensor1@example.com"})
	if !bytes.Equal(iss.Bundle, append(bytes.Clone(iss.KeyPEM), iss.CertPEM...)) {
		t.Error("Bundle is not KeyPEM followed by CertPEM")
	}
	pair, err := tls.X509KeyPair(iss.Bundle, iss.Bundle)
	if err != nil {
		t.Fatalf("tls.X509KeyPair(bundle, bundle): %v", err)
	}
	if len(pair.Certificate) != 1 || !bytes.Equal(pair.Certificate[0], iss.Certificate.Raw) {
		t.Error("bundle does not hold exactly the issued certificate")
	}
	if !pair.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(pair.PrivateKey.(*ecdsa.PrivateKey).Public()) {
		t.Error("bundle key does not match the certificate")
	}
	block, _ := pem.Decode(iss.KeyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("KeyPEM is not a PRIVATE KEY block: %q", iss.KeyPEM)
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Errorf("KeyPEM is not PKCS #8: %v", err)
	}
}

func TestCRL(t *testing.T) {
	ca := newTestCA(t, "example.com")
	now := time.Now().Truncate(time.Second)
	iss := issue(t, ca, IssueRequest{JID: "sensor1@example.com"})
	entries := []x509.RevocationListEntry{{SerialNumber: iss.Certificate.SerialNumber, RevocationTime: now}}
	out, err := ca.CRL(entries, big.NewInt(7), now)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(out)
	if block == nil || block.Type != "X509 CRL" || len(rest) > 0 {
		t.Fatalf("CRL is not one X509 CRL block: %q", out)
	}
	rl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := rl.CheckSignatureFrom(ca.Certificate()); err != nil {
		t.Errorf("CRL not signed by the CA: %v", err)
	}
	if !rl.ThisUpdate.Equal(now) || !rl.NextUpdate.Equal(now.Add(7*24*time.Hour)) {
		t.Errorf("CRL valid %v to %v, want %v for seven days", rl.ThisUpdate, rl.NextUpdate, now)
	}
	if rl.Number.Cmp(big.NewInt(7)) != 0 {
		t.Errorf("CRL number %v, want 7", rl.Number)
	}
	if len(rl.RevokedCertificateEntries) != 1 || rl.RevokedCertificateEntries[0].SerialNumber.Cmp(iss.Certificate.SerialNumber) != 0 {
		t.Errorf("CRL revokes %v, want serial %s", rl.RevokedCertificateEntries, iss.Serial)
	}
}

// TestOpenSSL checks the certificates, the bundle and the CRL with the
// openssl command, an independent reader of the encodings.
func TestOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("this test needs the openssl command to check interoperability: %v", err)
	}
	ca := newTestCA(t, "example.com")
	iss := issue(t, ca, IssueRequest{JID: "sensor1@example.com", DNSNames: []string{"sensor1.example.com"}})
	crl, err := ca.CRL(nil, big.NewInt(1), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"ca.pem": ca.PEM(), "cert.pem": iss.CertPEM, "bundle.pem": iss.Bundle, "crl.pem": crl}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	openssl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	san := openssl("x509", "-noout", "-ext", "subjectAltName", "-in", "cert.pem")
	t.Logf("openssl prints the SAN as:\n%s", san)
	if !strings.Contains(san, "sensor1@example.com") || !strings.Contains(san, "DNS:sensor1.example.com") {
		t.Errorf("openssl SAN output lacks the JID or the DNS name:\n%s", san)
	}
	// OpenSSL 3 knows id-on-xmppAddr by name and prints its value only if
	// it is a UTF8String: "othername: XmppAddr::sensor1@example.com".
	if !strings.Contains(san, "XmppAddr::sensor1@example.com") {
		t.Errorf("openssl does not recognise the otherName as xmppAddr:\n%s", san)
	}
	if out := openssl("verify", "-CAfile", "ca.pem", "-purpose", "sslclient", "cert.pem"); !strings.Contains(out, "OK") {
		t.Errorf("openssl verify: %s", out)
	}
	// The bundle serves as certificate and key file at once.
	serialOut := openssl("x509", "-noout", "-serial", "-in", "bundle.pem")
	serial, ok := new(big.Int).SetString(strings.TrimPrefix(strings.TrimSpace(serialOut), "serial="), 16)
	if !ok || serial.Cmp(iss.Certificate.SerialNumber) != 0 {
		t.Errorf("openssl reads %q from the bundle, want serial %s", serialOut, iss.Serial)
	}
	keyPub := openssl("pkey", "-in", "bundle.pem", "-pubout")
	certPub := openssl("x509", "-noout", "-pubkey", "-in", "bundle.pem")
	if keyPub != certPub {
		t.Errorf("bundle key and certificate differ:\n%s\n%s", keyPub, certPub)
	}
	if out := openssl("crl", "-noout", "-CAfile", "ca.pem", "-in", "crl.pem"); !strings.Contains(out, "verify OK") {
		t.Errorf("openssl crl: %s", out)
	}
}

// writeFile writes data to name, failing the test on error.
func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies the file from to to.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, data)
}
