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
	// atomically: credentials, its device enrolment and certificate
	// login (its certificates stay recorded, revoked, so that an account
	// registered again under the name cannot use them), roster, pending subscription requests,
	// offline messages, documents, blocklist, message archive (the
	// Archive keyed by the username) and archiving preferences, and its
	// PEP nodes
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
	// DocumentKeys returns the keys of the account's documents, in
	// ascending byte order (for copying a deployment).
	DocumentKeys(ctx context.Context, username string) ([]string, error)
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

// ArchivedMessage is one message in a message archive (XEP-0313 §3).
type ArchivedMessage struct {
	// ID is the message's archive UID (XEP-0313 §3, §6.2), also its
	// XEP-0359 stanza-id (§3.5): chosen by the caller, unpredictable, unique
	// within the archive and never reused, even after the message is gone.
	ID string
	// Archive is the key of the archive that holds the message: a
	// username for an account's archive, or a key the caller makes up
	// for another archive, such as "pubsub.example.com/node" (usernames
	// never contain '/', so the two never collide).
	Archive string
	// With is the other party's JID, normalised, as the caller gives it:
	// full or bare. For an account's archive it is the 'to' of an outgoing
	// message or the 'from' of an incoming one (XEP-0313 §3); for a pubsub
	// or MUC archive, the publisher.
	With string
	// Stamp is when the server received (or sent) the message, the
	// XEP-0203 delay stamp of query results. It is kept to the
	// millisecond, rounded down, and read back in UTC.
	Stamp time.Time
	// Stanza is the message, serialised.
	Stanza []byte
}

// ArchiveQuery selects and pages messages of one archive (XEP-0313 §4).
// The filters combine: a message is returned if it matches all of those
// given. Archive order is the order in which messages were appended
// (XEP-0313 §3.1), not the order of their stamps.
type ArchiveQuery struct {
	// With, if not empty, keeps the messages exchanged with that JID
	// (XEP-0313 §4.1.1): given as a bare JID, the messages whose With has
	// that bare JID, with any resource or none; given as a full JID, those
	// whose With is exactly that JID.
	With string
	// Start and End, if not zero, keep the messages whose Stamp is at or
	// after Start and at or before End (XEP-0313 §4.1.2), compared in
	// whole milliseconds.
	Start, End time.Time
	// AfterID and BeforeID, if not empty, keep the messages after (before)
	// the message with that ID in archive order, not including it: the
	// form's after-id and before-id (XEP-0313 §4.1.3) or RSM <after/>
	// and <before/> (XEP-0059 §2.2, §2.3). An ID that names no message in
	// the archive is ErrNotFound.
	AfterID, BeforeID string
	// IDs, if not empty, keeps the messages with those IDs (the form's
	// 'ids' field, XEP-0313 §4.1.3), returned in archive order, not in
	// the order of IDs. An ID that names no message in the archive is
	// ErrNotFound.
	IDs []string
	// Max is the page size: at most Max messages are returned. Max <= 0
	// is no limit.
	Max int
	// Last pages backwards: the page is the last Max of the selected
	// messages instead of the first. It is RSM's <before/>: empty for the
	// last page of the archive (XEP-0313 §4.3.3), or with an ID, which
	// goes in BeforeID. (The form's before-id is BeforeID without Last: it
	// bounds the selection but pages forwards, XEP-0313 §9.)
	Last bool
}

// ArchivePage is the result of an archive query.
type ArchivePage struct {
	// Messages are the page's messages in archive order, oldest first,
	// also when the query paged backwards (Last).
	Messages []ArchivedMessage
	// Complete reports that no selected message lies beyond the page in
	// the paging direction: after the page's last message when paging
	// forwards, before its first when paging backwards (Last). It is the
	// 'complete' attribute of <fin/> (XEP-0313 §4.3.2).
	Complete bool
	// Count is the number of messages the query's filters (With, Start,
	// End, IDs) select, ignoring paging (AfterID, BeforeID, Max, Last):
	// the RSM <count/> (XEP-0059 §2.7).
	Count int
	// FirstIndex is the position of Messages[0] among those Count
	// messages, from 0: the 'index' of RSM's <first/> (XEP-0059 §2.6).
	// It is 0 when Messages is empty.
	FirstIndex int
}

// Default archiving modes of ArchivePrefs (XEP-0441, formerly part of
// XEP-0313).
const (
	ArchiveAlways = "always" // archive all messages
	ArchiveNever  = "never"  // archive no message
	ArchiveRoster = "roster" // archive messages with contacts in the roster
)

// ArchivePrefs are an account's archiving preferences (XEP-0441,
// formerly part of XEP-0313): the default mode, and the JIDs whose
// messages are always or never archived whatever it says.
type ArchivePrefs struct {
	// Default is ArchiveAlways, ArchiveNever or ArchiveRoster; the store
	// keeps the text it is given.
	Default string
	// Always and Never are bare JIDs, normalised, in ascending byte order
	// and without duplicates when read; nil when empty.
	Always, Never []string
}

// Archive stores message archives (XEP-0313) and archiving preferences
// (XEP-0441). Archives are keyed by a text the caller chooses (see
// ArchivedMessage.Archive); an archive exists while it holds messages.
type Archive interface {
	// Append stores msgs, each in the archive its Archive names, after
	// the messages already there, in the order given. It is atomic: if an
	// ID is already in its archive (or twice in msgs for one archive),
	// nothing is stored and the error is ErrExists. When Append returns
	// nil the messages are durable.
	Append(ctx context.Context, msgs []ArchivedMessage) error
	// QueryArchive returns the page of archive that q selects, read from
	// one snapshot. An empty or unknown archive has an empty, complete
	// page, not an error (but any ID q names is then ErrNotFound).
	QueryArchive(ctx context.Context, archive string, q ArchiveQuery) (ArchivePage, error)
	// PurgeArchive removes the archive's oldest messages, atomically, and
	// returns how many it removed: first those stamped before before
	// (zero: no age limit; compared in whole milliseconds), then all but
	// the newest keep (keep <= 0: no count limit). Messages go in archive
	// order so that no gap opens (XEP-0313 §3.2): with before, every
	// message up to the last one in archive order stamped before it goes,
	// even one stamped later.
	PurgeArchive(ctx context.Context, archive string, before time.Time, keep int) (removed int, err error)
	// DeleteArchive removes all of the archive's messages; no error if
	// there are none. Preferences stay.
	DeleteArchive(ctx context.Context, archive string) error
	// ArchiveKeys returns the keys of the archives that hold messages, in
	// ascending byte order.
	ArchiveKeys(ctx context.Context) ([]string, error)
	// GetArchivePrefs returns the account's preferences; an account that
	// never set any has Default ArchiveAlways and empty lists.
	GetArchivePrefs(ctx context.Context, username string) (ArchivePrefs, error)
	// SetArchivePrefs replaces the account's preferences.
	SetArchivePrefs(ctx context.Context, username string, p ArchivePrefs) error
	// AllArchivePrefs returns the preferences of every account that set
	// some (SetArchivePrefs), by username, lists sorted: one read at
	// start instead of one per account.
	AllArchivePrefs(ctx context.Context) (map[string]ArchivePrefs, error)
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
	// Archive returns the message archive store.
	Archive() Archive
	// Devices returns the device and certificate store.
	Devices() Devices
	// Close releases the backend. It must be safe to call once after use.
	Close() error
}
