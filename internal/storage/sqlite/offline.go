package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// offline implements storage.Offline on the offline table.
type offline struct {
	s *Store
}

var _ storage.Offline = (*offline)(nil)

// StoreOffline counts the account's messages and inserts the new one in
// the same writer transaction, so the quota holds under concurrent stores;
// the transaction is group-committed with other durable writes.
func (o *offline) StoreOffline(ctx context.Context, username string, stamp time.Time, stanza []byte, max int) (int64, error) {
	var id int64
	err := o.s.batch(ctx, o.s.storeOffline(username, stamp, stanza, max, &id))
	if err != nil && !errors.Is(err, storage.ErrQuota) {
		return 0, fmt.Errorf("sqlite: store offline: %w", err)
	}
	return id, err
}

const (
	countOfflineSQL  = `SELECT count(*) FROM offline WHERE username = ?`
	insertOfflineSQL = `INSERT INTO offline (username, stamp, stanza) VALUES (?, ?, ?) RETURNING id`
)

// storeOffline returns the batch function storing one message and
// setting *id; ErrQuota if the account has max or more (max > 0).
func (s *Store) storeOffline(username string, stamp time.Time, stanza []byte, max int, id *int64) batchFunc {
	return func(ctx context.Context, tx *sql.Tx) error {
		if max > 0 {
			var n int
			if err := s.batchStmt(ctx, tx, countOfflineSQL).QueryRowContext(ctx, username).Scan(&n); err != nil {
				return err
			}
			if n >= max {
				return storage.ErrQuota
			}
		}
		return s.batchStmt(ctx, tx, insertOfflineSQL).QueryRowContext(ctx,
			username, stamp.UnixMilli(), blob(stanza)).Scan(id)
	}
}

// GetOffline returns the account's messages in ID order.
func (o *offline) GetOffline(ctx context.Context, username string) ([]storage.OfflineMessage, error) {
	rows, err := o.s.query(ctx, nil,
		`SELECT id, stamp, stanza FROM offline WHERE username = ? ORDER BY id`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get offline: %w", err)
	}
	defer rows.Close()
	var msgs []storage.OfflineMessage
	for rows.Next() {
		var (
			m     storage.OfflineMessage
			stamp int64
		)
		if err := rows.Scan(&m.ID, &stamp, &m.Stanza); err != nil {
			return nil, fmt.Errorf("sqlite: get offline: %w", err)
		}
		m.Stamp = time.UnixMilli(stamp).UTC()
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get offline: %w", err)
	}
	return msgs, nil
}

// DeleteOffline removes the account's messages with ID <= upTo.
func (o *offline) DeleteOffline(ctx context.Context, username string, upTo int64) error {
	err := o.s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`DELETE FROM offline WHERE username = ? AND id <= ?`, username, upTo)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete offline: %w", err)
	}
	return nil
}

// CountOffline returns how many messages the account has.
func (o *offline) CountOffline(ctx context.Context, username string) (int, error) {
	var n int
	err := o.s.r.QueryRowContext(ctx,
		`SELECT count(*) FROM offline WHERE username = ?`, username).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count offline: %w", err)
	}
	return n, nil
}

// OfflineUsers returns the accounts that have stored messages.
func (o *offline) OfflineUsers(ctx context.Context) ([]string, error) {
	users, err := o.s.distinctUsers(ctx, "offline")
	if err != nil {
		return nil, fmt.Errorf("sqlite: offline users: %w", err)
	}
	return users, nil
}
