// Package postgres is mote's PostgreSQL storage backend, for deployments
// that outgrow the embedded SQLite database or run several mote nodes on
// one system of record. It talks to the server with pgx (a pure-Go driver)
// through one bounded connection pool.
//
// # Schema
//
// Open brings the schema up to date with the migrations in migrate.go,
// each in its own transaction together with its row in schema_migrations,
// serialised across processes by an advisory lock; a database written by a
// newer mote is refused. Text keys are COLLATE "C", so that orders are byte
// orders whatever the database's locale; times are timestamptz, truncated
// by the store to what the storage contracts keep (seconds or
// milliseconds).
//
// # Concurrency and durability
//
// Operations run on connections of the pool (Options.MaxConns), in READ
// COMMITTED transactions, or REPEATABLE READ ones where a read must see one
// snapshot. Writes that may run concurrently for one key are serialised by
// the database: row locks, and transaction-scoped advisory locks per
// archive and per offline-message account (groupcommit.go), which also
// hold between mote processes.
//
// Archived and offline messages, acknowledged to clients, are
// group-committed: one committer goroutine writes the requests queued while
// the previous batch committed in one transaction, so that they share its
// WAL flush (groupcommit.go). Sessions run with synchronous_commit on unless
// the DSN says otherwise, so a write is durable when its call returns.
//
// # Failures
//
// Waiting for a connection is bounded by Options.AcquireTimeout, and
// establishing one by the DSN's connect_timeout (Options.ConnectTimeout
// when it has none), besides the caller's context: while the server is
// unreachable calls fail promptly. When a connection breaks under a call
// (the server restarted, failed over or ended the session), the pool drops
// its idle connections, which are likely broken too, and the call is tried
// again on a new connection if that cannot apply it twice (reads,
// idempotent statements, transactions that failed before their COMMIT;
// Store.do). A deadlock or
// serialisation failure, after which the database rolled the transaction
// back, is retried too.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mote-xmpp/mote/internal/storage"
)

// Options tune a Store. The zero value of each field selects its default.
type Options struct {
	// MaxConns bounds the connection pool, and so the server sessions the
	// Store opens (default 16). The group committer uses one of them
	// while it commits.
	MaxConns int
	// ConnectTimeout bounds establishing one connection when the DSN has
	// no connect_timeout (default 5s).
	ConnectTimeout time.Duration
	// AcquireTimeout bounds how long a call waits for a connection of the
	// pool, connecting included (default 10s); the caller's context may
	// end the wait sooner.
	AcquireTimeout time.Duration
	// CommitTimeout bounds one group-commit transaction, which no
	// caller's context ends (default 30s).
	CommitTimeout time.Duration
}

// Defaults of Options.
const (
	DefaultMaxConns       = 16
	DefaultConnectTimeout = 5 * time.Second
	DefaultAcquireTimeout = 10 * time.Second
	DefaultCommitTimeout  = 30 * time.Second
)

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.AcquireTimeout <= 0 {
		o.AcquireTimeout = DefaultAcquireTimeout
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = DefaultCommitTimeout
	}
	return o
}

// ErrAcquireTimeout is returned (wrapped) by a call that waited
// Options.AcquireTimeout for a connection of the pool in vain: the pool
// was busy, or the server could not be reached.
var ErrAcquireTimeout = errors.New("postgres: timed out waiting for a database connection")

// Store is an opened PostgreSQL database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	opts Options

	users      users
	rosters    rosters
	offline    offline
	documents  documents
	blocklists blocklists
	archive    archive
	devices    devices

	// Group commit (groupcommit.go). batchq is the committer's queue;
	// batchMu guards batchClosed and is held (read) across every send on
	// batchq, so that Close closes batchq only once no send is under way.
	// committerDone is closed when the committer has returned. batches
	// counts the batch transactions committed or tried.
	batchq        chan *batchReq
	batchMu       sync.RWMutex
	batchClosed   bool
	committerDone chan struct{}
	batches       atomic.Int64
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database that dsn names (a key=value or URL
// connection string, as libpq takes) and brings its schema up to date. A
// database written by a newer mote, with a schema version this binary
// does not know, is refused with a *SchemaVersionError.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN, password included: say less.
		return nil, errors.New("postgres: invalid DSN")
	}
	cfg.MaxConns = int32(opts.MaxConns)
	cfg.MinConns = 0
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	params := cfg.ConnConfig.RuntimeParams
	if _, ok := params["synchronous_commit"]; !ok {
		// A commit returns once its WAL is flushed, whatever the
		// server's or the database's default.
		params["synchronous_commit"] = "on"
	}
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = "mote"
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{
		pool:          pool,
		opts:          opts,
		batchq:        make(chan *batchReq, maxBatch),
		committerDone: make(chan struct{}),
	}
	if err := migrate(ctx, s); err != nil {
		pool.Close()
		return nil, err
	}
	s.users = users{s: s}
	s.rosters = rosters{s: s}
	s.offline = offline{s: s}
	s.documents = documents{s: s}
	s.blocklists = blocklists{s: s}
	s.archive = archive{s: s}
	s.devices = devices{s: s}
	go s.commitLoop()
	return s, nil
}

// Users returns the account store.
func (s *Store) Users() storage.Users { return &s.users }

// Rosters returns the roster store.
func (s *Store) Rosters() storage.Rosters { return &s.rosters }

// Offline returns the offline message store.
func (s *Store) Offline() storage.Offline { return &s.offline }

// Documents returns the per-account document store.
func (s *Store) Documents() storage.Documents { return &s.documents }

// Blocklists returns the blocklist store.
func (s *Store) Blocklists() storage.Blocklists { return &s.blocklists }

// Archive returns the message archive store.
func (s *Store) Archive() storage.Archive { return &s.archive }

// Devices returns the device and certificate store.
func (s *Store) Devices() storage.Devices { return &s.devices }

// Close waits for the group commit of the writes already queued, then
// closes the connection pool, waiting for the connections in use.
func (s *Store) Close() error {
	s.closeBatches()
	s.pool.Close()
	return nil
}

// maxAttempts bounds the tries of one call (see Store.do).
const maxAttempts = 3

// do runs fn on a connection of the pool and retries it, on a new
// connection, when it failed in a way that left nothing behind: fn
// reports with retrySafe whether nothing of its work can have been
// committed when it fails, which makes a broken connection worth another
// try; a deadlock or serialisation failure (the server rolled the
// transaction back) always is.
func (s *Store) do(ctx context.Context, fn func(c *pgx.Conn) (retrySafe bool, err error)) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		pc, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		conn := pc.Conn()
		retrySafe, err := fn(conn)
		lost := err != nil && conn.IsClosed() && ctx.Err() == nil
		pc.Release()
		if err == nil || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		switch {
		case lost:
			// The server went away or ended the session: the pool's
			// idle connections are likely broken as well.
			s.pool.Reset()
			if !retrySafe {
				return err
			}
		case isTransient(err):
		default:
			return err
		}
	}
}

// acquire takes a connection from the pool, waiting at most
// Options.AcquireTimeout.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, s.opts.AcquireTimeout)
	defer cancel()
	c, err := s.pool.Acquire(actx)
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ErrAcquireTimeout, err)
		}
		return nil, err
	}
	return c, nil
}

// isTransient reports an error after which the server rolled the
// transaction back and trying it again may succeed.
func isTransient(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") // serialization_failure, deadlock_detected
}

// isForeignKeyViolation reports a write that referenced a missing row.
func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// read runs fn, which must only read, on a connection; it is retried if
// the connection breaks.
func (s *Store) read(ctx context.Context, fn func(c *pgx.Conn) error) error {
	return s.do(ctx, func(c *pgx.Conn) (bool, error) { return true, fn(c) })
}

// write runs fn in a READ COMMITTED transaction and commits it if fn
// returns nil. fn may run more than once (see Store.do): it must not keep
// state from a failed run.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.do(ctx, func(c *pgx.Conn) (bool, error) {
		tx, err := c.Begin(ctx)
		if err != nil {
			return true, err
		}
		if err := fn(tx); err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			return true, err
		}
		// A connection lost during COMMIT leaves the outcome unknown.
		return false, tx.Commit(ctx)
	})
}

// exec runs one statement on its own (it commits by itself). idempotent
// says that running it twice has the effect of running it once, so that
// it is retried when the connection breaks under it.
func (s *Store) exec(ctx context.Context, idempotent bool, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := s.do(ctx, func(c *pgx.Conn) (bool, error) {
		var err error
		tag, err = c.Exec(ctx, sql, args...)
		return idempotent, err
	})
	return tag, err
}

// textColumn runs a one-column text query and returns its values.
func (s *Store) textColumn(ctx context.Context, sql string, args ...any) ([]string, error) {
	var out []string
	err := s.read(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return out, err
}

// distinctUsers returns the distinct usernames of table, in byte order,
// walking its username index one key at a time (a loose index scan)
// instead of reading every row.
func (s *Store) distinctUsers(ctx context.Context, table string) ([]string, error) {
	// table is one of ours, never input.
	return s.textColumn(ctx, `WITH RECURSIVE u (username) AS (
			(SELECT username FROM `+table+` ORDER BY username LIMIT 1)
			UNION ALL
			SELECT (SELECT t.username FROM `+table+` t WHERE t.username > u.username ORDER BY t.username LIMIT 1)
			FROM u WHERE u.username IS NOT NULL
		)
		SELECT username FROM u WHERE username IS NOT NULL ORDER BY username`)
}

// Encoding of times: the contracts keep some to the second, others to the
// millisecond, rounded down; all are read back in UTC. time.Time's zero
// value is NULL where a time is optional.

func seconds(t time.Time) time.Time { return time.Unix(t.Unix(), 0).UTC() }

func millis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// nonNil returns b, or an empty slice for nil: pgx sends a nil []byte as
// NULL, which the NOT NULL columns reject, while an empty value is a value.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
