package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mote-xmpp/mote/jid"
)

// loadOrCreateCert loads the configured certificate, or the self-signed one
// in dataDir, creating it on first start for domain.
func loadOrCreateCert(certFile, keyFile, dataDir, domain string) (tls.Certificate, error) {
	if certFile == "" {
		certFile = filepath.Join(dataDir, "cert.pem")
		keyFile = filepath.Join(dataDir, "key.pem")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := writeSelfSigned(certFile, keyFile, domain); err != nil {
				return tls.Certificate{}, err
			}
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: tls certificate: %w", err)
	}
	return cert, nil
}

// ReloadCertificate loads the certificate and key again from the
// configured files (tls.cert_file, tls.key_file; the self-signed pair in
// the data directory when none is configured), for SIGHUP: connections
// that begin TLS from now on get the new certificate, established ones
// keep theirs. On error the current certificate stays.
func (s *Server) ReloadCertificate() error {
	cert, err := loadOrCreateCert(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile, s.cfg.DataDir, s.c2sDomain())
	if err != nil {
		return err
	}
	s.cert.Store(&cert)
	s.log.Info("tls certificate loaded", "subject", cert.Leaf.Subject.String(),
		"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// writeSelfSigned creates an ECDSA P-256 certificate valid for domain and
// its subdomains (and loopback addresses for localhost), for ten years.
func writeSelfSigned(certFile, keyFile, domain string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: domain, Organization: []string{"mote self-signed"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{domain, "*." + domain},
	}
	if domain == "localhost" {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("server: write key: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("server: write certificate: %w", err)
	}
	return nil
}

// loadOrCreateSecret returns the server's random secret (used to make fake
// SASL salts for unknown users), creating it on first start.
func loadOrCreateSecret(dataDir string) ([]byte, error) {
	p := filepath.Join(dataDir, "secret")
	b, err := os.ReadFile(p)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server: secret: %w", err)
	}
	b = make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, fmt.Errorf("server: secret: %w", err)
	}
	return b, nil
}

// c2sDomain is the served domain, as the certificate names it.
func (s *Server) c2sDomain() string {
	d, err := jid.New("", s.cfg.Domain, "")
	if err != nil {
		return s.cfg.Domain // New checked it
	}
	return d.Domain()
}
