package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mote-xmpp/mote/internal/storage"
)

// documents implements storage.Documents on the documents table.
type documents struct {
	s *Store
}

var _ storage.Documents = (*documents)(nil)

// GetDocument returns the document stored under key.
func (d *documents) GetDocument(ctx context.Context, username, key string) ([]byte, error) {
	var doc []byte
	err := d.s.r.QueryRowContext(ctx,
		`SELECT doc FROM documents WHERE username = ? AND key = ?`, username, key).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get document: %w", err)
	}
	if doc == nil { // an empty document is a value, not an absence
		doc = []byte{}
	}
	return doc, nil
}

// PutDocument stores doc under key, replacing what was there.
func (d *documents) PutDocument(ctx context.Context, username, key string, doc []byte) error {
	err := d.s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO documents (username, key, doc) VALUES (?, ?, ?)
			 ON CONFLICT (username, key) DO UPDATE SET doc = excluded.doc`,
			username, key, blob(doc))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put document: %w", err)
	}
	return nil
}

// DeleteDocument removes the document under key, if any.
func (d *documents) DeleteDocument(ctx context.Context, username, key string) error {
	err := d.s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`DELETE FROM documents WHERE username = ? AND key = ?`, username, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete document: %w", err)
	}
	return nil
}

// DocumentKeys returns the keys of the account's documents in ascending
// byte order.
func (d *documents) DocumentKeys(ctx context.Context, username string) ([]string, error) {
	rows, err := d.s.r.QueryContext(ctx, `SELECT key FROM documents WHERE username = ? ORDER BY key`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: document keys: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlite: document keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: document keys: %w", err)
	}
	return keys, nil
}
