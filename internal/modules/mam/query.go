package mam

import (
	"context"
	"errors"
	"slices"

	"github.com/mote-xmpp/mote/internal/mam"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// owner returns the requester of an IQ to an account's archive, which
// only the account itself may use (XEP-0313 §8.1: forbidden otherwise).
func owner(iq *stanza.Element) (jid.JID, error) {
	return module.OwnAccount(iq, stanza.Forbidden)
}

// query answers a query of the account's archive (XEP-0313 §4): the
// results go to the requesting session as messages, in archive order (or
// reversed for <flip-page/>, §4.3.4), before the IQ result that carries
// <fin/>, which the mux sends when this returns. Messages the account
// sent or received before asking are in the archive by then (the query
// waits for the writer).
//
// A page is also bounded by a quarter of the session's outbound queue
// limits (c2s.outbound_queue and outbound_queue_bytes), so that a page of
// large messages never makes the requester a slow consumer: what does
// not fit is left for the next page (complete is then false).
//
// The results go straight to the requesting session rather than through
// the router: a message to a full JID that has gone would be delivered
// to the account's other resources or stored offline (RFC 6121
// §8.5.3.2.1).
func (m *Module) query(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := owner(iq)
	if err != nil {
		return nil, err
	}
	q, err := mam.ParseQuery(iq.FirstChild())
	if err != nil {
		return nil, err
	}
	if q.Node != "" {
		// XEP-0442 archives of PEP nodes are not kept.
		return nil, stanza.NewError(stanza.ItemNotFound, "no archive of this node")
	}
	if err := m.w.sync(ctx); err != nil {
		return nil, err
	}
	page, err := q.Run(ctx, m.archive, from.Local(), m.cfg.MaxPageSize)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, stanza.NewError(stanza.ItemNotFound, "no message with that ID in the archive")
	}
	if err != nil {
		return nil, err
	}
	account, to := from.Bare().String(), from.String()
	results := make([]*stanza.Element, len(page.Messages))
	for i, msg := range page.Messages {
		if results[i], err = mam.Result(account, to, q.ID, msg); err != nil {
			// §3.2: a message that cannot be shown keeps its place.
			m.log.Warn("unreadable archived message", "account", account, "id", msg.ID, "err", err)
			msg.Stanza = []byte(`<message/>`)
			results[i], _ = mam.Result(account, to, q.ID, msg)
		}
	}
	msgs := page.Messages
	if keep := m.fit(results, q.RSM.HasBefore); keep < len(results) {
		page.Complete = false
		if q.RSM.HasBefore {
			// Paging backwards: keep the newest, next to the last page.
			drop := len(results) - keep
			results, msgs = results[drop:], msgs[drop:]
		} else {
			results, msgs = results[:keep], msgs[:keep]
		}
	}
	if s := m.h.Session(from); s != nil {
		if q.Flip {
			slices.Reverse(results)
		}
		for _, r := range results {
			if !s.Send(r) {
				break // closing
			}
		}
	}
	return mam.Fin(msgs, page.Count, page.Complete), nil
}

// fit returns how many of results fit a quarter of the outbound queue
// limits, counted from the end when fromEnd; at least one.
func (m *Module) fit(results []*stanza.Element, fromEnd bool) int {
	limits := m.h.ServerConfig().C2S
	budget, count := limits.OutboundQueueBytes/4, max(limits.OutboundQueue/4, 1)
	n := 0
	for n < len(results) && n < count {
		r := results[n]
		if fromEnd {
			r = results[len(results)-1-n]
		}
		if budget -= r.Size(); budget < 0 && n > 0 {
			break
		}
		n++
	}
	return n
}

// form answers an IQ get of <query/> with the query form (§4.1.5).
func (m *Module) form(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
	if _, err := owner(iq); err != nil {
		return nil, err
	}
	return mam.Form(), nil
}

// metadata answers an IQ get of <metadata/> (§5).
func (m *Module) metadata(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := owner(iq)
	if err != nil {
		return nil, err
	}
	if err := m.w.sync(ctx); err != nil {
		return nil, err
	}
	return mam.Metadata(ctx, m.archive, from.Local())
}

// getPrefs answers an IQ get of <prefs/> with the account's archiving
// preferences, default_mode for one that never set any (XEP-0441).
func (m *Module) getPrefs(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := owner(iq)
	if err != nil {
		return nil, err
	}
	return mam.PrefsElement(shown(m.prefsOf(from.Local()), from.Bare().String())), nil
}

// setPrefs replaces the account's archiving preferences (XEP-0441) and
// answers with them. They apply to messages sent after the reply.
func (m *Module) setPrefs(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	from, err := owner(iq)
	if err != nil {
		return nil, err
	}
	p, err := mam.ParsePrefs(iq.FirstChild())
	if err != nil {
		return nil, err
	}
	account := from.Bare().String()
	s := stored(p, account)
	if err := m.archive.SetArchivePrefs(ctx, from.Local(), s); err != nil {
		return nil, err
	}
	m.prefsMu.Lock()
	m.prefs[from.Local()] = s
	m.prefsMu.Unlock()
	m.noteArchiving(s)
	return mam.PrefsElement(shown(s, account)), nil
}
