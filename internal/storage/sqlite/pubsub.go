package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// pepPrefix starts the service key of an account's PEP service, "pep:" and
// the username; DeleteUser removes that service with the account.
const pepPrefix = "pep:"

// pubsubTables are the tables of the publish-subscribe services, children
// before pubsub_nodes.
var pubsubTables = []string{
	"pubsub_items", "pubsub_subscriptions", "pubsub_affiliations", "pubsub_parents", "pubsub_nodes",
}

var _ pubsub.StoreProvider = (*Store)(nil)

// PubSubStore returns the Store of one publish-subscribe service, keyed by
// service: the JID of a pubsub component ("pubsub.example.com"), or
// "pep:" and a username for an account's PEP service, which DeleteUser
// removes with the account. Stores of different keys see different nodes;
// Stores of one key share them. The Store is cheap; it holds no resources
// of its own and is valid until s is closed.
//
// Node.Created and Item.Published are kept to the millisecond, rounded
// down: ItemQuery.Since and DeleteItemsBefore compare whole milliseconds,
// so an item published less than a millisecond before the bound may be
// kept.
func (s *Store) PubSubStore(service string) pubsub.Store {
	return &pubsubStore{s: s, service: service}
}

// PubSubServices returns the keys, starting with prefix, of the services
// with at least one node, sorted (pubsub.StoreProvider).
func (s *Store) PubSubServices(ctx context.Context, prefix string) ([]string, error) {
	// substr compares bytes literally: no LIKE wildcards to escape.
	out, err := textColumn(s.query(ctx, nil,
		`SELECT DISTINCT service FROM pubsub_nodes WHERE substr(service, 1, length(?1)) = ?1 ORDER BY service`, prefix))
	return out, pubsubErr("list services", err)
}

// pubsubStore implements pubsub.Store for one service on the pubsub_*
// tables.
type pubsubStore struct {
	s       *Store
	service string
}

var _ pubsub.Store = (*pubsubStore)(nil)

// deletePubSubService removes every row of a service inside tx.
func deletePubSubService(ctx context.Context, tx *sql.Tx, service string) error {
	for _, table := range pubsubTables {
		// table is one of our constant names, not input.
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE service = ?`, service); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// pubsubErr wraps err for the operation op; the sentinel errors of the
// Store contract are returned as they are.
func pubsubErr(op string, err error) error {
	if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrExists) {
		return err
	}
	return fmt.Errorf("sqlite: pubsub %s: %w", op, err)
}

// Encoding of the columns. Config, SubOptions, the enumerations and the
// JIDs are in the stored form of package pubsub (pubsub.EncodeConfig and
// the rest), shared with the PostgreSQL backend.

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Helpers.

// eachRow calls fn for every row of rows and closes them.
func eachRow(rows *sql.Rows, fn func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanOne scans the first row of rows into dest and closes them;
// sql.ErrNoRows if there is none.
func scanOne(rows *sql.Rows, dest ...any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// nodeExists checks, inside the writer transaction tx, that the node
// exists; storage.ErrNotFound if not.
func (p *pubsubStore) nodeExists(ctx context.Context, tx *sql.Tx, id pubsub.NodeID) error {
	var one int
	err := tx.QueryRowContext(ctx,
		`SELECT 1 FROM pubsub_nodes WHERE service = ? AND node = ?`, p.service, string(id)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// Nodes.

const (
	loadNodesSQL = `SELECT node, type, config, created, creator FROM pubsub_nodes
		WHERE service = ? ORDER BY node`
	loadParentsSQL = `SELECT node, parent FROM pubsub_parents
		WHERE service = ? ORDER BY node, pos`
	loadAffiliationsSQL = `SELECT node, jid, affiliation FROM pubsub_affiliations
		WHERE service = ? ORDER BY node, jid`
	loadSubscriptionsSQL = `SELECT node, jid, subid, state, options FROM pubsub_subscriptions
		WHERE service = ? ORDER BY node, jid, subid`
)

// LoadNodes reads the nodes, their parents, affiliations and subscriptions
// from one snapshot, in NodeID order (affiliations by JID, subscriptions by
// JID and SubID).
func (p *pubsubStore) LoadNodes(ctx context.Context) ([]pubsub.NodeState, error) {
	var states []pubsub.NodeState
	err := p.s.read(ctx, func(tx *sql.Tx) error {
		states = nil
		index := make(map[pubsub.NodeID]int)
		// stateOf returns the loaded node id; rows of a node that is not
		// loaded cannot exist (foreign keys), but are skipped if they do.
		stateOf := func(id string) *pubsub.NodeState {
			if i, ok := index[pubsub.NodeID(id)]; ok {
				return &states[i]
			}
			return nil
		}

		rows, err := p.s.query(ctx, tx, loadNodesSQL, p.service)
		if err != nil {
			return err
		}
		var (
			id, typ, config, creator string
			created                  int64
		)
		err = eachRow(rows, func() error {
			if err := rows.Scan(&id, &typ, &config, &created, &creator); err != nil {
				return err
			}
			n := pubsub.Node{ID: pubsub.NodeID(id), Created: fromMillis(created)}
			var err error
			if n.Type, err = pubsub.ParseNodeType(typ); err != nil {
				return fmt.Errorf("node %q: %w", id, err)
			}
			if n.Config, err = pubsub.DecodeConfig(config); err != nil {
				return fmt.Errorf("node %q: config: %w", id, err)
			}
			if n.Creator, err = pubsub.ParseStoredJID(creator); err != nil {
				return fmt.Errorf("node %q: creator: %w", id, err)
			}
			index[n.ID] = len(states)
			states = append(states, pubsub.NodeState{Node: n})
			return nil
		})
		if err != nil {
			return err
		}

		if rows, err = p.s.query(ctx, tx, loadParentsSQL, p.service); err != nil {
			return err
		}
		var parent string
		err = eachRow(rows, func() error {
			if err := rows.Scan(&id, &parent); err != nil {
				return err
			}
			if st := stateOf(id); st != nil {
				st.Node.Parents = append(st.Node.Parents, pubsub.NodeID(parent))
			}
			return nil
		})
		if err != nil {
			return err
		}

		if rows, err = p.s.query(ctx, tx, loadAffiliationsSQL, p.service); err != nil {
			return err
		}
		var j, aff string
		err = eachRow(rows, func() error {
			if err := rows.Scan(&id, &j, &aff); err != nil {
				return err
			}
			st := stateOf(id)
			if st == nil {
				return nil
			}
			a := pubsub.Affiliated{Node: pubsub.NodeID(id)}
			var err error
			if a.JID, err = pubsub.ParseStoredJID(j); err != nil {
				return fmt.Errorf("node %q: affiliation: %w", id, err)
			}
			if a.Affiliation, err = pubsub.ParseAffiliation(aff); err != nil {
				return fmt.Errorf("node %q: affiliation of %s: %w", id, j, err)
			}
			st.Affiliations = append(st.Affiliations, a)
			return nil
		})
		if err != nil {
			return err
		}

		if rows, err = p.s.query(ctx, tx, loadSubscriptionsSQL, p.service); err != nil {
			return err
		}
		var subID, subState, options string
		return eachRow(rows, func() error {
			if err := rows.Scan(&id, &j, &subID, &subState, &options); err != nil {
				return err
			}
			st := stateOf(id)
			if st == nil {
				return nil
			}
			sub := pubsub.Subscription{Node: pubsub.NodeID(id), SubID: subID}
			var err error
			if sub.JID, err = pubsub.ParseStoredJID(j); err != nil {
				return fmt.Errorf("node %q: subscription: %w", id, err)
			}
			if sub.State, err = pubsub.ParseSubState(subState); err != nil {
				return fmt.Errorf("node %q: subscription %s %q: %w", id, j, subID, err)
			}
			if sub.Options, err = pubsub.DecodeSubOptions(options); err != nil {
				return fmt.Errorf("node %q: subscription %s %q: options: %w", id, j, subID, err)
			}
			st.Subscriptions = append(st.Subscriptions, sub)
			return nil
		})
	})
	if err != nil {
		return nil, pubsubErr("load nodes", err)
	}
	return states, nil
}

// putNode writes the node's row: inserted if it is new (storage.ErrExists
// if not), else updated (storage.ErrNotFound if missing); and its parents.
func (p *pubsubStore) putNode(ctx context.Context, tx *sql.Tx, n *pubsub.Node, insert bool) error {
	typ, err := pubsub.EnumName("node type", n.Type, pubsub.ParseNodeType)
	if err != nil {
		return err
	}
	config, err := pubsub.EncodeConfig(&n.Config)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if insert {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO pubsub_nodes (service, node, type, config, created, creator)
			 VALUES (?, ?, ?, ?, ?, ?)
			 ON CONFLICT (service, node) DO NOTHING`,
			p.service, string(n.ID), typ, config, millis(n.Created), n.Creator.String())
		if err != nil {
			return err
		}
		if err := checkAffected(res); err != nil {
			return storage.ErrExists
		}
	} else {
		res, err := tx.ExecContext(ctx,
			`UPDATE pubsub_nodes SET type = ?, config = ? WHERE service = ? AND node = ?`,
			typ, config, p.service, string(n.ID))
		if err != nil {
			return err
		}
		if err := checkAffected(res); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM pubsub_parents WHERE service = ? AND node = ?`, p.service, string(n.ID)); err != nil {
			return err
		}
	}
	for i, parent := range n.Parents {
		// A repeated parent keeps its first position.
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO pubsub_parents (service, node, parent, pos) VALUES (?, ?, ?, ?)
			 ON CONFLICT (service, node, parent) DO NOTHING`,
			p.service, string(n.ID), string(parent), i); err != nil {
			return fmt.Errorf("parent %q: %w", parent, err)
		}
	}
	return nil
}

// CreateNode inserts the node with its parents, affiliations and
// subscriptions in one transaction.
func (p *pubsubStore) CreateNode(ctx context.Context, st pubsub.NodeState) error {
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		if err := p.putNode(ctx, tx, &st.Node, true); err != nil {
			return err
		}
		for _, a := range st.Affiliations {
			if err := p.setAffiliation(ctx, tx, st.Node.ID, a.JID, a.Affiliation); err != nil {
				return err
			}
		}
		for _, sub := range st.Subscriptions {
			if err := p.putSubscription(ctx, tx, st.Node.ID, &sub); err != nil {
				return err
			}
		}
		return nil
	})
	return pubsubErr("create node", err)
}

// UpdateNode replaces the node's type, configuration and parents; its
// creation time and creator stay as created.
func (p *pubsubStore) UpdateNode(ctx context.Context, n pubsub.Node) error {
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		return p.putNode(ctx, tx, &n, false)
	})
	return pubsubErr("update node", err)
}

// DeleteNode deletes the node (its parents, affiliations, subscriptions and
// items go with it through ON DELETE CASCADE) and removes it from the
// parents of the service's other nodes, in one transaction.
func (p *pubsubStore) DeleteNode(ctx context.Context, id pubsub.NodeID) error {
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM pubsub_nodes WHERE service = ? AND node = ?`, p.service, string(id))
		if err != nil {
			return err
		}
		if err := checkAffected(res); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`DELETE FROM pubsub_parents WHERE service = ? AND parent = ?`, p.service, string(id))
		return err
	})
	return pubsubErr("delete node", err)
}

// Affiliations and subscriptions.

// setAffiliation sets or, for AffNone, removes an affiliation inside tx.
func (p *pubsubStore) setAffiliation(ctx context.Context, tx *sql.Tx, id pubsub.NodeID, j jid.JID, a pubsub.Affiliation) error {
	if a == pubsub.AffNone {
		_, err := tx.ExecContext(ctx,
			`DELETE FROM pubsub_affiliations WHERE service = ? AND node = ? AND jid = ?`,
			p.service, string(id), j.String())
		return err
	}
	name, err := pubsub.EnumName("affiliation", a, pubsub.ParseAffiliation)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO pubsub_affiliations (service, node, jid, affiliation) VALUES (?, ?, ?, ?)
		 ON CONFLICT (service, node, jid) DO UPDATE SET affiliation = excluded.affiliation`,
		p.service, string(id), j.String(), name)
	return err
}

// SetAffiliation sets the affiliation of j; AffNone removes it.
func (p *pubsubStore) SetAffiliation(ctx context.Context, id pubsub.NodeID, j jid.JID, a pubsub.Affiliation) error {
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		if err := p.nodeExists(ctx, tx, id); err != nil {
			return err
		}
		return p.setAffiliation(ctx, tx, id, j, a)
	})
	return pubsubErr("set affiliation", err)
}

// putSubscription adds or replaces a subscription inside tx.
func (p *pubsubStore) putSubscription(ctx context.Context, tx *sql.Tx, id pubsub.NodeID, s *pubsub.Subscription) error {
	state, err := pubsub.EnumName("subscription state", s.State, pubsub.ParseSubState)
	if err != nil {
		return err
	}
	options, err := pubsub.EncodeSubOptions(&s.Options)
	if err != nil {
		return fmt.Errorf("subscription options: %w", err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO pubsub_subscriptions (service, node, jid, subid, state, options) VALUES (?, ?, ?, ?, ?, ?)
		 ON CONFLICT (service, node, jid, subid) DO UPDATE SET state = excluded.state, options = excluded.options`,
		p.service, string(id), s.JID.String(), s.SubID, state, options)
	return err
}

// PutSubscription adds or replaces the subscription (s.JID, s.SubID).
func (p *pubsubStore) PutSubscription(ctx context.Context, id pubsub.NodeID, s pubsub.Subscription) error {
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		if err := p.nodeExists(ctx, tx, id); err != nil {
			return err
		}
		return p.putSubscription(ctx, tx, id, &s)
	})
	return pubsubErr("put subscription", err)
}

// DeleteSubscription removes the subscription (j, subID).
func (p *pubsubStore) DeleteSubscription(ctx context.Context, id pubsub.NodeID, j jid.JID, subID string) error {
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM pubsub_subscriptions WHERE service = ? AND node = ? AND jid = ? AND subid = ?`,
			p.service, string(id), j.String(), subID)
		if err != nil {
			return err
		}
		return checkAffected(res)
	})
	return pubsubErr("delete subscription", err)
}

// Items.

// deleteItems runs a DELETE ... RETURNING seq, item_id inside tx and
// returns the deleted ItemIDs, oldest first.
func deleteItems(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	type deleted struct {
		seq int64
		id  string
	}
	var ds []deleted
	err = eachRow(rows, func() error {
		var d deleted
		if err := rows.Scan(&d.seq, &d.id); err != nil {
			return err
		}
		ds = append(ds, d)
		return nil
	})
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	// RETURNING gives no order.
	slices.SortFunc(ds, func(a, b deleted) int { return cmp.Compare(a.seq, b.seq) })
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.id
	}
	return ids, nil
}

// trimItems removes, inside tx, the oldest items beyond max (none if max
// is negative) and returns their IDs, oldest first.
func (p *pubsubStore) trimItems(ctx context.Context, tx *sql.Tx, id pubsub.NodeID, max int) ([]string, error) {
	if max < 0 {
		return nil, nil
	}
	return deleteItems(ctx, tx,
		`DELETE FROM pubsub_items WHERE seq IN (
		   SELECT seq FROM pubsub_items WHERE service = ?1 AND node = ?2
		   ORDER BY seq DESC LIMIT -1 OFFSET ?3)
		 RETURNING seq, item_id`,
		p.service, string(id), max)
}

// PutItem replaces the item as the newest of the node and trims the node
// to max items, in one transaction.
func (p *pubsubStore) PutItem(ctx context.Context, id pubsub.NodeID, it pubsub.Item, max int) ([]string, error) {
	var trimmed []string
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		if err := p.nodeExists(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM pubsub_items WHERE service = ? AND node = ? AND item_id = ?`,
			p.service, string(id), it.ID); err != nil {
			return err
		}
		// seq, the rowid, is chosen larger than every other: the item is
		// the newest. A nil payload is stored as NULL.
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO pubsub_items (service, node, item_id, published, publisher, payload)
			 VALUES (?, ?, ?, ?, ?, ?)`,
			p.service, string(id), it.ID, millis(it.Published), it.Publisher.String(), it.Payload); err != nil {
			return err
		}
		var err error
		trimmed, err = p.trimItems(ctx, tx, id, max)
		return err
	})
	if err != nil {
		return nil, pubsubErr("put item", err)
	}
	return trimmed, nil
}

// TrimItems removes the oldest items beyond max.
func (p *pubsubStore) TrimItems(ctx context.Context, id pubsub.NodeID, max int) ([]string, error) {
	var trimmed []string
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		if err := p.nodeExists(ctx, tx, id); err != nil {
			return err
		}
		var err error
		trimmed, err = p.trimItems(ctx, tx, id, max)
		return err
	})
	if err != nil {
		return nil, pubsubErr("trim items", err)
	}
	return trimmed, nil
}

// DeleteItem removes one item.
func (p *pubsubStore) DeleteItem(ctx context.Context, id pubsub.NodeID, itemID string) error {
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM pubsub_items WHERE service = ? AND node = ? AND item_id = ?`,
			p.service, string(id), itemID)
		if err != nil {
			return err
		}
		return checkAffected(res)
	})
	return pubsubErr("delete item", err)
}

// DeleteItemsBefore removes the items published before t, compared in
// whole milliseconds.
func (p *pubsubStore) DeleteItemsBefore(ctx context.Context, id pubsub.NodeID, t time.Time) ([]string, error) {
	var deleted []string
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		if err := p.nodeExists(ctx, tx, id); err != nil {
			return err
		}
		var err error
		deleted, err = deleteItems(ctx, tx,
			`DELETE FROM pubsub_items WHERE service = ? AND node = ? AND published < ?
			 RETURNING seq, item_id`,
			p.service, string(id), millis(t))
		return err
	})
	if err != nil {
		return nil, pubsubErr("delete items before", err)
	}
	return deleted, nil
}

// PurgeItems removes every item of the node.
func (p *pubsubStore) PurgeItems(ctx context.Context, id pubsub.NodeID) error {
	err := p.s.write(ctx, func(tx *sql.Tx) error {
		if err := p.nodeExists(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`DELETE FROM pubsub_items WHERE service = ? AND node = ?`, p.service, string(id))
		return err
	})
	return pubsubErr("purge items", err)
}

// countItemsSQL yields no row when the node does not exist.
const countItemsSQL = `SELECT (SELECT count(*) FROM pubsub_items WHERE service = ?1 AND node = ?2)
	FROM pubsub_nodes WHERE service = ?1 AND node = ?2`

// CountItems counts the node's items, from the index alone.
func (p *pubsubStore) CountItems(ctx context.Context, id pubsub.NodeID) (int, error) {
	rows, err := p.s.query(ctx, nil, countItemsSQL, p.service, string(id))
	if err != nil {
		return 0, pubsubErr("count items", err)
	}
	var n int
	err = scanOne(rows, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, storage.ErrNotFound
	}
	if err != nil {
		return 0, pubsubErr("count items", err)
	}
	return n, nil
}

// Items queries. The selection is a WHERE clause over pubsub_items with
// parameters ?1 (service), ?2 (node), ?3 (Since, Unix milliseconds) and,
// in the variant with IDs, ?4 (the IDs as a JSON array). Statements are
// built from these constant pieces only, so the reader's statement cache
// holds a few variants.
const (
	itemsSelection    = `service = ?1 AND node = ?2 AND published >= ?3`
	itemsSelectionIDs = itemsSelection + ` AND item_id IN (SELECT value FROM json_each(?4))`
	itemsColumns      = `SELECT item_id, publisher, payload, published FROM pubsub_items WHERE `
)

// itemsSQL holds the statements of one selection variant.
type itemsSQL struct {
	count, cursor, newer, first, after, before string
}

func newItemsSQL(sel string) itemsSQL {
	// Parameters after the selection's are numbered from ?5.
	return itemsSQL{
		count: `SELECT count(*) FROM pubsub_items WHERE ` + sel,
		// The cursor's seq, if it is selected.
		cursor: `SELECT seq FROM pubsub_items WHERE ` + sel + ` AND item_id = ?5`,
		// The number of selected items newer than the cursor: its index.
		newer:  `SELECT count(*) FROM pubsub_items WHERE ` + sel + ` AND seq > ?5`,
		first:  itemsColumns + sel + ` ORDER BY seq DESC LIMIT ?5`,
		after:  itemsColumns + sel + ` AND seq < ?5 ORDER BY seq DESC LIMIT ?6`,
		before: itemsColumns + sel + ` AND seq > ?5 ORDER BY seq ASC LIMIT ?6`,
	}
}

var (
	itemsAll = newItemsSQL(itemsSelection)
	itemsIDs = newItemsSQL(itemsSelectionIDs)
)

// Items reads the selection's count, the cursor and the page from one
// snapshot.
func (p *pubsubStore) Items(ctx context.Context, id pubsub.NodeID, q pubsub.ItemQuery) (pubsub.ItemPage, error) {
	// ?4 is passed in both variants: the driver binds parameters by
	// position, also those the statement does not use.
	stmts := itemsAll
	args := []any{p.service, string(id), millis(q.Since), nil}
	if len(q.IDs) > 0 {
		ids, err := json.Marshal(q.IDs)
		if err != nil {
			return pubsub.ItemPage{}, pubsubErr("items", err)
		}
		stmts = itemsIDs
		args[3] = string(ids)
	}
	limit := int64(-1) // no limit
	if q.Max > 0 {
		limit = int64(q.Max)
	}
	with := func(more ...any) []any { return append(slices.Clip(args), more...) }

	var page pubsub.ItemPage
	err := p.s.read(ctx, func(tx *sql.Tx) error {
		page = pubsub.ItemPage{}
		rows, err := p.s.query(ctx, tx, countItemsSQL, p.service, string(id))
		if err != nil {
			return err
		}
		var total int
		if err := scanOne(rows, &total); errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound // no such node
		} else if err != nil {
			return err
		}
		if total == 0 && q.After == "" && q.Before == "" {
			return nil
		}
		if rows, err = p.s.query(ctx, tx, stmts.count, args...); err != nil {
			return err
		}
		if err := scanOne(rows, &page.Count); err != nil {
			return err
		}

		query, qargs, reverse := stmts.first, with(limit), false
		if cursor := cmp.Or(q.After, q.Before); cursor != "" {
			if rows, err = p.s.query(ctx, tx, stmts.cursor, with(cursor)...); err != nil {
				return err
			}
			var seq int64
			if err := scanOne(rows, &seq); errors.Is(err, sql.ErrNoRows) {
				return storage.ErrNotFound // the cursor is not selected
			} else if err != nil {
				return err
			}
			if rows, err = p.s.query(ctx, tx, stmts.newer, with(seq)...); err != nil {
				return err
			}
			if err := scanOne(rows, &page.Index); err != nil {
				return err
			}
			if q.After != "" {
				page.Index++
				query, qargs = stmts.after, with(seq, limit)
			} else {
				query, qargs, reverse = stmts.before, with(seq, limit), true
			}
		}

		if rows, err = p.s.query(ctx, tx, query, qargs...); err != nil {
			return err
		}
		err = eachRow(rows, func() error {
			var (
				it        pubsub.Item
				publisher string
				published int64
			)
			if err := rows.Scan(&it.ID, &publisher, &it.Payload, &published); err != nil {
				return err
			}
			var err error
			if it.Publisher, err = pubsub.ParseStoredJID(publisher); err != nil {
				return fmt.Errorf("item %q: publisher: %w", it.ID, err)
			}
			it.Published = fromMillis(published)
			page.Items = append(page.Items, it)
			return nil
		})
		if err != nil {
			return err
		}
		if reverse { // read oldest first, from the cursor
			slices.Reverse(page.Items)
			page.Index -= len(page.Items)
		}
		return nil
	})
	if err != nil {
		return pubsub.ItemPage{}, pubsubErr("items", err)
	}
	return page, nil
}
