package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations is the schema history: migrations[i] takes the database from
// version i to version i+1 (the largest version in schema_migrations, 0 for
// a new database). Append new steps; never edit or reorder released ones.
var migrations = []string{
	// 1: accounts, rosters, offline messages, documents, blocklists,
	// message archives and devices.
	//
	// Text keys are COLLATE "C": comparisons, indexes and ORDER BY are in
	// byte order (sort.Strings), whatever the database's locale. Times are
	// timestamptz; the store truncates them to the second (created,
	// certificates) or the millisecond (stamps) before writing.
	//
	// Only users, credentials, devices and cert_logins have foreign keys:
	// other code may store for a username before the account exists or
	// after it is gone (a roster push, an offline message), and DeleteUser
	// deletes those rows explicitly in its transaction. A deleted account's
	// certificates stay, revoked.
	//
	// contact_local is the text of contact before its first '@' ('' when
	// there is none), indexed so that DeleteUser finds what other accounts
	// hold about a username (this server hosts one domain). A roster item's
	// groups are an array, in the order set, without duplicates.
	// roster_versions holds a counter per account, incremented with every
	// change to its items; no row means version 0. offline.id and
	// archive_messages.seq come from identity sequences: they increase in
	// the order rows are written and are never reused.
	//
	// archive is the caller's key: a username, or another text such as
	// "pubsub.example.com/node". A message's order in its archive is its
	// seq, never its stamp, which may repeat or go backwards (XEP-0313
	// §3.1). with_full is the other party's JID as given, with_bare the text
	// of it before any '/'. The primary key serves a query's pages in
	// archive order, archive_messages_with the pages of one JID,
	// archive_messages_stamp the time bounds and the purge.
	// archive_prefs holds an account's default mode and its always and
	// never lists, sorted; no row is the default, 'always' with empty lists.
	`CREATE TABLE users (
		username text COLLATE "C" PRIMARY KEY,
		created  timestamptz NOT NULL
	);
	CREATE TABLE credentials (
		username   text COLLATE "C" NOT NULL REFERENCES users (username) ON DELETE CASCADE,
		hash       text COLLATE "C" NOT NULL,
		salt       bytea NOT NULL,
		iterations integer NOT NULL,
		stored_key bytea NOT NULL,
		server_key bytea NOT NULL,
		PRIMARY KEY (username, hash)
	);

	CREATE TABLE roster_items (
		username      text COLLATE "C" NOT NULL,
		contact       text COLLATE "C" NOT NULL,
		contact_local text COLLATE "C" NOT NULL,
		name          text NOT NULL,
		subscription  smallint NOT NULL CHECK (subscription BETWEEN 0 AND 3),
		ask           boolean NOT NULL,
		approved      boolean NOT NULL,
		groups        text[] NOT NULL,
		PRIMARY KEY (username, contact)
	);
	CREATE INDEX roster_items_contact_local ON roster_items (contact_local);
	CREATE TABLE roster_versions (
		username text COLLATE "C" PRIMARY KEY,
		version  bigint NOT NULL
	);
	CREATE TABLE pending_in (
		username      text COLLATE "C" NOT NULL,
		contact       text COLLATE "C" NOT NULL,
		contact_local text COLLATE "C" NOT NULL,
		stanza        bytea NOT NULL,
		PRIMARY KEY (username, contact)
	);
	CREATE INDEX pending_in_contact_local ON pending_in (contact_local);
	CREATE TABLE offline (
		id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		username text COLLATE "C" NOT NULL,
		stamp    timestamptz NOT NULL,
		stanza   bytea NOT NULL
	);
	CREATE INDEX offline_username_id ON offline (username, id);
	CREATE TABLE documents (
		username text COLLATE "C" NOT NULL,
		key      text COLLATE "C" NOT NULL,
		doc      bytea NOT NULL,
		PRIMARY KEY (username, key)
	);
	CREATE TABLE blocklist (
		username text COLLATE "C" NOT NULL,
		jid      text COLLATE "C" NOT NULL,
		PRIMARY KEY (username, jid)
	);

	CREATE TABLE archive_messages (
		archive   text COLLATE "C" NOT NULL,
		seq       bigint GENERATED ALWAYS AS IDENTITY,
		id        text COLLATE "C" NOT NULL,
		with_bare text COLLATE "C" NOT NULL,
		with_full text COLLATE "C" NOT NULL,
		stamp     timestamptz NOT NULL,
		stanza    bytea NOT NULL,
		PRIMARY KEY (archive, seq),
		UNIQUE (archive, id)
	);
	CREATE INDEX archive_messages_with ON archive_messages (archive, with_bare, seq);
	CREATE INDEX archive_messages_stamp ON archive_messages (archive, stamp);
	CREATE TABLE archive_prefs (
		username     text COLLATE "C" PRIMARY KEY,
		default_mode text NOT NULL,
		always       text[] COLLATE "C" NOT NULL,
		never        text[] COLLATE "C" NOT NULL
	);

	CREATE TABLE devices (
		username text COLLATE "C" PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
		grp      text NOT NULL,
		created  timestamptz NOT NULL
	);
	CREATE TABLE cert_logins (
		username text COLLATE "C" PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE
	);
	CREATE TABLE certificates (
		serial    text COLLATE "C" PRIMARY KEY,
		username  text COLLATE "C" NOT NULL,
		issued    timestamptz NOT NULL,
		not_after timestamptz NOT NULL,
		revoked   timestamptz
	);
	CREATE INDEX certificates_username ON certificates (username, issued);
	CREATE INDEX certificates_revoked ON certificates (serial) WHERE revoked IS NOT NULL;`,

	// 2: publish-subscribe (XEP-0060) and PEP (XEP-0163): pubsubSchema,
	// with pubsub.go, which owns those tables.
	pubsubSchema,
}

// migrateLock is the key of the advisory lock that serialises migrations
// across processes ("mote-mig" in ASCII).
const migrateLock int64 = 0x6d6f74652d6d6967

// createVersionTable creates the table of applied migrations if it is not
// there yet: one row per migration, the largest version is the schema's.
const createVersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version integer PRIMARY KEY,
	applied timestamptz NOT NULL DEFAULT now()
)`

// SchemaVersionError reports a database whose schema is newer than this
// binary knows, written by a later mote; using it could lose data.
type SchemaVersionError struct {
	Have  int // version found in the database
	Known int // newest version this binary knows
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("postgres: database schema version %d is newer than this mote (%d)", e.Have, e.Known)
}

// migrate applies the missing migrations of the store's database.
func migrate(ctx context.Context, s *Store) error {
	if err := migrateTo(ctx, s, migrations); err != nil {
		if errors.As(err, new(*SchemaVersionError)) {
			return err
		}
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// migrateTo applies the missing steps of history, each in its own
// transaction together with its version row. The transaction first takes
// an advisory lock and then reads the version, so that servers starting
// together apply every step exactly once; DDL is transactional, so an
// interrupted step leaves the previous version.
func migrateTo(ctx context.Context, s *Store, history []string) error {
	for {
		done := false
		err := s.write(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			if _, err := tx.Exec(ctx, createVersionTable); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			var v int
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			switch {
			case v > len(history):
				return &SchemaVersionError{Have: v, Known: len(history)}
			case v == len(history):
				done = true
				return nil
			}
			// No arguments: pgx sends it as a simple query, which may
			// hold several statements.
			if _, err := tx.Exec(ctx, history[v]); err != nil {
				return fmt.Errorf("to version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v+1); err != nil {
				return fmt.Errorf("to version %d: %w", v+1, err)
			}
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}

// schemaVersion returns the database's schema version.
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.read(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	})
	return v, err
}
