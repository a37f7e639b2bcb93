package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
)

// offline implements storage.Offline on the offline table.
type offline struct {
	s *Store
}

var _ storage.Offline = (*offline)(nil)

func offlineErr(op string, err error) error {
	if err == nil || errors.Is(err, storage.ErrQuota) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// StoreOffline stores the message in a group-committed batch, which checks
// the quota with the account's advisory lock held, so that it holds under
// concurrent stores, of other processes too (groupcommit.go).
func (o *offline) StoreOffline(ctx context.Context, username string, stamp time.Time, stanza []byte, max int) (int64, error) {
	if !validText(username) {
		return 0, offlineErr("store offline", errText)
	}
	r := o.s.batch(ctx, &batchReq{offline: &offlineReq{username: username, stamp: stamp, stanza: stanza, max: max}})
	if r.err != nil {
		return 0, offlineErr("store offline", r.err)
	}
	return r.id, nil
}

// GetOffline returns the account's messages in ID order.
func (o *offline) GetOffline(ctx context.Context, username string) ([]storage.OfflineMessage, error) {
	var msgs []storage.OfflineMessage
	err := o.s.read(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id, stamp, stanza FROM offline WHERE username = $1 ORDER BY id`, username)
		if err != nil {
			return err
		}
		msgs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.OfflineMessage, error) {
			var m storage.OfflineMessage
			err := row.Scan(&m.ID, &m.Stamp, &m.Stanza)
			m.Stamp = m.Stamp.UTC()
			return m, err
		})
		return err
	})
	if err != nil {
		return nil, offlineErr("get offline", err)
	}
	return msgs, nil
}

// DeleteOffline removes the account's messages with ID <= upTo.
func (o *offline) DeleteOffline(ctx context.Context, username string, upTo int64) error {
	_, err := o.s.exec(ctx, true, `DELETE FROM offline WHERE username = $1 AND id <= $2`, username, upTo)
	return offlineErr("delete offline", err)
}

// CountOffline returns how many messages the account has.
func (o *offline) CountOffline(ctx context.Context, username string) (int, error) {
	var n int
	err := o.s.read(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FROM offline WHERE username = $1`, username).Scan(&n)
	})
	if err != nil {
		return 0, offlineErr("count offline", err)
	}
	return n, nil
}

// OfflineUsers returns the accounts that have stored messages.
func (o *offline) OfflineUsers(ctx context.Context) ([]string, error) {
	users, err := o.s.distinctUsers(ctx, "offline")
	return users, offlineErr("offline users", err)
}
