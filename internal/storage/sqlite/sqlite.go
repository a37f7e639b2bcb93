// Package sqlite is mote's embedded storage backend: one SQLite database file
// accessed through modernc.org/sqlite, a pure-Go build of SQLite, so the
// server stays a single static binary.
//
// # Concurrency
//
// The database runs in WAL mode, so readers never block the writer and the
// writer never blocks readers. SQLite admits one writer at a time per file;
// a Store therefore keeps two connection pools:
//
//   - a writer pool of exactly one connection, whose transactions begin
//     IMMEDIATE (they take the write lock at BEGIN, so a transaction that
//     reads and then writes can never fail half-way with SQLITE_BUSY);
//     in-process writers queue in database/sql instead of spinning in
//     SQLite's busy handler;
//   - a reader pool of several query-only connections.
//
// Durable writes of many goroutines (archived and offline messages) are
// group-committed: one committer goroutine runs them together in one
// writer transaction, so that they share its fsync (see groupcommit.go).
//
// Other processes on the same file (for example `mote user add` while the
// server runs) are serialised by SQLite's file locks; busy_timeout makes a
// writer wait up to five seconds for the lock instead of failing at once
// with "database is locked".
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mote-xmpp/mote/internal/storage"
)

// driverName is the database/sql driver name modernc.org/sqlite registers.
const driverName = "sqlite"

// busyTimeoutMillis is how long a connection waits for a lock held by
// another connection or process before reporting SQLITE_BUSY.
const busyTimeoutMillis = 5000

// Pragmas every connection gets, applied by the driver as each pooled
// connection is opened (see https://www.sqlite.org/pragma.html):
//
//   - busy_timeout: wait for locks instead of failing at once (the driver
//     applies it first, so the pragmas after it wait too);
//   - foreign_keys: SQLite leaves them off by default, per connection; the
//     schema relies on ON DELETE CASCADE;
//   - journal_mode=WAL (writer only; the mode is persistent in the file):
//     concurrent readers with one writer, across processes;
//   - synchronous=FULL (writer only): every commit syncs the WAL before it
//     returns, so a commit is durable against power loss and OS crashes
//     too, not only against a crash of the process: a message acknowledged
//     to a client is on disk
//     (https://www.sqlite.org/pragma.html#pragma_synchronous). Group commit
//     (Store.batch) pays that fsync once per batch of writes;
//   - query_only (readers only): a write through the reader pool is a bug
//     and fails instead of competing with the writer.
var (
	commonPragmas = []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis),
		"foreign_keys(1)",
	}
	writerPragmas = []string{"journal_mode(WAL)", "synchronous(FULL)"}
	readerPragmas = []string{"query_only(1)"}
)

// Store is an opened SQLite database. It is safe for concurrent use.
type Store struct {
	w          *sql.DB // writer pool: one connection, BEGIN IMMEDIATE
	r          *sql.DB // reader pool: query-only connections
	users      users
	rosters    rosters
	offline    offline
	documents  documents
	blocklists blocklists
	archive    archive
	devices    devices
	// getUser is the prepared login query (see getUserSQL).
	getUser *sql.Stmt
	// stmts caches prepared reader statements by their SQL text: parsing
	// is a large part of a small query's cost, and a login runs several
	// (roster, pending requests, blocklist).
	stmts sync.Map // string → *sql.Stmt

	// Group commit (groupcommit.go). batchq is the committer's queue;
	// batchMu guards batchClosed and is held (read) across every send on
	// batchq, so that Close closes batchq only once no send is under way.
	// committerDone is closed when the committer has returned. batches
	// counts the batch transactions. batchStmts holds batchStatements,
	// prepared on the writer pool; it is not changed after Open.
	batchq        chan *batchReq
	batchMu       sync.RWMutex
	batchClosed   bool
	committerDone chan struct{}
	batches       atomic.Int64
	batchStmts    map[string]*sql.Stmt
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and brings its
// schema up to date. The parent directory must already exist. A database
// written by a newer mote, with a schema version this binary does not know,
// is refused with a *SchemaVersionError.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open %s: database directory: %w", path, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("sqlite: open %s: %s is not a directory", path, dir)
		}
	}

	w, err := openWriter(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open(driverName, dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	getUser, err := r.PrepareContext(ctx, getUserSQL)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	batchStmts, err := prepareBatch(ctx, w)
	if err != nil {
		getUser.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{
		w:             w,
		r:             r,
		getUser:       getUser,
		batchStmts:    batchStmts,
		batchq:        make(chan *batchReq, maxBatch),
		committerDone: make(chan struct{}),
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

// dsn returns the modernc.org/sqlite data source name for the file at path:
// a "file:" URI (https://www.sqlite.org/uri.html) followed by the driver's
// _pragma and _txlock parameters, which it applies to every new connection.
// openWriter opens the single-connection writer pool. Switching a new
// database to WAL takes an exclusive lock for which SQLite does not always
// call the busy handler, so a concurrent first open (server and CLI started
// together) can see SQLITE_BUSY at once: retry for the busy timeout.
func openWriter(ctx context.Context, path string) (*sql.DB, error) {
	deadline := time.Now().Add(busyTimeoutMillis * time.Millisecond)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		w, err := sql.Open(driverName, dsn(path, true))
		if err != nil {
			return nil, err
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		err = w.PingContext(ctx)
		if err == nil {
			return w, nil
		}
		w.Close()
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func dsn(path string, writer bool) string {
	params := []string{}
	pragmas := append([]string(nil), commonPragmas...)
	if writer {
		pragmas = append(pragmas, writerPragmas...)
		params = append(params, "_txlock=immediate")
	} else {
		pragmas = append(pragmas, readerPragmas...)
	}
	for _, p := range pragmas {
		params = append(params, "_pragma="+p)
	}
	return "file:" + uriPath(path) + "?" + strings.Join(params, "&")
}

// uriPath escapes the characters that would end or corrupt the path part of
// an SQLite URI filename; SQLite percent-decodes the path again.
func uriPath(path string) string {
	path = filepath.ToSlash(path)
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
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

// Close waits for the group commit of the writes already requested, then
// closes both connection pools. The WAL is checkpointed by SQLite when the
// last connection to the file closes.
func (s *Store) Close() error {
	s.closeBatches()
	errs := []error{s.getUser.Close()}
	for _, st := range s.batchStmts {
		errs = append(errs, st.Close())
	}
	s.stmts.Range(func(_, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(append(errs, s.r.Close(), s.w.Close())...)
}

// prepared returns the reader pool's prepared statement for query,
// preparing it on first use.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// query runs a prepared reader query, in tx when it is not nil.
func (s *Store) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st.QueryContext(ctx, args...)
}

// write runs fn in a writer transaction (BEGIN IMMEDIATE) and commits it if
// fn returns nil. fn must use only tx: the writer pool has one connection.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in a reader transaction, so that its queries see one
// consistent snapshot of the database (WAL mode), and ends it.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// distinctUsers returns the distinct usernames of table, in byte order.
func (s *Store) distinctUsers(ctx context.Context, table string) ([]string, error) {
	// table is one of ours, never input.
	return textColumn(s.r.QueryContext(ctx, "SELECT DISTINCT username FROM "+table+" ORDER BY username COLLATE BINARY"))
}

// textColumn reads the rows of a one-column text query and closes them.
func textColumn(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// checkAffected returns storage.ErrNotFound if res changed no row.
func checkAffected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}
