package auth

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/xdg-go/scram"
	"github.com/xdg-go/stringprep"
	"golang.org/x/text/secure/precis"

	"github.com/mote-xmpp/mote/internal/storage"
)

// ErrInvalidPassword is returned (wrapped) by NewCredentials for a password
// that cannot be prepared, or that real clients would prepare differently.
var ErrInvalidPassword = errors.New("auth: invalid password")

// NewCredentials derives salted SCRAM credentials (RFC 5802 §3) for
// SHA-1, SHA-256 and SHA-512 from a password, each with a fresh random
// salt, keyed by storage.SHA1, storage.SHA256 and storage.SHA512. An
// iteration count of zero means DefaultIterations; one below it is an
// error (RFC 7677 §4).
//
// The password is prepared with the PRECIS OpaqueString profile (RFC 8265
// §4.2), which replaces SASLprep (RFC 4013) for SCRAM (RFC 7677 §4). Many
// clients still apply SASLprep and some none at all; for printable ASCII,
// and for most other text in Unicode normalization form C, all three give
// the same string. A password that SASLprep accepts but maps to a different
// string (compatibility characters such as "ﬁ" or full-width letters, which
// SASLprep's NFKC folds) is refused with ErrInvalidPassword, so that every
// stored credential works with SASLprep clients as well as OpaqueString ones.
func NewCredentials(password string, iterations int) (map[string]storage.SCRAMKey, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if iterations < DefaultIterations {
		return nil, fmt.Errorf("auth: iteration count %d is below the RFC 7677 minimum of %d", iterations, DefaultIterations)
	}
	p, err := preparePassword(password)
	if err != nil {
		return nil, err
	}
	if sp, err := stringprep.SASLprep.Prepare(password); err == nil && sp != p {
		return nil, fmt.Errorf("%w: SASLprep and OpaqueString prepare it differently, so clients would disagree", ErrInvalidPassword)
	}
	keys := make(map[string]storage.SCRAMKey, len(scramMechs))
	for _, m := range scramMechs {
		salt := make([]byte, saltSize)
		rand.Read(salt)
		stored, server, err := deriveKeys(m.hash, p, salt, iterations)
		if err != nil {
			return nil, err
		}
		keys[m.key] = storage.SCRAMKey{Salt: salt, Iterations: iterations, StoredKey: stored, ServerKey: server}
	}
	return keys, nil
}

// preparePassword applies the OpaqueString profile (RFC 8265 §4.2).
func preparePassword(password string) (string, error) {
	p, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidPassword, err)
	}
	return p, nil
}

// deriveKeys computes StoredKey and ServerKey from a prepared password (RFC
// 5802 §3): SaltedPassword = Hi(password, salt, i), ClientKey =
// HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey), ServerKey =
// HMAC(SaltedPassword, "Server Key").
func deriveKeys(h scram.HashGeneratorFcn, password string, salt []byte, iter int) (storedKey, serverKey []byte, err error) {
	salted, err := pbkdf2.Key(h, password, salt, iter, h().Size())
	if err != nil {
		return nil, nil, fmt.Errorf("auth: pbkdf2: %w", err)
	}
	ck := hmac.New(h, salted)
	ck.Write([]byte("Client Key"))
	sum := h()
	sum.Write(ck.Sum(nil))
	sk := hmac.New(h, salted)
	sk.Write([]byte("Server Key"))
	return sum.Sum(nil), sk.Sum(nil), nil
}

// lookup returns the account named local; found is false when there is none.
// Any other storage error is a temporary-auth-failure.
func (s *Server) lookup(ctx context.Context, local string) (u storage.User, found bool, err error) {
	u, err = s.users.GetUser(ctx, local)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.User{}, false, nil
	case err != nil:
		return storage.User{}, false, &Failure{Condition: TemporaryAuthFailure, Err: err}
	}
	return u, true, nil
}

// key returns the account's credential for m, or, when the account does not
// exist or has no usable credential for m, a fake one (see fakeKey). ok
// reports whether the key is real.
func (s *Server) key(u storage.User, found bool, local string, m *scramMech) (k storage.SCRAMKey, ok bool) {
	if found {
		if k, ok := u.SCRAM[m.key]; ok && usable(k, m) {
			return k, true
		}
	}
	return s.fakeKey(local, m), false
}

// usable reports whether k is a well-formed credential for m.
func usable(k storage.SCRAMKey, m *scramMech) bool {
	size := m.hash().Size()
	return k.Iterations > 0 && len(k.Salt) > 0 && len(k.StoredKey) == size && len(k.ServerKey) == size
}

// fakeKey returns a credential for an account that does not exist which is
// indistinguishable from outside from a real one: a salt derived as
// HMAC-SHA-256(secret, hash name || 0 || username) truncated to the real
// salt size (stable across attempts, and the same for m and its -PLUS
// variant, like a real salt), the configured iteration count, and random
// keys that no proof matches.
func (s *Server) fakeKey(local string, m *scramMech) storage.SCRAMKey {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(m.key))
	mac.Write([]byte{0})
	mac.Write([]byte(local))
	size := m.hash().Size()
	keys := make([]byte, 2*size)
	rand.Read(keys)
	return storage.SCRAMKey{
		Salt:       mac.Sum(nil)[:saltSize],
		Iterations: s.iterations,
		StoredKey:  keys[:size],
		ServerKey:  keys[size:],
	}
}
