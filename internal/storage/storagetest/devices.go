package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// TestDevices checks a backend's storage.Devices against the contract
// documented on the interface.
func TestDevices(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	d := s.Devices()
	for _, u := range []string{"sensor1", "sensor2", "alice"} {
		mustCreate(t, s.Users(), storage.User{Username: u})
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

	// Enrolment.
	if _, err := d.GetDevice(ctx, "sensor1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetDevice before enrolment: %v", err)
	}
	if err := d.PutDevice(ctx, storage.Device{Username: "ghost"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("PutDevice without account: %v", err)
	}
	for _, dev := range []storage.Device{{Username: "sensor2", Group: "ward1", Created: at}, {Username: "sensor1", Group: "ward1", Created: at}} {
		if err := d.PutDevice(ctx, dev); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.PutDevice(ctx, storage.Device{Username: "sensor1", Group: "ward2", Created: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetDevice(ctx, "sensor1")
	if err != nil || got.Group != "ward2" || !got.Created.Equal(at) {
		t.Fatalf("GetDevice after a group change: %+v %v (created must stay %v)", got, err, at)
	}
	list, err := d.ListDevices(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "sensor1" || list[1].Username != "sensor2" || list[1].Group != "ward1" {
		t.Fatalf("ListDevices: %+v %v", list, err)
	}

	// Certificate login.
	if ok, err := d.CertLogin(ctx, "sensor1"); ok || err != nil {
		t.Fatalf("CertLogin of a new account: %v %v", ok, err)
	}
	if err := d.SetCertLogin(ctx, "ghost", true); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetCertLogin without account: %v", err)
	}
	for _, allowed := range []bool{true, true, false, true} {
		if err := d.SetCertLogin(ctx, "sensor1", allowed); err != nil {
			t.Fatal(err)
		}
		if ok, err := d.CertLogin(ctx, "sensor1"); ok != allowed || err != nil {
			t.Fatalf("CertLogin after SetCertLogin(%v): %v %v", allowed, ok, err)
		}
	}
	if ok, err := d.CertLogin(ctx, "ghost"); ok || err != nil {
		t.Fatalf("CertLogin of no account: %v %v", ok, err)
	}

	// Certificates.
	certs := []storage.Certificate{
		{Serial: "a1", Username: "sensor1", Issued: at, NotAfter: at.Add(24 * time.Hour)},
		{Serial: "b2", Username: "sensor1", Issued: at.Add(time.Minute), NotAfter: at.Add(48 * time.Hour)},
		{Serial: "c3", Username: "sensor2", Issued: at, NotAfter: at.Add(24 * time.Hour)},
	}
	for _, c := range certs {
		if err := d.AddCertificate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.AddCertificate(ctx, certs[0]); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("AddCertificate twice: %v", err)
	}
	if err := d.AddCertificate(ctx, storage.Certificate{Serial: "d4", Username: "ghost", Issued: at, NotAfter: at}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("AddCertificate without account: %v", err)
	}
	cs, err := d.Certificates(ctx, "sensor1")
	if err != nil || len(cs) != 2 || cs[0].Serial != "b2" || cs[1].Serial != "a1" || !cs[1].NotAfter.Equal(at.Add(24*time.Hour)) || !cs[0].Revoked.IsZero() {
		t.Fatalf("Certificates: %+v %v", cs, err)
	}
	if n, err := d.RevokeCertificates(ctx, "sensor1", "a1", at.Add(time.Hour)); n != 1 || err != nil {
		t.Fatalf("revoke one: %d %v", n, err)
	}
	if n, err := d.RevokeCertificates(ctx, "sensor1", "", at.Add(2*time.Hour)); n != 1 || err != nil {
		t.Fatalf("revoke the rest: %d %v", n, err)
	}
	if n, err := d.RevokeCertificates(ctx, "sensor1", "", at.Add(3*time.Hour)); n != 0 || err != nil {
		t.Fatalf("revoke again: %d %v", n, err)
	}
	if n, err := d.RevokeCertificates(ctx, "sensor2", "a1", at); n != 0 || err != nil {
		t.Fatalf("revoke another account's serial: %d %v", n, err)
	}
	revoked, err := d.RevokedCertificates(ctx)
	if err != nil || len(revoked) != 2 || revoked[0].Serial != "a1" || !revoked[0].Revoked.Equal(at.Add(time.Hour)) ||
		revoked[1].Serial != "b2" || !revoked[1].Revoked.Equal(at.Add(2*time.Hour)) {
		t.Fatalf("RevokedCertificates: %+v %v", revoked, err)
	}

	// Deleting an account ends its enrolment and certificate login and
	// revokes its certificates; a new account of the name starts clean.
	if err := d.SetCertLogin(ctx, "sensor2", true); err != nil {
		t.Fatal(err)
	}
	if err := s.Users().DeleteUser(ctx, "sensor2"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s.Users(), storage.User{Username: "sensor2"})
	if _, err := d.GetDevice(ctx, "sensor2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("device after the account's deletion: %v", err)
	}
	if ok, _ := d.CertLogin(ctx, "sensor2"); ok {
		t.Fatal("certificate login survived the account's deletion")
	}
	cs, err = d.Certificates(ctx, "sensor2")
	if err != nil || len(cs) != 1 || cs[0].Serial != "c3" || cs[0].Revoked.IsZero() {
		t.Fatalf("certificates after the account's deletion: %+v %v", cs, err)
	}
}
