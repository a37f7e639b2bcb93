package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/mote-xmpp/mote/internal/accounts"
	"github.com/mote-xmpp/mote/internal/auth"
	pubsubmod "github.com/mote-xmpp/mote/internal/modules/pubsub"
	"github.com/mote-xmpp/mote/internal/pki"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Device identity (issue 8): client-certificate logins (SASL EXTERNAL,
// XEP-0178) verified against the device CA and the configured anchors and
// revocation lists, and provisioning: an account that logs in with a
// certificate only, a certificate from the device CA, and a telemetry
// node in the device's group. The admin API and, through it, the CLI call
// these functions.

// Device pubsub naming: group G is the collection groups/G, device N's
// telemetry node is the leaf devices/N.
const (
	groupPrefix  = "groups/"
	devicePrefix = "devices/"
)

// devices holds the server's certificate state.
type devices struct {
	ca       *pki.CA // nil when devices.ca is off
	verifier *pki.Verifier

	mu      sync.RWMutex
	revoked map[string]bool // guarded by mu; serials (hex) of the CA's revoked certificates
}

// initDevices loads or creates the device CA, the trust anchors and the
// revocation state, and returns the SASL EXTERNAL hooks (nil when no
// anchor is configured: EXTERNAL is then not offered).
func (s *Server) initDevices(ctx context.Context, domain string) (auth.CertIdentities, error) {
	c := s.cfg.Devices
	d := &s.devices
	d.revoked = map[string]bool{}
	var roots []*x509.Certificate
	if c.CA {
		ca, err := pki.LoadOrCreateCA(s.cfg.DataDir, domain)
		if err != nil {
			return nil, fmt.Errorf("server: device CA: %w", err)
		}
		d.ca = ca
		roots = append(roots, ca.Certificate())
	}
	if len(roots) == 0 && len(c.CAFiles) == 0 {
		return nil, nil
	}
	revoked, err := s.store.Devices().RevokedCertificates(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: revoked certificates: %w", err)
	}
	for _, r := range revoked {
		d.revoked[r.Serial] = true
	}
	v, err := pki.NewVerifier(pki.VerifierConfig{Roots: roots, CAFiles: c.CAFiles, CRLFiles: c.CRLFiles, Revoked: d.isRevoked})
	if err != nil {
		return nil, fmt.Errorf("server: devices: %w", err)
	}
	d.verifier = v
	return d.identities, nil
}

// certLogins returns the account policy check of SASL EXTERNAL, nil when
// EXTERNAL is off.
func (s *Server) certLogins(ids auth.CertIdentities) auth.CertLogins {
	if ids == nil {
		return nil
	}
	return s.store.Devices().CertLogin
}

// isRevoked is the verifier's view of mote's own revocations: the device
// CA's certificates revoked through provisioning or account deletion.
func (d *devices) isRevoked(serial *big.Int, issuer *x509.Certificate) bool {
	if d.ca == nil || !issuer.Equal(d.ca.Certificate()) {
		return false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.revoked[serial.Text(16)]
}

// identities implements auth.CertIdentities.
func (d *devices) identities(chain []*x509.Certificate) ([]string, []string, error) {
	leaf, err := d.verifier.Verify(chain, time.Now())
	if err != nil {
		return nil, nil, err
	}
	id, err := pki.Identities(leaf)
	if err != nil {
		return nil, nil, err
	}
	return id.XMPPAddrs, id.DNSNames, nil
}

// markRevoked adds serials to the in-memory revocation set.
func (d *devices) markRevoked(serials ...string) {
	d.mu.Lock()
	for _, s := range serials {
		d.revoked[s] = true
	}
	d.mu.Unlock()
}

// ReloadCRLs reads the configured revocation lists again (SIGHUP).
func (s *Server) ReloadCRLs() error {
	if s.devices.verifier == nil || len(s.cfg.Devices.CRLFiles) == 0 {
		return nil
	}
	return s.devices.verifier.ReloadCRLs()
}

// DeviceCA returns the device CA's certificate in PEM, or nil when the
// CA is off.
func (s *Server) DeviceCA() []byte {
	if s.devices.ca == nil {
		return nil
	}
	return s.devices.ca.PEM()
}

// Device errors, for the admin API's codes.
var (
	errBadGroup   = errors.New("server: invalid group")
	ErrNoDeviceCA = errors.New("server: the device CA is off (devices.ca)")
	ErrNotDevice  = errors.New("server: no such device")
)

// Provisioned is a device just provisioned or given a new certificate.
type Provisioned struct {
	Name, Group string
	JID         jid.JID
	Node        string
	Certificate storage.Certificate
	// Bundle is the private key and certificate (PEM), CA the device CA's
	// certificate (PEM).
	Bundle, CA []byte
}

// ProvisionRequest asks for a device.
type ProvisionRequest struct {
	Name  string
	Group string
	// LastWill overrides devices.last_will when not nil ("" for none).
	LastWill *string
}

// ProvisionDevice creates a device: an account that may log in only
// with a certificate, its enrolment in the group, a certificate from the
// device CA, and its telemetry node (devices/<name>, in groups/<group>)
// with the device as publisher and its last will. An existing account is
// a conflict (storage.ErrExists). If a later step fails the account is
// removed again.
func (s *Server) ProvisionDevice(ctx context.Context, req ProvisionRequest) (Provisioned, error) {
	if s.devices.ca == nil {
		return Provisioned{}, ErrNoDeviceCA
	}
	name, err := accounts.Normalize(req.Name)
	if err != nil {
		return Provisioned{}, err
	}
	group, err := checkGroup(req.Group)
	if err != nil {
		return Provisioned{}, err
	}
	lastWill := s.cfg.Devices.LastWill
	if req.LastWill != nil {
		lastWill = *req.LastWill
	}
	if err := s.store.Users().CreateUser(ctx, storage.User{Username: name}); err != nil {
		return Provisioned{}, err // ErrExists: taken
	}
	p, err := s.enrol(ctx, name, group, lastWill)
	if err != nil {
		if rerr := s.RemoveAccount(ctx, name, nil); rerr != nil {
			s.log.Error("provisioning failed and the account stays", "device", name, "err", rerr)
		}
		return Provisioned{}, err
	}
	s.log.Info("device provisioned", "device", name, "group", group, "serial", p.Certificate.Serial)
	return p, nil
}

// enrol does the provisioning steps after the account exists.
func (s *Server) enrol(ctx context.Context, name, group, lastWill string) (Provisioned, error) {
	st := s.store.Devices()
	if err := s.allowCertLogin(ctx, name); err != nil {
		return Provisioned{}, err
	}
	if err := st.PutDevice(ctx, storage.Device{Username: name, Group: group}); err != nil {
		return Provisioned{}, err
	}
	bare, err := jid.New(name, s.cfg.Domain, "")
	if err != nil {
		return Provisioned{}, err
	}
	if p := s.pubsubModule(); p != nil {
		dn := pubsubmod.DeviceNode{Node: ps.NodeID(devicePrefix + name), Title: name, Device: bare, LastWill: lastWill}
		if group != "" {
			dn.Group, dn.GroupTitle = ps.NodeID(groupPrefix+group), group
		}
		if err := p.ProvisionDeviceNode(ctx, dn); err != nil {
			return Provisioned{}, fmt.Errorf("server: device node: %w", err)
		}
	}
	p, err := s.issue(ctx, bare)
	if err != nil {
		return Provisioned{}, err
	}
	p.Group = group
	return p, nil
}

// issue issues and records a certificate for the account bare.
func (s *Server) issue(ctx context.Context, bare jid.JID) (Provisioned, error) {
	is, err := s.devices.ca.Issue(pki.IssueRequest{JID: bare.String(), Validity: s.cfg.Devices.CertificateValidity})
	if err != nil {
		return Provisioned{}, err
	}
	c := storage.Certificate{Serial: is.Serial, Username: bare.Local(), Issued: time.Now().UTC().Truncate(time.Second),
		NotAfter: is.Certificate.NotAfter.UTC()}
	if err := s.store.Devices().AddCertificate(ctx, c); err != nil {
		return Provisioned{}, err
	}
	return Provisioned{Name: bare.Local(), JID: bare, Node: devicePrefix + bare.Local(), Certificate: c,
		Bundle: is.Bundle, CA: s.devices.ca.PEM()}, nil
}

// RevokeDevice revokes every certificate of the device and closes its
// sessions (not-authorized): it can log in again only with a new one.
func (s *Server) RevokeDevice(ctx context.Context, name string) error {
	dev, err := s.device(ctx, name)
	if err != nil {
		return err
	}
	if err := s.revokeAll(ctx, dev.Username); err != nil {
		return err
	}
	s.closeSessions(dev.Username, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "certificate revoked"})
	s.log.Info("device certificates revoked", "device", dev.Username)
	return nil
}

// ReissueDevice revokes the device's certificates and issues a new one;
// its sessions are closed.
func (s *Server) ReissueDevice(ctx context.Context, name string) (Provisioned, error) {
	if s.devices.ca == nil {
		return Provisioned{}, ErrNoDeviceCA
	}
	dev, err := s.device(ctx, name)
	if err != nil {
		return Provisioned{}, err
	}
	if err := s.revokeAll(ctx, dev.Username); err != nil {
		return Provisioned{}, err
	}
	s.closeSessions(dev.Username, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "certificate replaced"})
	bare, err := jid.New(dev.Username, s.cfg.Domain, "")
	if err != nil {
		return Provisioned{}, err
	}
	p, err := s.issue(ctx, bare)
	if err != nil {
		return Provisioned{}, err
	}
	p.Group = dev.Group
	s.log.Info("device certificate reissued", "device", dev.Username, "serial", p.Certificate.Serial)
	return p, nil
}

// DeleteDevice removes the device's account (as XEP-0077 cancellation
// does; its certificates are revoked) and its telemetry node.
func (s *Server) DeleteDevice(ctx context.Context, name string) error {
	dev, err := s.device(ctx, name)
	if err != nil {
		return err
	}
	if err := s.revokeAll(ctx, dev.Username); err != nil {
		return err
	}
	if err := s.RemoveAccount(ctx, dev.Username, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "device removed"}); err != nil {
		return err
	}
	if p := s.pubsubModule(); p != nil {
		if err := p.DeleteComponentNode(ctx, ps.NodeID(devicePrefix+dev.Username)); err != nil && !errors.Is(err, ps.ErrNodeNotFound) {
			return err
		}
	}
	s.log.Info("device removed", "device", dev.Username)
	return nil
}

// device returns the enrolment of the device name.
func (s *Server) device(ctx context.Context, name string) (storage.Device, error) {
	u, err := accounts.Normalize(name)
	if err != nil {
		return storage.Device{}, err
	}
	dev, err := s.store.Devices().GetDevice(ctx, u)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Device{}, ErrNotDevice
	}
	return dev, err
}

// revokeAll revokes the account's certificates in storage and in memory.
func (s *Server) revokeAll(ctx context.Context, username string) error {
	certs, err := s.store.Devices().Certificates(ctx, username)
	if err != nil {
		return err
	}
	if _, err := s.store.Devices().RevokeCertificates(ctx, username, "", time.Now()); err != nil {
		return err
	}
	serials := make([]string, 0, len(certs))
	for _, c := range certs {
		serials = append(serials, c.Serial)
	}
	s.devices.markRevoked(serials...)
	return nil
}

// allowCertLogin lets the account log in with certificates. Certificates
// of an earlier account of the same name were revoked in storage when it
// was deleted (storage.Users.DeleteUser), perhaps by a path that did not
// tell the in-memory set; they are added to it first.
func (s *Server) allowCertLogin(ctx context.Context, username string) error {
	certs, err := s.store.Devices().Certificates(ctx, username)
	if err != nil {
		return err
	}
	for _, c := range certs {
		if !c.Revoked.IsZero() {
			s.devices.markRevoked(c.Serial)
		}
	}
	return s.store.Devices().SetCertLogin(ctx, username, true)
}

// closeSessions closes the account's sessions with se.
func (s *Server) closeSessions(username string, se *stanza.StreamError) {
	bare, err := jid.New(username, s.cfg.Domain, "")
	if err != nil {
		return
	}
	for _, se2 := range s.sessions.Resources(bare) {
		se2.Close(se)
	}
}

// checkGroup checks a group name: "" or a NodeID segment of letters,
// digits, '-', '_' and '.', at most 64 bytes.
func checkGroup(g string) (string, error) {
	if g == "" {
		return "", nil
	}
	if len(g) > 64 || strings.Trim(g, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		return "", fmt.Errorf("%w %q: use letters, digits, '-', '_' and '.' (at most 64)", errBadGroup, g)
	}
	return g, nil
}
