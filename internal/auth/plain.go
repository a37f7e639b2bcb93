package auth

import (
	"context"
	"crypto/hmac"
	"strings"
	"unicode/utf8"

	"github.com/mote-xmpp/mote/internal/storage"
)

// plainOrder is the order in which PLAIN looks for a stored credential to
// check a password against.
var plainOrder = []string{storage.SHA256, storage.SHA1, storage.SHA512}

// plainExchange is a PLAIN exchange (RFC 4616), offered only over TLS. The
// password is checked by deriving the SCRAM StoredKey from it with the
// stored salt and iteration count and comparing in constant time; an
// unknown user costs the same PBKDF2 work against a fake key.
type plainExchange struct {
	s         *Server
	conn      ConnInfo
	emptySent bool
	done      bool
	username  string
	attempted string
}

// Step implements Exchange.
func (e *plainExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	out, done, err := e.step(ctx, in)
	if err != nil {
		e.s.failed("PLAIN", err)
	}
	return out, done, err
}

func (e *plainExchange) step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if e.done {
		return nil, false, failf(MalformedRequest, "the exchange is over")
	}
	if len(in) == 0 && !e.emptySent {
		// RFC 6120 §6.4.2: no initial response; ask for it with an empty
		// challenge (RFC 4616 §2: the server's challenge is empty).
		e.emptySent = true
		return nil, false, nil
	}
	e.done = true
	local, err := e.check(ctx, in)
	if err != nil {
		return nil, false, err
	}
	e.username = local
	return nil, true, nil
}

// Username implements Exchange.
func (e *plainExchange) Username() string { return e.username }

// Attempted implements Exchange.
func (e *plainExchange) Attempted() string { return e.attempted }

// check verifies message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC
// 4616 §2) and returns the normalised username.
func (e *plainExchange) check(ctx context.Context, in []byte) (string, error) {
	if !utf8.Valid(in) {
		return "", failf(MalformedRequest, "invalid UTF-8")
	}
	parts := strings.Split(string(in), "\x00")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", failf(MalformedRequest, "invalid PLAIN message")
	}
	authzid, authcid, passwd := parts[0], parts[1], parts[2]
	local, err := e.s.normalize(authcid)
	if err != nil {
		return "", &Failure{Condition: NotAuthorized, Err: err}
	}
	e.attempted = local
	if !e.s.authorize(authzid, authcid, local, e.conn.Domain) {
		return "", failf(InvalidAuthzID, "")
	}
	// Credentials are derived from the OpaqueString-prepared password (see
	// NewCredentials); a password that cannot be prepared matches none.
	pw, err := preparePassword(passwd)
	if err != nil {
		return "", failf(NotAuthorized, "")
	}
	u, found, err := e.s.lookup(ctx, local)
	if err != nil {
		return "", err
	}
	// Check against the first usable stored credential; an unknown user
	// costs the same PBKDF2 work against a fake SHA-256 key.
	m, k, ok := mechFor(storage.SHA256), storage.SCRAMKey{}, false
	if found {
		for _, name := range plainOrder {
			mm := mechFor(name)
			if kk, has := u.SCRAM[name]; has && usable(kk, mm) {
				m, k, ok = mm, kk, true
				break
			}
		}
	}
	if !ok {
		k = e.s.fakeKey(local, m)
	}
	stored, _, err := deriveKeys(m.hash, pw, k.Salt, k.Iterations)
	if err != nil {
		return "", &Failure{Condition: TemporaryAuthFailure, Err: err}
	}
	if !hmac.Equal(stored, k.StoredKey) || !ok {
		return "", failf(NotAuthorized, "")
	}
	return local, nil
}

// mechFor returns the SCRAM family whose storage key is name.
func mechFor(name string) *scramMech {
	for i := range scramMechs {
		if scramMechs[i].key == name {
			return &scramMechs[i]
		}
	}
	panic("auth: no SCRAM family for " + name)
}
