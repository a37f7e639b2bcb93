// Package register implements In-Band Registration (XEP-0077) for the
// accounts of this server: a logged-in user changes its password or
// removes its account.
package register

import (
	"context"
	"errors"

	"github.com/mote-xmpp/mote/internal/accounts"
	"github.com/mote-xmpp/mote/internal/auth"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// NS is the XEP-0077 namespace.
const NS = "jabber:iq:register"

// Module is the registration module.
type Module struct {
	h module.Host
}

// New returns the module.
func New() *Module { return &Module{} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "register", Requires: []string{"disco", "roster"},
		XEPs: []module.XEP{{Number: 77, Version: "2.4", Status: "partial: password change and account removal; no registration of new accounts in-band"}}}
}

// Start implements module.Module.
func (m *Module) Start(_ context.Context, h module.Host) error {
	m.h = h
	h.AddFeature(module.ToServer, NS)
	for _, t := range []module.Target{module.ToServer, module.ToAccount} {
		h.HandleIQ(t, stanza.TypeGet, NS, "query", module.IQHandlerFunc(m.get))
		h.HandleIQ(t, stanza.TypeSet, NS, "query", module.IQHandlerFunc(m.set))
	}
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// sender returns the requester, who must be asking about its own account.
func sender(iq *stanza.Element) (jid.JID, error) {
	from, err := jid.Parse(iq.Attr("from"))
	if err != nil {
		return jid.JID{}, stanza.NewError(stanza.BadRequest, "")
	}
	if to := iq.Attr("to"); to != "" {
		t, err := jid.Parse(to)
		if err != nil || (t != from.Bare() && t.Local() != "") {
			return jid.JID{}, stanza.NewError(stanza.Forbidden, "")
		}
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
