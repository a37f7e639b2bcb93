package storage

import (
	"context"
	"time"
)

// Device is an account enrolled as a device (mote device provision): it
// belongs to at most one group and logs in with certificates.
type Device struct {
	// Username is the account's normalised localpart.
	Username string
	// Group is the device group ("" for none).
	Group string
	// Created is when it was enrolled, kept to the second.
	Created time.Time
}

// Certificate is a client certificate issued to an account by the device
// CA (XEP-0178 logins).
type Certificate struct {
	// Serial is the certificate's serial number, lowercase hexadecimal
	// without leading zeros (big.Int.Text(16)).
	Serial   string
	Username string
	// Issued and NotAfter are kept to the second.
	Issued, NotAfter time.Time
	// Revoked is when it was revoked; zero while it is not.
	Revoked time.Time
}

// Devices stores device enrolments, the certificates issued to accounts
// and which accounts may log in with a certificate.
type Devices interface {
	// PutDevice enrols the account as a device, or changes its group;
	// ErrNotFound if there is no such account. A zero Created is
	// recorded as the current time (and kept on change).
	PutDevice(ctx context.Context, d Device) error
	// GetDevice returns the device; ErrNotFound if the account is not
	// enrolled.
	GetDevice(ctx context.Context, username string) (Device, error)
	// ListDevices returns every device in ascending username order.
	ListDevices(ctx context.Context) ([]Device, error)

	// SetCertLogin allows or forbids the account to log in with a client
	// certificate (SASL EXTERNAL); ErrNotFound if there is no such
	// account. A new account may not.
	SetCertLogin(ctx context.Context, username string, allowed bool) error
	// CertLogin reports whether the account may log in with a client
	// certificate; false for an account that does not exist.
	CertLogin(ctx context.Context, username string) (bool, error)

	// AddCertificate records a certificate issued to c.Username;
	// ErrNotFound if there is no such account, ErrExists if the serial is
	// known.
	AddCertificate(ctx context.Context, c Certificate) error
	// Certificates returns the certificates issued to the account, newest
	// first (by Issued, then serial), revoked ones included.
	Certificates(ctx context.Context, username string) ([]Certificate, error)
	// RevokeCertificates marks the account's certificates revoked at at:
	// the one with the given serial, or all when serial is "". Those
	// already revoked keep their time. It returns how many it revoked.
	RevokeCertificates(ctx context.Context, username, serial string, at time.Time) (int, error)
	// RevokedCertificates returns every revoked certificate, in ascending
	// serial order: one read at start for the revocation check.
	RevokedCertificates(ctx context.Context) ([]Certificate, error)
}
