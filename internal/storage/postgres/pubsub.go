package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// pubsubSchema is migration 2 (migrate.go): the publish-subscribe services
// (XEP-0060) and PEP (XEP-0163). Never edit it once released; a change is a
// new migration appended to the list.
//
// Every node belongs to one service, keyed by the text
// pubsub.StoreProvider hands out ("pubsub.example.com", "pep:<username>"),
// and is known to the other tables by its id, never reused: a node deleted
// and created again starts empty. The id keeps their keys short, where
// (service, node, item_id) could outgrow the 2.7 kB of a B-tree entry
// (NodeIDs and ItemIDs may be 1023 bytes each). The other tables' rows go
// with their node through ON DELETE CASCADE; parents name collections
// without a foreign key, and DeleteNode removes them explicitly.
//
// NodeIDs and ItemIDs are bytea: they are opaque and may hold NUL, which
// text cannot. service and the JIDs are text COLLATE "C", so that
// PubSubServices sorts and DeleteUser selects by prefix in byte order
// whatever the database's collation. type, affiliation and state are the
// XEP-0060 names ('leaf', 'publisher', 'subscribed'). config and options
// are pubsub.Config and pubsub.SubOptions as encoding/json writes them (Go
// field names, durations in nanoseconds, enumerations as numbers), json
// rather than jsonb, which refuses the \u0000 a title may hold; a field
// absent from a stored document takes its default when read. JIDs are their
// normalised text, empty for none. created and published are kept to the
// millisecond, as by the SQLite backend. A node's parents are ordered by
// pos.
//
// An item's order is its seq, taken from its node's item_seq, which every
// publication increments: the UPDATE locks the node's row until the
// publication commits, so that concurrent publications to one node get
// increasing numbers in the order they commit. A re-published item gets a
// new seq. The primary key (node_id, seq) serves the newest-first pages
// and the trims; with published in it, counts with a time bound are read
// from the index alone. pubsub_nodes leaves room in its pages for the new
// row versions of item_seq (heap-only updates). The indexes on jid let
// DeleteUser find an account's subscriptions and affiliations.
const pubsubSchema = `
CREATE TABLE pubsub_nodes (
	id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	service  text COLLATE "C" NOT NULL,
	node     bytea NOT NULL,
	type     text NOT NULL,
	config   json NOT NULL,
	created  timestamptz NOT NULL,
	creator  text NOT NULL,
	item_seq bigint NOT NULL DEFAULT 0,
	UNIQUE (service, node)
) WITH (fillfactor = 70);
CREATE TABLE pubsub_parents (
	node_id bigint NOT NULL REFERENCES pubsub_nodes ON DELETE CASCADE,
	parent  bytea NOT NULL,
	pos     integer NOT NULL,
	PRIMARY KEY (node_id, parent)
);
CREATE INDEX pubsub_parents_parent ON pubsub_parents (parent);
CREATE TABLE pubsub_affiliations (
	node_id     bigint NOT NULL REFERENCES pubsub_nodes ON DELETE CASCADE,
	jid         text COLLATE "C" NOT NULL,
	affiliation text NOT NULL,
	PRIMARY KEY (node_id, jid)
);
CREATE INDEX pubsub_affiliations_jid ON pubsub_affiliations (jid);
CREATE TABLE pubsub_subscriptions (
	node_id bigint NOT NULL REFERENCES pubsub_nodes ON DELETE CASCADE,
	jid     text COLLATE "C" NOT NULL,
	subid   text COLLATE "C" NOT NULL,
	state   text NOT NULL,
	options json NOT NULL,
	PRIMARY KEY (node_id, jid, subid)
);
CREATE INDEX pubsub_subscriptions_jid ON pubsub_subscriptions (jid);
CREATE TABLE pubsub_items (
	node_id   bigint NOT NULL REFERENCES pubsub_nodes ON DELETE CASCADE,
	seq       bigint NOT NULL,
	item_id   bytea NOT NULL,
	published timestamptz NOT NULL,
	publisher text NOT NULL,
	payload   bytea,
	PRIMARY KEY (node_id, seq) INCLUDE (published),
	UNIQUE (node_id, item_id)
);`

// pepPrefix starts the service key of an account's PEP service, "pep:" and
// the username; DeleteUser removes that service with the account.
const pepPrefix = "pep:"

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

// pubsubServicesSQL lists the services with a prefix. starts_with compares
// characters literally: no LIKE wildcards to escape. The lower bound lets
// the scan start at the prefix.
const pubsubServicesSQL = `SELECT DISTINCT service FROM pubsub_nodes
	WHERE service >= $1 AND starts_with(service, $1) ORDER BY service`

// PubSubServices returns the keys, starting with prefix, of the services
// with at least one node, sorted (pubsub.StoreProvider).
func (s *Store) PubSubServices(ctx context.Context, prefix string) ([]string, error) {
	if !validText(prefix) {
		return nil, nil // no key holds what text cannot
	}
	out, err := s.textColumn(ctx, pubsubServicesSQL, prefix)
	if err != nil {
		return nil, pubsubErr("list services", err)
	}
	return out, nil
}

// deletePubSubService removes, inside tx, every node of a service with its
// parents, affiliations, subscriptions and items (ON DELETE CASCADE).
func deletePubSubService(ctx context.Context, tx pgx.Tx, service string) error {
	_, err := tx.Exec(ctx, `DELETE FROM pubsub_nodes WHERE service = $1`, service)
	return err
}

// stripPEPSubscriptions removes, inside tx, the subscriptions and
// affiliations of the account username at the other accounts' PEP
// services: those of the JIDs with username as localpart (this server
// serves one domain, and PEP services hear only local accounts).
func stripPEPSubscriptions(ctx context.Context, tx pgx.Tx, username string) error {
	for _, table := range []string{"pubsub_subscriptions", "pubsub_affiliations"} {
		if _, err := tx.Exec(ctx, stripPEPSQL(table), username); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// stripPEPSQL returns the statement that deletes the rows of table, one of
// ours, never input, that belong to the JIDs with localpart $1 at PEP
// services. In byte order these JIDs are the texts from $1+"@" up to, not
// including, $1+"A", '@' + 1 being 'A': a range the jid indexes serve,
// with no pattern to escape.
func stripPEPSQL(table string) string {
	return `DELETE FROM ` + table + ` AS t USING pubsub_nodes AS n
		WHERE t.node_id = n.id AND starts_with(n.service, '` + pepPrefix + `')
		AND t.jid >= ($1 || '@') AND t.jid < ($1 || 'A')`
}

// pubsubStore implements pubsub.Store for one service on the pubsub_*
// tables. Every method is one statement, and so atomic, unless it says
// otherwise; the statements name the node by $1 (service) and $2 (NodeID).
// Reads, and writes that have the same effect when run twice, are tried
// again when the connection breaks under them (Store.do).
type pubsubStore struct {
	s       *Store
	service string
}

var _ pubsub.Store = (*pubsubStore)(nil)

// nodeIDSQL selects the id of the node $1, $2: NULL, which matches no row,
// if there is no such node.
const nodeIDSQL = `(SELECT id FROM pubsub_nodes WHERE service = $1 AND node = $2)`

// pubsubErr wraps err for the operation op; the sentinel errors of the
// Store contract are returned as they are.
func pubsubErr(op string, err error) error {
	if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrExists) {
		return err
	}
	return fmt.Errorf("postgres: pubsub %s: %w", op, err)
}

// Encoding of the columns. Config, SubOptions, the enumerations and the
// JIDs are in the stored form of package pubsub (pubsub.EncodeConfig and
// the rest), shared with the SQLite backend.

// bytea returns s as the value of a bytea column, never nil: pgx sends a
// nil slice as NULL, and the empty NodeID or ItemID is a value.
func bytea(s string) []byte { return append([]byte{}, s...) }

// node returns the parameters $1 and $2 naming the node id.
func (p *pubsubStore) node(id pubsub.NodeID) (string, []byte) { return p.service, bytea(string(id)) }

// Nodes.

// loadNodesSQL reads the service's nodes with their parents, affiliations
// and subscriptions as arrays (NULL for none), in one statement and so
// from one snapshot.
const loadNodesSQL = `SELECT n.node, n.type, n.config::text, n.created, n.creator,
	p.parents, a.jids, a.affs, s.jids, s.subids, s.states, s.options
FROM pubsub_nodes AS n
LEFT JOIN LATERAL (SELECT array_agg(parent ORDER BY pos) AS parents
	FROM pubsub_parents WHERE node_id = n.id) AS p ON true
LEFT JOIN LATERAL (SELECT array_agg(jid ORDER BY jid) AS jids, array_agg(affiliation ORDER BY jid) AS affs
	FROM pubsub_affiliations WHERE node_id = n.id) AS a ON true
LEFT JOIN LATERAL (SELECT array_agg(jid ORDER BY jid, subid) AS jids, array_agg(subid ORDER BY jid, subid) AS subids,
		array_agg(state ORDER BY jid, subid) AS states, array_agg(options::text ORDER BY jid, subid) AS options
	FROM pubsub_subscriptions WHERE node_id = n.id) AS s ON true
WHERE n.service = $1
ORDER BY n.node`

// LoadNodes reads the nodes, their parents, affiliations and subscriptions
// in NodeID order (affiliations by JID, subscriptions by JID and SubID).
func (p *pubsubStore) LoadNodes(ctx context.Context) ([]pubsub.NodeState, error) {
	var states []pubsub.NodeState
	err := p.s.read(ctx, func(c *pgx.Conn) error {
		rows, _ := c.Query(ctx, loadNodesSQL, p.service)
		var err error
		states, err = scanNodes(rows)
		return err
	})
	if err != nil {
		return nil, pubsubErr("load nodes", err)
	}
	return states, nil
}

// scanNodes reads the rows of loadNodesSQL.
func scanNodes(rows pgx.Rows) ([]pubsub.NodeState, error) {
	var (
		states                                    []pubsub.NodeState
		id                                        []byte
		typ, config, creator                      string
		created                                   time.Time
		parents                                   [][]byte
		affJIDs, affs, subJIDs, subIDs, subStates []string
		subOptions                                []string
	)
	_, err := pgx.ForEachRow(rows, []any{&id, &typ, &config, &created, &creator,
		&parents, &affJIDs, &affs, &subJIDs, &subIDs, &subStates, &subOptions}, func() error {
		st, err := decodeNode(string(id), typ, config, created, creator)
		if err != nil {
			return err
		}
		for _, parent := range parents {
			st.Node.Parents = append(st.Node.Parents, pubsub.NodeID(parent))
		}
		for i, j := range affJIDs {
			a := pubsub.Affiliated{Node: st.Node.ID}
			var err error
			if a.JID, err = pubsub.ParseStoredJID(j); err != nil {
				return fmt.Errorf("node %q: affiliation: %w", id, err)
			}
			if a.Affiliation, err = pubsub.ParseAffiliation(affs[i]); err != nil {
				return fmt.Errorf("node %q: affiliation of %s: %w", id, j, err)
			}
			st.Affiliations = append(st.Affiliations, a)
		}
		for i, j := range subJIDs {
			sub := pubsub.Subscription{Node: st.Node.ID, SubID: subIDs[i]}
			var err error
			if sub.JID, err = pubsub.ParseStoredJID(j); err != nil {
				return fmt.Errorf("node %q: subscription: %w", id, err)
			}
			if sub.State, err = pubsub.ParseSubState(subStates[i]); err != nil {
				return fmt.Errorf("node %q: subscription %s %q: %w", id, j, subIDs[i], err)
			}
			if sub.Options, err = pubsub.DecodeSubOptions(subOptions[i]); err != nil {
				return fmt.Errorf("node %q: subscription %s %q: options: %w", id, j, subIDs[i], err)
			}
			st.Subscriptions = append(st.Subscriptions, sub)
		}
		states = append(states, st)
		return nil
	})
	return states, err
}

// decodeNode reads the columns of a node's row.
func decodeNode(id, typ, config string, created time.Time, creator string) (pubsub.NodeState, error) {
	n := pubsub.Node{ID: pubsub.NodeID(id), Created: millis(created)}
	var err error
	if n.Type, err = pubsub.ParseNodeType(typ); err != nil {
		return pubsub.NodeState{}, fmt.Errorf("node %q: %w", id, err)
	}
	if n.Config, err = pubsub.DecodeConfig(config); err != nil {
		return pubsub.NodeState{}, fmt.Errorf("node %q: config: %w", id, err)
	}
	if n.Creator, err = pubsub.ParseStoredJID(creator); err != nil {
		return pubsub.NodeState{}, fmt.Errorf("node %q: creator: %w", id, err)
	}
	return pubsub.NodeState{Node: n}, nil
}

// queueParents queues the statements that insert the parents of the node
// with the id nodeID; a repeated parent keeps its first position.
func queueParents(b *pgx.Batch, nodeID int64, parents []pubsub.NodeID) {
	for i, parent := range parents {
		b.Queue(`INSERT INTO pubsub_parents (node_id, parent, pos) VALUES ($1, $2, $3)
			ON CONFLICT (node_id, parent) DO NOTHING`, nodeID, bytea(string(parent)), i)
	}
}

// CreateNode inserts the node with its parents, affiliations and
// subscriptions in one transaction.
func (p *pubsubStore) CreateNode(ctx context.Context, st pubsub.NodeState) error {
	err := p.createNode(ctx, &st)
	return pubsubErr("create node", err)
}

func (p *pubsubStore) createNode(ctx context.Context, st *pubsub.NodeState) error {
	n := &st.Node
	typ, err := pubsub.EnumName("node type", n.Type, pubsub.ParseNodeType)
	if err != nil {
		return err
	}
	config, err := pubsub.EncodeConfig(&n.Config)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	// The rows are encoded before the transaction: an invalid one is
	// refused without a round trip. Each is the arguments of its statement
	// after the node's id.
	var affs, subs [][]any
	for _, a := range st.Affiliations {
		if a.Affiliation == pubsub.AffNone {
			continue
		}
		name, err := pubsub.EnumName("affiliation", a.Affiliation, pubsub.ParseAffiliation)
		if err != nil {
			return err
		}
		affs = append(affs, []any{a.JID.String(), name})
	}
	for _, sub := range st.Subscriptions {
		args, err := subscriptionArgs(&sub)
		if err != nil {
			return err
		}
		subs = append(subs, args)
	}
	service, node := p.node(n.ID)
	return p.s.write(ctx, func(tx pgx.Tx) error {
		var nodeID int64
		err := tx.QueryRow(ctx, `INSERT INTO pubsub_nodes (service, node, type, config, created, creator)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (service, node) DO NOTHING
			RETURNING id`,
			service, node, typ, config, millis(n.Created), n.Creator.String()).Scan(&nodeID)
		if errors.Is(err, pgx.ErrNoRows) {
			return storage.ErrExists
		}
		if err != nil {
			return err
		}
		var b pgx.Batch
		queueParents(&b, nodeID, n.Parents)
		for _, args := range affs {
			b.Queue(setAffiliationSQL, append([]any{nodeID}, args...)...)
		}
		for _, args := range subs {
			b.Queue(putSubscriptionSQL, append([]any{nodeID}, args...)...)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
}

// UpdateNode replaces the node's type, configuration and parents, in one
// transaction; its creation time and creator stay as created.
func (p *pubsubStore) UpdateNode(ctx context.Context, n pubsub.Node) error {
	typ, err := pubsub.EnumName("node type", n.Type, pubsub.ParseNodeType)
	if err != nil {
		return pubsubErr("update node", err)
	}
	config, err := pubsub.EncodeConfig(&n.Config)
	if err != nil {
		return pubsubErr("update node", fmt.Errorf("config: %w", err))
	}
	service, node := p.node(n.ID)
	err = p.s.write(ctx, func(tx pgx.Tx) error {
		var nodeID int64
		err := tx.QueryRow(ctx, `UPDATE pubsub_nodes SET type = $3, config = $4
			WHERE service = $1 AND node = $2 RETURNING id`,
			service, node, typ, config).Scan(&nodeID)
		if errors.Is(err, pgx.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		var b pgx.Batch
		b.Queue(`DELETE FROM pubsub_parents WHERE node_id = $1`, nodeID)
		queueParents(&b, nodeID, n.Parents)
		return tx.SendBatch(ctx, &b).Close()
	})
	return pubsubErr("update node", err)
}

// DeleteNode deletes the node (its parents, affiliations, subscriptions and
// items go with it through ON DELETE CASCADE) and removes it from the
// parents of the service's other nodes, in one statement.
func (p *pubsubStore) DeleteNode(ctx context.Context, id pubsub.NodeID) error {
	service, node := p.node(id)
	var deleted bool
	err := p.queryRow(ctx, false, `WITH d AS (
			DELETE FROM pubsub_nodes WHERE service = $1 AND node = $2 RETURNING id
		), parents AS (
			DELETE FROM pubsub_parents AS p USING pubsub_nodes AS n
			WHERE p.node_id = n.id AND n.service = $1 AND p.parent = $2 AND EXISTS (SELECT FROM d)
		)
		SELECT EXISTS (SELECT FROM d)`, []any{service, node}, &deleted)
	if err == nil && !deleted {
		err = storage.ErrNotFound
	}
	return pubsubErr("delete node", err)
}

// Affiliations and subscriptions.

// setAffiliationSQL upserts the affiliation of the node with the id $1.
const setAffiliationSQL = `INSERT INTO pubsub_affiliations (node_id, jid, affiliation) VALUES ($1, $2, $3)
	ON CONFLICT (node_id, jid) DO UPDATE SET affiliation = excluded.affiliation`

// SetAffiliation sets the affiliation of j; AffNone removes it.
func (p *pubsubStore) SetAffiliation(ctx context.Context, id pubsub.NodeID, j jid.JID, a pubsub.Affiliation) error {
	service, node := p.node(id)
	var err error
	if a == pubsub.AffNone {
		// The node's row tells a missing node from a missing
		// affiliation.
		err = p.queryRow(ctx, true, `WITH d AS (
				DELETE FROM pubsub_affiliations WHERE node_id = `+nodeIDSQL+` AND jid = $3
			)
			SELECT FROM pubsub_nodes WHERE service = $1 AND node = $2`,
			[]any{service, node, j.String()})
	} else {
		var name string
		if name, err = pubsub.EnumName("affiliation", a, pubsub.ParseAffiliation); err != nil {
			return pubsubErr("set affiliation", err)
		}
		err = p.execInNode(ctx, true, `INSERT INTO pubsub_affiliations (node_id, jid, affiliation)
			SELECT id, $3, $4 FROM pubsub_nodes WHERE service = $1 AND node = $2
			ON CONFLICT (node_id, jid) DO UPDATE SET affiliation = excluded.affiliation`,
			service, node, j.String(), name)
	}
	return pubsubErr("set affiliation", err)
}

// execInNode runs a statement that changes one row of a node and reports
// storage.ErrNotFound if it changes none. idempotent says that running it
// twice has the effect and the outcome of running it once (Store.exec).
func (p *pubsubStore) execInNode(ctx context.Context, idempotent bool, sql string, args ...any) error {
	tag, err := p.s.exec(ctx, idempotent, sql, args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = storage.ErrNotFound
	}
	return err
}

// queryRow runs a statement that yields one row, scanned into dest, or
// none: storage.ErrNotFound. idempotent is as for execInNode.
func (p *pubsubStore) queryRow(ctx context.Context, idempotent bool, sql string, args []any, dest ...any) error {
	err := p.s.do(ctx, func(c *pgx.Conn) (bool, error) {
		return idempotent, c.QueryRow(ctx, sql, args...).Scan(dest...)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// putSubscriptionSQL upserts a subscription of the node with the id $1.
const putSubscriptionSQL = `INSERT INTO pubsub_subscriptions (node_id, jid, subid, state, options)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (node_id, jid, subid) DO UPDATE SET state = excluded.state, options = excluded.options`

// subscriptionArgs returns the columns of a subscription after node_id.
func subscriptionArgs(s *pubsub.Subscription) ([]any, error) {
	state, err := pubsub.EnumName("subscription state", s.State, pubsub.ParseSubState)
	if err != nil {
		return nil, err
	}
	options, err := pubsub.EncodeSubOptions(&s.Options)
	if err != nil {
		return nil, fmt.Errorf("subscription options: %w", err)
	}
	return []any{s.JID.String(), s.SubID, state, options}, nil
}

// PutSubscription adds or replaces the subscription (s.JID, s.SubID).
func (p *pubsubStore) PutSubscription(ctx context.Context, id pubsub.NodeID, s pubsub.Subscription) error {
	args, err := subscriptionArgs(&s)
	if err != nil {
		return pubsubErr("put subscription", err)
	}
	service, node := p.node(id)
	err = p.execInNode(ctx, true, `INSERT INTO pubsub_subscriptions (node_id, jid, subid, state, options)
		SELECT id, $3, $4, $5, $6 FROM pubsub_nodes WHERE service = $1 AND node = $2
		ON CONFLICT (node_id, jid, subid) DO UPDATE SET state = excluded.state, options = excluded.options`,
		append([]any{service, node}, args...)...)
	return pubsubErr("put subscription", err)
}

// DeleteSubscription removes the subscription (j, subID).
func (p *pubsubStore) DeleteSubscription(ctx context.Context, id pubsub.NodeID, j jid.JID, subID string) error {
	service, node := p.node(id)
	err := p.execInNode(ctx, false, `DELETE FROM pubsub_subscriptions
		WHERE node_id = `+nodeIDSQL+` AND jid = $3 AND subid = $4`,
		service, node, j.String(), subID)
	return pubsubErr("delete subscription", err)
}

// Items.

// putItemSQL increments the node's item_seq, locking its row until the
// transaction ends, and stores the item with the new seq, replacing the
// item with its ItemID; it changes no row if there is no such node.
const putItemSQL = `WITH n AS (
	UPDATE pubsub_nodes SET item_seq = item_seq + 1
	WHERE service = $1 AND node = $2
	RETURNING id, item_seq
)
INSERT INTO pubsub_items (node_id, seq, item_id, published, publisher, payload)
SELECT id, item_seq, $3::bytea, $4::timestamptz, $5::text, $6::bytea FROM n
ON CONFLICT (node_id, item_id) DO UPDATE SET
	seq = excluded.seq, published = excluded.published,
	publisher = excluded.publisher, payload = excluded.payload`

// deleteItemsSQL returns the statement that deletes the node's items
// matching cond, a condition on pubsub_items that may use the node's id as
// (SELECT id FROM n). Its rows are the deleted items' seq and ItemID, or
// one row of NULLs if none was deleted; none if there is no such node.
func deleteItemsSQL(cond string) string {
	return `WITH n AS (
		SELECT id FROM pubsub_nodes WHERE service = $1 AND node = $2
	), d AS (
		DELETE FROM pubsub_items WHERE node_id = (SELECT id FROM n) AND ` + cond + `
		RETURNING seq, item_id
	)
	SELECT d.seq, d.item_id FROM n LEFT JOIN d ON true`
}

var (
	// trimItemsSQL deletes the items older than the $3 newest: from the
	// ($3+1)th newest down, a range of the primary key.
	trimItemsSQL = deleteItemsSQL(`seq <= (SELECT seq FROM pubsub_items
		WHERE node_id = (SELECT id FROM n) ORDER BY seq DESC OFFSET $3 LIMIT 1)`)
	// deleteItemsBeforeSQL deletes the items published before $3.
	deleteItemsBeforeSQL = deleteItemsSQL(`published < $3`)
)

// deletedItems reads the rows of a deleteItemsSQL statement: the deleted
// ItemIDs, oldest first; storage.ErrNotFound if there is no such node.
func deletedItems(rows pgx.Rows) ([]string, error) {
	type deleted struct {
		seq int64
		id  string
	}
	var (
		ds    []deleted
		found bool
		seq   *int64
		id    []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&seq, &id}, func() error {
		found = true
		if seq != nil {
			ds = append(ds, deleted{*seq, string(id)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, storage.ErrNotFound
	}
	if len(ds) == 0 {
		return nil, nil
	}
	// RETURNING gives no order.
	slices.SortFunc(ds, func(a, b deleted) int { return cmp.Compare(a.seq, b.seq) })
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.id
	}
	return ids, nil
}

// deleteItems runs a deleteItemsSQL statement and returns the deleted
// ItemIDs, oldest first. It is not tried again when the connection breaks:
// a second run would not return what the first deleted.
func (p *pubsubStore) deleteItems(ctx context.Context, sql string, args ...any) ([]string, error) {
	var ids []string
	err := p.s.do(ctx, func(c *pgx.Conn) (bool, error) {
		rows, _ := c.Query(ctx, sql, args...)
		var err error
		ids, err = deletedItems(rows)
		return false, err
	})
	return ids, err
}

// PutItem stores the item as the newest of the node and trims the node to
// max items, atomically in one round trip: the two statements are sent as
// one batch, which runs in one implicit transaction (pgx SendBatch), and
// the node's row stays locked until both are done.
func (p *pubsubStore) PutItem(ctx context.Context, id pubsub.NodeID, it pubsub.Item, max int) ([]string, error) {
	service, node := p.node(id)
	// A nil payload is stored as NULL.
	args := []any{service, node, bytea(it.ID), millis(it.Published), it.Publisher.String(), it.Payload}
	if max < 0 {
		err := p.execInNode(ctx, false, putItemSQL, args...)
		return nil, pubsubErr("put item", err)
	}
	var trimmed []string
	err := p.s.do(ctx, func(c *pgx.Conn) (bool, error) {
		var b pgx.Batch
		b.Queue(putItemSQL, args...)
		b.Queue(trimItemsSQL, service, node, max)
		br := c.SendBatch(ctx, &b)
		var err error
		trimmed, err = putItemResults(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return false, err
	})
	if err != nil {
		return nil, pubsubErr("put item", err)
	}
	return trimmed, nil
}

// putItemResults reads the results of PutItem's batch: the trimmed
// ItemIDs.
func putItemResults(br pgx.BatchResults) ([]string, error) {
	tag, err := br.Exec()
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		return nil, storage.ErrNotFound
	}
	rows, _ := br.Query()
	return deletedItems(rows)
}

// TrimItems removes the oldest items beyond max.
func (p *pubsubStore) TrimItems(ctx context.Context, id pubsub.NodeID, max int) ([]string, error) {
	service, node := p.node(id)
	var (
		trimmed []string
		err     error
	)
	if max < 0 {
		// Nothing to trim; the node must exist all the same.
		err = p.queryRow(ctx, true, `SELECT FROM pubsub_nodes WHERE service = $1 AND node = $2`, []any{service, node})
	} else {
		trimmed, err = p.deleteItems(ctx, trimItemsSQL, service, node, max)
	}
	if err != nil {
		return nil, pubsubErr("trim items", err)
	}
	return trimmed, nil
}

// DeleteItem removes one item.
func (p *pubsubStore) DeleteItem(ctx context.Context, id pubsub.NodeID, itemID string) error {
	service, node := p.node(id)
	err := p.execInNode(ctx, false, `DELETE FROM pubsub_items WHERE node_id = `+nodeIDSQL+` AND item_id = $3`,
		service, node, bytea(itemID))
	return pubsubErr("delete item", err)
}

// DeleteItemsBefore removes the items published before t, compared in
// whole milliseconds.
func (p *pubsubStore) DeleteItemsBefore(ctx context.Context, id pubsub.NodeID, t time.Time) ([]string, error) {
	service, node := p.node(id)
	deleted, err := p.deleteItems(ctx, deleteItemsBeforeSQL, service, node, millis(t))
	if err != nil {
		return nil, pubsubErr("delete items before", err)
	}
	return deleted, nil
}

// PurgeItems removes every item of the node.
func (p *pubsubStore) PurgeItems(ctx context.Context, id pubsub.NodeID) error {
	service, node := p.node(id)
	err := p.queryRow(ctx, true, `WITH d AS (
			DELETE FROM pubsub_items WHERE node_id = `+nodeIDSQL+`
		)
		SELECT FROM pubsub_nodes WHERE service = $1 AND node = $2`, []any{service, node})
	return pubsubErr("purge items", err)
}

// CountItems counts the node's items.
func (p *pubsubStore) CountItems(ctx context.Context, id pubsub.NodeID) (int, error) {
	service, node := p.node(id)
	var n int
	err := p.queryRow(ctx, true, `SELECT (SELECT count(*) FROM pubsub_items WHERE node_id = n.id)
		FROM pubsub_nodes AS n WHERE service = $1 AND node = $2`, []any{service, node}, &n)
	if err != nil {
		return 0, pubsubErr("count items", err)
	}
	return n, nil
}

// Items queries. Each reads, in one statement and so from one snapshot, the
// node's row (none: no such node), the number of selected items, the
// number of selected items newer than the cursor (NULL: the cursor is not
// selected; in the variants with a cursor) and the page, newest first; a
// node with an empty page yields one row with NULL item columns.
//
// The selection is the node's items published at or after $3 and, in the
// variant with IDs, whose ItemID is one of $5. $4 is the page size, NULL
// for no limit; the cursor's ItemID is the last parameter.
type itemsSQL struct {
	first, after, before string
}

func newItemsSQL(ids bool) itemsSQL {
	// sel returns the selection over pubsub_items AS alias.
	sel := func(alias string) string {
		s := alias + `.node_id = nd.id AND ` + alias + `.published >= $3`
		if ids {
			s += ` AND ` + alias + `.item_id = ANY ($5)`
		}
		return s
	}
	cursor := "$5"
	if ids {
		cursor = "$6"
	}
	const (
		columns = `SELECT c.n, %s, i.item_id, i.publisher, i.payload, i.published
FROM pubsub_nodes AS nd
CROSS JOIN LATERAL (SELECT count(*) AS n FROM pubsub_items AS x WHERE %s) AS c
`
		page = `LEFT JOIN LATERAL (SELECT seq, item_id, publisher, payload, published
	FROM pubsub_items AS i WHERE %s ORDER BY seq %s LIMIT $4) AS i ON true
WHERE nd.service = $1 AND nd.node = $2
ORDER BY i.seq DESC`
	)
	withCursor := func(cmpOp, order string) string {
		return fmt.Sprintf(columns, "cur.newer", sel("x")) +
			fmt.Sprintf(`LEFT JOIN LATERAL (SELECT y.seq, (SELECT count(*) FROM pubsub_items AS x WHERE %s AND x.seq > y.seq) AS newer
	FROM pubsub_items AS y WHERE %s AND y.item_id = %s) AS cur ON true
`, sel("x"), sel("y"), cursor) +
			fmt.Sprintf(page, sel("i")+" AND i.seq "+cmpOp+" cur.seq", order)
	}
	return itemsSQL{
		first:  fmt.Sprintf(columns, "NULL::bigint", sel("x")) + fmt.Sprintf(page, sel("i"), "DESC"),
		after:  withCursor("<", "DESC"),
		before: withCursor(">", "ASC"),
	}
}

var (
	itemsAll = newItemsSQL(false)
	itemsIDs = newItemsSQL(true)
)

// Items reads the selection's count, the cursor's position and the page in
// one statement.
func (p *pubsubStore) Items(ctx context.Context, id pubsub.NodeID, q pubsub.ItemQuery) (pubsub.ItemPage, error) {
	service, node := p.node(id)
	var limit any // NULL: no limit
	if q.Max > 0 {
		limit = q.Max
	}
	stmts, args := itemsAll, []any{service, node, millis(q.Since), limit}
	if len(q.IDs) > 0 {
		ids := make([][]byte, len(q.IDs))
		for i, s := range q.IDs {
			ids[i] = bytea(s)
		}
		stmts, args = itemsIDs, append(args, ids)
	}
	query := stmts.first
	switch {
	case q.After != "":
		query, args = stmts.after, append(args, bytea(q.After))
	case q.Before != "":
		query, args = stmts.before, append(args, bytea(q.Before))
	}

	var (
		page  pubsub.ItemPage
		found bool
		newer *int64
	)
	err := p.s.read(ctx, func(c *pgx.Conn) error {
		page, found, newer = pubsub.ItemPage{}, false, nil
		var (
			itemID    []byte
			publisher *string
			payload   []byte
			published *time.Time
		)
		rows, _ := c.Query(ctx, query, args...)
		_, err := pgx.ForEachRow(rows, []any{&page.Count, &newer, &itemID, &publisher, &payload, &published}, func() error {
			found = true
			if published == nil { // no item on the page
				return nil
			}
			it := pubsub.Item{ID: string(itemID), Payload: payload, Published: millis(*published)}
			var err error
			if it.Publisher, err = pubsub.ParseStoredJID(*publisher); err != nil {
				return fmt.Errorf("item %q: publisher: %w", it.ID, err)
			}
			page.Items = append(page.Items, it)
			return nil
		})
		return err
	})
	switch {
	case err != nil:
	case !found:
		err = storage.ErrNotFound // no such node
	case q.After == "" && q.Before == "":
	case newer == nil:
		err = storage.ErrNotFound // the cursor is not selected
	case q.After != "":
		page.Index = int(*newer) + 1
	default:
		page.Index = int(*newer) - len(page.Items)
	}
	if err != nil {
		return pubsub.ItemPage{}, pubsubErr("items", err)
	}
	return page, nil
}
