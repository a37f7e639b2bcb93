package mam

import (
	"context"
	"time"

	"github.com/mote-xmpp/mote/internal/mam"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// NSHints is the namespace of message processing hints (XEP-0334).
const NSHints = "urn:xmpp:hints"

// sent archives a message a client sent (module.Host.OnMessageSent: on
// the goroutine handling it, before it is routed): the sender's copy in
// its archive, with the recipient; the recipient's copy in its archive,
// with the sender, when the recipient is another local account
// (XEP-0313 §3.3.1, §6.1.1). Each archive's preferences decide whether it
// takes its copy (XEP-0441). A message to oneself goes into the archive
// once (§6.1.1).
//
// Before routing, every <stanza-id/> that claims to come from this
// server (its 'by' is the domain or an address at it) is removed, as this
// server assigns those (XEP-0359 §3), and the recipient's own one is
// added with the ID of its copy (XEP-0313 §3.5); the sender's ID is not
// shown to the recipient. <origin-id/> stays (XEP-0359 §2.2).
//
// A message the router's stanza filters refuse is not archived (XEP-0313
// §6.1: the archive holds what was accepted for delivery); the filters
// run in memory. One refused later, by a full offline store, is.
//
// The copies are stored as the message is after the forged IDs went and
// before the recipient's was added. They go to the writer; the hook
// waits for nothing but holds the client's stanza (module.Hold) until
// they are committed. What it reads is in memory, except that an
// account in roster mode asks the roster module about its contact, which
// reads the roster from storage when the account has no session.
func (m *Module) sent(ctx context.Context, st *stanza.Element, from jid.JID) {
	mam.StripStanzaIDs(st, m.forged)
	if !m.mayArchive.Load() || !m.eligible(st) {
		return
	}
	sender := from.Bare()
	to := sender // RFC 6120 §10.3.1: no 'to' is the sender's own account
	if s := st.Attr("to"); s != "" {
		var err error
		if to, err = jid.Parse(s); err != nil {
			return // the router bounces it
		}
	}
	if to.Local() == "" {
		return // the server or a service: not a conversation
	}
	peer := to.Bare()
	self := peer == sender
	senderCopy := m.allows(ctx, sender, peer)
	peerCopy := !self && to.Domain() == m.domain && m.allows(ctx, peer, sender)
	if !senderCopy && !peerCopy {
		return
	}
	if st.Attr("to") != "" && m.h.Filter(ctx, st, from, to) != nil {
		// The router refuses it (a blocked contact, XEP-0191): it belongs
		// in no archive (XEP-0313 §6.1).
		return
	}
	e := entry{verify: -1, msgs: make([]storage.ArchivedMessage, 0, 2)}
	now := time.Now()
	if senderCopy {
		e.msgs = append(e.msgs, storage.ArchivedMessage{ID: m.ids.NewID(), Archive: sender.Local(), With: to.String(), Stamp: now})
	}
	recipient := -1 // the copy whose ID the recipient (peer) sees
	if peerCopy {
		recipient = len(e.msgs)
		e.msgs = append(e.msgs, storage.ArchivedMessage{ID: m.ids.NewID(), Archive: peer.Local(), With: from.String(), Stamp: now})
		if len(m.h.Sessions(peer)) == 0 {
			e.verify = recipient // the writer checks that the account exists
		}
	} else if self && len(e.msgs) == 1 {
		recipient = 0 // the sender's own resources see their archive's ID
	}
	data := st.AppendXML(nil, stanza.NSClient)
	for i := range e.msgs {
		e.msgs[i].Stanza = data
	}
	e.size = len(data) * len(e.msgs)
	e.release = module.Hold(ctx)
	if !m.w.enqueue(ctx, e) {
		return // refused: released with an error, nothing was archived
	}
	if recipient >= 0 {
		mam.AddStanzaID(st, e.msgs[recipient].ID, peer.String())
	}
}

// forged reports whether a <stanza-id/>'s 'by' names this server or an
// address at it: only this server may assign those (XEP-0359 §3). A 'by'
// that is not a JID names nobody here.
func (m *Module) forged(by string) bool {
	j, err := jid.Parse(by)
	return err == nil && j.Domain() == m.domain
}

// eligible applies the configured rules of what is archived (XEP-0313
// §6.1.1): the message types, a <body/> when required, and the hints of
// XEP-0334 §4: <no-store/> and <no-permanent-store/> keep a message out,
// <store/> takes one without a body.
func (m *Module) eligible(st *stanza.Element) bool {
	if !m.types[st.Attr("type")] {
		return false
	}
	body, store := false, false
	for _, n := range st.Children {
		c := n.Elem
		if c == nil {
			continue
		}
		switch {
		case c.Space == stanza.NSClient && c.Local == "body":
			body = true
		case c.Space == NSHints:
			switch c.Local {
			case "no-store", "no-permanent-store":
				return false
			case "store":
				store = true
			}
		}
	}
	return body || store || !m.cfg.RequireBody
}
