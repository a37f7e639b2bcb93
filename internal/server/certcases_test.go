package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/pki"
	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// signer signs certificates with the server's device CA key, read from
// the data directory, so that a test can make certificates Issue never
// would.
type signer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func loadSigner(t *testing.T, dataDir string) signer {
	t.Helper()
	cb, err := os.ReadFile(filepath.Join(dataDir, "device-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(filepath.Join(dataDir, "device-ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cb, kb)
	if err != nil {
		t.Fatal(err)
	}
	return signer{cert: pair.Leaf, key: pair.PrivateKey.(crypto.Signer)}
}

// xmppAddrSAN is a subjectAltName extension with one id-on-xmppAddr
// (RFC 6120 §13.7.1.4).
func xmppAddrSAN(t *testing.T, jid string) pkix.Extension {
	t.Helper()
	value, err := asn1.MarshalWithParams(jid, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	other, err := asn1.Marshal(struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}{asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 5},
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: value}}) // [0] EXPLICIT
	if err != nil {
		t.Fatal(err)
	}
	// otherName is [0] IMPLICIT: the SEQUENCE's tag becomes context 0.
	other[0] = 0xa0
	names, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: other})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: names}
}

// bundle makes a key and a certificate from tmpl signed by s.
func (s signer) bundle(t *testing.T, tmpl *x509.Certificate) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.cert, &key.PublicKey, s.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
}

// TestCertificateCases: over a real socket, certificates signed by the
// server's own device CA but with the wrong key usage, a misleading
// subject, no subjectAltName, or listed in a configured CRL are refused;
// the identity comes from the subjectAltName only.
func TestCertificateCases(t *testing.T) {
	// The CA and a CRL exist before the server starts, so that
	// devices.crl_files can name the list.
	dataDir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dataDir, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := ca.Issue(pki.IssueRequest{JID: "sensor1@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ca.CRL([]x509.RevocationListEntry{{SerialNumber: listed.Certificate.SerialNumber, RevocationTime: time.Now()}}, big.NewInt(1), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(dataDir, "revoked.crl")
	if err := os.WriteFile(crlFile, crl, 0o644); err != nil {
		t.Fatal(err)
	}
	s := xmpptest.Start(t, fmt.Sprintf("data_dir: %q\ndevices: {crl_files: [%q]}\nc2s: {auth_backoff_max: 10ms}\n", dataDir, crlFile))
	good := provision(t, s, "sensor1", "")
	xmpptest.LoginCert(t, s, good, "ok")

	externalFails(t, s, "revoked by the configured CRL", listed.Bundle, "", "not-authorized")

	sg := loadSigner(t, dataDir)
	externalFails(t, s, "serverAuth only", sg.bundle(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "sensor1@localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		ExtraExtensions: []pkix.Extension{xmppAddrSAN(t, "sensor1@localhost")}}), "", "not-authorized")
	externalFails(t, s, "no subjectAltName, the JID in the subject", sg.bundle(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "sensor1@localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}), "", "not-authorized")

	// A subject naming another account changes nothing: the device is
	// who its subjectAltName says, and cannot ask to be the other.
	s.AddUser(t, "admin", "pw")
	spoof := sg.bundle(t, &x509.Certificate{
		Subject:         pkix.Name{CommonName: "admin@localhost", Organization: []string{"admin@localhost"}},
		EmailAddresses:  []string{"admin@localhost"},
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		ExtraExtensions: []pkix.Extension{xmppAddrSAN(t, "sensor1@localhost")}})
	externalFails(t, s, "asking for the subject's account", spoof, "admin@localhost", "invalid-authzid")
	if c := xmpptest.LoginCert(t, s, spoof, "spoof"); c.JID != "sensor1@localhost/spoof" {
		t.Fatalf("the misleading certificate bound %s", c.JID)
	}
}
