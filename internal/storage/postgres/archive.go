package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
)

// archive implements storage.Archive on the archive_messages and
// archive_prefs tables.
type archive struct {
	s *Store
}

var _ storage.Archive = (*archive)(nil)

// archiveErr wraps err for the operation op; the sentinel errors of the
// Archive contract are returned as they are.
func archiveErr(op string, err error) error {
	if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrExists) {
		return err
	}
	return fmt.Errorf("postgres: archive %s: %w", op, err)
}

// bareJID returns the text of a JID before its resource: a localpart and
// a domainpart never contain '/' (RFC 7622 §3.2, §3.3).
func bareJID(j string) string {
	bare, _, _ := strings.Cut(j, "/")
	return bare
}

// Append stores the messages in a group-committed batch (groupcommit.go):
// a duplicate ID fails this call only, with nothing of it stored.
func (a *archive) Append(ctx context.Context, msgs []storage.ArchivedMessage) error {
	if len(msgs) == 0 {
		return ctx.Err()
	}
	for _, m := range msgs {
		if !validText(m.Archive) || !validText(m.ID) || !validText(m.With) {
			return archiveErr("append", fmt.Errorf("message %q of archive %q: %w", m.ID, m.Archive, errText))
		}
	}
	// The caller may change its slice once Append returns (it can return
	// before the committer has written it, when ctx ends).
	r := a.s.batch(ctx, &batchReq{archive: slices.Clone(msgs)})
	return archiveErr("append", r.err)
}

// archiveQuery builds the statements of one QueryArchive: the selection
// of q's filters (With, Start, End, IDs) as a WHERE clause with its
// arguments. Its text is made of constant pieces only, so that the
// connections' statement caches hold a bounded number of variants.
type archiveQuery struct {
	where strings.Builder
	args  []any
}

// arg appends v to the arguments and returns its placeholder.
func (q *archiveQuery) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// cursorSQL selects the seq of the message with ID id: NULL, which no
// comparison matches, if there is none.
func (q *archiveQuery) cursorSQL(key, id string) string {
	return `(SELECT seq FROM archive_messages WHERE archive = ` + q.arg(key) + ` AND id = ` + q.arg(id) + `)`
}

// QueryArchive reads the page in one pipelined round trip, inside a
// REPEATABLE READ transaction, so that every statement sees one snapshot:
// whether the IDs q names exist; the count of the selection; the counts
// before the cursors, from which the page's index follows; and the page,
// read one message beyond Max, which tells whether it is complete.
func (a *archive) QueryArchive(ctx context.Context, key string, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	var sel archiveQuery
	sel.where.WriteString(`archive = ` + sel.arg(key))
	if q.With != "" {
		// A full JID has its bare JID's index entries; narrow by those.
		sel.where.WriteString(` AND with_bare = ` + sel.arg(bareJID(q.With)))
		if strings.Contains(q.With, "/") {
			sel.where.WriteString(` AND with_full = ` + sel.arg(q.With))
		}
	}
	if !q.Start.IsZero() {
		sel.where.WriteString(` AND stamp >= ` + sel.arg(millis(q.Start)))
	}
	if !q.End.IsZero() {
		sel.where.WriteString(` AND stamp <= ` + sel.arg(millis(q.End)))
	}
	var ids []string
	if len(q.IDs) > 0 {
		ids = slices.Compact(slices.Sorted(slices.Values(q.IDs)))
		sel.where.WriteString(` AND id = ANY(` + sel.arg(ids) + `::text[])`)
	}
	where := sel.where.String()

	// Each statement below extends a copy of the selection's arguments.
	stmt := func() *archiveQuery {
		st := &archiveQuery{args: slices.Clone(sel.args)}
		st.where.WriteString(where)
		return st
	}

	// Every ID q names must be in the archive.
	var named []string
	if q.AfterID != "" {
		named = append(named, q.AfterID)
	}
	if q.BeforeID != "" {
		named = append(named, q.BeforeID)
	}
	named = slices.Compact(slices.Sorted(slices.Values(append(named, ids...))))
	// before: how many selected messages come before the page's first
	// when paging forwards after AfterID, or before BeforeID when
	// paging backwards from it.
	var before *archiveQuery
	switch {
	case !q.Last && q.AfterID != "":
		before = stmt()
		before.where.WriteString(` AND seq <= ` + before.cursorSQL(key, q.AfterID))
	case q.Last && q.BeforeID != "":
		before = stmt()
		before.where.WriteString(` AND seq < ` + before.cursorSQL(key, q.BeforeID))
	}
	page := stmt()
	if q.AfterID != "" {
		page.where.WriteString(` AND seq > ` + page.cursorSQL(key, q.AfterID))
	}
	if q.BeforeID != "" {
		page.where.WriteString(` AND seq < ` + page.cursorSQL(key, q.BeforeID))
	}
	order := ` ORDER BY seq`
	if q.Last {
		order = ` ORDER BY seq DESC`
	}
	limit := ""
	if q.Max > 0 {
		limit = ` LIMIT ` + page.arg(int64(q.Max)+1)
	}

	// A new batch for each try: pgx keeps state in a sent one.
	queue := func() *pgx.Batch {
		b := &pgx.Batch{}
		b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
		b.Queue(`SELECT count(*) FROM archive_messages WHERE archive = $1 AND id = ANY($2::text[])`, key, named)
		b.Queue(`SELECT count(*) FROM archive_messages WHERE `+where, sel.args...)
		if before != nil {
			b.Queue(`SELECT count(*) FROM archive_messages WHERE `+before.where.String(), before.args...)
		}
		b.Queue(`SELECT id, with_full, stamp, stanza FROM archive_messages WHERE `+page.where.String()+order+limit, page.args...)
		b.Queue(`COMMIT`)
		return b
	}

	var (
		result  storage.ArchivePage
		found   int
		nBefore int
	)
	err := a.s.read(ctx, func(c *pgx.Conn) error {
		result, nBefore = storage.ArchivePage{}, 0
		br := c.SendBatch(ctx, queue())
		err := func() error {
			if _, err := br.Exec(); err != nil {
				return err
			}
			if err := br.QueryRow().Scan(&found); err != nil {
				return err
			}
			if err := br.QueryRow().Scan(&result.Count); err != nil {
				return err
			}
			if before != nil {
				if err := br.QueryRow().Scan(&nBefore); err != nil {
					return err
				}
			}
			rows, err := br.Query()
			if err != nil {
				return err
			}
			result.Messages, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.ArchivedMessage, error) {
				m := storage.ArchivedMessage{Archive: key}
				err := row.Scan(&m.ID, &m.With, &m.Stamp, &m.Stanza)
				m.Stamp = m.Stamp.UTC()
				return m, err
			})
			if err != nil {
				return err
			}
			_, err = br.Exec()
			return err
		}()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			rollback(c)
		}
		return err
	})
	if err != nil {
		return storage.ArchivePage{}, archiveErr("query", err)
	}
	if found != len(named) {
		return storage.ArchivePage{}, storage.ErrNotFound
	}

	result.Complete = q.Max <= 0 || len(result.Messages) <= q.Max
	if !result.Complete {
		result.Messages = result.Messages[:q.Max]
	}
	if q.Last {
		slices.Reverse(result.Messages)
	}
	switch {
	case len(result.Messages) == 0:
	case !q.Last:
		// The first selected message after AfterID, or the first of all.
		result.FirstIndex = nBefore
	case q.BeforeID == "":
		result.FirstIndex = result.Count - len(result.Messages)
	default:
		// The page ends right before BeforeID.
		result.FirstIndex = nBefore - len(result.Messages)
	}
	if len(result.Messages) == 0 {
		result.Messages = nil
	}
	return result, nil
}

// PurgeArchive deletes by age, then by count, in one transaction that
// holds the archive's advisory lock, so that no Append of another process
// commits in between. The age bound removes everything up to the last
// message stamped before it, so that no gap opens where stamps go
// backwards.
func (a *archive) PurgeArchive(ctx context.Context, key string, before time.Time, keep int) (int, error) {
	removed := 0
	err := a.s.write(ctx, func(tx pgx.Tx) error {
		removed = 0
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockArchive, lockHash(key)); err != nil {
			return err
		}
		del := func(sql string, args ...any) error {
			tag, err := tx.Exec(ctx, sql, args...)
			removed += int(tag.RowsAffected())
			return err
		}
		if !before.IsZero() {
			err := del(`DELETE FROM archive_messages WHERE archive = $1 AND seq <=
				(SELECT max(seq) FROM archive_messages WHERE archive = $1 AND stamp < $2)`, key, millis(before))
			if err != nil {
				return err
			}
		}
		if keep > 0 {
			// No row at that offset, fewer messages than keep + 1: the
			// comparison with NULL deletes nothing.
			err := del(`DELETE FROM archive_messages WHERE archive = $1 AND seq <=
				(SELECT seq FROM archive_messages WHERE archive = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)`, key, keep)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, archiveErr("purge", err)
	}
	return removed, nil
}

// DeleteArchive deletes the archive's messages.
func (a *archive) DeleteArchive(ctx context.Context, key string) error {
	_, err := a.s.exec(ctx, true, `DELETE FROM archive_messages WHERE archive = $1`, key)
	return archiveErr("delete", err)
}

// ArchiveKeys returns the keys of the archives with messages, walking the
// primary key one archive at a time (a loose index scan) instead of
// reading every message's entry.
func (a *archive) ArchiveKeys(ctx context.Context) ([]string, error) {
	keys, err := a.s.textColumn(ctx, `WITH RECURSIVE k (archive) AS (
			(SELECT archive FROM archive_messages ORDER BY archive LIMIT 1)
			UNION ALL
			SELECT (SELECT m.archive FROM archive_messages m WHERE m.archive > k.archive ORDER BY m.archive LIMIT 1)
			FROM k WHERE k.archive IS NOT NULL
		)
		SELECT archive FROM k WHERE archive IS NOT NULL ORDER BY archive`)
	return keys, archiveErr("keys", err)
}

// prefsRow reads an archive_prefs row's lists: nil when empty.
func prefsRow(mode string, always, never []string) storage.ArchivePrefs {
	p := storage.ArchivePrefs{Default: mode}
	if len(always) > 0 {
		p.Always = always
	}
	if len(never) > 0 {
		p.Never = never
	}
	return p
}

// GetArchivePrefs reads the account's preferences row.
func (a *archive) GetArchivePrefs(ctx context.Context, username string) (storage.ArchivePrefs, error) {
	var p storage.ArchivePrefs
	err := a.s.read(ctx, func(c *pgx.Conn) error {
		var (
			mode          string
			always, never []string
		)
		err := c.QueryRow(ctx, `SELECT default_mode, always, never FROM archive_prefs WHERE username = $1`,
			username).Scan(&mode, &always, &never)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			p = storage.ArchivePrefs{Default: storage.ArchiveAlways}
		case err == nil:
			p = prefsRow(mode, always, never)
		}
		return err
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return storage.ArchivePrefs{}, archiveErr("get prefs", err)
	}
	return p, nil
}

// AllArchivePrefs reads every stored preference.
func (a *archive) AllArchivePrefs(ctx context.Context) (map[string]storage.ArchivePrefs, error) {
	var out map[string]storage.ArchivePrefs
	err := a.s.read(ctx, func(c *pgx.Conn) error {
		out = make(map[string]storage.ArchivePrefs)
		rows, err := c.Query(ctx, `SELECT username, default_mode, always, never FROM archive_prefs`)
		if err != nil {
			return err
		}
		var (
			u, mode       string
			always, never []string
		)
		_, err = pgx.ForEachRow(rows, []any{&u, &mode, &always, &never}, func() error {
			out[u] = prefsRow(mode, always, never)
			always, never = nil, nil
			return nil
		})
		return err
	})
	if err != nil {
		return nil, archiveErr("all prefs", err)
	}
	return out, nil
}

// SetArchivePrefs replaces the account's preferences row; the lists are
// stored sorted, without duplicates.
func (a *archive) SetArchivePrefs(ctx context.Context, username string, p storage.ArchivePrefs) error {
	list := func(jids []string) []string { // never nil: NULL is not a list
		return slices.Compact(append([]string{}, slices.Sorted(slices.Values(jids))...))
	}
	_, err := a.s.exec(ctx, true, `INSERT INTO archive_prefs (username, default_mode, always, never) VALUES ($1, $2, $3, $4)
		ON CONFLICT (username) DO UPDATE SET
			default_mode = excluded.default_mode, always = excluded.always, never = excluded.never`,
		username, p.Default, list(p.Always), list(p.Never))
	return archiveErr("set prefs", err)
}
