// Package register implements In-Band Registration (XEP-0077) for the
// accounts of this server: a logged-in user changes its password or
// removes its account, and, when the configuration allows it, a client
// registers a new account before authenticating (off by default).
package register

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mote-xmpp/mote/internal/accounts"
	"github.com/mote-xmpp/mote/internal/auth"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// NS is the XEP-0077 namespace.
const NS = "jabber:iq:register"

// Config is the module's section, modules.register.
type Config struct {
	// AllowRegistration lets anyone create an account in-band, over TLS,
	// before authenticating (XEP-0077 §3.1.1). Off by default: the
	// deployment of in-band registration is a policy matter (§11).
	AllowRegistration bool `yaml:"allow_registration"`
	// RegistrationsPerIP accounts may be created from one address (an
	// IPv6 /64) per RegistrationWindow; 0 disables the limit.
	RegistrationsPerIP int           `yaml:"registrations_per_ip"`
	RegistrationWindow time.Duration `yaml:"registration_window"`
}

// Module is the registration module.
type Module struct {
	cfg     Config
	h       module.Host
	limiter *limiter
	now     func() time.Time
}

// New returns the module with its defaults.
func New() *Module {
	return &Module{cfg: Config{RegistrationsPerIP: 3, RegistrationWindow: time.Hour}, now: time.Now}
}

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "register", Requires: []string{"disco", "roster"},
		XEPs: []module.XEP{{Number: 77, Version: "2.4", Status: "complete"}}}
}

// Start implements module.Module.
func (m *Module) Start(_ context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	if m.cfg.RegistrationsPerIP < 0 {
		return fmt.Errorf("config: modules.register.registrations_per_ip must not be negative")
	}
	if m.cfg.RegistrationsPerIP > 0 && m.cfg.RegistrationWindow <= 0 {
		return fmt.Errorf("config: modules.register.registration_window must be positive")
	}
	m.h = h
	h.AddFeature(module.ToServer, NS)
	for _, t := range []module.Target{module.ToServer, module.ToAccount} {
		h.HandleIQ(t, stanza.TypeGet, NS, "query", module.IQHandlerFunc(m.get))
		h.HandleIQ(t, stanza.TypeSet, NS, "query", module.IQHandlerFunc(m.set))
	}
	if m.cfg.AllowRegistration {
		m.limiter = newLimiter(m.cfg.RegistrationsPerIP, m.cfg.RegistrationWindow)
		h.HandleRegistration(m.register)
	}
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// sender returns the requester, who must be asking about its own account
// (no 'to', its bare JID, or the server).
func sender(iq *stanza.Element) (jid.JID, error) {
	from, to, own := module.Addressee(iq)
	if !own && to.Local() != "" {
		return jid.JID{}, stanza.NewError(stanza.Forbidden, "")
	}
	return from, nil
}

// get tells a logged-in user it is registered (XEP-0077 §3.2.1).
func (m *Module) get(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := sender(iq)
	if err != nil {
		return nil, err
	}
	return stanza.NewElement(NS, "query").Append(
		stanza.NewElement(NS, "registered"),
		stanza.NewElement(NS, "username").AppendText(from.Local()),
		stanza.NewElement(NS, "password")), nil
}

// set changes the password (§3.3) or removes the account (§3.2).
func (m *Module) set(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := sender(iq)
	if err != nil {
		return nil, err
	}
	q := iq.FirstChild()
	children := q.ChildElements()
	var remove bool
	var username, password *stanza.Element
	for _, c := range children {
		switch {
		case c.Space == NS && c.Local == "remove":
			remove = true
		case c.Space == NS && c.Local == "username":
			username = c
		case c.Space == NS && c.Local == "password":
			password = c
		}
	}
	// §3.3: an error must not echo the password back.
	q.Children = nil
	if remove {
		if len(children) != 1 {
			return nil, stanza.NewError(stanza.BadRequest, "remove must be the only child")
		}
		return nil, m.remove(ctx, iq, from)
	}
	if username == nil || password == nil || username.Text() != from.Local() {
		return nil, stanza.NewError(stanza.BadRequest, "username (the account's own) and password are required")
	}
	if password.Text() == "" {
		// §3.3: an empty password never replaces the existing one.
		return nil, stanza.NewError(stanza.BadRequest, "empty password")
	}
	if err := accounts.SetPassword(ctx, m.h.Storage().Users(), from.Local(), password.Text()); err != nil {
		if errors.Is(err, auth.ErrInvalidPassword) {
			return nil, stanza.NewError(stanza.NotAcceptable, "the password cannot be used: "+err.Error())
		}
		return nil, err
	}
	return nil, nil
}

// remove cancels the registration (§3.2): the result goes to the
// requesting session first, then every session of the account is closed
// with not-authorized.
func (m *Module) remove(ctx context.Context, iq *stanza.Element, from jid.JID) error {
	s := m.h.Session(from)
	if s == nil {
		return stanza.NewError(stanza.UnexpectedRequest, "")
	}
	s.Send(stanza.IQResult(iq, nil))
	err := m.h.RemoveAccount(ctx, from.Bare(), &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "account removed"})
	if err != nil {
		m.h.Logger().Error("removing account", "account", from.Bare().String(), "err", err)
	}
	return module.ErrReplied
}

// instructions is the text of the registration form.
const instructions = "Choose a username and a password for your new account."

// register answers a registration request sent before authentication
// (XEP-0077 §3.1, §3.1.1); c2s passes only a get or set whose single
// child is the query, over TLS, with no 'from'.
//
// Errors: a missing or empty username or password is not-acceptable
// (§3.1: the server MUST return not-acceptable when the requester does
// not provide all the information, an empty password included); a taken
// username is conflict (§3.1); a username that is not a valid localpart
// is jid-malformed (RFC 6120 §8.3.3.8: an address, or a part of one,
// that violates RFC 7622; XEP-0077 names no condition for it); a password
// that cannot be prepared is not-acceptable, like one not provided; over
// the per-address limit is resource-constraint, type wait (RFC 6120
// §8.3.3.18), which tells the client to retry later (§3.1.1 lets a
// server refuse too many registrations "depending on local service
// provisioning" and suggests not-acceptable, which a client cannot tell
// from a bad form); <remove/> is unexpected-request (§3.2 table: the
// requester of an IM server "is not registered with the server"). Errors
// never carry the submitted query back, so never the password.
//
// Note that conflict tells anyone whether a username exists; that is
// inherent in §3.1 and one reason the feature is off by default.
func (m *Module) register(ctx context.Context, ip netip.Addr, iq *stanza.Element) (*stanza.Element, error) {
	q := iq.FirstChild()
	if iq.Attr("type") == stanza.TypeGet {
		// §3.1: the required fields.
		return stanza.NewElement(NS, "query").Append(
			stanza.NewElement(NS, "instructions").AppendText(instructions),
			stanza.NewElement(NS, "username"),
			stanza.NewElement(NS, "password")), nil
	}
	var remove bool
	var username, password string
	for _, c := range q.ChildElements() {
		switch {
		case c.Space == NS && c.Local == "remove":
			remove = true
		case c.Space == NS && c.Local == "username":
			username = c.Text()
		case c.Space == NS && c.Local == "password":
			password = c.Text()
		}
	}
	q.Children = nil
	if remove {
		return nil, stanza.NewError(stanza.UnexpectedRequest, "authenticate to cancel a registration")
	}
	if username == "" || password == "" {
		return nil, stanza.NewError(stanza.NotAcceptable, "a username and a password are required")
	}
	name, err := accounts.Normalize(username)
	if err != nil {
		return nil, stanza.NewError(stanza.JIDMalformed, "the username is not a valid localpart")
	}
	now := m.now()
	if !m.limiter.take(ip, now) {
		return nil, stanza.NewError(stanza.ResourceConstraint, "too many registrations from this address; try again later")
	}
	created := false
	defer func() {
		if !created {
			m.limiter.refund(ip, now)
		}
	}()
	users := m.h.Storage().Users()
	// A taken name costs no key derivation.
	switch _, err := users.GetUser(ctx, name); {
	case err == nil:
		return nil, stanza.NewError(stanza.Conflict, "the username is taken")
	case !errors.Is(err, storage.ErrNotFound):
		return nil, err
	}
	if _, err := accounts.Add(ctx, users, name, password); err != nil {
		switch {
		case errors.Is(err, accounts.ErrExists):
			return nil, stanza.NewError(stanza.Conflict, "the username is taken")
		case errors.Is(err, auth.ErrInvalidPassword), errors.Is(err, accounts.ErrEmptyPassword):
			return nil, stanza.NewError(stanza.NotAcceptable, "the password cannot be used: "+err.Error())
		}
		return nil, err
	}
	created = true
	m.h.Logger().Info("account registered in-band", "account", name, "ip", ip.String())
	return nil, nil
}
