package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// users implements storage.Users on the users and credentials tables.
type users struct {
	s *Store
}

var _ storage.Users = (*users)(nil)

// CreateUser inserts the account and its credentials in one transaction. A
// zero u.Created is recorded as the current time.
func (u *users) CreateUser(ctx context.Context, user storage.User) error {
	created := user.Created
	if created.IsZero() {
		created = time.Now()
	}
	err := u.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO users (username, created) VALUES (?, ?)
			 ON CONFLICT (username) DO NOTHING`,
			user.Username, created.Unix())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrExists
		}
		return insertCredentials(ctx, tx, user.Username, user.SCRAM)
	})
	if err != nil && !errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	return err
}

// GetUser reads the account and its credentials in one statement, hence
// from one consistent snapshot.
func (u *users) GetUser(ctx context.Context, username string) (storage.User, error) {
	rows, err := u.s.getUser.QueryContext(ctx, username)
	if err != nil {
		return storage.User{}, fmt.Errorf("sqlite: get user: %w", err)
	}
	defer rows.Close()

	user := storage.User{Username: username, SCRAM: map[string]storage.SCRAMKey{}}
	found := false
	for rows.Next() {
		var (
			created    int64
			hash       sql.NullString
			key        storage.SCRAMKey
			iterations sql.NullInt64
		)
		if err := rows.Scan(&created, &hash, &key.Salt, &iterations, &key.StoredKey, &key.ServerKey); err != nil {
			return storage.User{}, fmt.Errorf("sqlite: get user: %w", err)
		}
		found = true
		user.Created = time.Unix(created, 0).UTC()
		if hash.Valid { // NULL when the account has no credentials
			key.Iterations = int(iterations.Int64)
			user.SCRAM[hash.String] = key
		}
	}
	if err := rows.Err(); err != nil {
		return storage.User{}, fmt.Errorf("sqlite: get user: %w", err)
	}
	if !found {
		return storage.User{}, storage.ErrNotFound
	}
	return user, nil
}

// SetCredentials replaces all of the account's credentials in one
// transaction: hashes absent from keys are removed.
func (u *users) SetCredentials(ctx context.Context, username string, keys map[string]storage.SCRAMKey) error {
	err := u.s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE username = ?`, username).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE username = ?`, username); err != nil {
			return err
		}
		return insertCredentials(ctx, tx, username, keys)
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("sqlite: set credentials: %w", err)
	}
	return err
}

// DeleteUser removes the account (its credentials go with it through ON
// DELETE CASCADE), every row stored for the username, its message archive
// (archive key username) and its PEP service (pubsub service
// "pep:<username>"), and strips what other accounts hold about it (roster
// subscriptions, requests, subscriptions to and affiliations with their
// PEP nodes), all in one transaction.
func (u *users) DeleteUser(ctx context.Context, username string) error {
	err := u.s.write(ctx, func(tx *sql.Tx) error {
		// The account's certificates stay recorded, revoked (devices and
		// cert_logins go with the account, ON DELETE CASCADE).
		if _, err := tx.ExecContext(ctx, `UPDATE certificates SET revoked = ? WHERE username = ? AND revoked IS NULL`,
			time.Now().Unix(), username); err != nil {
			return fmt.Errorf("certificates: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username)
		if err != nil {
			return err
		}
		if err := checkAffected(res); err != nil {
			return err
		}
		for _, table := range ownTables {
			// table is one of our constant names, not input.
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE username = ?`, username); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		// The account's archive is keyed by its username.
		if _, err := tx.ExecContext(ctx, `DELETE FROM archive_messages WHERE archive = ?`, username); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if err := deletePubSubService(ctx, tx, pepPrefix+username); err != nil {
			return fmt.Errorf("pep: %w", err)
		}
		// Its subscriptions and affiliations at the other accounts' PEP
		// services: the JIDs with username as localpart (this server
		// serves one domain and PEP services hear only local accounts).
		for _, table := range []string{"pubsub_subscriptions", "pubsub_affiliations"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE substr(service, 1, 4) = 'pep:'
				AND substr(jid, 1, length(?1) + 1) = ?1 || '@'`, username); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		return stripContact(ctx, tx, username)
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("sqlite: delete user: %w", err)
	}
	return err
}

// ownTables are the tables, keyed by username, that hold an account's data
// besides users and credentials.
var ownTables = []string{
	"roster_items", "roster_groups", "roster_versions", "pending_in",
	"offline", "documents", "blocklist", "archive_prefs", "archive_prefs_jids",
}

// stripContact, inside tx, takes the subscription state from other
// accounts' roster items whose contact has username as its localpart,
// incrementing the version of each roster that changed, and drops their
// pending requests from it. The account's own rows are already gone.
func stripContact(ctx context.Context, tx *sql.Tx, username string) error {
	const changed = `contact_local = ? AND (subscription <> 0 OR ask <> 0 OR approved <> 0)`
	// The WHERE clause of the SELECT also keeps SQLite from parsing ON
	// CONFLICT as part of a join (https://www.sqlite.org/lang_upsert.html).
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO roster_versions (username, version)
		 SELECT DISTINCT username, 1 FROM roster_items WHERE `+changed+`
		 ON CONFLICT (username) DO UPDATE SET version = version + 1`, username); err != nil {
		return fmt.Errorf("roster versions: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE roster_items SET subscription = 0, ask = 0, approved = 0 WHERE `+changed, username); err != nil {
		return fmt.Errorf("roster items: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM pending_in WHERE contact_local = ?`, username); err != nil {
		return fmt.Errorf("pending in: %w", err)
	}
	return nil
}

// ListUsers returns all usernames in ascending byte order (SQLite's BINARY
// collation, the order of sort.Strings).
func (u *users) ListUsers(ctx context.Context) ([]string, error) {
	names, err := textColumn(u.s.r.QueryContext(ctx, `SELECT username FROM users ORDER BY username`))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return names, nil
}

// insertCredentials stores keys for username inside tx.
func insertCredentials(ctx context.Context, tx *sql.Tx, username string, keys map[string]storage.SCRAMKey) error {
	if len(keys) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx,
		`INSERT INTO credentials (username, hash, salt, iterations, stored_key, server_key)
		 VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for hash, k := range keys {
		if _, err := stmt.ExecContext(ctx, username, hash, blob(k.Salt), k.Iterations, blob(k.StoredKey), blob(k.ServerKey)); err != nil {
			return fmt.Errorf("credentials %s: %w", hash, err)
		}
	}
	return nil
}

// blob returns b as a non-nil slice: database/sql passes a nil []byte as
// NULL, which the NOT NULL columns reject, while an empty key is a value.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// getUserSQL is prepared once per reader connection: every login runs it,
// and parsing the statement each time cost more than executing it.
const getUserSQL = `SELECT u.created, c.hash, c.salt, c.iterations, c.stored_key, c.server_key
	FROM users u LEFT JOIN credentials c ON c.username = u.username
	WHERE u.username = ?`
