// Package accounts is account administration shared by the CLI and (later)
// the admin HTTP API: usernames are normalised like JID localparts and
// passwords are turned into salted SCRAM keys before they reach storage.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mote-xmpp/mote/internal/auth"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// Iterations is the PBKDF2 iteration count for new credentials
// (RFC 7677 §4 recommends at least 4096).
const Iterations = 4096

// Errors returned to administrators.
var (
	ErrEmptyPassword = errors.New("accounts: empty password")
	ErrExists        = storage.ErrExists
	ErrNotFound      = storage.ErrNotFound
)

// Normalize returns the account name for username (RFC 7622 §3.3).
func Normalize(username string) (string, error) {
	u, err := jid.NormalizeLocal(username)
	if err != nil {
		return "", fmt.Errorf("accounts: invalid username %q: %w", username, err)
	}
	return u, nil
}

// Add creates an account.
func Add(ctx context.Context, users storage.Users, username, password string) (string, error) {
	u, err := Normalize(username)
	if err != nil {
		return "", err
	}
	keys, err := credentials(password)
	if err != nil {
		return "", err
	}
	return u, users.CreateUser(ctx, storage.User{Username: u, SCRAM: keys, Created: time.Now()})
}

// SetPassword replaces an account's credentials.
func SetPassword(ctx context.Context, users storage.Users, username, password string) error {
	u, err := Normalize(username)
	if err != nil {
		return err
	}
	keys, err := credentials(password)
	if err != nil {
		return err
	}
	return users.SetCredentials(ctx, u, keys)
}

// Delete removes an account.
func Delete(ctx context.Context, users storage.Users, username string) error {
	u, err := Normalize(username)
	if err != nil {
		return err
	}
	return users.DeleteUser(ctx, u)
}

func credentials(password string) (map[string]storage.SCRAMKey, error) {
	if password == "" {
		return nil, ErrEmptyPassword
	}
	return auth.NewCredentials(password, Iterations)
}
