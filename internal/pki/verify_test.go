package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// newVerifier returns a Verifier for cfg, failing the test on error.
func newVerifier(t *testing.T, cfg VerifierConfig) *Verifier {
	t.Helper()
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// crlFile writes a CRL by ca that revokes serials, made at now, to a new
// file and returns its name.
func crlFile(t *testing.T, ca *CA, now time.Time, serials ...*big.Int) string {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now})
	}
	crl, err := ca.CRL(entries, big.NewInt(1), now)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "revoked.crl")
	writeFile(t, name, crl)
	return name
}

// derFile writes the first PEM block of pemData to a new file as DER.
func derFile(t *testing.T, pemData []byte) string {
	t.Helper()
	block, _ := pem.Decode(pemData)
	if block == nil {
		t.Fatalf("no PEM block in %q", pemData)
	}
	name := filepath.Join(t.TempDir(), "file.der")
	writeFile(t, name, block.Bytes)
	return name
}

// newChainRoot returns a root CA that, unlike the device CA, may sign one
// intermediate CA, and an intermediate CA it signed.
func newChainRoot(t *testing.T) (root, intermediate *CA) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	root = &CA{cert: rootCert, key: key, pem: encodePEM("CERTIFICATE", rootDER)}

	tmpl = &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "test intermediate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	iss, err := root.sign(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(iss.KeyPEM)
	interKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return root, &CA{cert: iss.Certificate, key: interKey.(crypto.Signer), pem: iss.CertPEM}
}

func TestVerify(t *testing.T) {
	ca := newTestCA(t, "example.com")
	now := time.Now()
	sensor := IssueRequest{JID: "sensor1@example.com", Now: now}
	valid := issue(t, ca, sensor).Certificate
	revoked := issue(t, ca, sensor).Certificate
	sameName := newTestCA(t, "example.com") // another key, the same subject
	otherName := newTestCA(t, "example.net")
	root, inter := newChainRoot(t)
	viaInter := issue(t, inter, sensor).Certificate

	tests := []struct {
		name  string
		chain []*x509.Certificate
		cfg   VerifierConfig // Roots default to ca
		now   time.Time      // zero means now
		want  error
	}{
		{name: "valid", chain: []*x509.Certificate{valid}},
		{name: "valid at the end", chain: []*x509.Certificate{valid}, now: valid.NotAfter},
		{name: "valid from a CA file", chain: []*x509.Certificate{valid}, // empty, not nil, Roots
			cfg: VerifierConfig{Roots: []*x509.Certificate{}, CAFiles: []string{pemFile(t, otherName.PEM(), ca.PEM())}}},
		{name: "expired", want: ErrExpired,
			chain: []*x509.Certificate{issue(t, ca, IssueRequest{JID: "sensor1@example.com", Now: now.Add(-48 * time.Hour), Validity: 24 * time.Hour}).Certificate}},
		{name: "expired later", chain: []*x509.Certificate{valid}, now: valid.NotAfter.Add(time.Second), want: ErrExpired},
		{name: "not yet valid", want: ErrNotYetValid,
			chain: []*x509.Certificate{issue(t, ca, IssueRequest{JID: "sensor1@example.com", Now: now.Add(time.Hour)}).Certificate}},
		{name: "not yet valid earlier", chain: []*x509.Certificate{valid}, now: valid.NotBefore.Add(-time.Second), want: ErrNotYetValid},
		{name: "CA with the same name", chain: []*x509.Certificate{issue(t, sameName, sensor).Certificate}, want: ErrUnknownAuthority},
		{name: "another CA", chain: []*x509.Certificate{issue(t, otherName, sensor).Certificate}, want: ErrUnknownAuthority},
		{name: "self-signed", chain: []*x509.Certificate{otherName.Certificate()}, want: ErrUnknownAuthority},
		{name: "serverAuth only", want: ErrWrongUsage,
			chain: []*x509.Certificate{issueWith(t, ca, sensor, func(c *x509.Certificate) {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			}).Certificate}},
		{name: "revoked by CRL", chain: []*x509.Certificate{revoked}, want: ErrRevoked,
			cfg: VerifierConfig{CRLFiles: []string{crlFile(t, ca, now, revoked.SerialNumber)}}},
		{name: "not revoked by CRL", chain: []*x509.Certificate{valid},
			cfg: VerifierConfig{CRLFiles: []string{crlFile(t, ca, now, revoked.SerialNumber)}}},
		{name: "revoked by DER CRL", chain: []*x509.Certificate{revoked}, want: ErrRevoked,
			cfg: VerifierConfig{CRLFiles: []string{derFile(t, mustRead(t, crlFile(t, ca, now, revoked.SerialNumber)))}}},
		{name: "revoked by stale CRL", chain: []*x509.Certificate{revoked}, want: ErrRevoked,
			cfg: VerifierConfig{CRLFiles: []string{crlFile(t, ca, now.Add(-30*24*time.Hour), revoked.SerialNumber)}}},
		{
			// The CRL of another root lists the same serial number; it
			// speaks only for that root's certificates.
			name: "CRL of another root", chain: []*x509.Certificate{revoked},
			cfg: VerifierConfig{
				Roots:    []*x509.Certificate{ca.Certificate(), otherName.Certificate()},
				CRLFiles: []string{crlFile(t, otherName, now, revoked.SerialNumber)},
			},
		},
		{name: "revoked by callback", chain: []*x509.Certificate{revoked}, want: ErrRevoked,
			cfg: VerifierConfig{Revoked: func(serial *big.Int, issuer *x509.Certificate) bool {
				if !issuer.Equal(ca.Certificate()) {
					t.Errorf("Revoked called with issuer %v, want the CA", issuer.Subject)
				}
				return serial.Cmp(revoked.SerialNumber) == 0
			}}},
		{name: "not revoked by callback", chain: []*x509.Certificate{valid},
			cfg: VerifierConfig{Revoked: func(serial *big.Int, _ *x509.Certificate) bool {
				return serial.Cmp(revoked.SerialNumber) == 0
			}}},
		{name: "no certificate", want: ErrNoCertificate},
		{name: "nil certificate", chain: []*x509.Certificate{nil}, want: ErrNoCertificate},

		{name: "via intermediate", chain: []*x509.Certificate{viaInter, inter.Certificate()},
			cfg: VerifierConfig{Roots: []*x509.Certificate{root.Certificate()}}},
		{name: "intermediate missing", chain: []*x509.Certificate{viaInter}, want: ErrUnknownAuthority,
			cfg: VerifierConfig{Roots: []*x509.Certificate{root.Certificate()}}},
		{name: "intermediate revoked by CRL", chain: []*x509.Certificate{viaInter, inter.Certificate()}, want: ErrRevoked,
			cfg: VerifierConfig{Roots: []*x509.Certificate{root.Certificate()}, CRLFiles: []string{crlFile(t, root, now, inter.Certificate().SerialNumber)}}},
		{name: "leaf revoked by callback via intermediate", chain: []*x509.Certificate{viaInter, inter.Certificate()}, want: ErrRevoked,
			cfg: VerifierConfig{Roots: []*x509.Certificate{root.Certificate()}, Revoked: func(serial *big.Int, issuer *x509.Certificate) bool {
				return serial.Cmp(viaInter.SerialNumber) == 0 && issuer.Equal(inter.Certificate())
			}}},
		{name: "intermediate revoked by callback", chain: []*x509.Certificate{viaInter, inter.Certificate()}, want: ErrRevoked,
			cfg: VerifierConfig{Roots: []*x509.Certificate{root.Certificate()}, Revoked: func(serial *big.Int, issuer *x509.Certificate) bool {
				return serial.Cmp(inter.Certificate().SerialNumber) == 0 && issuer.Equal(root.Certificate())
			}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Roots == nil {
				cfg.Roots = []*x509.Certificate{ca.Certificate()}
			}
			at := tt.now
			if at.IsZero() {
				at = now
			}
			leaf, err := newVerifier(t, cfg).Verify(tt.chain, at)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("%d: Verify = %v, want %v", i, err, tt.want)
				}
				t.Logf("%d: %v", i, err)
				return
			}
			if err != nil {
				t.Fatalf("%d: Verify: %v", i, err)
			}
			if leaf != tt.chain[0] {
				t.Fatalf("%d: Verify returned %v, want the leaf", i, leaf.Subject)
			}
			id, err := Identities(leaf)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"sensor1@example.com"}; !equalIdentity(id, Identity{XMPPAddrs: want}) {
				t.Errorf("%d: Identities = %+v, want %q", i, id, want)
			}
		})
	}
}

// TestVerifyPathLength checks that the device CA cannot make an
// intermediate CA: it has path length zero (RFC 5280 §4.2.1.9).
func TestVerifyPathLength(t *testing.T) {
	ca := newTestCA(t, "example.com")
	now := time.Now()
	iss, err := ca.sign(&x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "rogue intermediate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(iss.KeyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rogue := &CA{cert: iss.Certificate, key: key.(crypto.Signer)}
	leaf := issue(t, rogue, IssueRequest{JID: "admin@example.com", Now: now}).Certificate
	v := newVerifier(t, VerifierConfig{Roots: []*x509.Certificate{ca.Certificate()}})
	_, err = v.Verify([]*x509.Certificate{leaf, rogue.Certificate()}, now)
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.TooManyIntermediates {
		t.Fatalf("Verify = %v, want x509.TooManyIntermediates", err)
	}
}

// TestVerifyError checks that an error names the cause and keeps the
// crypto/x509 error.
func TestVerifyError(t *testing.T) {
	ca := newTestCA(t, "example.com")
	c := issue(t, ca, IssueRequest{JID: "sensor1@example.com"}).Certificate
	_, err := newVerifier(t, VerifierConfig{Roots: []*x509.Certificate{ca.Certificate()}}).Verify([]*x509.Certificate{c}, c.NotAfter.Add(time.Hour))
	var invalid x509.CertificateInvalidError
	if !errors.Is(err, ErrExpired) || !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Fatalf("Verify = %v, want ErrExpired wrapping x509.CertificateInvalidError", err)
	}
}

func TestNewVerifierErrors(t *testing.T) {
	ca := newTestCA(t, "example.com")
	sameName := newTestCA(t, "example.com")
	otherName := newTestCA(t, "example.net")
	now := time.Now()
	roots := []*x509.Certificate{ca.Certificate()}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name string
		cfg  VerifierConfig
	}{
		{"no roots", VerifierConfig{}},
		{"nil root", VerifierConfig{Roots: []*x509.Certificate{nil}}},
		{"CA file missing", VerifierConfig{CAFiles: []string{missing}}},
		{"CA file without certificates", VerifierConfig{CAFiles: []string{pemFile(t)}}},
		{"CA file with a bad certificate", VerifierConfig{CAFiles: []string{pemFile(t, encodePEM("CERTIFICATE", []byte{0x30, 0}))}}},
		{"CRL file missing", VerifierConfig{Roots: roots, CRLFiles: []string{missing}}},
		{"CRL file empty", VerifierConfig{Roots: roots, CRLFiles: []string{pemFile(t)}}},
		{"CRL file garbage", VerifierConfig{Roots: roots, CRLFiles: []string{pemFile(t, []byte("garbage"))}}},
		{"CRL file of certificates", VerifierConfig{Roots: roots, CRLFiles: []string{pemFile(t, ca.PEM())}}},
		{"CRL signed by another key", VerifierConfig{Roots: roots, CRLFiles: []string{crlFile(t, sameName, now)}}},
		{"CRL of an unknown issuer", VerifierConfig{Roots: roots, CRLFiles: []string{crlFile(t, otherName, now)}}},
		{"one CRL of two bad", VerifierConfig{Roots: roots, CRLFiles: []string{crlFile(t, ca, now), crlFile(t, sameName, now)}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(tt.cfg); err == nil {
				t.Fatalf("%d: NewVerifier succeeded, want an error", i)
			} else {
				t.Logf("%d: %v", i, err)
			}
		})
	}
}

func TestReloadCRLs(t *testing.T) {
	ca := newTestCA(t, "example.com")
	sameName := newTestCA(t, "example.com")
	now := time.Now()
	c := issue(t, ca, IssueRequest{JID: "sensor1@example.com", Now: now}).Certificate
	name := crlFile(t, ca, now)
	v := newVerifier(t, VerifierConfig{Roots: []*x509.Certificate{ca.Certificate()}, CRLFiles: []string{name}})
	verify := func() error {
		_, err := v.Verify([]*x509.Certificate{c}, now)
		return err
	}
	if err := verify(); err != nil {
		t.Fatal(err)
	}

	copyFile(t, crlFile(t, ca, now, c.SerialNumber), name)
	if err := verify(); err != nil {
		t.Fatalf("revoked before the reload: %v", err)
	}
	if err := v.ReloadCRLs(); err != nil {
		t.Fatal(err)
	}
	if err := verify(); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after the reload Verify = %v, want ErrRevoked", err)
	}

	for _, bad := range [][]byte{[]byte("garbage"), mustRead(t, crlFile(t, sameName, now))} {
		writeFile(t, name, bad)
		if err := v.ReloadCRLs(); err == nil {
			t.Fatal("reloading a bad CRL succeeded")
		}
		if err := verify(); !errors.Is(err, ErrRevoked) {
			t.Fatalf("after a failed reload Verify = %v, want ErrRevoked from the old CRL", err)
		}
	}
}

// TestVerifyConcurrent runs Verify while the CRLs are reloaded, for the
// race detector.
func TestVerifyConcurrent(t *testing.T) {
	ca := newTestCA(t, "example.com")
	now := time.Now()
	c := issue(t, ca, IssueRequest{JID: "sensor1@example.com", Now: now}).Certificate
	v := newVerifier(t, VerifierConfig{Roots: []*x509.Certificate{ca.Certificate()}, CRLFiles: []string{crlFile(t, ca, now)}})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify([]*x509.Certificate{c}, now); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 20 {
		if err := v.ReloadCRLs(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// pemFile writes the concatenation of blocks to a new file and returns its
// name.
func pemFile(t *testing.T, blocks ...[]byte) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "file.pem")
	var data []byte
	for _, b := range blocks {
		data = append(data, b...)
	}
	writeFile(t, name, data)
	return name
}

// mustRead returns the contents of the file name.
func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
