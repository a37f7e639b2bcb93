package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mote-xmpp/mote/internal/storage"
)

// rosters implements storage.Rosters on the roster_items, roster_groups,
// roster_versions and pending_in tables.
type rosters struct {
	s *Store
}

var _ storage.Rosters = (*rosters)(nil)

// getRosterSQL reads the version (the row with k = 0, absent when the
// roster never changed) and the items with their groups in one statement,
// hence from one snapshot, and a login pays for one prepared query.
const getRosterSQL = `
	SELECT 0 AS k, version AS ver, '' AS contact, '' AS name, 0 AS sub, 0 AS ask, 0 AS approved, NULL AS grp, 0 AS pos
	FROM roster_versions WHERE username = ?1
	UNION ALL
	SELECT 1, 0, i.contact, i.name, i.subscription, i.ask, i.approved, g.name, coalesce(g.pos, 0)
	FROM roster_items i LEFT JOIN roster_groups g ON g.username = i.username AND g.contact = i.contact
	WHERE i.username = ?1
	ORDER BY k, contact, pos`

// GetRoster reads the version and the items in one statement, so the
// version matches the items.
func (r *rosters) GetRoster(ctx context.Context, username string) (storage.Roster, error) {
	var roster storage.Roster
	rows, err := r.s.query(ctx, nil, getRosterSQL, username)
	if err != nil {
		return storage.Roster{}, fmt.Errorf("sqlite: get roster: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k, ver, sub, pos int64
			item             storage.RosterItem
			group            sql.NullString
		)
		if err := rows.Scan(&k, &ver, &item.Contact, &item.Name, &sub, &item.Ask, &item.Approved, &group, &pos); err != nil {
			return storage.Roster{}, fmt.Errorf("sqlite: get roster: %w", err)
		}
		if k == 0 {
			roster.Version = ver
			continue
		}
		item.Subscription = storage.Subscription(sub)
		if n := len(roster.Items); n > 0 && roster.Items[n-1].Contact == item.Contact {
			// Another group of the previous item.
			roster.Items[n-1].Groups = append(roster.Items[n-1].Groups, group.String)
			continue
		}
		if group.Valid { // NULL when the item has no groups
			item.Groups = []string{group.String}
		}
		roster.Items = append(roster.Items, item)
	}
	if err := rows.Err(); err != nil {
		return storage.Roster{}, fmt.Errorf("sqlite: get roster: %w", err)
	}
	return roster, nil
}

// PutRosterItem replaces the item and its groups and increments the
// roster's version, in one transaction.
func (r *rosters) PutRosterItem(ctx context.Context, username string, item storage.RosterItem) (int64, error) {
	var version int64
	err := r.s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO roster_items (username, contact, contact_local, name, subscription, ask, approved)
			 VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (username, contact) DO UPDATE SET
			   name = excluded.name, subscription = excluded.subscription,
			   ask = excluded.ask, approved = excluded.approved`,
			username, item.Contact, localpart(item.Contact), item.Name, int64(item.Subscription), item.Ask, item.Approved)
		if err != nil {
			return err
		}
		if err := deleteGroups(ctx, tx, username, item.Contact); err != nil {
			return err
		}
		if len(item.Groups) > 0 {
			// A repeated group keeps its first position.
			stmt, err := tx.PrepareContext(ctx,
				`INSERT INTO roster_groups (username, contact, name, pos) VALUES (?, ?, ?, ?)
				 ON CONFLICT (username, contact, name) DO NOTHING`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for i, g := range item.Groups {
				if _, err := stmt.ExecContext(ctx, username, item.Contact, g, i); err != nil {
					return fmt.Errorf("group %q: %w", g, err)
				}
			}
		}
		version, err = bumpRosterVersion(ctx, tx, username)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: put roster item: %w", err)
	}
	return version, nil
}

// DeleteRosterItem removes the item and its groups and increments the
// roster's version, in one transaction.
func (r *rosters) DeleteRosterItem(ctx context.Context, username, contact string) (int64, error) {
	var version int64
	err := r.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM roster_items WHERE username = ? AND contact = ?`, username, contact)
		if err != nil {
			return err
		}
		if err := checkAffected(res); err != nil {
			return err
		}
		if err := deleteGroups(ctx, tx, username, contact); err != nil {
			return err
		}
		version, err = bumpRosterVersion(ctx, tx, username)
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return 0, fmt.Errorf("sqlite: delete roster item: %w", err)
	}
	return version, err
}

// GetPendingIn returns the pending requests ordered by contact.
func (r *rosters) GetPendingIn(ctx context.Context, username string) ([]storage.PendingIn, error) {
	rows, err := r.s.query(ctx, nil,
		`SELECT contact, stanza FROM pending_in WHERE username = ?
		 ORDER BY contact COLLATE BINARY`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get pending in: %w", err)
	}
	defer rows.Close()
	var pending []storage.PendingIn
	for rows.Next() {
		var p storage.PendingIn
		if err := rows.Scan(&p.Contact, &p.Stanza); err != nil {
			return nil, fmt.Errorf("sqlite: get pending in: %w", err)
		}
		pending = append(pending, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get pending in: %w", err)
	}
	return pending, nil
}

// PutPendingIn adds or replaces the request from p.Contact.
func (r *rosters) PutPendingIn(ctx context.Context, username string, p storage.PendingIn) error {
	err := r.s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO pending_in (username, contact, contact_local, stanza) VALUES (?, ?, ?, ?)
			 ON CONFLICT (username, contact) DO UPDATE SET stanza = excluded.stanza`,
			username, p.Contact, localpart(p.Contact), blob(p.Stanza))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put pending in: %w", err)
	}
	return nil
}

// DeletePendingIn removes the request from contact.
func (r *rosters) DeletePendingIn(ctx context.Context, username, contact string) error {
	err := r.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM pending_in WHERE username = ? AND contact = ?`, username, contact)
		if err != nil {
			return err
		}
		if err := checkAffected(res); err != nil {
			return err
		}
		return nil
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("sqlite: delete pending in: %w", err)
	}
	return err
}

// localpart returns the text of jid before its first '@', or "" if it has
// none: the contact_local column.
func localpart(jid string) string {
	local, _, found := strings.Cut(jid, "@")
	if !found {
		return ""
	}
	return local
}

// deleteGroups removes the groups of one roster item inside tx.
func deleteGroups(ctx context.Context, tx *sql.Tx, username, contact string) error {
	_, err := tx.ExecContext(ctx,
		`DELETE FROM roster_groups WHERE username = ? AND contact = ?`, username, contact)
	return err
}

// bumpRosterVersion increments the roster version of username inside tx
// (from 0 when it has none) and returns the new version.
func bumpRosterVersion(ctx context.Context, tx *sql.Tx, username string) (int64, error) {
	var version int64
	err := tx.QueryRowContext(ctx,
		`INSERT INTO roster_versions (username, version) VALUES (?, 1)
		 ON CONFLICT (username) DO UPDATE SET version = version + 1
		 RETURNING version`, username).Scan(&version)
	return version, err
}

// PendingUsers returns the accounts that have pending requests.
func (r *rosters) PendingUsers(ctx context.Context) ([]string, error) {
	users, err := r.s.distinctUsers(ctx, "pending_in")
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending users: %w", err)
	}
	return users, nil
}
