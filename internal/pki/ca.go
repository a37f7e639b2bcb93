package pki

import (
	"bytes"
	"crypto"
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
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mote-xmpp/mote/jid"
)

// File names of the device CA in its directory.
const (
	caCertFile = "device-ca.pem"
	caKeyFile  = "device-ca-key.pem"
)

const (
	// DefaultValidity is how long a device certificate is valid when
	// IssueRequest.Validity is zero: 825 days, a little over two years, so
	// that a device is re-enrolled at least that often.
	DefaultValidity = 825 * 24 * time.Hour

	// caValidity is the lifetime of a new device CA, in years.
	caValidity = 10
	// backdate moves a certificate's NotBefore into the past, so that
	// devices whose clock runs a little slow accept it at once.
	backdate = 5 * time.Minute
	// caBackdate is backdate for the CA certificate.
	caBackdate = time.Hour
	// crlLifetime is the distance from ThisUpdate to NextUpdate of a CRL
	// made by CA.CRL.
	crlLifetime = 7 * 24 * time.Hour
)

// CA is mote's device certificate authority: a self-signed certificate and
// its key, which issue client certificates for devices (XEP-0178). A CA is
// safe for concurrent use; it is never modified after LoadOrCreateCA.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte // the certificate, PEM-encoded
}

// IssueRequest describes the device certificate CA.Issue makes.
type IssueRequest struct {
	// JID is the bare JID (user@domain) of the device, required. It is
	// normalised (RFC 7622) and carried as the certificate's only xmppAddr.
	JID string
	// DNSNames are optional dNSName entries of the subjectAltName.
	DNSNames []string
	// Validity is how long the certificate is valid from Now; zero means
	// DefaultValidity. The certificate never outlives the CA.
	Validity time.Duration
	// Now is the time of issue; zero means time.Now().
	Now time.Time
}

// Issued is a device certificate and its private key.
type Issued struct {
	// Certificate is the parsed certificate.
	Certificate *x509.Certificate
	// CertPEM is the certificate as a PEM "CERTIFICATE" block.
	CertPEM []byte
	// KeyPEM is the private key as a PEM "PRIVATE KEY" block (PKCS #8).
	KeyPEM []byte
	// Bundle is KeyPEM followed by CertPEM: one file that serves as both
	// certificate and key file to OpenSSL, Python's
	// ssl.SSLContext.load_cert_chain and Go's tls.X509KeyPair(b, b).
	Bundle []byte
	// Serial is the certificate's serial number in lower-case hexadecimal,
	// as big.Int.Text(16) writes it.
	Serial string
}

// LoadOrCreateCA loads the device CA from device-ca.pem and
// device-ca-key.pem in dir, or creates it there if device-ca.pem does not
// exist: an ECDSA P-256 key and a self-signed certificate named
// "mote device CA (domain)", valid for ten years from an hour ago, that may
// sign end-entity certificates and CRLs but no intermediate CAs. The key
// file is written with mode 0600 and the certificate with 0644, each
// atomically; the key comes first, so an interrupted creation is redone on
// the next start. A loaded CA keeps the domain it was made for.
func LoadOrCreateCA(dir, domain string) (*CA, error) {
	certFile := filepath.Join(dir, caCertFile)
	keyFile := filepath.Join(dir, caKeyFile)
	if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
		ca, keyPEM, err := newCA(domain, time.Now())
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
			return nil, fmt.Errorf("pki: write device CA key: %w", err)
		}
		if err := writeFileAtomic(certFile, ca.pem, 0o644); err != nil {
			return nil, fmt.Errorf("pki: write device CA certificate: %w", err)
		}
		return ca, nil
	}
	return loadCA(certFile, keyFile)
}

// loadCA reads a CA certificate and its key, in any form tls.X509KeyPair
// accepts, and checks that the certificate is a CA.
func loadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("pki: device CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: device CA: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: device CA %s: %w", certFile, err)
	}
	cert := pair.Leaf
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("pki: device CA %s: not a CA certificate", certFile)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("pki: device CA %s: key usage does not allow certificate signing", certFile)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: device CA %s: key cannot sign", keyFile)
	}
	return &CA{cert: cert, key: key, pem: encodePEM("CERTIFICATE", cert.Raw)}, nil
}

// newCA makes a new self-signed device CA for domain at time now. It returns
// the CA and its key as a PEM "PRIVATE KEY" block.
func newCA(domain string, now time.Time) (*CA, []byte, error) {
	if domain == "" {
		return nil, nil, errors.New("pki: device CA: empty domain")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: device CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "mote device CA (" + domain + ")",
			Organization: []string{"mote"},
		},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.AddDate(caValidity, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: device CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: device CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: device CA key: %w", err)
	}
	ca := &CA{cert: cert, key: key, pem: encodePEM("CERTIFICATE", der)}
	return ca, encodePEM("PRIVATE KEY", keyDER), nil
}

// Certificate returns the CA certificate. The caller must not modify it.
func (ca *CA) Certificate() *x509.Certificate {
	return ca.cert
}

// PEM returns the CA certificate as a PEM "CERTIFICATE" block, for devices
// and for the roots of a Verifier in another process.
func (ca *CA) PEM() []byte {
	return bytes.Clone(ca.pem)
}

// Issue makes a device certificate for req.JID with a fresh ECDSA P-256
// key. The certificate has a random 128-bit serial number; the JID as
// subject common name, for people reading it; a validity from five minutes
// before req.Now to req.Now plus req.Validity, cut at the CA's NotAfter;
// the digitalSignature key usage and the clientAuth extended key usage
// only; and a non-critical subjectAltName with the JID as an
// id-on-xmppAddr otherName (RFC 6120 §13.7.1.4, XEP-0178 §2) followed by
// req.DNSNames as dNSName entries.
func (ca *CA) Issue(req IssueRequest) (*Issued, error) {
	tmpl, err := ca.leafTemplate(req)
	if err != nil {
		return nil, err
	}
	return ca.sign(tmpl)
}

// leafTemplate checks req and returns the template of the certificate Issue
// makes for it. Tests change the template to make certificates that Issue
// never would.
func (ca *CA) leafTemplate(req IssueRequest) (*x509.Certificate, error) {
	if req.JID == "" {
		return nil, errors.New("pki: issue: empty JID")
	}
	j, err := jid.Parse(req.JID)
	if err != nil {
		return nil, fmt.Errorf("pki: issue: %w", err)
	}
	if j.Local() == "" || !j.IsBare() {
		return nil, fmt.Errorf("pki: issue: %q is not a bare JID user@domain", req.JID)
	}
	dnsNames := make([]string, len(req.DNSNames))
	for i, name := range req.DNSNames {
		if !validDNSName(name) {
			return nil, fmt.Errorf("pki: issue: invalid DNS name %q", name)
		}
		dnsNames[i] = strings.ToLower(name)
	}
	validity := req.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < 0 {
		return nil, fmt.Errorf("pki: issue: negative validity %v", validity)
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	notBefore := now.Add(-backdate)
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("pki: issue: device CA expires at %s", ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	san, err := marshalSAN(Identity{XMPPAddrs: []string{j.String()}, DNSNames: dnsNames})
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: j.String()},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		// The subject is not empty, so the SAN is not critical (RFC 5280
		// §4.2.1.6). crypto/x509 cannot express an otherName, hence the
		// extension is built here and replaces the one it would build.
		ExtraExtensions: []pkix.Extension{{Id: oidSubjectAltName, Value: san}},
	}, nil
}

// sign makes a fresh ECDSA P-256 key and a certificate from tmpl for it,
// signed by the CA.
func (ca *CA) sign(tmpl *x509.Certificate) (*Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: issue: key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: issue: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: issue: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: issue: key: %w", err)
	}
	certPEM := encodePEM("CERTIFICATE", der)
	keyPEM := encodePEM("PRIVATE KEY", keyDER)
	return &Issued{
		Certificate: cert,
		CertPEM:     certPEM,
		KeyPEM:      keyPEM,
		Bundle:      append(bytes.Clone(keyPEM), certPEM...),
		Serial:      cert.SerialNumber.Text(16),
	}, nil
}

// CRL returns a certificate revocation list (RFC 5280 §5) of revoked,
// signed by the CA, as a PEM "X509 CRL" block, so that other verifiers can
// honour mote's revocations. number is the CRL number, which must grow with
// each list; the list is valid from now (zero means time.Now()) for seven
// days.
func (ca *CA) CRL(revoked []x509.RevocationListEntry, number *big.Int, now time.Time) ([]byte, error) {
	if now.IsZero() {
		now = time.Now()
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		RevokedCertificateEntries: revoked,
		Number:                    number,
		ThisUpdate:                now,
		NextUpdate:                now.Add(crlLifetime),
	}, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: crl: %w", err)
	}
	return encodePEM("X509 CRL", der), nil
}

// randomSerial returns a random serial number of at most 128 bits that is
// positive, as RFC 5280 §4.1.2.2 requires.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit.Sub(limit, big.NewInt(1)))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// validDNSName reports whether name is a host name of letters, digits and
// hyphens (RFC 1123 §2.1), optionally with "*" as its whole first label
// (RFC 6125 §6.4.3), at most 253 bytes long.
func validDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	if labels[0] == "*" && len(labels) > 1 {
		labels = labels[1:]
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// encodePEM returns der as a PEM block of type typ.
func encodePEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeFileAtomic writes data to a temporary file in the directory of name
// with mode perm and renames it to name, so that name is either absent or
// complete.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
