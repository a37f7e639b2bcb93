package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations is the schema history: migrations[i] takes the database from
// version i to version i+1 (the version is PRAGMA user_version, 0 for a new
// file). Append new steps; never edit or reorder released ones.
var migrations = []string{
	// 1: accounts and their SCRAM credentials (RFC 5802 §3). Only the salted
	// keys are stored, never a password. created is Unix seconds.
	`CREATE TABLE users (
		username TEXT PRIMARY KEY NOT NULL,
		created  INTEGER NOT NULL
	) STRICT;
	CREATE TABLE credentials (
		username   TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
		hash       TEXT NOT NULL,
		salt       BLOB NOT NULL,
		iterations INTEGER NOT NULL,
		stored_key BLOB NOT NULL,
		server_key BLOB NOT NULL,
		PRIMARY KEY (username, hash)
	) STRICT, WITHOUT ROWID;`,

	// 2: rosters, pending subscription requests, offline messages, documents
	// and blocklists. There are no foreign keys to users: other code may
	// store for a username before the account exists or after it is gone,
	// and DeleteUser deletes these rows explicitly in its transaction.
	//
	// contact_local is the text of contact before its first '@' ('' when
	// there is none), indexed so that DeleteUser finds what other accounts
	// hold about a username (this server hosts one domain). Booleans are 0
	// or 1. A roster item's groups are rows of roster_groups, ordered by pos.
	// roster_versions holds a counter per account, incremented with every
	// change to its items; no row means version 0. offline.stamp is Unix
	// milliseconds; AUTOINCREMENT keeps ids increasing, never reused.
	`CREATE TABLE roster_items (
		username      TEXT NOT NULL,
		contact       TEXT NOT NULL,
		contact_local TEXT NOT NULL,
		name          TEXT NOT NULL,
		subscription  INTEGER NOT NULL,
		ask           INTEGER NOT NULL,
		approved      INTEGER NOT NULL,
		PRIMARY KEY (username, contact)
	) STRICT, WITHOUT ROWID;
	CREATE INDEX roster_items_contact_local ON roster_items (contact_local);
	CREATE TABLE roster_groups (
		username TEXT NOT NULL,
		contact  TEXT NOT NULL,
		name     TEXT NOT NULL,
		pos      INTEGER NOT NULL,
		PRIMARY KEY (username, contact, name)
	) STRICT, WITHOUT ROWID;
	CREATE TABLE roster_versions (
		username TEXT PRIMARY KEY NOT NULL,
		version  INTEGER NOT NULL
	) STRICT;
	CREATE TABLE pending_in (
		username      TEXT NOT NULL,
		contact       TEXT NOT NULL,
		contact_local TEXT NOT NULL,
		stanza        BLOB NOT NULL,
		PRIMARY KEY (username, contact)
	) STRICT, WITHOUT ROWID;
	CREATE INDEX pending_in_contact_local ON pending_in (contact_local);
	CREATE TABLE offline (
		id       INTEGER PRIMARY KEY AUTOINCREMENT,
		username TEXT NOT NULL,
		stamp    INTEGER NOT NULL,
		stanza   BLOB NOT NULL
	) STRICT;
	CREATE INDEX offline_username_id ON offline (username, id);
	CREATE TABLE documents (
		username TEXT NOT NULL,
		key      TEXT NOT NULL,
		doc      BLOB NOT NULL,
		PRIMARY KEY (username, key)
	) STRICT, WITHOUT ROWID;
	CREATE TABLE blocklist (
		username TEXT NOT NULL,
		jid      TEXT NOT NULL,
		PRIMARY KEY (username, jid)
	) STRICT, WITHOUT ROWID;`,

	// 3: publish-subscribe (XEP-0060) and PEP (XEP-0163). Every row belongs
	// to one service, keyed by the text pubsub.StoreProvider hands out
	// ("pubsub.example.com", "pep:<username>"). Rows of a node go with it
	// through ON DELETE CASCADE; parents name collections without a foreign
	// key, and DeleteNode removes them explicitly.
	//
	// type, affiliation and state are the XEP-0060 names ('leaf',
	// 'publisher', 'subscribed'). config and options are pubsub.Config and
	// pubsub.SubOptions as encoding/json writes them (Go field names,
	// durations in nanoseconds, enumerations as numbers); a field absent
	// from a stored document takes its default when read. JIDs are their
	// normalised text, '' for none. created and published are Unix
	// milliseconds. A node's parents are ordered by pos.
	//
	// An item's order is its seq (the rowid, larger for newer items; a
	// re-published item gets a new one); pubsub_items_seq serves the
	// newest-first pages and counts from the index alone, and the payload
	// comes last in the row so that the columns before it are read without
	// its overflow pages.
	`CREATE TABLE pubsub_nodes (
		service TEXT NOT NULL,
		node    TEXT NOT NULL,
		type    TEXT NOT NULL,
		config  TEXT NOT NULL,
		created INTEGER NOT NULL,
		creator TEXT NOT NULL,
		PRIMARY KEY (service, node)
	) STRICT, WITHOUT ROWID;
	CREATE TABLE pubsub_parents (
		service TEXT NOT NULL,
		node    TEXT NOT NULL,
		parent  TEXT NOT NULL,
		pos     INTEGER NOT NULL,
		PRIMARY KEY (service, node, parent),
		FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
	) STRICT, WITHOUT ROWID;
	CREATE INDEX pubsub_parents_parent ON pubsub_parents (service, parent);
	CREATE TABLE pubsub_affiliations (
		service     TEXT NOT NULL,
		node        TEXT NOT NULL,
		jid         TEXT NOT NULL,
		affiliation TEXT NOT NULL,
		PRIMARY KEY (service, node, jid),
		FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
	) STRICT, WITHOUT ROWID;
	CREATE TABLE pubsub_subscriptions (
		service TEXT NOT NULL,
		node    TEXT NOT NULL,
		jid     TEXT NOT NULL,
		subid   TEXT NOT NULL,
		state   TEXT NOT NULL,
		options TEXT NOT NULL,
		PRIMARY KEY (service, node, jid, subid),
		FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
	) STRICT, WITHOUT ROWID;
	CREATE TABLE pubsub_items (
		seq       INTEGER PRIMARY KEY,
		service   TEXT NOT NULL,
		node      TEXT NOT NULL,
		item_id   TEXT NOT NULL,
		published INTEGER NOT NULL,
		publisher TEXT NOT NULL,
		payload   BLOB,
		FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
	) STRICT;
	CREATE UNIQUE INDEX pubsub_items_id ON pubsub_items (service, node, item_id);
	CREATE INDEX pubsub_items_seq ON pubsub_items (service, node, seq, published, item_id);`,

	// 4: message archives (XEP-0313) and archiving preferences (XEP-0441).
	// archive is the caller's key: a username, or another text such as
	// "pubsub.example.com/node"; DeleteUser deletes the archive whose key
	// is the username. A message's order in its archive is its seq (the
	// rowid, larger for later messages), never its stamp, which may repeat
	// or go backwards (XEP-0313 §3.1). with_full is the other party's JID
	// as given, with_bare the text of it before any '/'; stamp is Unix
	// milliseconds. The indexes serve a query's selection in archive order
	// (a query for a full JID narrows by its bare JID through
	// archive_messages_with first), the time bounds and the purge; the
	// stanza comes last
	// in the row so that the columns before it are read without its
	// overflow pages.
	//
	// archive_prefs holds an account's default mode, archive_prefs_jids
	// its always (1) and never (0) lists; no row is the default, 'always'
	// with empty lists.
	`CREATE TABLE archive_messages (
		seq       INTEGER PRIMARY KEY,
		archive   TEXT NOT NULL,
		id        TEXT NOT NULL,
		with_bare TEXT NOT NULL,
		with_full TEXT NOT NULL,
		stamp     INTEGER NOT NULL,
		stanza    BLOB NOT NULL
	) STRICT;
	CREATE UNIQUE INDEX archive_messages_id ON archive_messages (archive, id);
	CREATE INDEX archive_messages_seq ON archive_messages (archive, seq);
	CREATE INDEX archive_messages_with ON archive_messages (archive, with_bare, seq);
	CREATE INDEX archive_messages_stamp ON archive_messages (archive, stamp);
	CREATE TABLE archive_prefs (
		username     TEXT PRIMARY KEY NOT NULL,
		default_mode TEXT NOT NULL
	) STRICT, WITHOUT ROWID;
	CREATE TABLE archive_prefs_jids (
		username TEXT NOT NULL,
		always   INTEGER NOT NULL,
		jid      TEXT NOT NULL,
		PRIMARY KEY (username, always, jid)
	) STRICT, WITHOUT ROWID;`,

	// 5: devices (issue 8). devices enrols accounts in groups;
	// cert_logins lists the accounts that may log in with a client
	// certificate; certificates records every certificate the device CA
	// issued, revoked ones too (revoked is Unix seconds, NULL while
	// valid). A deleted account's certificates stay, revoked.
	`CREATE TABLE devices (
		username TEXT PRIMARY KEY NOT NULL REFERENCES users (username) ON DELETE CASCADE,
		grp      TEXT NOT NULL,
		created  INTEGER NOT NULL
	) STRICT, WITHOUT ROWID;
	CREATE TABLE cert_logins (
		username TEXT PRIMARY KEY NOT NULL REFERENCES users (username) ON DELETE CASCADE
	) STRICT, WITHOUT ROWID;
	CREATE TABLE certificates (
		serial    TEXT PRIMARY KEY NOT NULL,
		username  TEXT NOT NULL,
		issued    INTEGER NOT NULL,
		not_after INTEGER NOT NULL,
		revoked   INTEGER
	) STRICT, WITHOUT ROWID;
	CREATE INDEX certificates_username ON certificates (username, issued);
	CREATE INDEX certificates_revoked ON certificates (revoked) WHERE revoked IS NOT NULL;`,
}

// SchemaVersionError reports a database whose schema is newer than this
// binary knows, written by a later mote; opening it could lose data.
type SchemaVersionError struct {
	Have  int // version found in the database
	Known int // newest version this binary knows
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("sqlite: database schema version %d is newer than this mote (%d)", e.Have, e.Known)
}

// migrate applies the missing migrations, each in its own IMMEDIATE
// transaction together with the user_version bump. The version is re-read
// inside each transaction, so two processes opening the same new file at
// once apply every step exactly once.
func migrate(ctx context.Context, db *sql.DB) error {
	for {
		done, err := migrateStep(ctx, db)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration, if any; done reports that the
// schema was already current.
func migrateStep(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()

	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("sqlite: migrate: read schema version: %w", err)
	}
	switch {
	case v > len(migrations):
		return false, &SchemaVersionError{Have: v, Known: len(migrations)}
	case v == len(migrations):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("sqlite: migrate to version %d: %w", v+1, err)
	}
	// PRAGMA takes no bound parameters; v+1 is an integer we computed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("sqlite: migrate to version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: migrate to version %d: %w", v+1, err)
	}
	return false, nil
}
