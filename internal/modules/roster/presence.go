package roster

import (
	"context"
	"errors"
	"slices"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/subscription"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// presence handles every presence stanza a client sends (module.PresenceHandler).
func (m *Module) presence(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	typ := st.Attr("type")
	switch {
	case to.IsZero():
		if s := m.h.Session(from); s != nil {
			m.broadcast(ctx, st, s)
		}
	case typ == stanza.TypeSubscribe || typ == stanza.TypeSubscribed ||
		typ == stanza.TypeUnsubscribe || typ == stanza.TypeUnsubscribed:
		if to.Domain() != m.domain.Domain() {
			// No server-to-server: say so rather than leave a request
			// pending forever (RFC 6120 §10.4).
			m.h.Route(ctx, stanza.ErrorReply(st, stanza.NewError(stanza.RemoteServerNotFound, "this server does not federate")))
			return
		}
		m.outbound(ctx, st, from, to.Bare(), typ)
	case typ == stanza.TypeProbe:
		// §4.3: probes are the server's business; a client's is dropped.
	default:
		// Directed presence (§4.6), and presence errors. Every recipient
		// of available directed presence is remembered, subscriber or not,
		// so that it hears the unavailable however the session ends.
		if s := m.h.Session(from); s != nil && m.local(to) {
			switch typ {
			case "":
				if !s.AddDirected(to, maxDirected) {
					m.h.Route(ctx, stanza.ErrorReply(st, stanza.NewError(stanza.ResourceConstraint, "too many directed presence recipients")))
					return
				}
			case stanza.TypeUnavailable:
				s.RemoveDirected(to)
			}
		}
		m.h.Route(ctx, st)
	}
}

// maxDirected bounds the directed presence recipients one session is
// remembered to have, so that a client cannot grow it without limit.
const maxDirected = 256

// rosters is the module's view of rosters for the other modules
// (module.Rosters).
type rosters Module

// Contact implements module.Rosters.
func (r *rosters) Contact(ctx context.Context, user, contact jid.JID) (module.Contact, bool) {
	m := (*Module)(r)
	a, err := m.lock(ctx, user)
	if err != nil {
		return module.Contact{}, false
	}
	defer m.unlock(user, a)
	it := a.items[contact]
	if it == nil {
		return module.Contact{}, false
	}
	return contactOf(contact, it), true
}

// Contacts implements module.Rosters.
func (r *rosters) Contacts(ctx context.Context, user jid.JID) []module.Contact {
	m := (*Module)(r)
	a, err := m.lock(ctx, user)
	if err != nil {
		m.log.Error("loading roster", "account", user.String(), "err", err)
		return nil
	}
	defer m.unlock(user, a)
	out := make([]module.Contact, 0, len(a.items))
	for j, it := range a.items {
		out = append(out, contactOf(j, it))
	}
	return out
}

// contactOf is a roster item as module.Contact (the groups are shared:
// items are replaced, never changed in place).
func contactOf(j jid.JID, it *storage.RosterItem) module.Contact {
	if it == nil {
		return module.Contact{JID: j}
	}
	return module.Contact{JID: j, Subscription: it.Subscription, Groups: it.Groups}
}

// changed tells the other modules that user's item for contact went from
// old to new (nil: no item). The roster is locked.
func (m *Module) changed(ctx context.Context, user, contact jid.JID, old, new *storage.RosterItem) {
	m.h.RosterChanged(ctx, user, contactOf(contact, old), contactOf(contact, new))
}

// broadcast sends session s's available or unavailable presence st to
// the contacts subscribed to it and to the account's available resources
// (§4.2.2, §4.4.2, §4.5.2), and unavailable presence to the entities it
// sent directed presence to (§4.6.3). After initial presence it answers
// the probes to the contacts the account is subscribed to (§4.2.3: local
// contacts are answered at once from their sessions' last presence) and
// delivers the subscription requests that waited (§3.1.3).
func (m *Module) broadcast(ctx context.Context, st *stanza.Element, s module.Session) {
	from := s.JID()
	user := from.Bare()
	unavailable := st.Attr("type") == stanza.TypeUnavailable
	initial := false
	if unavailable {
		s.Unannounce()
	} else {
		initial = s.Announce()
	}
	a, err := m.lock(ctx, user)
	if err != nil {
		m.log.Error("loading roster", "account", user.String(), "err", err)
		return
	}
	var subscribers, publishers []jid.JID
	for j, it := range a.items {
		if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth {
			subscribers = append(subscribers, j)
		}
		if it.Subscription == storage.SubTo || it.Subscription == storage.SubBoth {
			publishers = append(publishers, j)
		}
	}
	var pending [][]byte
	if initial {
		for _, p := range a.pending {
			pending = append(pending, p)
		}
	}
	m.unlock(user, a)

	for _, c := range subscribers {
		m.sendTo(ctx, st, c)
	}
	for _, r := range m.h.Sessions(user) {
		if r.Available() || (r == s && !unavailable) {
			cp := st.ShallowCopy()
			cp.SetAttr("to", r.JID().String())
			r.Send(cp)
		}
	}
	if unavailable {
		// Directed presence recipients that are not subscribers (who got
		// the broadcast above) hear it too (§4.6.3).
		for _, d := range s.TakeDirected() {
			if !slices.Contains(subscribers, d.Bare()) {
				m.sendTo(ctx, st, d)
			}
		}
		return
	}
	if !initial {
		return
	}
	// The account's own other resources count as a publisher too, as if
	// the server had probed the user's bare JID.
	for _, c := range append(publishers, user) {
		sessions := m.h.Sessions(c)
		// §4.3.2: the contact's own roster decides whether the user may
		// see its presence; the two rosters can disagree (a cancellation
		// that a block dropped). Asked only of contacts that are online,
		// whose roster is in memory.
		if len(sessions) == 0 || (c != user && !m.h.Subscribed(ctx, c, user)) {
			continue
		}
		for _, r := range sessions {
			if p := r.LastPresence(); p != nil && r.Available() && r != s {
				cp := p.ShallowCopy()
				cp.SetAttr("to", from.String())
				// Not routed, so filtered here: a contact that blocked the
				// user does not answer its probe (XEP-0191).
				if m.h.Filter(ctx, cp, r.JID(), from) == nil {
					s.Send(cp)
				}
			}
		}
	}
	for _, b := range pending {
		p, err := xmlstream.ParseStanza(b)
		if err != nil {
			m.log.Warn("unparsable stored subscription request", "account", user.String(), "err", err)
			continue
		}
		// A request from a JID blocked since is not delivered (XEP-0191).
		if f, err := jid.Parse(p.Attr("from")); err == nil && m.h.Filter(ctx, p, f, from) != nil {
			continue
		}
		s.Send(p)
	}
}

// sendTo routes a copy of st addressed to to.
func (m *Module) sendTo(ctx context.Context, st *stanza.Element, to jid.JID) {
	cp := st.ShallowCopy()
	cp.SetAttr("to", to.String())
	m.h.Route(ctx, cp)
}

// outbound handles a subscription stanza from the user (§3, App. A.2).
func (m *Module) outbound(ctx context.Context, st *stanza.Element, from, contact jid.JID, typ string) {
	user := from.Bare()
	if contact == user {
		return // a subscription to oneself means nothing
	}
	a, err := m.lock(ctx, user)
	if err != nil {
		m.log.Error("loading roster", "account", user.String(), "err", err)
		return
	}
	cur := a.state(contact)
	next, route, changed := subscription.Outbound(cur, typ)
	if changed {
		createsItem := next.Sub != storage.SubNone || next.PendingOut || next.Approved
		if a.items[contact] == nil && createsItem && len(a.items) >= m.cfg.MaxItems {
			m.unlock(user, a)
			m.h.Route(ctx, stanza.ErrorReply(st, stanza.NewError(stanza.NotAllowed, "roster full")))
			return
		}
		if err := m.apply(ctx, user, a, contact, next, nil); err != nil {
			m.unlock(user, a)
			m.log.Error("storing subscription", "account", user.String(), "err", err)
			m.h.Route(ctx, stanza.ErrorReply(st, stanza.NewError(stanza.InternalServerError, "")))
			return
		}
	}
	m.unlock(user, a)
	if !route {
		return
	}
	// §3.1.2: the user's server stamps the bare JID and routes the stanza
	// on; the contact's server (this one, for a local contact) processes it.
	out := st.ShallowCopy()
	out.SetAttr("from", user.String())
	out.SetAttr("to", contact.String())
	m.inbound(ctx, out, user, contact, typ)
	switch typ {
	case stanza.TypeSubscribed:
		// §3.1.5: the contact now receives the user's presence.
		m.sendPresence(ctx, user, contact)
	case stanza.TypeUnsubscribed:
		if cur.Sub == storage.SubFrom || cur.Sub == storage.SubBoth {
			m.sendUnavailable(ctx, user, contact)
		}
	}
}

// toContact sends a subscription stanza of type typ from user to contact
// on the user's behalf, with no state change on the user's side (which the
// caller made).
func (m *Module) toContact(ctx context.Context, user, contact jid.JID, typ string) {
	out := stanza.NewElement(stanza.NSClient, "presence", "type", typ, "from", user.String(), "to", contact.String())
	m.inbound(ctx, out, user, contact, typ)
}

// inbound processes a subscription stanza from the entity from arriving
// for the local account owner (§3, App. A.3).
func (m *Module) inbound(ctx context.Context, st *stanza.Element, from, owner jid.JID, typ string) {
	if !m.local(owner) {
		return // no server-to-server: the stanza goes nowhere
	}
	if m.h.Filter(ctx, st, from, owner) != nil {
		return // blocked (XEP-0191): presence is dropped without an answer
	}
	if _, err := m.users.GetUser(ctx, owner.Local()); err != nil {
		if errors.Is(err, storage.ErrNotFound) && typ == stanza.TypeSubscribe {
			// §3.1.3: no such contact; tell the requester.
			m.reply(ctx, owner, from, stanza.TypeUnsubscribed)
		}
		return
	}
	a, err := m.lock(ctx, owner)
	if err != nil {
		m.log.Error("loading roster", "account", owner.String(), "err", err)
		return
	}
	cur := a.state(from)
	next, deliver, autoReply, changed := subscription.Inbound(cur, typ)
	if changed {
		var stored []byte
		if next.PendingIn && !cur.PendingIn {
			stored = storedRequest(st).AppendXML(nil, stanza.NSClient)
		}
		if err := m.apply(ctx, owner, a, from, next, stored); err != nil {
			m.unlock(owner, a)
			m.log.Error("storing subscription", "account", owner.String(), "err", err)
			return
		}
	}
	m.unlock(owner, a)
	if deliver {
		// §3.1.3 and the like: to every available resource; a request
		// nobody is there to see waits in storage (above).
		m.h.Route(ctx, st)
	}
	if autoReply != "" {
		m.reply(ctx, owner, from, autoReply)
		if autoReply == stanza.TypeSubscribed {
			m.sendPresence(ctx, owner, from)
		}
	}
	if typ == stanza.TypeUnsubscribe && (cur.Sub == storage.SubFrom || cur.Sub == storage.SubBoth) {
		// The requester no longer receives the owner's presence.
		m.sendUnavailable(ctx, owner, from)
	}
}

// reply sends a subscription stanza of type typ from owner to requester on
// the owner's behalf and processes it at the requester's side.
func (m *Module) reply(ctx context.Context, owner, requester jid.JID, typ string) {
	out := stanza.NewElement(stanza.NSClient, "presence", "type", typ, "from", owner.String(), "to", requester.String())
	m.inbound(ctx, out, owner, requester, typ)
}

// apply stores the new state of contact in a's roster (and the request
// stanza when a request became pending) and pushes a changed item.
// a is locked.
func (m *Module) apply(ctx context.Context, user jid.JID, a *account, contact jid.JID, next subscription.State, request []byte) error {
	cur := a.state(contact)
	if next.PendingIn && !cur.PendingIn {
		if request == nil {
			request = stanza.NewElement(stanza.NSClient, "presence", "type", stanza.TypeSubscribe,
				"from", contact.String(), "to", user.String()).AppendXML(nil, stanza.NSClient)
		}
		if err := m.store.PutPendingIn(ctx, user.Local(), storage.PendingIn{Contact: contact.String(), Stanza: request}); err != nil {
			return err
		}
		m.mu.Lock()
		m.pendingUsers[user.Local()] = struct{}{}
		m.mu.Unlock()
		a.pending[contact] = request
	}
	if !next.PendingIn && cur.PendingIn {
		if err := m.store.DeletePendingIn(ctx, user.Local(), contact.String()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		delete(a.pending, contact)
	}
	old := a.items[contact]
	if old == nil && next.Sub == storage.SubNone && !next.PendingOut && !next.Approved {
		// Only a pending request: no roster item (§3.1.3).
		return nil
	}
	it := storage.RosterItem{Contact: contact.String()}
	if old != nil {
		it = *old
	}
	if old != nil && it.Subscription == next.Sub && it.Ask == next.PendingOut && it.Approved == next.Approved {
		return nil
	}
	it.Subscription, it.Ask, it.Approved = next.Sub, next.PendingOut, next.Approved
	v, err := m.store.PutRosterItem(ctx, user.Local(), it)
	if err != nil {
		return err
	}
	a.items[contact], a.version = &it, v
	m.push(user, itemElement(&it), v)
	m.changed(ctx, user, contact, old, &it)
	return nil
}

// sendPresence sends the current presence of each of user's available
// resources to contact (§3.1.5, after a subscription was approved).
func (m *Module) sendPresence(ctx context.Context, user, contact jid.JID) {
	for _, r := range m.h.Sessions(user) {
		if p := r.LastPresence(); p != nil && r.Available() {
			m.sendTo(ctx, p, contact)
		}
	}
}

// sendUnavailable sends unavailable presence from each of user's
// available resources to contact (its subscription ended).
func (m *Module) sendUnavailable(ctx context.Context, user, contact jid.JID) {
	for _, r := range m.h.Sessions(user) {
		if r.Available() {
			m.h.Route(ctx, stanza.NewElement(stanza.NSClient, "presence", "type", stanza.TypeUnavailable,
				"from", r.JID().String(), "to", contact.String()))
		}
	}
}

// sessionEnd broadcasts unavailable presence for a session that ended
// while available, whatever ended it (§4.5.2), unless a new session took
// over its full JID and is already available; directed presence
// recipients hear of it in any case (§4.6.3).
func (m *Module) sessionEnd(ctx context.Context, s module.Session) {
	user := s.JID().Bare()
	defer func() {
		if a := m.existing(user); a != nil {
			m.unref(user, a)
		}
	}()
	unavailable := stanza.NewElement(stanza.NSClient, "presence", "type", stanza.TypeUnavailable, "from", s.JID().String())
	if n := m.h.Session(s.JID()); !s.Available() || (n != nil && n != s && n.Available()) {
		for _, d := range s.TakeDirected() {
			m.sendTo(ctx, unavailable, d)
		}
		return
	}
	s.SetPresence(false, 0)
	s.SetLastPresence(nil)
	m.broadcast(ctx, unavailable, s)
}

// accountRemoved cancels every subscription of an account being removed
// (XEP-0077 §3.2), so that its contacts' rosters and presence reflect it;
// storage then forgets the account.
func (m *Module) accountRemoved(ctx context.Context, user jid.JID) {
	a, err := m.lock(ctx, user)
	if err != nil {
		m.log.Error("loading roster", "account", user.String(), "err", err)
		return
	}
	type cancel struct {
		contact        jid.JID
		unsub, unsubed bool
	}
	var cancels []cancel
	for j, it := range a.items {
		_, pin := a.pending[j]
		cancels = append(cancels, cancel{j,
			it.Subscription == storage.SubTo || it.Subscription == storage.SubBoth || it.Ask,
			it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth || pin})
	}
	for j := range a.pending {
		if a.items[j] == nil {
			cancels = append(cancels, cancel{j, false, true})
		}
	}
	m.unlock(user, a)
	for _, c := range cancels {
		if c.unsub {
			m.toContact(ctx, user, c.contact, subscription.Unsubscribe)
		}
		if c.unsubed {
			m.sendUnavailable(ctx, user, c.contact)
			m.toContact(ctx, user, c.contact, subscription.Unsubscribed)
		}
	}
	// Whatever the rosters in memory still hold about the account (a
	// pre-approval, a request, a state a block kept from changing) is
	// forgotten as storage forgets it, so that an account created again
	// under the name inherits nothing.
	for _, o := range m.loaded() {
		if o == user {
			continue
		}
		a, err := m.lock(ctx, o)
		if err != nil {
			continue
		}
		st := a.state(user)
		if st != (subscription.State{}) {
			if err := m.apply(ctx, o, a, user, subscription.State{}, nil); err != nil {
				m.log.Error("forgetting a removed account", "account", o.String(), "err", err)
			}
		}
		m.unlock(o, a)
	}
}

// Limits on what is kept of a subscription request until it is answered.
const (
	maxStatusBytes = 1024
	maxNickBytes   = 256
)

// storedRequest is what is kept of a subscription request: its addresses,
// type and id, and its <status/> and nickname (XEP-0172) when short;
// nothing else a sender attached is stored, so that requests cannot fill
// storage or a victim's login.
func storedRequest(st *stanza.Element) *stanza.Element {
	out := stanza.NewElement(stanza.NSClient, "presence", "type", stanza.TypeSubscribe,
		"from", st.Attr("from"), "to", st.Attr("to"))
	if id := st.Attr("id"); id != "" && len(id) <= 128 {
		out.SetAttr("id", id)
	}
	if status := st.Child(stanza.NSClient, "status"); status != nil && len(status.Text()) <= maxStatusBytes {
		out.Append(stanza.NewElement(stanza.NSClient, "status").AppendText(status.Text()))
	}
	if nick := st.Child(nsNick, "nick"); nick != nil && len(nick.Text()) <= maxNickBytes {
		out.Append(stanza.NewElement(nsNick, "nick").AppendText(nick.Text()))
	}
	return out
}

// nsNick is User Nickname (XEP-0172).
const nsNick = "http://jabber.org/protocol/nick"
