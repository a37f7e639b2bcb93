// Package accounts is account administration shared by the CLI (`mote
// user ...`) and the admin HTTP API (internal/admin): usernames are
// normalised like JID localparts and passwords are turned into salted
// SCRAM keys before they reach storage.
//
// The functions take the storage they act on. The CLI passes the
// database (storage.Users), which is safe while a server runs on it; the
// admin API passes the running server's, whose Deleter removes an account
// the way XEP-0077 cancellation does (module.Host.RemoveAccount: modules
// forget it, its sessions are closed).
package accounts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mote-xmpp/mote/internal/auth"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// Iterations is the PBKDF2 iteration count for new credentials
// (RFC 7677 §4 recommends at least 4096).
const Iterations = 4096

// Errors returned to administrators. ErrInvalidUsername, ErrEmptyPassword
// and ErrInvalidPassword are the caller's mistakes; ErrExists and
// ErrNotFound are those of storage.
var (
	ErrInvalidUsername = errors.New("accounts: invalid username")
	ErrEmptyPassword   = errors.New("accounts: empty password")
	ErrInvalidPassword = auth.ErrInvalidPassword
	ErrExists          = storage.ErrExists
	ErrNotFound        = storage.ErrNotFound
)

// Normalize returns the account name for username (RFC 7622 §3.3); the
// error wraps ErrInvalidUsername.
func Normalize(username string) (string, error) {
	u, err := jid.NormalizeLocal(username)
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrInvalidUsername, username, err)
	}
	return u, nil
}

// Add creates an account and returns its normalised name.
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

// Deleter removes an account by its normalised name; ErrNotFound if there
// is none. storage.Users is one (the database alone); the server provides
// another that also tells the running modules and closes the sessions.
type Deleter interface {
	DeleteUser(ctx context.Context, username string) error
}

// Delete removes an account.
func Delete(ctx context.Context, d Deleter, username string) error {
	u, err := Normalize(username)
	if err != nil {
		return err
	}
	return d.DeleteUser(ctx, u)
}

// Account is what an administrator sees of an account.
type Account struct {
	Username string
	Created  time.Time
	// HasPassword reports whether the account has password credentials
	// (a provisioned device has none).
	HasPassword bool
}

// Get returns an account; ErrNotFound if there is none.
func Get(ctx context.Context, users storage.Users, username string) (Account, error) {
	u, err := Normalize(username)
	if err != nil {
		return Account{}, err
	}
	su, err := users.GetUser(ctx, u)
	if err != nil {
		return Account{}, err
	}
	return Account{Username: su.Username, Created: su.Created, HasPassword: len(su.SCRAM) > 0}, nil
}

// List returns at most limit usernames (all when limit <= 0) that sort
// after the username after ("" from the start), in ascending byte order,
// and whether more follow. It reads every username from storage
// (storage.Users has no paged listing yet), which is fine for the
// thousands of accounts of one deployment and an administrator's request.
func List(ctx context.Context, users storage.Users, after string, limit int) (names []string, more bool, err error) {
	all, err := users.ListUsers(ctx)
	if err != nil {
		return nil, false, err
	}
	// ListUsers sorts in byte order: skip to the first name after the cursor.
	all = all[sort.Search(len(all), func(i int) bool { return all[i] > after }):]
	if limit > 0 && len(all) > limit {
		return all[:limit:limit], true, nil
	}
	return all, false, nil
}

func credentials(password string) (map[string]storage.SCRAMKey, error) {
	if password == "" {
		return nil, ErrEmptyPassword
	}
	return auth.NewCredentials(password, Iterations)
}
