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
