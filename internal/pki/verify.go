package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync/atomic"
	"time"
)

// Errors returned by Verifier.Verify, and ErrNoCertificate by Identities
// too. Each error Verify returns for a certificate it refuses wraps one of
// them, or is a wrapped crypto/x509 error for the rarer faults (an
// unhandled critical extension, a path length exceeded and the like).
var (
	ErrNoCertificate    = errors.New("pki: no client certificate")
	ErrExpired          = errors.New("pki: certificate expired")
	ErrNotYetValid      = errors.New("pki: certificate not yet valid")
	ErrUnknownAuthority = errors.New("pki: certificate signed by unknown authority")
	ErrWrongUsage       = errors.New("pki: certificate not valid for client authentication")
	ErrRevoked          = errors.New("pki: certificate revoked")
)

// VerifierConfig is what NewVerifier builds a Verifier from. At least one
// root, from Roots or CAFiles, is required.
type VerifierConfig struct {
	// Roots are trusted root certificates, such as CA.Certificate().
	Roots []*x509.Certificate
	// CAFiles are PEM files of more roots. Each must be readable and hold
	// at least one certificate.
	CAFiles []string
	// CRLFiles are certificate revocation lists (RFC 5280 §5), DER or PEM
	// (any number of "X509 CRL" blocks). Each list must be signed by one of
	// the roots, so a CRL revokes certificates issued directly by a root,
	// intermediates included, but not those an intermediate issued.
	CRLFiles []string
	// Revoked, if not nil, reports whether the certificate with serial,
	// issued by issuer, is revoked: mote's own revocation list. It is called
	// for the leaf and each intermediate, from many goroutines at once, and
	// must be fast and safe for concurrent use; it must not modify its
	// arguments.
	Revoked func(serial *big.Int, issuer *x509.Certificate) bool
}

// Verifier verifies client certificate chains presented in TLS handshakes
// (XEP-0178 §2). It is safe for concurrent use: Verify runs on many
// connections at once, and ReloadCRLs replaces the revocation lists
// atomically.
type Verifier struct {
	roots    *x509.CertPool
	anchors  []*x509.Certificate // the certificates in roots, which sign CRLs
	crlFiles []string
	revoked  func(serial *big.Int, issuer *x509.Certificate) bool
	crls     atomic.Pointer[[]*crl] // the lists loaded last; never modified
}

// crl is a loaded certificate revocation list.
type crl struct {
	file      string              // the file it was read from
	rawIssuer []byte              // the issuer name, DER
	signer    crypto.PublicKey    // the key of the root that signed it
	serials   map[string]struct{} // revoked serial numbers, big.Int.Text(16)
}

// NewVerifier returns a Verifier that trusts cfg.Roots and the certificates
// in cfg.CAFiles, and honours the CRLs in cfg.CRLFiles and cfg.Revoked.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	anchors := append([]*x509.Certificate(nil), cfg.Roots...)
	for _, name := range cfg.CAFiles {
		certs, err := readCertificates(name)
		if err != nil {
			return nil, err
		}
		anchors = append(anchors, certs...)
	}
	if len(anchors) == 0 {
		return nil, errors.New("pki: verifier: no trusted roots")
	}
	v := &Verifier{
		roots:    x509.NewCertPool(),
		anchors:  anchors,
		crlFiles: append([]string(nil), cfg.CRLFiles...),
		revoked:  cfg.Revoked,
	}
	for _, c := range anchors {
		if c == nil {
			return nil, errors.New("pki: verifier: nil root certificate")
		}
		v.roots.AddCert(c)
	}
	if err := v.ReloadCRLs(); err != nil {
		return nil, err
	}
	return v, nil
}

// ReloadCRLs reads the CRL files again, for SIGHUP. On error the lists
// loaded before stay in use.
func (v *Verifier) ReloadCRLs() error {
	var lists []*crl
	for _, name := range v.crlFiles {
		l, err := v.readCRLs(name)
		if err != nil {
			return err
		}
		lists = append(lists, l...)
	}
	v.crls.Store(&lists)
	return nil
}

// Verify verifies chain, the certificates the client presented
// (tls.ConnectionState.PeerCertificates): chain[0] is the leaf and the rest
// are intermediates. The leaf must chain to a root, be valid at now (zero
// means time.Now()) and allow client authentication (RFC 5280 §4.2.1.12; as
// in crypto/x509, a certificate without the extended key usage extension
// allows any use), and neither it nor an intermediate may be revoked by a
// CRL or by VerifierConfig.Revoked. A CRL whose NextUpdate has passed still
// revokes: a stale list is better evidence than none, and the operator is
// the one to refresh it. Verify returns the leaf; Identities then reads the
// JIDs it carries.
func (v *Verifier) Verify(chain []*x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, ErrNoCertificate
	}
	for _, c := range chain {
		if c == nil {
			return nil, ErrNoCertificate
		}
	}
	if now.IsZero() {
		now = time.Now()
	}
	leaf := chain[0]
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, classify(err, now)
	}
	lists := *v.crls.Load()
	for _, verified := range chains {
		// The last certificate is the root, trusted as configured.
		for i := 0; i+1 < len(verified); i++ {
			if err := v.checkRevoked(lists, verified[i], verified[i+1]); err != nil {
				return nil, err
			}
		}
	}
	return leaf, nil
}

// checkRevoked returns an error wrapping ErrRevoked if cert, issued by
// issuer, is on one of lists or VerifierConfig.Revoked says so.
func (v *Verifier) checkRevoked(lists []*crl, cert, issuer *x509.Certificate) error {
	serial := cert.SerialNumber.Text(16)
	for _, l := range lists {
		if _, ok := l.serials[serial]; ok && l.covers(issuer) {
			return fmt.Errorf("%w: serial %s (%s) is on the CRL in %s", ErrRevoked, serial, cert.Subject, l.file)
		}
	}
	if v.revoked != nil && v.revoked(cert.SerialNumber, issuer) {
		return fmt.Errorf("%w: serial %s (%s) is on mote's revocation list", ErrRevoked, serial, cert.Subject)
	}
	return nil
}

// covers reports whether l speaks for the certificates issuer signed: the
// list names issuer's subject as its issuer and was signed with issuer's
// key (the signature was checked when the list was loaded).
func (l *crl) covers(issuer *x509.Certificate) bool {
	key, ok := l.signer.(interface{ Equal(crypto.PublicKey) bool })
	return ok && bytes.Equal(l.rawIssuer, issuer.RawSubject) && key.Equal(issuer.PublicKey)
}

// classify wraps the error of x509.Certificate.Verify in the matching
// sentinel error.
func classify(err error, now time.Time) error {
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		switch invalid.Reason {
		case x509.Expired:
			if invalid.Cert != nil && now.Before(invalid.Cert.NotBefore) {
				return fmt.Errorf("%w: %w", ErrNotYetValid, err)
			}
			return fmt.Errorf("%w: %w", ErrExpired, err)
		case x509.IncompatibleUsage:
			return fmt.Errorf("%w: %w", ErrWrongUsage, err)
		}
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("%w: %w", ErrUnknownAuthority, err)
	}
	return fmt.Errorf("pki: verify: %w", err)
}

// readCertificates returns the certificates in the PEM file name, which
// must hold at least one.
func readCertificates(name string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("pki: CA file: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pki: CA file %s: %w", name, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("pki: CA file %s: no certificates", name)
	}
	return certs, nil
}

// readCRLs returns the revocation lists in the file name, DER or PEM, each
// checked against the roots.
func (v *Verifier) readCRLs(name string) ([]*crl, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL file: %w", err)
	}
	var ders [][]byte
	if block, _ := pem.Decode(data); block == nil {
		ders = append(ders, data)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == "X509 CRL" {
			ders = append(ders, block.Bytes)
		}
	}
	if len(ders) == 0 {
		return nil, fmt.Errorf("pki: CRL file %s: no X509 CRL block", name)
	}
	lists := make([]*crl, 0, len(ders))
	for _, der := range ders {
		l, err := v.parseCRL(name, der)
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	return lists, nil
}

// parseCRL parses the DER revocation list der from file and finds the root
// that signed it.
func (v *Verifier) parseCRL(file string, der []byte) (*crl, error) {
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL file %s: %w", file, err)
	}
	for _, root := range v.anchors {
		if !bytes.Equal(rl.RawIssuer, root.RawSubject) || rl.CheckSignatureFrom(root) != nil {
			continue
		}
		serials := make(map[string]struct{}, len(rl.RevokedCertificateEntries))
		for _, e := range rl.RevokedCertificateEntries {
			serials[e.SerialNumber.Text(16)] = struct{}{}
		}
		return &crl{file: file, rawIssuer: rl.RawIssuer, signer: root.PublicKey, serials: serials}, nil
	}
	return nil, fmt.Errorf("pki: CRL file %s: issued by %s, not signed by a trusted root", file, rl.Issuer)
}
