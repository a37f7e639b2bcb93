package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mote-xmpp/mote/internal/storage"
)

// devices implements storage.Devices on the devices, cert_logins and
// certificates tables.
type devices struct {
	s *Store
}

var _ storage.Devices = (*devices)(nil)

func devicesErr(op string, err error) error {
	if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrExists) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// PutDevice implements storage.Devices. The foreign key to users refuses
// an account that does not exist.
func (d *devices) PutDevice(ctx context.Context, dev storage.Device) error {
	created := dev.Created
	if created.IsZero() {
		created = time.Now()
	}
	_, err := d.s.exec(ctx, true, `INSERT INTO devices (username, grp, created) VALUES ($1, $2, $3)
		ON CONFLICT (username) DO UPDATE SET grp = excluded.grp`, dev.Username, dev.Group, seconds(created))
	if isForeignKeyViolation(err) {
		err = storage.ErrNotFound
	}
	return devicesErr("put device", err)
}

// GetDevice implements storage.Devices.
func (d *devices) GetDevice(ctx context.Context, username string) (storage.Device, error) {
	dev := storage.Device{Username: username}
	err := d.s.read(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT grp, created FROM devices WHERE username = $1`, username).Scan(&dev.Group, &dev.Created)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Device{}, storage.ErrNotFound
	}
	if err != nil {
		return storage.Device{}, devicesErr("get device", err)
	}
	dev.Created = dev.Created.UTC()
	return dev, nil
}

// ListDevices implements storage.Devices.
func (d *devices) ListDevices(ctx context.Context) ([]storage.Device, error) {
	var out []storage.Device
	err := d.s.read(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT username, grp, created FROM devices ORDER BY username`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Device, error) {
			var dev storage.Device
			err := row.Scan(&dev.Username, &dev.Group, &dev.Created)
			dev.Created = dev.Created.UTC()
			return dev, err
		})
		return err
	})
	if err != nil {
		return nil, devicesErr("list devices", err)
	}
	return out, nil
}

// SetCertLogin implements storage.Devices.
func (d *devices) SetCertLogin(ctx context.Context, username string, allowed bool) error {
	var err error
	if allowed {
		// The foreign key to users refuses an account that does not exist.
		_, err = d.s.exec(ctx, true, `INSERT INTO cert_logins (username) VALUES ($1) ON CONFLICT DO NOTHING`, username)
		if isForeignKeyViolation(err) {
			err = storage.ErrNotFound
		}
	} else {
		var n int
		err = d.s.do(ctx, func(c *pgx.Conn) (bool, error) {
			return true, c.QueryRow(ctx, `WITH d AS (DELETE FROM cert_logins WHERE username = $1)
				SELECT count(*) FROM users WHERE username = $1`, username).Scan(&n)
		})
		if err == nil && n == 0 {
			err = storage.ErrNotFound
		}
	}
	return devicesErr("set certificate login", err)
}

// CertLogin implements storage.Devices.
func (d *devices) CertLogin(ctx context.Context, username string) (bool, error) {
	var ok bool
	err := d.s.read(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cert_logins WHERE username = $1)`, username).Scan(&ok)
	})
	if err != nil {
		return false, devicesErr("certificate login", err)
	}
	return ok, nil
}

// AddCertificate implements storage.Devices, in one statement that holds a
// key-share lock on the account's row: a concurrent DeleteUser waits for
// it, and then revokes the new certificate too.
func (d *devices) AddCertificate(ctx context.Context, c storage.Certificate) error {
	var revoked *time.Time
	if !c.Revoked.IsZero() {
		r := seconds(c.Revoked)
		revoked = &r
	}
	var users, added int
	err := d.s.do(ctx, func(conn *pgx.Conn) (bool, error) {
		// Not retried on a lost connection: it may have been added.
		return false, conn.QueryRow(ctx, `WITH u AS (
				SELECT 1 FROM users WHERE username = $2 FOR KEY SHARE
			), ins AS (
				INSERT INTO certificates (serial, username, issued, not_after, revoked)
				SELECT $1, $2, $3, $4, $5 FROM u
				ON CONFLICT (serial) DO NOTHING
				RETURNING 1
			)
			SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM ins)`,
			c.Serial, c.Username, seconds(c.Issued), seconds(c.NotAfter), revoked).Scan(&users, &added)
	})
	switch {
	case err != nil:
	case users == 0:
		err = storage.ErrNotFound
	case added == 0:
		err = storage.ErrExists
	}
	return devicesErr("add certificate", err)
}

// certificates runs a query of serial, username, issued, not_after,
// revoked rows.
func (d *devices) certificates(ctx context.Context, sql string, args ...any) ([]storage.Certificate, error) {
	var out []storage.Certificate
	err := d.s.read(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Certificate, error) {
			var (
				c       storage.Certificate
				revoked *time.Time
			)
			err := row.Scan(&c.Serial, &c.Username, &c.Issued, &c.NotAfter, &revoked)
			c.Issued, c.NotAfter = c.Issued.UTC(), c.NotAfter.UTC()
			if revoked != nil {
				c.Revoked = revoked.UTC()
			}
			return c, err
		})
		return err
	})
	return out, err
}

// Certificates implements storage.Devices.
func (d *devices) Certificates(ctx context.Context, username string) ([]storage.Certificate, error) {
	out, err := d.certificates(ctx, `SELECT serial, username, issued, not_after, revoked FROM certificates
		WHERE username = $1 ORDER BY issued DESC, serial DESC`, username)
	return out, devicesErr("certificates", err)
}

// RevokeCertificates implements storage.Devices.
func (d *devices) RevokeCertificates(ctx context.Context, username, serial string, at time.Time) (int, error) {
	tag, err := d.s.exec(ctx, false, `UPDATE certificates SET revoked = $3
		WHERE username = $1 AND revoked IS NULL AND ($2 = '' OR serial = $2)`, username, serial, seconds(at))
	if err != nil {
		return 0, devicesErr("revoke certificates", err)
	}
	return int(tag.RowsAffected()), nil
}

// RevokedCertificates implements storage.Devices.
func (d *devices) RevokedCertificates(ctx context.Context) ([]storage.Certificate, error) {
	out, err := d.certificates(ctx, `SELECT serial, username, issued, not_after, revoked FROM certificates
		WHERE revoked IS NOT NULL ORDER BY serial`)
	return out, devicesErr("revoked certificates", err)
}
