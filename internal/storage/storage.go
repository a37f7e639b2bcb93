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
	// ErrQuota is returned when a write would take an account over a
	// limit the caller gave (an offline-message quota).
	ErrQuota = errors.New("storage: quota exceeded")
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
	// DeleteUser removes the account and everything stored for it,
	// atomically: credentials, roster, pending subscription requests,
	// offline messages, documents and blocklist, and its PEP nodes
	// (service "pep:<username>") with their affiliations, subscriptions and
	// items, in a backend that stores pubsub. It also removes what other
	// accounts hold about it, so that an account registered again under the
	// same name inherits nothing: roster items and pending requests of
	// other accounts whose Contact has this username as its localpart (this
	// server hosts one domain). Those roster items lose their subscription
	// (Subscription none, Ask and Approved false; the items themselves
	// stay, and the version of each roster that changed increases); those
	// pending requests are dropped. ErrNotFound if there is no such account.
	DeleteUser(ctx context.Context, username string) error
	// ListUsers returns all usernames in ascending byte order (the order of
	// sort.Strings, independent of any database locale).
	ListUsers(ctx context.Context) ([]string, error)
}

// Subscription is a roster item's presence subscription state
// (RFC 6121 §2.1.2.5), from the roster owner's point of view.
type Subscription uint8

// Subscription states.
const (
	SubNone Subscription = iota // neither side is subscribed
	SubTo                       // the owner receives the contact's presence
	SubFrom                     // the contact receives the owner's presence
	SubBoth                     // both
)

// String returns the value of the roster item's subscription attribute.
func (s Subscription) String() string {
	switch s {
	case SubTo:
		return "to"
	case SubFrom:
		return "from"
	case SubBoth:
		return "both"
	}
	return "none"
}

// RosterItem is one contact in an account's roster (RFC 6121 §2.1.2).
type RosterItem struct {
	Contact      string // bare JID, normalised; the key within a roster
	Name         string // "" when the item has none
	Subscription Subscription
	Ask          bool     // Pending Out: the owner asked to subscribe (§3.1.2)
	Approved     bool     // the owner pre-approved the contact's request (§3.4)
	Groups       []string // distinct, in the order set; nil when none
}

// Roster is an account's roster and its version (RFC 6121 §2.6).
type Roster struct {
	// Version increases with every change to the items (Put or Delete);
	// it is 0 for an account whose roster never changed.
	Version int64
	Items   []RosterItem // ordered by Contact
}

// PendingIn is a subscription request the owner has not answered yet
// (RFC 6121 §3.1.3, the Pending In state), with the request stanza as
// received, serialised, to deliver again at the owner's next login.
type PendingIn struct {
	Contact string // bare JID of the requester, normalised
	Stanza  []byte
}

// Rosters stores rosters and pending subscription requests. Pending
// requests are independent of roster items: a request from a contact that
// is not in the roster is kept too.
type Rosters interface {
	// GetRoster returns the account's roster; an account without items
	// has an empty one (never ErrNotFound).
	GetRoster(ctx context.Context, username string) (Roster, error)
	// PutRosterItem adds or replaces the item for item.Contact and
	// returns the roster's new version.
	PutRosterItem(ctx context.Context, username string, item RosterItem) (version int64, err error)
	// DeleteRosterItem removes the item and returns the roster's new
	// version; ErrNotFound if there is no such item.
	DeleteRosterItem(ctx context.Context, username, contact string) (version int64, err error)
	// GetPendingIn returns the pending requests, ordered by Contact.
	GetPendingIn(ctx context.Context, username string) ([]PendingIn, error)
	// PutPendingIn adds or replaces the request from p.Contact.
	PutPendingIn(ctx context.Context, username string, p PendingIn) error
	// DeletePendingIn removes the request from contact; ErrNotFound if
	// there is none.
	DeletePendingIn(ctx context.Context, username, contact string) error
	// PendingUsers returns the accounts that have pending requests, in
	// ascending byte order (the server remembers them, so that a login
	// without any reads nothing).
	PendingUsers(ctx context.Context) ([]string, error)
}

// OfflineMessage is a message stored for an account with no available
// resource (XEP-0160).
type OfflineMessage struct {
	ID     int64     // increases in the order messages were stored
	Stamp  time.Time // when the server received it (XEP-0203), to the millisecond
	Stanza []byte    // the message, serialised
}

// Offline stores messages for later delivery.
type Offline interface {
	// StoreOffline appends a message unless the account already has max
	// or more, which is ErrQuota (max <= 0: no limit). It returns the
	// message's ID.
	StoreOffline(ctx context.Context, username string, stamp time.Time, stanza []byte, max int) (id int64, err error)
	// GetOffline returns the stored messages, oldest first.
	GetOffline(ctx context.Context, username string) ([]OfflineMessage, error)
	// DeleteOffline removes the messages with ID <= upTo (those delivered).
	DeleteOffline(ctx context.Context, username string, upTo int64) error
	// CountOffline returns how many messages are stored.
	CountOffline(ctx context.Context, username string) (int, error)
	// OfflineUsers returns the accounts that have stored messages, in
	// ascending byte order.
	OfflineUsers(ctx context.Context) ([]string, error)
}

// Documents stores small XML documents per account under a key: the
// vCard (XEP-0054, key "vcard-temp") and private XML storage (XEP-0049,
// key "private:" + the namespace).
type Documents interface {
	// GetDocument returns the document; ErrNotFound if there is none.
	GetDocument(ctx context.Context, username, key string) ([]byte, error)
	// PutDocument stores doc under key, replacing what was there.
	PutDocument(ctx context.Context, username, key string, doc []byte) error
	// DeleteDocument removes the document; no error if there is none.
	DeleteDocument(ctx context.Context, username, key string) error
}

// Blocklists stores each account's blocked JIDs (XEP-0191).
type Blocklists interface {
	// GetBlocklist returns the blocked JIDs in ascending byte order.
	GetBlocklist(ctx context.Context, username string) ([]string, error)
	// Block adds the JIDs (already blocked ones are no error).
	Block(ctx context.Context, username string, jids []string) error
	// Unblock removes the JIDs (absent ones are no error); nil or empty
	// jids removes all.
	Unblock(ctx context.Context, username string, jids []string) error
	// AllBlocklists returns every non-empty blocklist by username (the
	// server keeps them all in memory: blocking is checked on every stanza).
	AllBlocklists(ctx context.Context) (map[string][]string, error)
}

// Store is one opened backend.
type Store interface {
	// Users returns the account store.
	Users() Users
	// Rosters returns the roster store.
	Rosters() Rosters
	// Offline returns the offline message store.
	Offline() Offline
	// Documents returns the per-account document store.
	Documents() Documents
	// Blocklists returns the blocklist store.
	Blocklists() Blocklists
	// Close releases the backend. It must be safe to call once after use.
	Close() error
}
