package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mote-xmpp/mote/internal/storage"
)

// Group commit.
//
// The writer runs with synchronous=FULL, so every commit waits for an
// fsync of the WAL: from a tenth of a millisecond to several, by disk.
// Writes acknowledged to clients (archived and offline messages), each
// committed in its own transaction, would be capped at one per fsync
// whatever the number of writers. Store.batch lets concurrent writers
// share one transaction and so one fsync: a committer goroutine takes the
// requests queued while the previous commit was being synced, runs each
// inside a savepoint of one transaction, commits once and wakes every
// caller with its own outcome. No request waits for company: a lone
// request is committed at once, and batches grow only as the disk makes
// writers wait.

// Statements of the batch transaction, prepared with batchStatements.
const (
	savepointSQL  = `SAVEPOINT batch`
	releaseSQL    = `RELEASE batch`
	rollbackToSQL = `ROLLBACK TO batch`
)

// batchStatements are prepared on the writer connection at Open, before
// the committer takes it (database/sql prepares a statement of the pool on
// a free connection, and then reuses it in every transaction on that
// connection): the batch runs them for every request, and parsing them
// each time took over a tenth of the committer's time.
var batchStatements = []string{
	savepointSQL, releaseSQL, rollbackToSQL,
	appendArchiveSQL, countOfflineSQL, insertOfflineSQL,
}

// prepareBatch prepares batchStatements on the writer pool.
func prepareBatch(ctx context.Context, w *sql.DB) (map[string]*sql.Stmt, error) {
	stmts := make(map[string]*sql.Stmt, len(batchStatements))
	for _, q := range batchStatements {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range stmts {
				st.Close()
			}
			return nil, err
		}
		stmts[q] = st
	}
	return stmts, nil
}

// batchStmt returns the statement of query, one of batchStatements, for
// use in the batch transaction tx. A query not in batchStatements is a
// bug, and panics.
func (s *Store) batchStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	st, ok := s.batchStmts[query]
	if !ok {
		panic("sqlite: statement not in batchStatements: " + query)
	}
	return tx.StmtContext(ctx, st)
}

// maxBatch bounds the requests committed in one transaction, and the
// queue in front of the committer: a caller beyond it waits to enqueue.
const maxBatch = 256

// batchFunc writes inside the batch transaction tx; see Store.batch.
type batchFunc = func(ctx context.Context, tx *sql.Tx) error

// batchReq is one caller's write waiting for the committer.
type batchReq struct {
	ctx  context.Context // the caller's; checked before fn runs
	fn   batchFunc
	done chan error // buffered; receives the outcome once
}

// errClosed is returned by a write requested after Close.
var errClosed = errors.New("sqlite: store closed")

// batch runs fn in a writer transaction shared with other callers' writes
// and returns once that transaction is committed (nil: fn's writes are
// durable) or fn failed. fn runs inside its own savepoint: when it returns
// an error, its writes are rolled back, the others' are not, and batch
// returns that error. fn must use only tx and the context it is given,
// which is ctx without its cancellation: a statement interrupted by a
// cancelled context can roll back the whole transaction in SQLite, so a
// caller's cancellation is honoured only before fn starts. fn runs on the
// committer goroutine, and the other callers' functions wait for it: it
// must not block, nor call batch or write (the writer pool's one
// connection is taken), nor panic.
func (s *Store) batch(ctx context.Context, fn batchFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &batchReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.batchMu.RLock()
	if s.batchClosed {
		s.batchMu.RUnlock()
		return errClosed
	}
	select {
	case s.batchq <- req:
	case <-ctx.Done():
		s.batchMu.RUnlock()
		return ctx.Err()
	}
	s.batchMu.RUnlock()
	// Once queued, the request is committed or fails: waiting for the
	// outcome even if ctx ends means that nil always means durable.
	return <-req.done
}

// commitLoop is the committer goroutine: it commits the queued requests in
// batches of at most maxBatch until Close closes the queue, then returns.
func (s *Store) commitLoop() {
	defer close(s.committerDone)
	batch := make([]*batchReq, 0, maxBatch)
	for req := range s.batchq {
		batch = storage.Gather(append(batch[:0], req), s.batchq, maxBatch)
		s.commitBatch(batch)
		clear(batch) // let the requests go
	}
}

// commitBatch runs the requests in one writer transaction, each inside a
// savepoint, commits it and sends every request its outcome.
func (s *Store) commitBatch(batch []*batchReq) {
	s.batches.Add(1)
	// Not a caller's context: one caller's cancellation must not roll
	// back the others' writes.
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		for _, req := range batch {
			req.done <- err
		}
		return
	}
	ok := make([]*batchReq, 0, len(batch))
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.done <- err
			continue
		}
		err, abort := s.runSavepoint(tx, req)
		if abort != nil {
			// The transaction is in no known state: give it up, with
			// the writes it already holds.
			tx.Rollback()
			abort = fmt.Errorf("group commit aborted: %w", abort)
			for _, r := range ok {
				r.done <- abort
			}
			req.done <- cmp.Or(err, abort)
			for _, r := range batch[i+1:] {
				r.done <- abort
			}
			return
		}
		if err != nil {
			req.done <- err
			continue
		}
		ok = append(ok, req)
	}
	if len(ok) == 0 {
		tx.Rollback()
		return
	}
	err = tx.Commit()
	for _, req := range ok {
		req.done <- err
	}
}

// runSavepoint runs req.fn inside a savepoint of tx, rolling its writes
// back if it fails with err. abort reports a failure of the savepoint
// statements themselves, after which tx cannot be trusted (SQLite rolls
// back the whole transaction on some errors, such as a full disk).
func (s *Store) runSavepoint(tx *sql.Tx, req *batchReq) (err, abort error) {
	ctx := context.Background()
	exec := func(query string) error {
		_, err := s.batchStmt(ctx, tx, query).ExecContext(ctx)
		return err
	}
	if err := exec(savepointSQL); err != nil {
		return nil, err
	}
	if err := req.fn(context.WithoutCancel(req.ctx), tx); err != nil {
		if rerr := exec(rollbackToSQL); rerr != nil {
			return err, rerr
		}
		if rerr := exec(releaseSQL); rerr != nil {
			return err, rerr
		}
		return err, nil
	}
	return nil, exec(releaseSQL)
}

// closeBatches stops the committer once the queued requests are done; a
// later batch call fails with errClosed.
func (s *Store) closeBatches() {
	s.batchMu.Lock()
	closed := s.batchClosed
	s.batchClosed = true
	s.batchMu.Unlock()
	if !closed {
		close(s.batchq)
		<-s.committerDone
	}
}
