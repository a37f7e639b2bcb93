// Note on the publish-subscribe part of DeleteUser: the pubsub tables and
// the code that knows them belong to pubsub.go (another engineer's file;
// its schema is migration 2). DeleteUser calls, inside its transaction,
// two functions pubsub.go provides, and pepPrefix, the start of a PEP
// service key:
//
//	// deletePubSubService removes every node of service, with its
//	// parents, affiliations, subscriptions and items.
//	func deletePubSubService(ctx context.Context, tx pgx.Tx, service string) error
//
//	// stripPEPSubscriptions removes the subscriptions and affiliations of
//	// the JIDs with localpart username at every PEP service.
//	func stripPEPSubscriptions(ctx context.Context, tx pgx.Tx, username string) error

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
)

// users implements storage.Users on the users and credentials tables.
type users struct {
	s *Store
}

var _ storage.Users = (*users)(nil)

// usersErr wraps err for the operation op; the sentinel errors of the
// contract are returned as they are.
func usersErr(op string, err error) error {
	if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrExists) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// credentialArrays returns keys as the column arrays of credentials rows.
func credentialArrays(keys map[string]storage.SCRAMKey) (hashes []string, salts [][]byte, iterations []int32, stored, server [][]byte) {
	for hash, k := range keys {
		hashes = append(hashes, hash)
		salts = append(salts, nonNil(k.Salt))
		iterations = append(iterations, int32(k.Iterations))
		stored = append(stored, nonNil(k.StoredKey))
		server = append(server, nonNil(k.ServerKey))
	}
	return
}

// CreateUser inserts the account and its credentials in one statement. A
// zero u.Created is recorded as the current time.
func (u *users) CreateUser(ctx context.Context, user storage.User) error {
	created := user.Created
	if created.IsZero() {
		created = time.Now()
	}
	hashes, salts, iterations, stored, server := credentialArrays(user.SCRAM)
	var n int
	err := u.s.do(ctx, func(c *pgx.Conn) (bool, error) {
		// Not retried on a lost connection: the account may be there.
		return false, c.QueryRow(ctx, `WITH u AS (
				INSERT INTO users (username, created) VALUES ($1, $2)
				ON CONFLICT (username) DO NOTHING
				RETURNING username
			), c AS (
				INSERT INTO credentials (username, hash, salt, iterations, stored_key, server_key)
				SELECT u.username, k.* FROM u, unnest($3::text[], $4::bytea[], $5::int4[], $6::bytea[], $7::bytea[]) AS k
			)
			SELECT count(*) FROM u`,
			user.Username, seconds(created), hashes, salts, iterations, stored, server).Scan(&n)
	})
	if err == nil && n == 0 {
		err = storage.ErrExists
	}
	return usersErr("create user", err)
}

// GetUser reads the account and its credentials in one statement, hence
// from one snapshot.
func (u *users) GetUser(ctx context.Context, username string) (storage.User, error) {
	var user storage.User
	err := u.s.read(ctx, func(c *pgx.Conn) error {
		user = storage.User{Username: username, SCRAM: map[string]storage.SCRAMKey{}}
		rows, err := c.Query(ctx, `SELECT u.created, c.hash, c.salt, c.iterations, c.stored_key, c.server_key
			FROM users u LEFT JOIN credentials c ON c.username = u.username
			WHERE u.username = $1`, username)
		if err != nil {
			return err
		}
		var (
			created    time.Time
			hash       *string
			key        storage.SCRAMKey
			iterations *int32
		)
		found := false
		_, err = pgx.ForEachRow(rows, []any{&created, &hash, &key.Salt, &iterations, &key.StoredKey, &key.ServerKey}, func() error {
			found = true
			user.Created = created.UTC()
			if hash != nil { // NULL when the account has no credentials
				key.Iterations = int(*iterations)
				user.SCRAM[*hash] = key
			}
			key = storage.SCRAMKey{}
			return nil
		})
		if err == nil && !found {
			err = storage.ErrNotFound
		}
		return err
	})
	if err != nil {
		return storage.User{}, usersErr("get user", err)
	}
	return user, nil
}

// SetCredentials replaces all of the account's credentials in one
// transaction, with the account's row locked: hashes absent from keys are
// removed.
func (u *users) SetCredentials(ctx context.Context, username string, keys map[string]storage.SCRAMKey) error {
	hashes, salts, iterations, stored, server := credentialArrays(keys)
	err := u.s.write(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE username = $1 FOR NO KEY UPDATE`, username).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM credentials WHERE username = $1`, username); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO credentials (username, hash, salt, iterations, stored_key, server_key)
			SELECT $1, k.* FROM unnest($2::text[], $3::bytea[], $4::int4[], $5::bytea[], $6::bytea[]) AS k`,
			username, hashes, salts, iterations, stored, server)
		return err
	})
	return usersErr("set credentials", err)
}

// ownTables are the tables, keyed by username, that hold an account's data
// besides users and the tables that cascade from it.
var ownTables = []string{
	"roster_items", "roster_versions", "pending_in", "offline", "documents", "blocklist", "archive_prefs",
}

// DeleteUser removes the account (its credentials, device enrolment and
// certificate login go with it through ON DELETE CASCADE), revokes its
// certificates, deletes every row stored for the username, its message
// archive (archive key username) and its PEP service (pubsub service
// "pep:<username>"), and strips what other accounts hold about it (roster
// subscriptions, requests, subscriptions to and affiliations with their
// PEP nodes), all in one transaction.
func (u *users) DeleteUser(ctx context.Context, username string) error {
	err := u.s.write(ctx, func(tx pgx.Tx) error {
		// First, so that the row lock waits for a concurrent
		// AddCertificate (which holds a key-share lock on it) and the
		// revocation below sees its certificate.
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE username = $1`, username)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		// The certificates stay recorded, revoked, so that an account
		// registered again under the name cannot use them.
		if _, err := tx.Exec(ctx, `UPDATE certificates SET revoked = $2 WHERE username = $1 AND revoked IS NULL`,
			username, seconds(time.Now())); err != nil {
			return fmt.Errorf("certificates: %w", err)
		}
		for _, table := range ownTables {
			// table is one of our constant names, not input.
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE username = $1`, username); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		// The account's archive is keyed by its username.
		if _, err := tx.Exec(ctx, `DELETE FROM archive_messages WHERE archive = $1`, username); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if err := deletePubSubService(ctx, tx, pepPrefix+username); err != nil {
			return fmt.Errorf("pep: %w", err)
		}
		// Its subscriptions and affiliations at the other accounts' PEP
		// services (this server serves one domain, and PEP services hear
		// only local accounts).
		if err := stripPEPSubscriptions(ctx, tx, username); err != nil {
			return fmt.Errorf("pep subscriptions: %w", err)
		}
		return stripContact(ctx, tx, username)
	})
	return usersErr("delete user", err)
}

// stripContact, inside tx, takes the subscription state from other
// accounts' roster items whose contact has username as its localpart,
// incrementing the version of each roster that changed, and drops their
// pending requests from it. The account's own rows are already gone.
//
// Items are locked before versions, in the order PutRosterItem locks
// them, so that the two do not deadlock.
func stripContact(ctx context.Context, tx pgx.Tx, username string) error {
	if _, err := tx.Exec(ctx, `WITH changed AS (
			UPDATE roster_items SET subscription = 0, ask = false, approved = false
			WHERE contact_local = $1 AND (subscription <> 0 OR ask OR approved)
			RETURNING username
		)
		INSERT INTO roster_versions (username, version)
		SELECT DISTINCT username, 1 FROM changed ORDER BY username
		ON CONFLICT (username) DO UPDATE SET version = roster_versions.version + 1`, username); err != nil {
		return fmt.Errorf("roster items: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM pending_in WHERE contact_local = $1`, username); err != nil {
		return fmt.Errorf("pending in: %w", err)
	}
	return nil
}

// ListUsers returns all usernames in ascending byte order (the column's
// "C" collation).
func (u *users) ListUsers(ctx context.Context) ([]string, error) {
	names, err := u.s.textColumn(ctx, `SELECT username FROM users ORDER BY username`)
	return names, usersErr("list users", err)
}
