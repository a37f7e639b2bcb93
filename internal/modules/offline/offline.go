// Package offline stores messages for accounts that have no available
// resource and delivers them after the account's next initial presence
// (XEP-0160), stamped with when the server received them (XEP-0203).
package offline

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces.
const (
	NSDelay   = "urn:xmpp:delay" // XEP-0203
	NSOffline = "msgoffline"     // XEP-0160 §5 disco feature
)

// Config is the module's section of the configuration.
type Config struct {
	// MaxMessages is the per-account quota; a message beyond it is
	// refused with service-unavailable (XEP-0160 §3), never dropped.
	MaxMessages int `yaml:"max_messages"`
}

// Module is the offline message module.
type Module struct {
	cfg   Config
	h     module.Host
	store storage.Offline
	users storage.Users

	// waiting holds the accounts that may have stored messages (loaded at
	// start, added to on every store), so that a login of an account
	// without any reads nothing.
	mu      sync.Mutex
	waiting map[string]struct{} // guarded by mu
}

// New returns the module with its defaults.
func New() *Module { return &Module{cfg: Config{MaxMessages: 1000}} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "offline", Requires: []string{"disco", "roster"},
		XEPs: []module.XEP{{Number: 160, Version: "1.0.1", Status: "complete"}, {Number: 203, Version: "2.0", Status: "complete"}}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	if m.cfg.MaxMessages <= 0 {
		return errors.New("offline: max_messages must be positive")
	}
	m.h, m.store, m.users = h, h.Storage().Offline(), h.Storage().Users()
	users, err := m.store.OfflineUsers(ctx)
	if err != nil {
		return err
	}
	m.waiting = make(map[string]struct{}, len(users))
	for _, u := range users {
		m.waiting[u] = struct{}{}
	}
	h.AddFeature(module.ToServer, NSOffline)
	h.HandleUndeliverable(m.store1)
	h.OnReady(0, m.deliver)
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// store1 stores a chat or normal message for the account to (RFC 6121
// §8.5.2.2.1, XEP-0160 §3); other types never reach it.
func (m *Module) store1(ctx context.Context, st *stanza.Element, to jid.JID) error {
	switch st.Attr("type") {
	case "", stanza.TypeNormal, stanza.TypeChat:
	default:
		return stanza.NewError(stanza.ServiceUnavailable, "")
	}
	if _, err := m.users.GetUser(ctx, to.Local()); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			// §8.5.2.2.1 / §8.5.1: no such account.
			return stanza.NewError(stanza.ServiceUnavailable, "")
		}
		return err
	}
	now := time.Now().UTC()
	cp := st.ShallowCopy()
	cp.Append(stanza.NewElement(NSDelay, "delay", "from", m.h.Domain().String(),
		"stamp", now.Format("2006-01-02T15:04:05.000Z")).AppendText("Offline Storage"))
	_, err := m.store.StoreOffline(ctx, to.Local(), now, cp.AppendXML(nil, stanza.NSClient), m.cfg.MaxMessages)
	if err == nil {
		m.mark(to.Local())
		// The account may have become available between the router's
		// decision and the store: deliver now rather than at its next
		// login.
		if s := m.ready(to); s != nil {
			m.deliver(ctx, s)
		}
	}
	if errors.Is(err, storage.ErrQuota) {
		return stanza.NewError(stanza.ServiceUnavailable, "offline storage for this account is full")
	}
	return err
}

// deliver sends the stored messages to a session that became able to
// receive them (module.Host.OnReady; a resource with negative priority
// never receives messages for the bare JID, RFC 6121 §8.5.2.1.1), and
// removes from storage exactly what was queued to it. A large backlog
// goes in bursts of at most a quarter of the outbound queue limits, each
// once the session's queue has drained below that, so that a login is
// never mistaken for a slow consumer; messages from a JID the account has
// blocked since are dropped (XEP-0191).
func (m *Module) deliver(ctx context.Context, s module.Session) {
	user := s.JID().Local()
	// Taken out of waiting before reading, so that a message stored
	// meanwhile (which marks it again) is never missed.
	m.mu.Lock()
	_, ok := m.waiting[user]
	delete(m.waiting, user)
	m.mu.Unlock()
	if !ok {
		return
	}
	msgs, err := m.store.GetOffline(ctx, user)
	if err != nil {
		m.mark(user)
		m.h.Logger().Error("reading offline messages", "account", user, "err", err)
		return
	}
	limits := m.h.ServerConfig().C2S
	budget, count := limits.OutboundQueueBytes/4, limits.OutboundQueue/4
	var last int64
	done, more, sent := false, false, false
	for _, om := range msgs {
		st, err := xmlstream.ParseStanza(om.Stanza)
		if err != nil {
			m.h.Logger().Warn("dropping unparsable offline message", "account", user, "id", om.ID, "err", err)
			last, done = om.ID, true
			continue
		}
		if f, err := jid.Parse(st.Attr("from")); err == nil && m.h.Filter(ctx, st, f, s.JID()) != nil {
			last, done = om.ID, true // blocked since it was stored
			continue
		}
		size := st.Size()
		if count <= 0 || (budget-size < 0 && sent) {
			more = true
			break
		}
		if !s.Send(st) {
			more = true // closing: the rest waits for the next login
			break
		}
		budget -= size
		count--
		last, done, sent = om.ID, true, true
	}
	if done {
		if err := m.store.DeleteOffline(ctx, user, last); err != nil {
			more = true
			m.h.Logger().Error("deleting delivered offline messages", "account", user, "err", err)
		}
	}
	if more {
		m.mark(user)
		m.later(s, limits.OutboundQueueBytes/4)
	}
}

// later delivers the rest of a backlog once the session's queue has
// drained below threshold bytes, checking every deliverEvery while the
// session is still the bound one.
func (m *Module) later(s module.Session, threshold int) {
	var check func()
	check = func() {
		if m.h.Session(s.JID()) != s || !s.Available() {
			return // gone: the rest waits in storage for the next login
		}
		if s.Backlog() > threshold {
			time.AfterFunc(deliverEvery, check)
			return
		}
		m.deliver(context.Background(), s)
	}
	time.AfterFunc(deliverEvery, check)
}

// deliverEvery paces the bursts of a large backlog.
const deliverEvery = 10 * time.Millisecond

// ready returns the account's available session of the highest
// non-negative priority, or nil.
func (m *Module) ready(account jid.JID) module.Session {
	var best module.Session
	for _, s := range m.h.Sessions(account) {
		if s.Available() && s.Priority() >= 0 && (best == nil || s.Priority() > best.Priority()) {
			best = s
		}
	}
	return best
}

// mark notes that user may have stored messages.
func (m *Module) mark(user string) {
	m.mu.Lock()
	m.waiting[user] = struct{}{}
	m.mu.Unlock()
}
