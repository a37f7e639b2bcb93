package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
)

// Group commit.
//
// A commit waits for the server to flush its WAL (synchronous_commit on):
// archived and offline messages, acknowledged to clients, each committed
// in its own transaction would cost a flush and several round trips
// apiece. Instead Archive.Append and Offline.StoreOffline queue a request
// for one committer goroutine, which takes the requests queued while the
// previous batch was committing and writes them all in one transaction:
//
//  1. one pipelined round trip: BEGIN; take the transaction-scoped
//     advisory locks of the batch's archives and offline accounts, in
//     sorted order; read which of the batch's archive IDs are taken, and
//     how many messages the accounts with a quota hold;
//  2. decide each request in queue order, as if each ran alone after the
//     ones before it: ErrExists for an ID taken in its archive, by itself
//     or by an earlier request of the batch; ErrQuota for an account at
//     its quota; the caller's context error if it ended while queued;
//  3. one pipelined round trip: insert the accepted requests' rows in
//     queue order, so that archive order and offline IDs follow it, and
//     COMMIT.
//
// A request's outcome is its own: another request's duplicate ID or quota
// fails only that one. The advisory locks make the reads of step 1 hold
// until COMMIT against other mote processes writing the same archives
// and accounts, and keep an archive's order the order of commits. No
// request waits for company: a lone request is committed at once, and
// batches grow only as the database makes writers wait.

// maxBatch bounds the requests committed in one transaction, and the
// queue in front of the committer: a caller beyond it waits to enqueue.
const maxBatch = 256

// Namespaces of the two-key advisory locks (pg_advisory_xact_lock(int,
// int)): the first key says what the second, a hash of a name, locks.
const (
	lockArchive int32 = 0x6d6f7401 // an archive, by key
	lockOffline int32 = 0x6d6f7402 // an account's offline messages
)

// batchReq is one caller's durable write waiting for the committer: the
// messages of one Append, or one offline message.
type batchReq struct {
	ctx     context.Context // the caller's; checked before its rows are written
	archive []storage.ArchivedMessage
	offline *offlineReq
	done    chan batchResult // buffered; receives the outcome once
}

// offlineReq is the message of one StoreOffline call.
type offlineReq struct {
	username string
	stamp    time.Time
	stanza   []byte
	max      int
}

// batchResult is the outcome of a batchReq.
type batchResult struct {
	id  int64 // the offline message's ID
	err error
}

// errClosed is returned by a write requested after Close.
var errClosed = errors.New("postgres: store closed")

// errText is returned for text PostgreSQL cannot store: invalid UTF-8 or
// NUL. It is checked before a request joins a batch, where it would fail
// the others' statements too.
var errText = errors.New("text is not valid UTF-8 or contains NUL")

func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// batch queues req and waits for its outcome, or for ctx to end. When it
// returns a nil error, req's rows are committed.
func (s *Store) batch(ctx context.Context, req *batchReq) batchResult {
	if err := ctx.Err(); err != nil {
		return batchResult{err: err}
	}
	req.ctx = ctx
	req.done = make(chan batchResult, 1)
	s.batchMu.RLock()
	if s.batchClosed {
		s.batchMu.RUnlock()
		return batchResult{err: errClosed}
	}
	select {
	case s.batchq <- req:
	case <-ctx.Done():
		s.batchMu.RUnlock()
		return batchResult{err: ctx.Err()}
	}
	s.batchMu.RUnlock()
	// Once queued, the request may still be committed after ctx ends:
	// an error does not say the rows were not written.
	select {
	case r := <-req.done:
		return r
	case <-ctx.Done():
		return batchResult{err: ctx.Err()}
	}
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

// commitBatch writes the requests in one transaction and sends every
// request its outcome.
func (s *Store) commitBatch(batch []*batchReq) {
	s.batches.Add(1)
	// Not a caller's context: one caller's cancellation must not roll
	// back the others' writes.
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommitTimeout)
	defer cancel()
	var results []batchResult
	err := s.do(ctx, func(c *pgx.Conn) (bool, error) {
		var (
			retrySafe bool
			err       error
		)
		results, retrySafe, err = runBatch(ctx, c, batch)
		return retrySafe, err
	})
	if err != nil {
		err = fmt.Errorf("group commit: %w", err)
	}
	for i, req := range batch {
		r := batchResult{err: err}
		if err == nil {
			r = results[i]
		}
		req.done <- r
	}
}

// Statements of step 1.
const (
	// lockSQL takes the advisory locks ($1[i], $2[i]) in array order.
	lockSQL = `SELECT pg_advisory_xact_lock(c, o) FROM unnest($1::int4[], $2::int4[]) AS l (c, o)`
	// takenSQL returns the pairs of archive keys $1 and IDs $2 already
	// stored, with one index lookup per pair: LIMIT keeps the planner
	// from turning the lateral subquery into a join, which it may run as
	// a scan of the whole table.
	takenSQL = `SELECT k.a, k.i FROM unnest($1::text[], $2::text[]) AS k (a, i)
		CROSS JOIN LATERAL (SELECT FROM archive_messages AS m WHERE m.archive = k.a AND m.id = k.i LIMIT 1) AS taken`
	// heldSQL counts the offline messages of the accounts $1.
	heldSQL = `SELECT username, count(*) FROM offline WHERE username = ANY($1::text[]) GROUP BY username`
)

// batchPlan is what step 1 of a batch reads and step 2 decides.
type batchPlan struct {
	// keys are the (archive key, ID) pairs of the batch's messages, in
	// two arrays; taken holds those already in the database.
	archives, ids []string
	taken         map[[2]string]bool
	// quotaUsers are the accounts of requests with a quota; held is how
	// many messages each holds.
	quotaUsers []string
	held       map[string]int
}

// runBatch runs one batch transaction on c and returns each request's
// outcome, in batch order. retrySafe reports that err came before COMMIT
// was sent.
func runBatch(ctx context.Context, c *pgx.Conn, batch []*batchReq) (results []batchResult, retrySafe bool, err error) {
	results = make([]batchResult, len(batch))
	var (
		plan    batchPlan
		classes []int32
		objs    []int32
	)
	type lockKey struct{ class, obj int32 }
	var locks []lockKey
	live := 0
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		live++
		for _, m := range req.archive {
			plan.archives = append(plan.archives, m.Archive)
			plan.ids = append(plan.ids, m.ID)
			locks = append(locks, lockKey{lockArchive, lockHash(m.Archive)})
		}
		if o := req.offline; o != nil {
			locks = append(locks, lockKey{lockOffline, lockHash(o.username)})
			if o.max > 0 {
				plan.quotaUsers = append(plan.quotaUsers, o.username)
			}
		}
	}
	// Sorted, so that two batches (of two processes) never wait for each
	// other's locks in a cycle.
	slices.SortFunc(locks, func(a, b lockKey) int {
		if a.class != b.class {
			return int(a.class) - int(b.class)
		}
		return int(int64(a.obj) - int64(b.obj))
	})
	for _, k := range slices.Compact(locks) {
		classes, objs = append(classes, k.class), append(objs, k.obj)
	}
	if live == 0 {
		return results, true, nil
	}

	// Step 1.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(lockSQL, classes, objs)
	b.Queue(takenSQL, plan.archives, plan.ids)
	b.Queue(heldSQL, plan.quotaUsers)
	br := c.SendBatch(ctx, b)
	err = readPlan(br, &plan)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rollback(c)
		return nil, true, err
	}

	// Step 2.
	var (
		msgs    []storage.ArchivedMessage
		offline []*batchReq // in batch order
	)
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		if req.offline != nil {
			o := req.offline
			if o.max > 0 && plan.held[o.username] >= o.max {
				results[i].err = storage.ErrQuota
				continue
			}
			plan.held[o.username]++
			offline = append(offline, req)
			continue
		}
		mine := make(map[[2]string]bool, len(req.archive))
		for _, m := range req.archive {
			k := [2]string{m.Archive, m.ID}
			if plan.taken[k] || mine[k] {
				results[i].err = storage.ErrExists
				break
			}
			mine[k] = true
		}
		if results[i].err != nil {
			continue
		}
		for k := range mine {
			plan.taken[k] = true
		}
		msgs = append(msgs, req.archive...)
	}

	// Step 3.
	b = &pgx.Batch{}
	if len(msgs) > 0 {
		var (
			archives, ids, bares, fulls = make([]string, len(msgs)), make([]string, len(msgs)), make([]string, len(msgs)), make([]string, len(msgs))
			stamps                      = make([]time.Time, len(msgs))
			stanzas                     = make([][]byte, len(msgs))
		)
		for i, m := range msgs {
			archives[i], ids[i], bares[i], fulls[i] = m.Archive, m.ID, bareJID(m.With), m.With
			stamps[i], stanzas[i] = millis(m.Stamp), nonNil(m.Stanza)
		}
		b.Queue(`INSERT INTO archive_messages (archive, id, with_bare, with_full, stamp, stanza)
			SELECT a, i, wb, wf, st, sz
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bytea[])
				WITH ORDINALITY AS m (a, i, wb, wf, st, sz, n)
			ORDER BY n`, archives, ids, bares, fulls, stamps, stanzas)
	}
	if len(offline) > 0 {
		users, stamps, stanzas := make([]string, len(offline)), make([]time.Time, len(offline)), make([][]byte, len(offline))
		for i, req := range offline {
			users[i], stamps[i], stanzas[i] = req.offline.username, millis(req.offline.stamp), nonNil(req.offline.stanza)
		}
		// Identities are drawn in the order the rows are inserted, which
		// is the batch's.
		b.Queue(`INSERT INTO offline (username, stamp, stanza)
			SELECT u, st, sz FROM unnest($1::text[], $2::timestamptz[], $3::bytea[]) WITH ORDINALITY AS m (u, st, sz, n)
			ORDER BY n
			RETURNING id`, users, stamps, stanzas)
	}
	b.Queue(`COMMIT`)
	br = c.SendBatch(ctx, b)
	err = func() error {
		if len(msgs) > 0 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if len(offline) > 0 {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			if len(ids) != len(offline) {
				return fmt.Errorf("offline: %d IDs for %d messages", len(ids), len(offline))
			}
			slices.Sort(ids)
			j := 0
			for i, req := range batch {
				if j < len(offline) && req == offline[j] {
					results[i].id = ids[j]
					j++
				}
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.String() != "COMMIT" { // "ROLLBACK" after a failure
			return fmt.Errorf("commit: %s", tag)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rollback(c)
		return nil, false, err
	}
	return results, false, nil
}

// readPlan reads the results of step 1 into plan.
func readPlan(br pgx.BatchResults, plan *batchPlan) error {
	for range 2 { // BEGIN, the locks
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	plan.taken = make(map[[2]string]bool)
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var a, id string
	if _, err := pgx.ForEachRow(rows, []any{&a, &id}, func() error {
		plan.taken[[2]string{a, id}] = true
		return nil
	}); err != nil {
		return err
	}
	plan.held = make(map[string]int)
	rows, err = br.Query()
	if err != nil {
		return err
	}
	var (
		u string
		n int
	)
	_, err = pgx.ForEachRow(rows, []any{&u, &n}, func() error {
		plan.held[u] = n
		return nil
	})
	return err
}

// rollback ends the transaction a failed batch left open on c, if c is
// still usable.
func rollback(c *pgx.Conn) {
	if c.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Exec(ctx, `ROLLBACK`)
}

// lockHash returns the second key of the advisory lock of name.
func lockHash(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}
