package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
)

// blocklists implements storage.Blocklists on the blocklist table.
type blocklists struct {
	s *Store
}

var _ storage.Blocklists = (*blocklists)(nil)

// GetBlocklist returns the blocked JIDs in ascending byte order.
func (b *blocklists) GetBlocklist(ctx context.Context, username string) ([]string, error) {
	jids, err := b.s.textColumn(ctx, `SELECT jid FROM blocklist WHERE username = $1 ORDER BY jid`, username)
	if err != nil {
		return nil, fmt.Errorf("postgres: get blocklist: %w", err)
	}
	return jids, nil
}

// Block adds the JIDs in one statement; blocked ones stay as they are.
func (b *blocklists) Block(ctx context.Context, username string, jids []string) error {
	if err := ctx.Err(); err != nil || len(jids) == 0 {
		return err
	}
	_, err := b.s.exec(ctx, true, `INSERT INTO blocklist (username, jid) SELECT $1, unnest($2::text[])
		ON CONFLICT (username, jid) DO NOTHING`, username, jids)
	if err != nil {
		return fmt.Errorf("postgres: block: %w", err)
	}
	return nil
}

// Unblock removes the JIDs in one statement, or all of them when jids is
// empty.
func (b *blocklists) Unblock(ctx context.Context, username string, jids []string) error {
	var err error
	if len(jids) == 0 {
		_, err = b.s.exec(ctx, true, `DELETE FROM blocklist WHERE username = $1`, username)
	} else {
		_, err = b.s.exec(ctx, true, `DELETE FROM blocklist WHERE username = $1 AND jid = ANY($2::text[])`, username, jids)
	}
	if err != nil {
		return fmt.Errorf("postgres: unblock: %w", err)
	}
	return nil
}

// AllBlocklists returns every non-empty blocklist by username.
func (b *blocklists) AllBlocklists(ctx context.Context) (map[string][]string, error) {
	var all map[string][]string
	err := b.s.read(ctx, func(c *pgx.Conn) error {
		all = map[string][]string{}
		rows, err := c.Query(ctx, `SELECT username, jid FROM blocklist ORDER BY username, jid`)
		if err != nil {
			return err
		}
		var user, jid string
		_, err = pgx.ForEachRow(rows, []any{&user, &jid}, func() error {
			all[user] = append(all[user], jid)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: all blocklists: %w", err)
	}
	return all, nil
}
