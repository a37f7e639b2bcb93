package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// archive implements storage.Archive on the archive_messages,
// archive_prefs and archive_prefs_jids tables.
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
	return fmt.Errorf("sqlite: archive %s: %w", op, err)
}

// bareJID returns the text of a JID before its resource: a localpart and
// a domainpart never contain '/' (RFC 7622 §3.2, §3.3).
func bareJID(j string) string {
	bare, _, _ := strings.Cut(j, "/")
	return bare
}

const appendArchiveSQL = `INSERT INTO archive_messages (archive, id, with_bare, with_full, stamp, stanza)
	VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (archive, id) DO NOTHING`

// Append inserts the messages in a group-committed batch, inside their
// own savepoint: a duplicate ID rolls back only this call's messages.
func (a *archive) Append(ctx context.Context, msgs []storage.ArchivedMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	return archiveErr("append", a.s.batch(ctx, a.s.appendArchive(msgs)))
}

// appendArchive returns the batch function inserting msgs; ErrExists if
// an ID is taken.
func (s *Store) appendArchive(msgs []storage.ArchivedMessage) batchFunc {
	return func(ctx context.Context, tx *sql.Tx) error {
		st := s.batchStmt(ctx, tx, appendArchiveSQL)
		for _, m := range msgs {
			res, err := st.ExecContext(ctx, m.Archive, m.ID, bareJID(m.With), m.With, millis(m.Stamp), blob(m.Stanza))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				return storage.ErrExists
			}
		}
		return nil
	}
}

// Archive queries. A query's selection is a WHERE clause over
// archive_messages built from constant pieces only, with its parameters in
// order, so the reader's statement cache holds a bounded number of
// variants (clients use a handful).
const (
	archiveColumns = `SELECT seq, id, with_full, stamp, stanza FROM archive_messages WHERE `
	archiveCursor  = `SELECT seq FROM archive_messages WHERE archive = ? AND id = ?`
	archiveHasIDs  = `SELECT count(*) FROM archive_messages WHERE archive = ? AND id IN (SELECT value FROM json_each(?))`
)

// archiveSelection returns the selection of q's filters in archive key.
func archiveSelection(key string, q storage.ArchiveQuery, ids string) (string, []any) {
	var b strings.Builder
	b.WriteString(`archive = ?`)
	args := []any{key}
	if q.With != "" {
		// A full JID has its bare JID's index entries; narrow by those.
		b.WriteString(` AND with_bare = ?`)
		args = append(args, bareJID(q.With))
		if strings.Contains(q.With, "/") {
			b.WriteString(` AND with_full = ?`)
			args = append(args, q.With)
		}
	}
	if !q.Start.IsZero() {
		b.WriteString(` AND stamp >= ?`)
		args = append(args, millis(q.Start))
	}
	if !q.End.IsZero() {
		b.WriteString(` AND stamp <= ?`)
		args = append(args, millis(q.End))
	}
	if ids != "" {
		b.WriteString(` AND id IN (SELECT value FROM json_each(?))`)
		args = append(args, ids)
	}
	return b.String(), args
}

// QueryArchive resolves the cursors and IDs, then reads the count and the
// page, all from one snapshot. The page is read one message beyond Max,
// which tells whether it is complete.
func (a *archive) QueryArchive(ctx context.Context, key string, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	var ids string
	distinct := 0
	if len(q.IDs) > 0 {
		set := slices.Compact(slices.Sorted(slices.Values(q.IDs)))
		distinct = len(set)
		b, err := json.Marshal(set)
		if err != nil {
			return storage.ArchivePage{}, archiveErr("query", err)
		}
		ids = string(b)
	}
	sel, args := archiveSelection(key, q, ids)
	with := func(more ...any) []any { return append(slices.Clip(args), more...) }

	var page storage.ArchivePage
	err := a.s.read(ctx, func(tx *sql.Tx) error {
		page = storage.ArchivePage{}
		cursor := func(id string) (int64, error) {
			rows, err := a.s.query(ctx, tx, archiveCursor, key, id)
			if err != nil {
				return 0, err
			}
			var seq int64
			if err := scanOne(rows, &seq); errors.Is(err, sql.ErrNoRows) {
				return 0, storage.ErrNotFound
			} else if err != nil {
				return 0, err
			}
			return seq, nil
		}
		bounds, bargs := "", []any(nil)
		if q.AfterID != "" {
			seq, err := cursor(q.AfterID)
			if err != nil {
				return err
			}
			bounds, bargs = bounds+` AND seq > ?`, append(bargs, seq)
		}
		if q.BeforeID != "" {
			seq, err := cursor(q.BeforeID)
			if err != nil {
				return err
			}
			bounds, bargs = bounds+` AND seq < ?`, append(bargs, seq)
		}
		if ids != "" {
			rows, err := a.s.query(ctx, tx, archiveHasIDs, key, ids)
			if err != nil {
				return err
			}
			var n int
			if err := scanOne(rows, &n); err != nil {
				return err
			}
			if n != distinct {
				return storage.ErrNotFound
			}
		}

		rows, err := a.s.query(ctx, tx, `SELECT count(*) FROM archive_messages WHERE `+sel, args...)
		if err != nil {
			return err
		}
		if err := scanOne(rows, &page.Count); err != nil {
			return err
		}

		order := ` ORDER BY seq`
		if q.Last {
			order = ` ORDER BY seq DESC`
		}
		limit := int64(-1) // no limit
		if q.Max > 0 {
			limit = int64(q.Max) + 1
		}
		rows, err = a.s.query(ctx, tx, archiveColumns+sel+bounds+order+` LIMIT ?`, with(append(bargs, limit)...)...)
		if err != nil {
			return err
		}
		var seqs []int64
		err = eachRow(rows, func() error {
			var (
				m     storage.ArchivedMessage
				seq   int64
				stamp int64
			)
			if err := rows.Scan(&seq, &m.ID, &m.With, &stamp, &m.Stanza); err != nil {
				return err
			}
			m.Archive = key
			m.Stamp = fromMillis(stamp)
			page.Messages = append(page.Messages, m)
			seqs = append(seqs, seq)
			return nil
		})
		if err != nil {
			return err
		}
		page.Complete = q.Max <= 0 || len(page.Messages) <= q.Max
		if !page.Complete {
			page.Messages, seqs = page.Messages[:q.Max], seqs[:q.Max]
		}
		if q.Last {
			slices.Reverse(page.Messages)
			slices.Reverse(seqs)
		}

		switch {
		case len(page.Messages) == 0:
		case !q.Last && q.AfterID == "":
			// The first selected message, whatever BeforeID says.
		case q.Last && q.BeforeID == "":
			page.FirstIndex = page.Count - len(page.Messages)
		default:
			rows, err := a.s.query(ctx, tx, `SELECT count(*) FROM archive_messages WHERE `+sel+` AND seq < ?`, with(seqs[0])...)
			if err != nil {
				return err
			}
			if err := scanOne(rows, &page.FirstIndex); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return storage.ArchivePage{}, archiveErr("query", err)
	}
	return page, nil
}

// PurgeArchive deletes by age, then by count, in one transaction. The age
// bound removes everything up to the last message stamped before it, so
// that no gap opens where stamps go backwards.
func (a *archive) PurgeArchive(ctx context.Context, key string, before time.Time, keep int) (int, error) {
	removed := 0
	err := a.s.write(ctx, func(tx *sql.Tx) error {
		removed = 0
		del := func(query string, args ...any) error {
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			removed += int(n)
			return err
		}
		if !before.IsZero() {
			err := del(`DELETE FROM archive_messages WHERE archive = ?1 AND seq <=
				(SELECT max(seq) FROM archive_messages WHERE archive = ?1 AND stamp < ?2)`,
				key, millis(before))
			if err != nil {
				return err
			}
		}
		if keep > 0 {
			// No row at that offset, fewer messages than keep + 1: the
			// comparison with NULL deletes nothing.
			err := del(`DELETE FROM archive_messages WHERE archive = ?1 AND seq <=
				(SELECT seq FROM archive_messages WHERE archive = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)`,
				key, keep)
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
	err := a.s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM archive_messages WHERE archive = ?`, key)
		return err
	})
	return archiveErr("delete", err)
}

// archiveKeysSQL walks the distinct keys through the index, one seek per
// key, instead of reading every message's entry.
const archiveKeysSQL = `WITH RECURSIVE keys (archive) AS (
		SELECT min(archive) FROM archive_messages
		UNION ALL
		SELECT (SELECT min(archive) FROM archive_messages WHERE archive > keys.archive)
		FROM keys WHERE keys.archive IS NOT NULL
	)
	SELECT archive FROM keys WHERE archive IS NOT NULL ORDER BY archive`

// ArchiveKeys returns the keys of the archives with messages.
func (a *archive) ArchiveKeys(ctx context.Context) ([]string, error) {
	keys, err := textColumn(a.s.query(ctx, nil, archiveKeysSQL))
	return keys, archiveErr("keys", err)
}

// GetArchivePrefs reads the default mode and the lists from one snapshot.
func (a *archive) GetArchivePrefs(ctx context.Context, username string) (storage.ArchivePrefs, error) {
	var p storage.ArchivePrefs
	err := a.s.read(ctx, func(tx *sql.Tx) error {
		p = storage.ArchivePrefs{Default: storage.ArchiveAlways}
		rows, err := a.s.query(ctx, tx, `SELECT default_mode FROM archive_prefs WHERE username = ?`, username)
		if err != nil {
			return err
		}
		if err := scanOne(rows, &p.Default); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err = a.s.query(ctx, tx,
			`SELECT always, jid FROM archive_prefs_jids WHERE username = ? ORDER BY always, jid`, username)
		if err != nil {
			return err
		}
		return eachRow(rows, func() error {
			var (
				always bool
				j      string
			)
			if err := rows.Scan(&always, &j); err != nil {
				return err
			}
			if always {
				p.Always = append(p.Always, j)
			} else {
				p.Never = append(p.Never, j)
			}
			return nil
		})
	})
	if err != nil {
		return storage.ArchivePrefs{}, archiveErr("get prefs", err)
	}
	return p, nil
}

// AllArchivePrefs reads every stored preference from one snapshot.
func (a *archive) AllArchivePrefs(ctx context.Context) (map[string]storage.ArchivePrefs, error) {
	out := make(map[string]storage.ArchivePrefs)
	err := a.s.read(ctx, func(tx *sql.Tx) error {
		rows, err := a.s.query(ctx, tx, `SELECT username, default_mode FROM archive_prefs`)
		if err != nil {
			return err
		}
		if err := eachRow(rows, func() error {
			var u, mode string
			if err := rows.Scan(&u, &mode); err != nil {
				return err
			}
			out[u] = storage.ArchivePrefs{Default: mode}
			return nil
		}); err != nil {
			return err
		}
		rows, err = a.s.query(ctx, tx, `SELECT username, always, jid FROM archive_prefs_jids ORDER BY username, always, jid`)
		if err != nil {
			return err
		}
		return eachRow(rows, func() error {
			var (
				u, j   string
				always bool
			)
			if err := rows.Scan(&u, &always, &j); err != nil {
				return err
			}
			p, ok := out[u]
			if !ok {
				p.Default = storage.ArchiveAlways
			}
			if always {
				p.Always = append(p.Always, j)
			} else {
				p.Never = append(p.Never, j)
			}
			out[u] = p
			return nil
		})
	})
	if err != nil {
		return nil, archiveErr("all prefs", err)
	}
	return out, nil
}

// SetArchivePrefs replaces the default mode and both lists in one
// transaction.
func (a *archive) SetArchivePrefs(ctx context.Context, username string, p storage.ArchivePrefs) error {
	err := a.s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO archive_prefs (username, default_mode) VALUES (?, ?)
			 ON CONFLICT (username) DO UPDATE SET default_mode = excluded.default_mode`,
			username, p.Default); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM archive_prefs_jids WHERE username = ?`, username); err != nil {
			return err
		}
		for _, list := range []struct {
			always bool
			jids   []string
		}{{true, p.Always}, {false, p.Never}} {
			for _, j := range list.jids {
				if _, err := tx.ExecContext(ctx,
					`INSERT INTO archive_prefs_jids (username, always, jid) VALUES (?, ?, ?)
					 ON CONFLICT DO NOTHING`, username, list.always, j); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return archiveErr("set prefs", err)
}
