// Package storage defines the small per-domain interfaces mote persists
// through. Backends (internal/storage/sqlite, later postgres) implement them
// and all pass the same conformance suite in internal/storage/storagetest.
//
// Every method takes a context and returns its error (wrapped, so errors.Is
// finds context.Canceled) when the context ends; absence is reported as
// ErrNotFound. Implementations are safe for concurrent use.
//
// Future per-domain interfaces (roster, offline, archive, pubsub, ...) follow
// the same shape: a small interface here, an accessor on Store, an
// implementation per backend with an interface guard, and a TestX function
// in storagetest run by storagetest.Run.
package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors shared by every backend.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrExists   = errors.New("storage: already exists")
)

// Hash names used as keys of User.SCRAM.
const (
	SHA1   = "SHA-1"
	SHA256 = "SHA-256"
	SHA512 = "SHA-512"
)

// SCRAMKey is the salted SCRAM credential for one hash function
// (RFC 5802 §3): the password itself is never stored.
type SCRAMKey struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// User is an account on this server.
type User struct {
	Username string              // normalised localpart (RFC 7622 §3.3)
	SCRAM    map[string]SCRAMKey // keyed by SHA1, SHA256, SHA512
	Created  time.Time
}

// Users stores accounts and their credentials.
type Users interface {
	// CreateUser adds u with its credentials, atomically; ErrExists if the
	// username is taken. A zero u.Created is recorded as the current time.
	// Created is kept to the second.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns the account; ErrNotFound if there is none. SCRAM is
	// never nil.
	GetUser(ctx context.Context, username string) (User, error)
	// SetCredentials replaces the account's SCRAM keys, atomically: hashes
	// not in keys are removed. ErrNotFound if there is no such account.
	SetCredentials(ctx context.Context, username string, keys map[string]SCRAMKey) error
	// DeleteUser removes the account and its credentials; ErrNotFound if
	// there is none.
	DeleteUser(ctx context.Context, username string) error
	// ListUsers returns all usernames in ascending byte order (the order of
	// sort.Strings, independent of any database locale).
	ListUsers(ctx context.Context) ([]string, error)
}

// Store is one opened backend.
type Store interface {
	// Users returns the account store.
	Users() Users
	// Close releases the backend. It must be safe to call once after use.
	Close() error
}
