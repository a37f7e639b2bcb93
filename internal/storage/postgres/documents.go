package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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
	err := d.s.read(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT doc FROM documents WHERE username = $1 AND key = $2`, username, key).Scan(&doc)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get document: %w", err)
	}
	return nonNil(doc), nil // an empty document is a value, not an absence
}

// PutDocument stores doc under key, replacing what was there.
func (d *documents) PutDocument(ctx context.Context, username, key string, doc []byte) error {
	_, err := d.s.exec(ctx, true, `INSERT INTO documents (username, key, doc) VALUES ($1, $2, $3)
		ON CONFLICT (username, key) DO UPDATE SET doc = excluded.doc`, username, key, nonNil(doc))
	if err != nil {
		return fmt.Errorf("postgres: put document: %w", err)
	}
	return nil
}

// DeleteDocument removes the document under key, if any.
func (d *documents) DeleteDocument(ctx context.Context, username, key string) error {
	_, err := d.s.exec(ctx, true, `DELETE FROM documents WHERE username = $1 AND key = $2`, username, key)
	if err != nil {
		return fmt.Errorf("postgres: delete document: %w", err)
	}
	return nil
}

// DocumentKeys returns the keys of the account's documents in ascending
// byte order (the column's "C" collation).
func (d *documents) DocumentKeys(ctx context.Context, username string) ([]string, error) {
	keys, err := d.s.textColumn(ctx, `SELECT key FROM documents WHERE username = $1 ORDER BY key`, username)
	if err != nil {
		return nil, fmt.Errorf("postgres: document keys: %w", err)
	}
	return keys, nil
}
