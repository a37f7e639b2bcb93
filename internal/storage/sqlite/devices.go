package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// devices implements storage.Devices on the devices, cert_logins and
// certificates tables.
type devices struct {
	s *Store
}

var _ storage.Devices = (*devices)(nil)

// userExists fails with storage.ErrNotFound when there is no account
// username, inside tx.
func userExists(ctx context.Context, tx *sql.Tx, username string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE username = ?`, username).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// PutDevice implements storage.Devices.
func (d *devices) PutDevice(ctx context.Context, dev storage.Device) error {
	created := dev.Created
	if created.IsZero() {
		created = time.Now()
	}
	err := d.s.write(ctx, func(tx *sql.Tx) error {
		if err := userExists(ctx, tx, dev.Username); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO devices (username, grp, created) VALUES (?, ?, ?)
			ON CONFLICT (username) DO UPDATE SET grp = excluded.grp`, dev.Username, dev.Group, created.Unix())
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("sqlite: put device: %w", err)
	}
	return err
}

// GetDevice implements storage.Devices.
func (d *devices) GetDevice(ctx context.Context, username string) (storage.Device, error) {
	dev := storage.Device{Username: username}
	var created int64
	err := d.s.r.QueryRowContext(ctx, `SELECT grp, created FROM devices WHERE username = ?`, username).Scan(&dev.Group, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Device{}, storage.ErrNotFound
	}
	if err != nil {
		return storage.Device{}, fmt.Errorf("sqlite: get device: %w", err)
	}
	dev.Created = time.Unix(created, 0).UTC()
	return dev, nil
}

// ListDevices implements storage.Devices.
func (d *devices) ListDevices(ctx context.Context) ([]storage.Device, error) {
	rows, err := d.s.r.QueryContext(ctx, `SELECT username, grp, created FROM devices ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list devices: %w", err)
	}
	defer rows.Close()
	var out []storage.Device
	for rows.Next() {
		var dev storage.Device
		var created int64
		if err := rows.Scan(&dev.Username, &dev.Group, &created); err != nil {
			return nil, fmt.Errorf("sqlite: list devices: %w", err)
		}
		dev.Created = time.Unix(created, 0).UTC()
		out = append(out, dev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list devices: %w", err)
	}
	return out, nil
}

// SetCertLogin implements storage.Devices.
func (d *devices) SetCertLogin(ctx context.Context, username string, allowed bool) error {
	err := d.s.write(ctx, func(tx *sql.Tx) error {
		if err := userExists(ctx, tx, username); err != nil {
			return err
		}
		q := `DELETE FROM cert_logins WHERE username = ?`
		if allowed {
			q = `INSERT INTO cert_logins (username) VALUES (?) ON CONFLICT DO NOTHING`
		}
		_, err := tx.ExecContext(ctx, q, username)
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("sqlite: set certificate login: %w", err)
	}
	return err
}

// CertLogin implements storage.Devices.
func (d *devices) CertLogin(ctx context.Context, username string) (bool, error) {
	var one int
	err := d.s.r.QueryRowContext(ctx, `SELECT 1 FROM cert_logins WHERE username = ?`, username).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlite: certificate login: %w", err)
	}
	return true, nil
}

// AddCertificate implements storage.Devices.
func (d *devices) AddCertificate(ctx context.Context, c storage.Certificate) error {
	err := d.s.write(ctx, func(tx *sql.Tx) error {
		if err := userExists(ctx, tx, c.Username); err != nil {
			return err
		}
		var revoked any
		if !c.Revoked.IsZero() {
			revoked = c.Revoked.Unix()
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO certificates (serial, username, issued, not_after, revoked)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, c.Serial, c.Username, c.Issued.Unix(), c.NotAfter.Unix(), revoked)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = storage.ErrExists
			}
			return err
		}
		return nil
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("sqlite: add certificate: %w", err)
	}
	return err
}

// scanCertificates reads rows of serial, username, issued, not_after,
// revoked.
func scanCertificates(rows *sql.Rows) ([]storage.Certificate, error) {
	defer rows.Close()
	var out []storage.Certificate
	for rows.Next() {
		var c storage.Certificate
		var issued, notAfter int64
		var revoked sql.NullInt64
		if err := rows.Scan(&c.Serial, &c.Username, &issued, &notAfter, &revoked); err != nil {
			return nil, err
		}
		c.Issued, c.NotAfter = time.Unix(issued, 0).UTC(), time.Unix(notAfter, 0).UTC()
		if revoked.Valid {
			c.Revoked = time.Unix(revoked.Int64, 0).UTC()
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Certificates implements storage.Devices.
func (d *devices) Certificates(ctx context.Context, username string) ([]storage.Certificate, error) {
	rows, err := d.s.r.QueryContext(ctx, `SELECT serial, username, issued, not_after, revoked FROM certificates
		WHERE username = ? ORDER BY issued DESC, serial DESC`, username)
	if err == nil {
		var out []storage.Certificate
		if out, err = scanCertificates(rows); err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("sqlite: certificates: %w", err)
}

// RevokeCertificates implements storage.Devices.
func (d *devices) RevokeCertificates(ctx context.Context, username, serial string, at time.Time) (int, error) {
	var n int64
	err := d.s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE certificates SET revoked = ?1
			WHERE username = ?2 AND revoked IS NULL AND (?3 = '' OR serial = ?3)`, at.Unix(), username, serial)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke certificates: %w", err)
	}
	return int(n), nil
}

// RevokedCertificates implements storage.Devices.
func (d *devices) RevokedCertificates(ctx context.Context) ([]storage.Certificate, error) {
	rows, err := d.s.r.QueryContext(ctx, `SELECT serial, username, issued, not_after, revoked FROM certificates
		WHERE revoked IS NOT NULL ORDER BY serial`)
	if err == nil {
		var out []storage.Certificate
		if out, err = scanCertificates(rows); err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("sqlite: revoked certificates: %w", err)
}
