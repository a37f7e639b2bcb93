package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
)

// rosters implements storage.Rosters on the roster_items, roster_versions
// and pending_in tables.
//
// A write to a roster locks the item's row, then the roster's version row
// (a statement with the item's change in a WITH clause, the version's in
// the main query), as DeleteUser does: concurrent writers of one roster
// get distinct, increasing versions and never wait for each other in a
// cycle.
type rosters struct {
	s *Store
}

var _ storage.Rosters = (*rosters)(nil)

func rostersErr(op string, err error) error {
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// bumpVersionSQL, the main query of a roster write, increments the version
// of roster $1 if the WITH clause named changed returned a row, and
// returns the new version.
const bumpVersionSQL = `INSERT INTO roster_versions (username, version)
	SELECT $1, 1 FROM changed
	ON CONFLICT (username) DO UPDATE SET version = roster_versions.version + 1
	RETURNING version`

// GetRoster reads the version and the items in one statement, hence from
// one snapshot: the version matches the items.
func (r *rosters) GetRoster(ctx context.Context, username string) (storage.Roster, error) {
	var roster storage.Roster
	err := r.s.read(ctx, func(c *pgx.Conn) error {
		roster = storage.Roster{}
		// One row at least, for the version; the item columns are NULL
		// when there are none.
		rows, err := c.Query(ctx, `SELECT v.version, i.contact, i.name, i.subscription, i.ask, i.approved, i.groups
			FROM (SELECT coalesce(max(version), 0) AS version FROM roster_versions WHERE username = $1) AS v
			LEFT JOIN roster_items AS i ON i.username = $1
			ORDER BY i.contact`, username)
		if err != nil {
			return err
		}
		var (
			contact, name *string
			sub           *int16
			ask, approved *bool
			groups        []string
		)
		_, err = pgx.ForEachRow(rows, []any{&roster.Version, &contact, &name, &sub, &ask, &approved, &groups}, func() error {
			if contact == nil {
				return nil
			}
			item := storage.RosterItem{
				Contact: *contact, Name: *name, Subscription: storage.Subscription(*sub),
				Ask: *ask, Approved: *approved,
			}
			if len(groups) > 0 {
				item.Groups = groups
			}
			roster.Items = append(roster.Items, item)
			groups = nil
			return nil
		})
		return err
	})
	if err != nil {
		return storage.Roster{}, rostersErr("get roster", err)
	}
	return roster, nil
}

// PutRosterItem replaces the item and increments the roster's version, in
// one statement.
func (r *rosters) PutRosterItem(ctx context.Context, username string, item storage.RosterItem) (int64, error) {
	var version int64
	err := r.s.do(ctx, func(c *pgx.Conn) (bool, error) {
		// Not retried on a lost connection: the version may have moved.
		return false, c.QueryRow(ctx, `WITH changed AS (
				INSERT INTO roster_items (username, contact, contact_local, name, subscription, ask, approved, groups)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (username, contact) DO UPDATE SET
					name = excluded.name, subscription = excluded.subscription,
					ask = excluded.ask, approved = excluded.approved, groups = excluded.groups
				RETURNING 1
			)
			`+bumpVersionSQL,
			username, item.Contact, localpart(item.Contact), item.Name, int16(item.Subscription), item.Ask, item.Approved,
			distinctGroups(item.Groups)).Scan(&version)
	})
	if err != nil {
		return 0, rostersErr("put roster item", err)
	}
	return version, nil
}

// distinctGroups returns groups without repeats, each where it first
// appears; never nil (the column is NOT NULL).
func distinctGroups(groups []string) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// DeleteRosterItem removes the item and increments the roster's version,
// in one statement; no row is changed when there is no such item.
func (r *rosters) DeleteRosterItem(ctx context.Context, username, contact string) (int64, error) {
	var version int64
	err := r.s.do(ctx, func(c *pgx.Conn) (bool, error) {
		return false, c.QueryRow(ctx, `WITH changed AS (
				DELETE FROM roster_items WHERE username = $1 AND contact = $2 RETURNING 1
			)
			`+bumpVersionSQL, username, contact).Scan(&version)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, storage.ErrNotFound
	}
	if err != nil {
		return 0, rostersErr("delete roster item", err)
	}
	return version, nil
}

// GetPendingIn returns the pending requests ordered by contact.
func (r *rosters) GetPendingIn(ctx context.Context, username string) ([]storage.PendingIn, error) {
	var pending []storage.PendingIn
	err := r.s.read(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT contact, stanza FROM pending_in WHERE username = $1 ORDER BY contact`, username)
		if err != nil {
			return err
		}
		pending, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.PendingIn, error) {
			var p storage.PendingIn
			err := row.Scan(&p.Contact, &p.Stanza)
			return p, err
		})
		return err
	})
	if err != nil {
		return nil, rostersErr("get pending in", err)
	}
	return pending, nil
}

// PutPendingIn adds or replaces the request from p.Contact.
func (r *rosters) PutPendingIn(ctx context.Context, username string, p storage.PendingIn) error {
	_, err := r.s.exec(ctx, true, `INSERT INTO pending_in (username, contact, contact_local, stanza) VALUES ($1, $2, $3, $4)
		ON CONFLICT (username, contact) DO UPDATE SET stanza = excluded.stanza`,
		username, p.Contact, localpart(p.Contact), nonNil(p.Stanza))
	return rostersErr("put pending in", err)
}

// DeletePendingIn removes the request from contact.
func (r *rosters) DeletePendingIn(ctx context.Context, username, contact string) error {
	tag, err := r.s.exec(ctx, false, `DELETE FROM pending_in WHERE username = $1 AND contact = $2`, username, contact)
	if err == nil && tag.RowsAffected() == 0 {
		err = storage.ErrNotFound
	}
	return rostersErr("delete pending in", err)
}

// PendingUsers returns the accounts that have pending requests.
func (r *rosters) PendingUsers(ctx context.Context) ([]string, error) {
	users, err := r.s.distinctUsers(ctx, "pending_in")
	return users, rostersErr("pending users", err)
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
