// Package router delivers stanzas: it classifies the target of each stanza
// (the server, a local account's bare or full JID, a remote domain) and
// applies the delivery rules of RFC 6120 §10 and RFC 6121 §8.5 using only
// in-memory state (DESIGN.md §3).
package router

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Router routes stanzas between local sessions and the module mux.
type Router struct {
	domain   jid.JID
	sessions *session.Registry
	mods     *module.Registry
	log      *slog.Logger

	// in counts the stanzas clients sent (RouteFrom), by kind; every
	// RouteSample-th of a kind is timed into routeDuration (nil: none).
	in            [stanza.KindIQ + 1]counter
	routeDuration Observer

	iqTimeout time.Duration
	pendingMu sync.Mutex
	pending   map[string]*pendingIQ // guarded by pendingMu; IQs sent by the server awaiting a reply
	nextID    uint64                // guarded by pendingMu
}

type pendingIQ struct {
	to    string
	f     module.IQResultFunc
	timer *time.Timer
}

// Config holds the router's collaborators.
type Config struct {
	Domain    jid.JID
	Sessions  *session.Registry
	Modules   *module.Registry
	Logger    *slog.Logger
	IQTimeout time.Duration // for SendIQ; default 30 s
	// RouteDuration, when not nil, receives the duration in seconds of
	// one in RouteSample calls of RouteFrom of each stanza kind.
	RouteDuration Observer
}

// Observer receives measurements (prometheus.Observer is one). Observe
// runs on the routing path: it must be quick and must not block.
type Observer interface {
	Observe(v float64)
}

// RouteSample is how often RouteFrom is timed for Config.RouteDuration:
// one stanza in RouteSample of each kind, so that the other stanzas do not
// pay for reading the clock.
const RouteSample = 64

// counter is a counter on a cache line of its own: the counters of
// different stanza kinds are written by different cores.
type counter struct {
	n atomic.Uint64
	_ [56]byte
}

// Stats are the router's counters since it started.
type Stats struct {
	// In counts the stanzas clients sent, indexed by stanza.Kind
	// (KindNone stays zero).
	In [stanza.KindIQ + 1]uint64
}

// Stats returns the router's counters.
func (r *Router) Stats() Stats {
	var st Stats
	for k := range r.in {
		st.In[k] = r.in[k].n.Load()
	}
	return st
}

// New returns a router.
func New(c Config) *Router {
	if c.IQTimeout <= 0 {
		c.IQTimeout = 30 * time.Second
	}
	return &Router{
		domain: c.Domain, sessions: c.Sessions, mods: c.Modules, routeDuration: c.RouteDuration,
		log: c.Logger, iqTimeout: c.IQTimeout, pending: make(map[string]*pendingIQ),
	}
}

var _ module.Router = (*Router)(nil)

// Route delivers st, whose from is already set by its originator (a module
// or the server). An unparsable to gets jid-malformed.
func (r *Router) Route(ctx context.Context, st *stanza.Element) {
	from, _ := jid.Parse(st.Attr("from"))
	to, err := parseTo(st)
	if err != nil {
		r.bounce(ctx, st, stanza.NewError(stanza.JIDMalformed, ""))
		return
	}
	r.route(ctx, st, from, to)
}

// RouteParsed is Route with from and to already parsed; they must be
// what the stanza's attributes say.
func (r *Router) RouteParsed(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	r.route(ctx, st, from, to)
}

func parseTo(st *stanza.Element) (jid.JID, error) {
	s := st.Attr("to")
	if s == "" {
		return jid.JID{}, nil
	}
	return jid.Parse(s)
}

// RouteFrom delivers st, sent by a client, from the entity from to the
// parsed address to (the zero JID when st has no to). The c2s layer calls
// it with the stamped full JID of the sending session. Presence goes to the
// presence module when one is enabled (RFC 6121 §3, §4).
func (r *Router) RouteFrom(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	kind := stanza.KindOf(st)
	if n := r.in[kind].n.Add(1); n%RouteSample == 0 && r.routeDuration != nil {
		start := time.Now()
		r.routeFrom(ctx, st, kind, from, to)
		r.routeDuration.Observe(time.Since(start).Seconds())
		return
	}
	r.routeFrom(ctx, st, kind, from, to)
}

func (r *Router) routeFrom(ctx context.Context, st *stanza.Element, kind stanza.Kind, from, to jid.JID) {
	switch kind {
	case stanza.KindPresence:
		if h := r.mods.Presence(); h != nil {
			h(ctx, st, from, to)
			if to.IsZero() {
				r.mods.PresenceSent(ctx, st, from)
			}
			return
		}
	case stanza.KindMessage:
		r.mods.MessageSent(ctx, st, from)
	}
	r.route(ctx, st, from, to)
}

func (r *Router) route(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	if !to.IsZero() && r.mods.HasFilters() {
		if err := r.mods.Filter(ctx, st, from, to); err != nil {
			var se stanza.Error
			switch {
			case errors.Is(err, module.ErrDrop):
			case errors.As(err, &se):
				r.bounce(ctx, st, se)
			default:
				r.log.Error("stanza filter failed", "err", err)
			}
			return
		}
	}
	kind := stanza.KindOf(st)
	switch {
	case to.IsZero():
		// RFC 6120 §10.3: no 'to' means the sender's own account; the
		// server handles IQs on its behalf (§10.3.3).
		if kind == stanza.KindIQ {
			r.serverIQ(ctx, st, module.ToAccount)
			return
		}
		if kind == stanza.KindMessage {
			r.toBare(ctx, st, from.Bare())
		}
		// Presence with no 'to' is the sender's broadcast: handled by the
		// session layer and presence hooks, never routed here.
	case to.Domain() != r.domain.Domain():
		if h := r.mods.Service(to.Domain()); h != nil {
			h(ctx, st, from, to)
			return
		}
		// RFC 6120 §10.4: no server-to-server in this build.
		if kind != stanza.KindPresence {
			r.bounce(ctx, st, stanza.NewError(stanza.RemoteServerNotFound, "this server does not federate"))
		}
	case to.Local() == "":
		// RFC 6120 §10.5.1: the server itself (domain or domain/resource).
		r.toServer(ctx, st, kind)
	case to.IsBare():
		r.toBare(ctx, st, to)
	default:
		r.toFull(ctx, st, to)
	}
}

func (r *Router) toServer(ctx context.Context, st *stanza.Element, kind stanza.Kind) {
	switch kind {
	case stanza.KindIQ:
		r.serverIQ(ctx, st, module.ToServer)
	case stanza.KindMessage:
		// RFC 6120 §10.5.1: no module handles messages to the server yet.
		r.bounce(ctx, st, stanza.NewError(stanza.ServiceUnavailable, ""))
	}
}

// serverIQ handles an IQ the server answers itself: requests go to the
// module mux, replies complete a pending SendIQ.
func (r *Router) serverIQ(ctx context.Context, st *stanza.Element, t module.Target) {
	typ := st.Attr("type")
	if typ == stanza.TypeResult || typ == stanza.TypeError {
		r.completeIQ(st)
		return
	}
	payload := st.FirstChild()
	var h module.IQHandler
	if payload != nil {
		h = r.mods.IQHandler(t, typ, payload.Space, payload.Local)
	}
	if h == nil {
		// RFC 6120 §8.4: an IQ nobody understands gets service-unavailable.
		r.bounce(ctx, st, stanza.NewError(stanza.ServiceUnavailable, ""))
		return
	}
	res, err := h.HandleIQ(ctx, st)
	if errors.Is(err, module.ErrReplied) {
		return
	}
	if err != nil {
		var se stanza.Error
		if !errors.As(err, &se) {
			r.log.Error("iq handler failed", "payload", payload.Space+" "+payload.Local, "err", err)
			se = stanza.NewError(stanza.InternalServerError, "")
		}
		r.bounce(ctx, st, se)
		return
	}
	reply := stanza.IQResult(st, res)
	if st.Attr("to") == "" {
		// The request was addressed implicitly to the account; so is the
		// reply's sender (RFC 6120 §10.3.3).
		reply.SetAttr("from", jidOf(st.Attr("from")).Bare().String())
	}
	r.Route(ctx, reply)
}

func jidOf(s string) jid.JID {
	j, _ := jid.Parse(s)
	return j
}

// toBare applies RFC 6121 §8.5.2 for an account's bare JID.
func (r *Router) toBare(ctx context.Context, st *stanza.Element, to jid.JID) {
	switch stanza.KindOf(st) {
	case stanza.KindIQ:
		r.serverIQ(ctx, st, module.ToAccount)
	case stanza.KindMessage:
		// §8.5.2.1.1 and §8.5.2.2.1, by message type.
		switch st.Attr("type") {
		case stanza.TypeError:
			// Silently ignored.
		case stanza.TypeGroupchat:
			r.bounce(ctx, st, stanza.NewError(stanza.ServiceUnavailable, ""))
		case stanza.TypeHeadline:
			// Every non-negative resource, or nobody.
			for _, s := range r.sessions.Resources(to) {
				if s.Available() && s.Priority() >= 0 {
					s.Send(st)
				}
			}
		default:
			if !r.deliverMessageToBare(st, to) {
				r.undeliverable(ctx, st, to)
				return
			}
			r.mods.MessageDelivered(ctx, st, to, nil)
		}
	case stanza.KindPresence:
		if st.Attr("type") == stanza.TypeProbe {
			// §4.3: probes are answered by the server, never delivered.
			return
		}
		// §8.5.2.1.2: presence goes to every available resource.
		for _, s := range r.sessions.Resources(to) {
			if s.Available() {
				s.Send(st)
			}
		}
	}
}

// deliverMessageToBare delivers to the available resources with the
// highest non-negative priority (§8.5.2.1.1, "most available") and reports
// whether any took it.
func (r *Router) deliverMessageToBare(st *stanza.Element, to jid.JID) bool {
	best := -1
	for _, s := range r.sessions.Resources(to) {
		if s.Available() && s.Priority() > best {
			best = s.Priority()
		}
	}
	if best < 0 {
		return false
	}
	sent := false
	for _, s := range r.sessions.Resources(to) {
		if s.Available() && s.Priority() == best && s.Send(st) {
			sent = true
		}
	}
	return sent
}

// toFull applies RFC 6121 §8.5.3 for a full JID.
func (r *Router) toFull(ctx context.Context, st *stanza.Element, to jid.JID) {
	if s := r.sessions.Get(to); s != nil && s.Send(st) {
		if stanza.KindOf(st) == stanza.KindMessage {
			r.mods.MessageDelivered(ctx, st, to.Bare(), s)
		}
		return
	}
	// §8.5.3.2: no such resource, or one that is closing (a slow consumer
	// being dropped) and takes nothing more.
	switch stanza.KindOf(st) {
	case stanza.KindMessage:
		switch st.Attr("type") {
		case "", stanza.TypeNormal, stanza.TypeChat:
			// §8.5.3.2.1: treat as addressed to the bare JID.
			if r.deliverMessageToBare(st, to.Bare()) {
				r.mods.MessageDelivered(ctx, st, to.Bare(), nil)
				return
			}
			r.undeliverable(ctx, st, to.Bare())
		case stanza.TypeHeadline, stanza.TypeError:
			// Silently ignored.
		default:
			r.bounce(ctx, st, stanza.NewError(stanza.ServiceUnavailable, ""))
		}
	case stanza.KindIQ:
		if t := st.Attr("type"); t == stanza.TypeGet || t == stanza.TypeSet {
			r.bounce(ctx, st, stanza.NewError(stanza.ServiceUnavailable, ""))
		}
	case stanza.KindPresence:
		// §8.5.3.2.2: presence to an unknown resource is ignored.
	}
}

// undeliverable handles a message to an account with no session able to
// take it (RFC 6121 §8.5.2.2 and §8.5.1 for an unknown account): the
// offline module stores it when enabled, else the sender gets
// service-unavailable; headline and error messages are dropped silently.
func (r *Router) undeliverable(ctx context.Context, st *stanza.Element, to jid.JID) {
	switch st.Attr("type") {
	case stanza.TypeHeadline, stanza.TypeError:
		return
	}
	if h := r.mods.Undeliverable(); h != nil {
		err := h(ctx, st, to)
		if err == nil {
			return
		}
		var se stanza.Error
		if !errors.As(err, &se) {
			// Storing it failed (the database is unreachable, say):
			// the sender may try again later; nothing was kept.
			r.log.Error("undeliverable message handler failed", "err", err)
			se = stanza.NewError(stanza.ResourceConstraint, "the message could not be stored; try again later")
		}
		r.bounce(ctx, st, se)
		return
	}
	r.bounce(ctx, st, stanza.NewError(stanza.ServiceUnavailable, ""))
}

// bounce returns an error reply to the sender of st, unless st is itself an
// error (RFC 6120 §8.3.1: never answer an error with an error).
func (r *Router) bounce(ctx context.Context, st *stanza.Element, e stanza.Error) {
	if stanza.KindOf(st) == stanza.KindIQ && st.Attr("type") == stanza.TypeResult {
		// §8.2.3: a result is never answered either.
		return
	}
	reply := stanza.ErrorReply(st, e)
	if reply == nil || reply.Attr("to") == "" {
		return
	}
	if reply.Attr("from") == "" {
		reply.SetAttr("from", r.domain.String())
	}
	to, err := jid.Parse(reply.Attr("to"))
	if err != nil || to.Domain() != r.domain.Domain() {
		return
	}
	if to.Local() == "" {
		// An IQ the server itself sent could not be delivered.
		if stanza.KindOf(reply) == stanza.KindIQ {
			r.completeIQ(reply)
		}
		return
	}
	if to.IsBare() {
		// Only a message can come from a bare JID and be answered there;
		// an IQ error must not reach resources that never asked.
		if stanza.KindOf(reply) == stanza.KindMessage {
			r.deliverMessageToBare(reply, to)
		}
		return
	}
	if s := r.sessions.Get(to); s != nil {
		s.Send(reply)
	}
}
