// Package module is mote's extension point: a Module registers IQ, message
// and presence handlers, disco features and hooks through a narrow Host
// handle (DESIGN.md §4).
package module

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// XEP names one protocol extension a module implements, for the generated
// compliance table.
type XEP struct {
	Number  int
	Version string
	Status  string // "complete" or "partial: <what is left>"
}

// Info describes a module.
type Info struct {
	Name     string   // config key and log attribute, e.g. "ping"
	XEPs     []XEP    // implemented extensions
	Requires []string // names of modules that must be enabled too
}

// Module is one feature of the server.
//
// Start is called once, in table order, before the server accepts
// connections; it registers everything through h and must not keep h for
// registration after it returns (registration is closed then). Stop is
// called in reverse order at shutdown.
type Module interface {
	Info() Info
	Start(ctx context.Context, h Host) error
	Stop(ctx context.Context) error
}

// Target says whom an IQ is addressed to (RFC 6120 §10.3.3, §10.5.3.1).
type Target uint8

// IQ targets.
const (
	// ToServer: the server's own domain JID.
	ToServer Target = iota + 1
	// ToAccount: the bare JID of a local account, or no 'to' at all (the
	// server answers on behalf of the sender's account).
	ToAccount
)

// IQHandler handles an IQ request of type get or set.
//
// It returns the payload of the result (nil for an empty result) or an
// error: a stanza.Error becomes an error reply with that condition, any
// other error is logged and becomes internal-server-error. The mux sends
// exactly one reply per request; a handler never replies itself. The
// request's from is the authenticated full JID of the sender, its to is
// normalised. A handler must not block on another session's socket.
type IQHandler interface {
	HandleIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error)
}

// IQHandlerFunc adapts a function to IQHandler.
type IQHandlerFunc func(ctx context.Context, iq *stanza.Element) (*stanza.Element, error)

// HandleIQ calls f.
func (f IQHandlerFunc) HandleIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	return f(ctx, iq)
}

// Session is a bound client session: its JID, its connection (Send and
// Close never block) and its presence state (RFC 6121 §4).
type Session = *session.Session

// PresenceHandler handles every presence stanza a client sends, in place
// of the router's default delivery: from is the sender's full JID and to
// the parsed 'to' (zero for broadcast presence, after the session's own
// availability was updated). It must not block on another session.
type PresenceHandler func(ctx context.Context, st *stanza.Element, from, to jid.JID)

// UndeliverableHandler takes a chat or normal message for a local
// account that has no resource able to receive it (RFC 6121 §8.5.2.2,
// §8.5.3.2.1); to is the account's bare JID. It returns nil when it took
// the message (stored it), or the stanza.Error to bounce it with.
type UndeliverableHandler func(ctx context.Context, st *stanza.Element, to jid.JID) error

// ErrReplied is returned by an IQ handler that sent the reply itself,
// because something must follow it (account removal closes the session
// after its result); the mux then sends nothing.
var ErrReplied = errors.New("module: handler replied")

// ErrDrop is returned by a StanzaFilter to drop a stanza silently.
var ErrDrop = errors.New("module: drop stanza")

// StanzaFilter sees every stanza the router delivers between two
// entities (from and to parsed, to not zero), before delivery. It returns
// nil to let it through, ErrDrop to drop it silently, or a stanza.Error
// to bounce it with. It runs on the hot path: memory only, no blocking.
type StanzaFilter func(ctx context.Context, st *stanza.Element, from, to jid.JID) error

// MessageHook runs after a message was delivered to a local account: to
// is the session that got it when it was addressed to that full JID, nil
// when it went to the bare JID (the available resources of the highest
// non-negative priority got it). Hot path: memory only, no blocking.
type MessageHook func(ctx context.Context, st *stanza.Element, account jid.JID, to Session)

// SentHook runs for every message a client sends, before it is routed
// (from is the sender's full JID). Hot path: memory only, no blocking.
type SentHook func(ctx context.Context, st *stanza.Element, from jid.JID)

// RegistrationHandler answers an In-Band Registration IQ (XEP-0077) sent
// before authentication, from the address ip. It returns the result's
// payload or a stanza.Error, like an IQHandler.
type RegistrationHandler func(ctx context.Context, ip netip.Addr, iq *stanza.Element) (*stanza.Element, error)

// ServiceHandler handles every stanza addressed to a service domain of
// this server (pubsub.<domain>, ...): from is the sender, to the parsed
// address. Errors to send back are the handler's to route. It must not
// block on another session's socket.
type ServiceHandler func(ctx context.Context, st *stanza.Element, from, to jid.JID)

// RosterHook runs after an item of user's roster changed: added, removed,
// or its subscription or groups changed. before and after are the item's
// states (an absent item is the contact's JID with subscription none and
// no groups). It runs with the roster locked: it must only record the
// change, never call back into rosters or block.
type RosterHook func(ctx context.Context, user jid.JID, before, after Contact)

// Contact is an item of an account's roster as other modules see it.
type Contact struct {
	JID          jid.JID // the contact's bare JID
	Subscription storage.Subscription
	Groups       []string
}

// ReceivesPresence reports whether the contact receives the roster
// owner's presence (subscription from or both).
func (c Contact) ReceivesPresence() bool {
	return c.Subscription == storage.SubFrom || c.Subscription == storage.SubBoth
}

// SeesPresence reports whether the roster owner receives the contact's
// presence (subscription to or both).
func (c Contact) SeesPresence() bool {
	return c.Subscription == storage.SubTo || c.Subscription == storage.SubBoth
}

// Rosters is the view of the accounts' rosters that the roster module
// provides to the others. Its methods may read storage.
type Rosters interface {
	// Contact returns user's roster item for the bare JID contact; ok is
	// false when there is none.
	Contact(ctx context.Context, user, contact jid.JID) (c Contact, ok bool)
	// Contacts returns the items of user's roster.
	Contacts(ctx context.Context, user jid.JID) []Contact
}

// AccountHook runs when a local account (its bare JID) is being removed,
// before its data is deleted. It must not block on another session.
type AccountHook func(ctx context.Context, account jid.JID)

// SessionHook runs when a session is bound or ends. It must not block.
type SessionHook func(ctx context.Context, s Session)

// IdleHook runs when a session has sent nothing for the configured idle
// interval. It must not block.
type IdleHook func(ctx context.Context, s Session)

// IQResultFunc receives the reply to an IQ sent with Host.SendIQ, or a
// nil reply with a stanza.Error of remote-server-timeout when none came in
// time.
type IQResultFunc func(reply *stanza.Element, err error)

// Host is a module's handle on the server. Registration methods panic on a
// wiring mistake (nil or duplicate handler) and after Start returned.
type Host interface {
	// Domain is the served XMPP domain.
	Domain() jid.JID
	// Logger is tagged with the module name.
	Logger() *slog.Logger
	// Config decodes this module's section of the config strictly into v,
	// which holds the module's defaults.
	Config(v any) error
	// Storage is the opened backend.
	Storage() storage.Store

	// HandleIQ registers h for IQs of type typ (get or set) whose payload
	// is {ns}local, addressed to t.
	HandleIQ(t Target, typ, ns, local string, h IQHandler)
	// AddFeature adds a service discovery feature var of the server
	// (XEP-0030 §3.1).
	AddFeature(t Target, feature string)
	// AddIdentity adds a service discovery identity of the server, or of
	// every account's bare JID (XEP-0030 §3.1).
	AddIdentity(t Target, category, typ, name string)

	// OnSessionBound and OnSessionEnd add hooks run in ascending priority.
	OnSessionBound(priority int, h SessionHook)
	OnSessionEnd(priority int, h SessionHook)
	// OnIdle sets the hook run for a session that has sent nothing for
	// the duration after; at most one module may set it.
	OnIdle(after time.Duration, h IdleHook)
	// OnReady adds a hook run when a session becomes able to receive
	// messages for its bare JID (RFC 6121 §8.5.2.1.1): after its initial
	// presence with a non-negative priority, or a presence that raises its
	// priority from negative to non-negative.
	OnReady(priority int, h SessionHook)
	// HandlePresence and HandleUndeliverable set the presence and the
	// undeliverable-message handlers; at most one module sets each.
	HandlePresence(h PresenceHandler)
	HandleUndeliverable(h UndeliverableHandler)
	// AddStreamFeature adds an element to the stream features offered
	// after authentication (e.g. roster versioning, RFC 6121 §2.6.1): f is
	// called for each offer, after every module started, and must return
	// an element it never changes afterwards.
	AddStreamFeature(f func() *stanza.Element)

	// AddFilter adds a stanza filter (blocking, XEP-0191); Filter runs
	// them for a stanza a module delivers itself instead of routing.
	AddFilter(f StanzaFilter)
	Filter(ctx context.Context, st *stanza.Element, from, to jid.JID) error
	// ProvideRosters sets the source of rosters (the roster module); at
	// most one. Rosters returns it (nil when no module provides one), and
	// Subscribed asks it whether contact receives user's presence (false
	// when no module provides rosters).
	ProvideRosters(r Rosters)
	Rosters() Rosters
	Subscribed(ctx context.Context, user, contact jid.JID) bool
	// OnRosterChange adds a hook run after a roster item changed;
	// RosterChanged, called by the roster module, runs them.
	OnRosterChange(h RosterHook)
	RosterChanged(ctx context.Context, user jid.JID, before, after Contact)
	// OnPresenceSent adds a hook run after a client's broadcast presence
	// (no 'to') was handled: the session's availability and last presence
	// are already updated. Not on the hot path of messages, but it must
	// not block.
	OnPresenceSent(h SentHook)
	// ProvideAccountDisco sets the source of an account's service
	// discovery nodes and items (PEP, XEP-0163 §6.1); at most one.
	// AccountDisco returns it, or nil.
	ProvideAccountDisco(d AccountDisco)
	AccountDisco() AccountDisco
	// OnMessageDelivered and OnMessageSent add message hooks (carbons,
	// XEP-0280).
	OnMessageDelivered(h MessageHook)
	OnMessageSent(h SentHook)
	// HandleRegistration sets the handler of In-Band Registration before
	// authentication; the stream features then offer it. At most one.
	HandleRegistration(h RegistrationHandler)

	// AddService makes this server host the service domain (a subdomain
	// such as pubsub.<domain>), whose stanzas all go to h, and lists it in
	// the server's disco#items with name.
	AddService(domain, name string, h ServiceHandler)
	// ServiceItems lists the service domains, for disco#items.
	ServiceItems() []Item

	// OnAccountRemoved adds a hook run by RemoveAccount.
	OnAccountRemoved(priority int, h AccountHook)
	// RemoveAccount removes a local account: it runs the account-removed
	// hooks (which cancel subscriptions and the like), deletes everything
	// stored for it and closes its sessions with err.
	RemoveAccount(ctx context.Context, account jid.JID, err *stanza.StreamError) error

	// Sessions returns the bound sessions of the local account bare, and
	// Session the one bound to a full JID (nil if none).
	Sessions(bare jid.JID) []Session
	Session(full jid.JID) Session

	// Route sends a stanza from the server (from is set by the caller).
	Route(ctx context.Context, st *stanza.Element)
	// RouteParsed is Route for a caller that has the stanza's from and to
	// already parsed (they must match its attributes): a fan-out of many
	// stanzas saves parsing them again.
	RouteParsed(ctx context.Context, st *stanza.Element, from, to jid.JID)
	// SendIQ sends an IQ get/set from the server and calls f once with the
	// reply, or with an error when none arrives within the timeout.
	SendIQ(ctx context.Context, iq *stanza.Element, f IQResultFunc)

	// Features and Identities return what modules added, for disco.
	Features(t Target) []string
	Identities(t Target) []Identity
	// Modules lists the enabled modules' Info, for disco and compliance.
	Modules() []Info
	// ServerConfig is the server's configuration, read-only.
	ServerConfig() *config.Config
}

// Item is a service discovery item (XEP-0030 §4.1).
type Item struct {
	JID, Node, Name string
}

// AccountDisco answers service discovery about the nodes of an account's
// bare JID (XEP-0030 §3.2, §4.2), for PEP (XEP-0163 §6.1). from is the
// requester's full JID, account the bare JID asked.
type AccountDisco interface {
	// Items lists the items of the account's bare JID (node "") or of one
	// of its nodes, those the requester may see.
	Items(ctx context.Context, from, account jid.JID, node string) ([]Item, error)
	// Info is the disco#info <query/> of one node (node is never "").
	Info(ctx context.Context, from, account jid.JID, node string) (*stanza.Element, error)
}

// Identity is a service discovery identity (XEP-0030 §3.1).
type Identity struct {
	Category, Type, Name string
}
