package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/mote-xmpp/mote/jid"
)

// SASL EXTERNAL with client certificates (XEP-0178; RFC 4422 Appendix
// A). The TLS handshake asked for a certificate; the identity comes from
// the verified certificate alone, never from the client's words.

// External is the name of the mechanism.
const External = "EXTERNAL"

// CertIdentities verifies a client's certificate chain (the leaf first, as
// the TLS handshake presented it) against the configured trust anchors,
// validity, key usage and revocation, and returns the identities its
// subjectAltName carries: the id-on-xmppAddr values, and the dNSName
// values. An error means the certificate must not be trusted; its text is
// for logs.
type CertIdentities func(chain []*x509.Certificate) (xmppAddrs, dnsNames []string, err error)

// CertLogins reports whether an account may log in with a client
// certificate (its login policy): false for one that may not, or does not
// exist.
type CertLogins func(ctx context.Context, username string) (bool, error)

// offersExternal reports whether EXTERNAL can be offered on conn: the
// client presented a certificate and certificates are configured.
func (s *Server) offersExternal(conn ConnInfo) bool {
	return s.certIdentities != nil && s.certLogins != nil && conn.TLS != nil && len(conn.TLS.PeerCertificates) > 0
}

// externalExchange is a SASL EXTERNAL exchange. The client's only message
// is an optional authorization identity.
type externalExchange struct {
	s         *Server
	conn      ConnInfo
	emptySent bool
	done      bool
	username  string
	attempted string
}

// Step implements Exchange.
func (e *externalExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	out, done, err := e.step(ctx, in)
	if err != nil {
		e.s.failed(External, err)
	}
	return out, done, err
}

func (e *externalExchange) step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if e.done {
		return nil, false, failf(MalformedRequest, "the exchange is over")
	}
	if in == nil && !e.emptySent {
		// No initial response (not even "=", RFC 6120 §6.4.2): ask for
		// the authorization identity with an empty challenge.
		e.emptySent = true
		return nil, false, nil
	}
	e.done = true
	local, err := e.check(ctx, string(in))
	if err != nil {
		return nil, false, err
	}
	e.username = local
	return nil, true, nil
}

// Username implements Exchange.
func (e *externalExchange) Username() string { return e.username }

// Attempted implements Exchange.
func (e *externalExchange) Attempted() string { return e.attempted }

// check selects the account from the certificate and authzid (XEP-0178
// §3): with no authzid, the certificate's only identity on this domain;
// with one, an identity the certificate carries, else invalid-authzid.
// The account must exist and allow certificate logins.
func (e *externalExchange) check(ctx context.Context, authzid string) (string, error) {
	if !utf8.ValidString(authzid) || strings.ContainsRune(authzid, 0) {
		return "", failf(MalformedRequest, "invalid authorization identity")
	}
	addrs, dns, err := e.s.certIdentities(e.conn.TLS.PeerCertificates)
	if err != nil {
		return "", &Failure{Condition: NotAuthorized, Text: "the certificate is not trusted", Err: err}
	}
	accounts := e.s.certAccounts(addrs, dns, e.conn.Domain)
	var local string
	switch {
	case authzid != "":
		want, err := jid.Parse(authzid)
		if err != nil || want.Local() == "" || want.Resource() != "" || !sameDomain(want.Domain(), e.conn.Domain) {
			return "", failf(InvalidAuthzID, "")
		}
		for _, a := range accounts {
			if a == want.Local() {
				local = a
			}
		}
		if local == "" {
			// §3: an authorization identity the certificate does not
			// carry.
			return "", failf(InvalidAuthzID, "the certificate does not name "+want.Bare().String())
		}
	case len(accounts) == 1:
		local = accounts[0]
	case len(accounts) == 0:
		return "", failf(NotAuthorized, "the certificate names no account of this domain")
	default:
		// §3: several identities; the client must say which.
		return "", failf(InvalidAuthzID, "the certificate names several accounts: give an authorization identity")
	}
	e.attempted = local
	ok, err := e.s.certLogins(ctx, local)
	if err != nil {
		return "", &Failure{Condition: TemporaryAuthFailure, Err: err}
	}
	if !ok {
		return "", failf(NotAuthorized, "")
	}
	return local, nil
}

// certAccounts returns the localparts of the accounts of domain that a
// certificate's identities name, without duplicates: each xmppAddr that is
// a bare JID of domain, or when there is no xmppAddr, each dNSName of the
// form <localpart>.<domain> (XEP-0178 §3 leaves dNSName to the server; a
// device named by its host name maps to the account of that name).
func (s *Server) certAccounts(addrs, dns []string, domain string) []string {
	var out []string
	add := func(local string) {
		l, err := s.normalize(local)
		if err != nil {
			return
		}
		for _, o := range out {
			if o == l {
				return
			}
		}
		out = append(out, l)
	}
	for _, a := range addrs {
		j, err := jid.Parse(a)
		if err == nil && j.Local() != "" && j.Resource() == "" && sameDomain(j.Domain(), domain) {
			add(j.Local())
		}
	}
	if len(addrs) > 0 {
		return out
	}
	suffix := "." + strings.ToLower(domain)
	for _, d := range dns {
		if l, ok := strings.CutSuffix(strings.ToLower(d), suffix); ok && l != "" && !strings.Contains(l, ".") {
			add(l)
		}
	}
	return out
}

// errNoCertificates is the cause when EXTERNAL is asked for without the
// configuration or a client certificate.
var errNoCertificates = errors.New("auth: no client certificate")
