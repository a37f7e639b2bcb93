package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mote-xmpp/mote/internal/storage"
)

// blocklists implements storage.Blocklists on the blocklist table.
type blocklists struct {
	s *Store
}

var _ storage.Blocklists = (*blocklists)(nil)

// GetBlocklist returns the blocked JIDs in ascending byte order.
func (b *blocklists) GetBlocklist(ctx context.Context, username string) ([]string, error) {
	jids, err := textColumn(b.s.query(ctx, nil,
		`SELECT jid FROM blocklist WHERE username = ? ORDER BY jid COLLATE BINARY`, username))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get blocklist: %w", err)
	}
	return jids, nil
}

// Block adds the JIDs in one transaction; blocked ones stay as they are.
func (b *blocklists) Block(ctx context.Context, username string, jids []string) error {
	err := b.s.write(ctx, func(tx *sql.Tx) error {
		if len(jids) == 0 {
			return nil
		}
		return execEach(ctx, tx, `INSERT INTO blocklist (username, jid) VALUES (?, ?)
			 ON CONFLICT (username, jid) DO NOTHING`, username, jids)
	})
	if err != nil {
		return fmt.Errorf("sqlite: block: %w", err)
	}
	return nil
}

// Unblock removes the JIDs in one transaction, or all of them when jids is
// empty.
func (b *blocklists) Unblock(ctx context.Context, username string, jids []string) error {
	err := b.s.write(ctx, func(tx *sql.Tx) error {
		if len(jids) == 0 {
			_, err := tx.ExecContext(ctx, `DELETE FROM blocklist WHERE username = ?`, username)
			return err
		}
		return execEach(ctx, tx, `DELETE FROM blocklist WHERE username = ? AND jid = ?`, username, jids)
	})
	if err != nil {
		return fmt.Errorf("sqlite: unblock: %w", err)
	}
	return nil
}

// AllBlocklists returns every non-empty blocklist by username.
func (b *blocklists) AllBlocklists(ctx context.Context) (map[string][]string, error) {
	rows, err := b.s.r.QueryContext(ctx, `SELECT username, jid FROM blocklist ORDER BY username, jid COLLATE BINARY`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: all blocklists: %w", err)
	}
	defer rows.Close()
	all := map[string][]string{}
	for rows.Next() {
		var user, jid string
		if err := rows.Scan(&user, &jid); err != nil {
			return nil, fmt.Errorf("sqlite: all blocklists: %w", err)
		}
		all[user] = append(all[user], jid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: all blocklists: %w", err)
	}
	return all, nil
}

// execEach runs query, prepared once in tx, with (username, jid) for each
// of jids.
func execEach(ctx context.Context, tx *sql.Tx, query, username string, jids []string) error {
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, jid := range jids {
		if _, err := stmt.ExecContext(ctx, username, jid); err != nil {
			return err
		}
	}
	return nil
}
