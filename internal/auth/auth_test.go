package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/secure/precis"

	"github.com/mote-xmpp/mote/internal/storage"
)

const (
	testDomain   = "example.com"
	testPassword = "pencil"
)

// memUsers is an in-memory storage.Users for tests. When err is set,
// GetUser fails with it.
type memUsers struct {
	mu    sync.Mutex
	users map[string]storage.User // guarded by mu
	err   error
}

var _ storage.Users = (*memUsers)(nil)

func (m *memUsers) CreateUser(_ context.Context, u storage.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.Username]; ok {
		return storage.ErrExists
	}
	if m.users == nil {
		m.users = map[string]storage.User{}
	}
	m.users[u.Username] = u
	return nil
}

func (m *memUsers) GetUser(_ context.Context, name string) (storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return storage.User{}, m.err
	}
	u, ok := m.users[name]
	if !ok {
		return storage.User{}, storage.ErrNotFound
	}
	return u, nil
}

func (m *memUsers) SetCredentials(_ context.Context, name string, keys map[string]storage.SCRAMKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return storage.ErrNotFound
	}
	u.SCRAM = keys
	m.users[name] = u
	return nil
}

func (m *memUsers) DeleteUser(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; !ok {
		return storage.ErrNotFound
	}
	delete(m.users, name)
	return nil
}

func (m *memUsers) ListUsers(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for n := range m.users {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// normalize stands in for jid.NormalizeLocal: UsernameCaseMapped (RFC 8265
// §3.3) minus the characters RFC 7622 §3.3.1 forbids in a localpart.
func normalize(s string) (string, error) {
	if strings.ContainsAny(s, "\"&'/:<>@ ") {
		return "", errors.New("forbidden character")
	}
	return precis.UsernameCaseMapped.String(s)
}

// aliceKeys are the credentials of alice, derived once per test binary.
var aliceKeys = sync.OnceValue(func() map[string]storage.SCRAMKey {
	k, err := NewCredentials(testPassword, 0)
	if err != nil {
		panic(err)
	}
	return k
})

// newTestServer returns a server whose only account is alice, password
// testPassword.
func newTestServer(t testing.TB) (*Server, *memUsers) {
	t.Helper()
	users := &memUsers{}
	if err := users.CreateUser(context.Background(), storage.User{Username: "alice", SCRAM: aliceKeys()}); err != nil {
		t.Fatal(err)
	}
	s := NewServer(Config{
		Users:      users,
		Normalize:  normalize,
		Secret:     []byte("test secret"),
		AllowPLAIN: true,
	})
	return s, users
}

// selfSigned returns a self-signed certificate for key; the signature
// algorithm follows from the key (P-256: ECDSA-SHA256, P-384:
// ECDSA-SHA384, Ed25519: PureEd25519).
func selfSigned(key crypto.Signer) tls.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: testDomain},
		DNSNames:     []string{testDomain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

var (
	certP256 = sync.OnceValue(func() tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return selfSigned(k)
	})
	certP384 = sync.OnceValue(func() tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		return selfSigned(k)
	})
	certEd25519 = sync.OnceValue(func() tls.Certificate {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		return selfSigned(k)
	})
)

// handshake runs a real TLS handshake of the given version over net.Pipe
// and returns the server's connection info and the client's state.
func handshake(t testing.TB, cert tls.Certificate, version uint16) (ConnInfo, *tls.ConnectionState) {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	srv := tls.Server(c1, &tls.Config{
		Certificates:           []tls.Certificate{cert},
		MinVersion:             version,
		MaxVersion:             version,
		SessionTicketsDisabled: true,
	})
	cli := tls.Client(c2, &tls.Config{
		InsecureSkipVerify: true,
		MinVersion:         version,
		MaxVersion:         version,
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	ss, cs := srv.ConnectionState(), cli.ConnectionState()
	return ConnInfo{TLS: &ss, ServerCert: cert.Leaf, Domain: testDomain}, &cs
}

// wantFailure fails the test unless err is a *Failure with condition cond.
func wantFailure(t *testing.T, err error, cond string) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("err = %v (%T), want *Failure %s", err, err, cond)
	}
	if f.Condition != cond {
		t.Fatalf("condition = %q (%v), want %q", f.Condition, f, cond)
	}
	return f
}

func TestMechanisms(t *testing.T) {
	s, _ := newTestServer(t)
	tls13, _ := handshake(t, certP256(), tls.VersionTLS13)
	tls12, _ := handshake(t, certP256(), tls.VersionTLS12)
	ed13, _ := handshake(t, certEd25519(), tls.VersionTLS13)
	ed12, _ := handshake(t, certEd25519(), tls.VersionTLS12)
	noCert12 := tls12
	noCert12.ServerCert = nil
	plus := []string{"SCRAM-SHA-512-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"}
	plain := []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1"}
	all := slices.Concat(plus, plain, []string{"PLAIN"})
	for i, tc := range []struct {
		name  string
		conn  ConnInfo
		mechs []string
		cbs   []string
	}{
		0: {"no TLS", ConnInfo{Domain: testDomain}, plain, nil},
		1: {"TLS 1.3", tls13, all, []string{"tls-exporter", "tls-server-end-point"}},
		2: {"TLS 1.2", tls12, all, []string{"tls-server-end-point"}},
		3: {"TLS 1.2 without certificate", noCert12, slices.Concat(plain, []string{"PLAIN"}), nil},
		4: {"TLS 1.3 Ed25519", ed13, all, []string{"tls-exporter"}},
		5: {"TLS 1.2 Ed25519", ed12, slices.Concat(plain, []string{"PLAIN"}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Mechanisms(tc.conn); !slices.Equal(got, tc.mechs) {
				t.Errorf("%d: Mechanisms = %v, want %v", i, got, tc.mechs)
			}
			if got := s.ChannelBindings(tc.conn); !slices.Equal(got, tc.cbs) {
				t.Errorf("%d: ChannelBindings = %v, want %v", i, got, tc.cbs)
			}
		})
	}
	noPlain := NewServer(Config{Users: &memUsers{}, Normalize: normalize})
	if got := noPlain.Mechanisms(tls13); slices.Contains(got, "PLAIN") {
		t.Errorf("PLAIN advertised although not allowed: %v", got)
	}
}

func TestStart(t *testing.T) {
	s, _ := newTestServer(t)
	noPlain := NewServer(Config{Users: &memUsers{}, Normalize: normalize})
	tls13, _ := handshake(t, certP256(), tls.VersionTLS13)
	ed12, _ := handshake(t, certEd25519(), tls.VersionTLS12)
	clear := ConnInfo{Domain: testDomain}
	for i, tc := range []struct {
		s    *Server
		mech string
		conn ConnInfo
		cond string // "" for success
	}{
		0:  {s, "SCRAM-SHA-1", clear, ""},
		1:  {s, "SCRAM-SHA-256", clear, ""},
		2:  {s, "SCRAM-SHA-512", clear, ""},
		3:  {s, "SCRAM-SHA-256-PLUS", tls13, ""},
		4:  {s, "SCRAM-SHA-256-PLUS", clear, InvalidMechanism},
		5:  {s, "SCRAM-SHA-256-PLUS", ed12, InvalidMechanism},
		6:  {s, "PLAIN", tls13, ""},
		7:  {s, "PLAIN", clear, EncryptionRequired},
		8:  {noPlain, "PLAIN", tls13, InvalidMechanism},
		9:  {s, "DIGEST-MD5", tls13, InvalidMechanism},
		10: {s, "scram-sha-256", tls13, InvalidMechanism},
		11: {s, "SCRAM-SHA-384", tls13, InvalidMechanism},
		12: {s, "", tls13, InvalidMechanism},
		13: {s, "-PLUS", tls13, InvalidMechanism},
	} {
		ex, err := tc.s.Start(context.Background(), tc.mech, tc.conn)
		switch {
		case tc.cond == "" && (err != nil || ex == nil):
			t.Errorf("%d: Start(%q) = %v, %v", i, tc.mech, ex, err)
		case tc.cond != "":
			var f *Failure
			if !errors.As(err, &f) || f.Condition != tc.cond {
				t.Errorf("%d: Start(%q) err = %v, want %s", i, tc.mech, err, tc.cond)
			}
		}
	}
}

func TestNewServerPanics(t *testing.T) {
	for i, c := range []Config{
		0: {Normalize: normalize},
		1: {Users: &memUsers{}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%d: NewServer did not panic", i)
				}
			}()
			NewServer(c)
		}()
	}
}

func TestNewCredentials(t *testing.T) {
	keys, err := NewCredentials(testPassword, 0)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int{storage.SHA1: 20, storage.SHA256: 32, storage.SHA512: 64}
	salts := map[string]bool{}
	for name, size := range sizes {
		k, ok := keys[name]
		if !ok {
			t.Fatalf("no %s key", name)
		}
		if len(k.Salt) < 16 || k.Iterations != DefaultIterations || len(k.StoredKey) != size || len(k.ServerKey) != size {
			t.Errorf("%s: salt %d bytes, %d iterations, keys %d/%d bytes", name, len(k.Salt), k.Iterations, len(k.StoredKey), len(k.ServerKey))
		}
		salts[string(k.Salt)] = true
	}
	if len(keys) != 3 || len(salts) != 3 {
		t.Errorf("%d keys, %d distinct salts; want 3 and 3", len(keys), len(salts))
	}
	again, _ := NewCredentials(testPassword, 0)
	if string(again[storage.SHA256].Salt) == string(keys[storage.SHA256].Salt) {
		t.Error("salt reused across calls")
	}
	if k, err := NewCredentials(testPassword, 10000); err != nil || k[storage.SHA1].Iterations != 10000 {
		t.Errorf("NewCredentials(10000) = %v, %v", k[storage.SHA1].Iterations, err)
	}
	if _, err := NewCredentials(testPassword, 1000); err == nil {
		t.Error("NewCredentials accepted 1000 iterations")
	}
	for i, pw := range []string{
		0: "",             // OpaqueString: empty
		1: "pass\x00word", // OpaqueString: control character
		2: "ﬁsh",          // SASLprep (NFKC) gives "fish", OpaqueString (NFC) keeps "ﬁ"
		3: "ＡＢＣ",          // full-width: the same disagreement
	} {
		if _, err := NewCredentials(pw, 0); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("%d: NewCredentials(%q) err = %v, want ErrInvalidPassword", i, pw, err)
		}
	}
}

// TestRFCVectors replays the example exchanges of RFC 5802 §5 and RFC 7677
// §3 byte for byte, with the RFCs' salts and nonces.
func TestRFCVectors(t *testing.T) {
	for _, tc := range []struct {
		name, hash, salt64, serverNonce string
		steps                           [4]string
	}{{
		"RFC 5802", storage.SHA1, "QSXCR+Q6sek8bf92", "3rfcNHYJY1ZVvWVs7j",
		[4]string{
			"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
	}, {
		"RFC 7677", storage.SHA256, "W22ZaJ0SNY7soEsUEjb6gQ==", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		[4]string{
			"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m := mechFor(tc.hash)
			salt, _ := base64.StdEncoding.DecodeString(tc.salt64)
			stored, server, err := deriveKeys(m.hash, "pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			users := &memUsers{}
			users.CreateUser(context.Background(), storage.User{Username: "user", SCRAM: map[string]storage.SCRAMKey{
				tc.hash: {Salt: salt, Iterations: 4096, StoredKey: stored, ServerKey: server},
			}})
			s := NewServer(Config{Users: users, Normalize: normalize})
			s.nonceGen = func() string { return tc.serverNonce }
			ex, err := s.Start(context.Background(), m.name, ConnInfo{})
			if err != nil {
				t.Fatal(err)
			}
			out, done, err := ex.Step(context.Background(), []byte(tc.steps[0]))
			if err != nil || done || string(out) != tc.steps[1] {
				t.Fatalf("server-first = %q, %v, %v; want %q", out, done, err, tc.steps[1])
			}
			out, done, err = ex.Step(context.Background(), []byte(tc.steps[2]))
			if err != nil || !done || string(out) != tc.steps[3] {
				t.Fatalf("server-final = %q, %v, %v; want %q", out, done, err, tc.steps[3])
			}
			if ex.Username() != "user" {
				t.Errorf("Username = %q", ex.Username())
			}
		})
	}
}

// TestServerEndPointHash checks the RFC 5929 §4.1 hash choice against the
// certificate's signature algorithm.
func TestServerEndPointHash(t *testing.T) {
	p384 := certP384().Leaf
	got, ok := serverEndPoint(p384)
	want := sha512.Sum384(p384.Raw)
	if !ok || string(got) != string(want[:]) {
		t.Errorf("P-384 certificate: got %x, %v; want SHA-384 %x", got, ok, want)
	}
	if _, ok := serverEndPoint(certEd25519().Leaf); ok {
		t.Error("Ed25519 certificate: tls-server-end-point should be undefined")
	}
	if _, ok := serverEndPoint(nil); ok {
		t.Error("nil certificate: tls-server-end-point available")
	}
}
