// Package auth implements the server side of the SASL mechanisms mote
// offers to clients (RFC 6120 §6): SCRAM-SHA-1, SCRAM-SHA-256 and
// SCRAM-SHA-512 (RFC 5802, RFC 7677), their -PLUS variants with channel
// binding (tls-exporter, RFC 9266; tls-server-end-point, RFC 5929;
// advertised per XEP-0440), PLAIN over TLS (RFC 4616), and EXTERNAL with
// client certificates (XEP-0178; external.go). It also derives
// the salted SCRAM credentials that storage keeps instead of passwords.
//
// The package never reveals whether an account exists: an unknown user gets
// a SCRAM challenge shaped like a real one, with a stable salt derived from
// a server secret, and fails only at the final proof, with the same
// not-authorized failure as a wrong password. PLAIN does the same PBKDF2 work
// for unknown users as for known ones.
//
// A Server is safe for concurrent use; an Exchange belongs to one
// connection and must not be used from more than one goroutine at a time.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// SASL failure conditions (RFC 6120 §6.5), the values of Failure.Condition.
const (
	Aborted              = "aborted"
	AccountDisabled      = "account-disabled"
	CredentialsExpired   = "credentials-expired"
	EncryptionRequired   = "encryption-required"
	IncorrectEncoding    = "incorrect-encoding"
	InvalidAuthzID       = "invalid-authzid"
	InvalidMechanism     = "invalid-mechanism"
	MalformedRequest     = "malformed-request"
	MechanismTooWeak     = "mechanism-too-weak"
	NotAuthorized        = "not-authorized"
	TemporaryAuthFailure = "temporary-auth-failure"
)

// Failure is a SASL failure (RFC 6120 §6.4.5). Condition is the name of the
// RFC 6120 §6.5 condition element; Text, when set, is a human-readable
// explanation safe to send to the client. Err is the underlying cause, if
// any (a storage error behind temporary-auth-failure, say): it is for logs
// and never sent.
type Failure struct {
	Condition string
	Text      string
	Err       error
}

// Error returns "auth: " followed by the condition and the text, if any.
func (f *Failure) Error() string {
	s := "auth: " + f.Condition
	if f.Text != "" {
		s += ": " + f.Text
	}
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause, if any.
func (f *Failure) Unwrap() error { return f.Err }

// failf returns a Failure with the given condition and text.
func failf(cond, text string) *Failure { return &Failure{Condition: cond, Text: text} }

// DefaultIterations is the PBKDF2 iteration count used when Config or
// NewCredentials is given none, and the minimum accepted: RFC 7677 §4 says
// the iteration count SHOULD be at least 4096.
const DefaultIterations = 4096

// saltSize is the length in bytes of the salts NewCredentials generates and
// of the fake salts given to unknown users, so both look the same.
const saltSize = 16

// Config configures a Server.
type Config struct {
	// Users holds accounts and their SCRAM credentials. Required.
	Users storage.Users
	// Normalize maps a SASL username to the account's localpart; the caller
	// passes jid.NormalizeLocal. An error means no such account can exist and
	// the exchange fails with not-authorized. Required.
	Normalize func(string) (string, error)
	// Secret is a server-side random key from which fake but stable salts
	// are derived for unknown users, so that a salt does not tell whether an
	// account exists. It must stay the same across restarts and cluster
	// nodes for the salts to stay stable; if empty, NewServer picks a random
	// one for the life of the process.
	Secret []byte
	// Iterations is the PBKDF2 iteration count of fake challenges. It should
	// match the count new credentials are created with. Zero, or anything
	// below the RFC 7677 §4 minimum of 4096, means DefaultIterations.
	Iterations int
	// AllowPLAIN offers PLAIN on TLS connections.
	AllowPLAIN bool
	// OnFailure, when not nil, is called for every exchange that fails in
	// this package (Start or Step returned a *Failure), with the
	// mechanism's name ("other" for one this server does not know) and
	// the failure's condition; for metrics. It must not block. Failures
	// the connection decides itself (encryption-required before Start,
	// undecodable base64, an abort) it reports with Server.Failed.
	OnFailure func(mechanism, condition string)
	// CertIdentities and CertLogins enable SASL EXTERNAL with client
	// certificates (XEP-0178; external.go); both or neither.
	CertIdentities CertIdentities
	CertLogins     CertLogins
}

// ErrUnsupportedChannelBinding is the cause (Failure.Err) of a failure
// for a channel-binding type this connection cannot offer.
var ErrUnsupportedChannelBinding = errors.New("auth: unsupported channel-binding type")

// ConnInfo describes the connection a SASL exchange runs on.
type ConnInfo struct {
	// TLS is the state of the connection's TLS session; nil before TLS.
	TLS *tls.ConnectionState
	// ServerCert is the leaf certificate this server presented on the
	// connection, for tls-server-end-point channel binding (RFC 5929 §4).
	// It is not in TLS.PeerCertificates, which holds the client's. Nil
	// disables tls-server-end-point.
	ServerCert *x509.Certificate
	// Domain is the domain the stream is for; an authorization identity of
	// user@Domain names the authenticated user (RFC 6120 §6.4.6).
	Domain string
	// PlusUnsupported is set when the client already tried a -PLUS
	// mechanism on this stream with a channel-binding type we do not
	// support (for example tls-unique on TLS 1.3, as clients without
	// XEP-0440 do). Such a client has seen our -PLUS mechanisms, so no
	// downgrade happened, and its later gs2 flag "y" (RFC 5802 §6) is
	// accepted instead of being taken for one.
	PlusUnsupported bool
}

// Server starts SASL exchanges for client connections.
type Server struct {
	users      storage.Users
	normalize  func(string) (string, error)
	secret     []byte
	iterations int
	allowPLAIN bool
	onFailure  func(mechanism, condition string)
	// certIdentities and certLogins serve EXTERNAL (nil: not offered).
	certIdentities CertIdentities
	certLogins     CertLogins
	// nonceGen, when set, replaces xdg-go/scram's random server nonce; tests
	// set it for deterministic transcripts.
	nonceGen func() string
}

// NewServer returns a Server. It panics if c.Users or c.Normalize is nil: a
// wiring mistake, not a runtime condition.
func NewServer(c Config) *Server {
	if c.Users == nil {
		panic("auth: Config.Users is nil")
	}
	if c.Normalize == nil {
		panic("auth: Config.Normalize is nil")
	}
	s := &Server{
		users:      c.Users,
		normalize:  c.Normalize,
		secret:     append([]byte(nil), c.Secret...),
		iterations: c.Iterations,
		allowPLAIN: c.AllowPLAIN,
		onFailure:  c.OnFailure,

		certIdentities: c.CertIdentities,
		certLogins:     c.CertLogins,
	}
	if s.iterations < DefaultIterations {
		s.iterations = DefaultIterations
	}
	if len(s.secret) == 0 {
		s.secret = make([]byte, 32)
		rand.Read(s.secret)
	}
	return s
}

// Mechanisms returns the mechanisms to advertise on a connection (RFC 6120
// §6.4.1), strongest first: EXTERNAL when the client presented a
// certificate and certificates are configured (XEP-0178 §3), the SCRAM
// -PLUS variants when channel binding is available (see ChannelBindings),
// the plain SCRAM variants, and PLAIN when the connection is
// TLS-protected and PLAIN is allowed.
func (s *Server) Mechanisms(conn ConnInfo) []string {
	var ms []string
	if s.offersExternal(conn) {
		ms = append(ms, External)
	}
	if len(s.ChannelBindings(conn)) > 0 {
		for _, m := range scramMechs {
			ms = append(ms, m.name+"-PLUS")
		}
	}
	for _, m := range scramMechs {
		ms = append(ms, m.name)
	}
	if conn.TLS != nil && s.allowPLAIN {
		ms = append(ms, "PLAIN")
	}
	return ms
}

// ChannelBindings returns the channel-binding types usable on a connection,
// to advertise per XEP-0440 §2, strongest first: tls-exporter on TLS 1.3
// (RFC 9266 §3; not offered on TLS 1.2, where it would need the extended
// master secret), and tls-server-end-point on any TLS version when the
// server certificate's signature names a single hash (RFC 5929 §4.1).
func (s *Server) ChannelBindings(conn ConnInfo) []string {
	var ts []string
	if _, ok := channelBinding(conn, cbTLSExporter); ok {
		ts = append(ts, cbTLSExporter)
	}
	if _, ok := channelBinding(conn, cbTLSServerEndPoint); ok {
		ts = append(ts, cbTLSServerEndPoint)
	}
	return ts
}

// Exchange is one SASL exchange (RFC 6120 §6.4).
type Exchange interface {
	// Step takes the client's decoded response (the initial response may be
	// empty or nil: the exchange then answers with an empty challenge) and
	// returns the server data to send: a challenge when done is false, the
	// additional data with success (RFC 6120 §6.3.10) when done is true. On
	// error the exchange is over and the error is a *Failure.
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	// Username returns the normalised localpart of the authenticated
	// account, once Step has returned done.
	Username() string
	// Attempted returns the normalised localpart the client tried to
	// authenticate as, once known (success or not), or "". It keys
	// per-account failure back-off.
	Attempted() string
}

// Start begins an exchange with the named mechanism. An unknown or
// unavailable mechanism fails with invalid-mechanism; PLAIN without TLS with
// encryption-required (RFC 6120 §6.4.5).
func (s *Server) Start(ctx context.Context, mech string, conn ConnInfo) (Exchange, error) {
	ex, err := s.start(mech, conn)
	if err != nil {
		s.failed(mechanismName(mech), err)
	}
	return ex, err
}

// mechanismName returns mech if this server knows it, else "other": the
// name comes from the client and labels metrics.
func mechanismName(mech string) string {
	if mech == "PLAIN" || mech == External {
		return mech
	}
	name, _ := strings.CutSuffix(mech, "-PLUS")
	for i := range scramMechs {
		if scramMechs[i].name == name {
			return mech
		}
	}
	return "other"
}

// Failed reports to Config.OnFailure a failure the connection decided
// itself, for the mechanism the client named.
func (s *Server) Failed(mech, condition string) {
	if s.onFailure != nil {
		s.onFailure(mechanismName(mech), condition)
	}
}

// failed reports a failed exchange to Config.OnFailure.
func (s *Server) failed(mech string, err error) {
	if s.onFailure == nil {
		return
	}
	cond := TemporaryAuthFailure
	var f *Failure
	if errors.As(err, &f) {
		cond = f.Condition
	}
	s.onFailure(mech, cond)
}

func (s *Server) start(mech string, conn ConnInfo) (Exchange, error) {
	if mech == External {
		if !s.offersExternal(conn) {
			return nil, &Failure{Condition: InvalidMechanism, Text: "EXTERNAL needs a client certificate", Err: errNoCertificates}
		}
		return &externalExchange{s: s, conn: conn}, nil
	}
	if mech == "PLAIN" {
		if !s.allowPLAIN {
			return nil, failf(InvalidMechanism, "")
		}
		if conn.TLS == nil {
			return nil, failf(EncryptionRequired, "PLAIN requires TLS")
		}
		return &plainExchange{s: s, conn: conn}, nil
	}
	name, plus := strings.CutSuffix(mech, "-PLUS")
	for i := range scramMechs {
		m := &scramMechs[i]
		if m.name != name {
			continue
		}
		if plus && len(s.ChannelBindings(conn)) == 0 {
			return nil, failf(InvalidMechanism, "channel binding is not available")
		}
		return &scramExchange{s: s, mech: m, plus: plus, conn: conn}, nil
	}
	return nil, failf(InvalidMechanism, "")
}

// authorize reports whether the client may act as authzid after
// authenticating as the account local with the raw SASL username user. RFC
// 6120 §6.4.6: an empty authzid, or one naming the authenticated account
// (its username or its bare JID), is accepted; any other is refused with
// invalid-authzid.
func (s *Server) authorize(authzid, user, local, domain string) bool {
	if authzid == "" || authzid == user || authzid == local {
		return true
	}
	l, d, ok := strings.Cut(authzid, "@")
	if ok && !sameDomain(d, domain) {
		return false
	}
	nl, err := s.normalize(l)
	return err == nil && nl == local
}

// sameDomain reports whether a and b are the same domainpart once
// normalised (RFC 7622 §3.2); a resourcepart makes a invalid.
func sameDomain(a, b string) bool {
	na, err := jid.NormalizeDomain(a)
	if err != nil {
		return false
	}
	nb, err := jid.NormalizeDomain(b)
	return err == nil && na == nb
}
