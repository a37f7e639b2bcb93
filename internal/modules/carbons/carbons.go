// Package carbons implements Message Carbons (XEP-0280): a resource that
// enabled carbons gets a copy of every instant message its account sends
// or receives through another resource, wrapped in <sent/> or <received/>
// with a XEP-0297 <forwarded/> element.
package carbons

import (
	"context"
	"sync/atomic"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces.
const (
	NS        = "urn:xmpp:carbons:2" // XEP-0280
	NSForward = "urn:xmpp:forward:0" // XEP-0297
	NSHints   = "urn:xmpp:hints"     // XEP-0334
	nsMUCUser = "http://jabber.org/protocol/muc#user"
	nsConf    = "jabber:x:conference" // XEP-0249 direct invitation
)

// imPayloads are the namespaces of payloads typically used in instant
// messaging that make a message without a body eligible (XEP-0280 §6.1):
// receipts (XEP-0184), chat states (XEP-0085), chat markers (XEP-0333).
var imPayloads = [...]string{
	"urn:xmpp:receipts",
	"http://jabber.org/protocol/chatstates",
	"urn:xmpp:chat-markers:0",
}

// Module is the carbons module.
type Module struct {
	h       module.Host
	enabled atomic.Int64 // sessions with carbons enabled, server-wide
}

// New returns the carbons module.
func New() *Module { return &Module{} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "carbons", Requires: []string{"disco"},
		XEPs: []module.XEP{{Number: 280, Version: "1.0.1", Status: "complete"}}}
}

// Start implements module.Module.
func (m *Module) Start(_ context.Context, h module.Host) error {
	m.h = h
	// §3: the server and the account advertise the feature.
	h.AddFeature(module.ToServer, NS)
	h.AddFeature(module.ToAccount, NS)
	// §4, §5: enabling and disabling, answered on the account's behalf.
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "enable", m.toggle(true))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, NS, "disable", m.toggle(false))
	h.OnMessageSent(m.sent)
	h.OnMessageDelivered(m.delivered)
	h.OnSessionEnd(0, func(_ context.Context, s module.Session) {
		if s.SetCarbons(false) {
			m.enabled.Add(-1)
		}
	})
	return nil
}

// Stop implements module.Module.
func (m *Module) Stop(context.Context) error { return nil }

// toggle returns the handler of <enable/> (on) or <disable/>. Repeated
// requests simply succeed again (§9.1).
func (m *Module) toggle(on bool) module.IQHandler {
	return module.IQHandlerFunc(func(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
		// §4.1, §5.1: nobody changes another account's carbons.
		from, err := module.OwnAccount(iq, stanza.NotAllowed)
		if err != nil {
			return nil, err
		}
		s := m.h.Session(from)
		if s == nil {
			return nil, stanza.NewError(stanza.NotAllowed, "")
		}
		if was := s.SetCarbons(on); was != on {
			if on {
				m.enabled.Add(1)
			} else {
				m.enabled.Add(-1)
			}
		}
		return nil, nil
	})
}

// sent sends <sent/> copies of a message a client sent to the other
// carbons-enabled resources of its account, whether or not the sender
// enabled carbons itself (§8).
func (m *Module) sent(_ context.Context, st *stanza.Element, from jid.JID) {
	if m.enabled.Load() == 0 {
		return // nobody on the server wants carbons: the common case, free
	}
	account := from.Bare()
	sessions := m.h.Sessions(account)
	if !anyCarbons(sessions, nil, from) {
		return
	}
	if to := st.Attr("to"); to == "" {
		return // to the sender's own account: see delivered
	} else if t, err := jid.Parse(to); err != nil || t.Bare() == account {
		return
	}
	if !eligible(st, false) {
		return
	}
	fwd := st.ShallowCopy()
	for _, s := range sessions {
		// §8: never back to the sending resource.
		if s.Carbons() && s.JID() != from {
			s.Send(wrap("sent", fwd, account, s.JID()))
		}
	}
}

// delivered sends <received/> copies of a message delivered to account
// to its carbons-enabled resources that did not get the original (§7):
// to when it went to a full JID, else the available resources of the
// highest non-negative priority (RFC 6121 §8.5.2.1.1). A message the
// account sent to itself is copied here only, once per resource, and not
// back to the sending resource (§8).
func (m *Module) delivered(_ context.Context, st *stanza.Element, account jid.JID, to module.Session) {
	if m.enabled.Load() == 0 {
		return
	}
	sessions := m.h.Sessions(account)
	var sender jid.JID
	if f, err := jid.Parse(st.Attr("from")); err == nil && f.Bare() == account {
		sender = f
	}
	if !anyCarbons(sessions, to, sender) {
		return
	}
	if !eligible(st, true) {
		return
	}
	best := -1
	if to == nil {
		for _, s := range sessions {
			if s.Available() && s.Priority() > best {
				best = s.Priority()
			}
		}
	}
	var fwd *stanza.Element
	for _, s := range sessions {
		if !s.Carbons() || s == to || s.JID() == sender {
			continue
		}
		if to == nil && best >= 0 && s.Available() && s.Priority() == best {
			continue // it got the original
		}
		if fwd == nil {
			fwd = st.ShallowCopy()
		}
		s.Send(wrap("received", fwd, account, s.JID()))
	}
}

// anyCarbons reports, without allocating, whether a session other than
// skip and the one bound to self has carbons enabled: the hot path's
// early exit.
func anyCarbons(sessions []module.Session, skip module.Session, self jid.JID) bool {
	for _, s := range sessions {
		if s.Carbons() && s != skip && s.JID() != self {
			return true
		}
	}
	return false
}

// eligible applies the rules of §6.1 (and §10 for private messages) to a
// message sent (received false) or received by a local account.
func eligible(st *stanza.Element, received bool) bool {
	typ := st.Attr("type")
	switch typ {
	case stanza.TypeChat, stanza.TypeNormal, "":
	default:
		// §6.1: groupchat SHOULD NOT be copied; headline is not instant
		// messaging (RFC 6121 §5.2.2); an error cannot be tied to the
		// message it answers without state, so none is copied.
		return false
	}
	imPayload, invite, mucUser := false, false, false
	for _, n := range st.Children {
		c := n.Elem
		if c == nil {
			continue
		}
		switch c.Space {
		case NS:
			// §10: <private/> opts the message out; a message that
			// already is a carbon (or claims to be one) is never copied
			// again.
			if c.Local == "private" || c.Local == "sent" || c.Local == "received" {
				return false
			}
		case NSHints:
			// XEP-0334 §4.3, used with <private/> by §10.
			if c.Local == "no-copy" {
				return false
			}
		case stanza.NSClient:
			if c.Local == "body" {
				imPayload = true
			}
		case nsConf:
			invite = invite || c.Local == "x" // §6.1: XEP-0249 invitation
		case nsMUCUser:
			if c.Local == "x" {
				mucUser = true
				// §6.1: XEP-0045 mediated invitation.
				invite = invite || c.Child(nsMUCUser, "invite") != nil
			}
		default:
			for _, ns := range imPayloads {
				if c.Space == ns {
					imPayload = true
				}
			}
		}
	}
	if invite {
		return true
	}
	if received && mucUser {
		// §6.1: a private message from a MUC participant is replicated
		// by the MUC service to every joined client already.
		return false
	}
	// §6.1: every chat message; a normal one with a body or IM payload.
	return typ == stanza.TypeChat || imPayload
}

// wrap builds the carbon of fwd for the resource to of account: from the
// bare JID, same type, <dir><forwarded>fwd</forwarded></dir> (§7, §8).
// fwd is shared, never modified: it keeps its jabber:client namespace,
// which the serialiser declares inside <forwarded/>.
func wrap(dir string, fwd *stanza.Element, account, to jid.JID) *stanza.Element {
	msg := stanza.NewElement(stanza.NSClient, "message", "from", account.String(), "to", to.String())
	if typ := fwd.Attr("type"); typ != "" {
		msg.SetAttr("type", typ)
	}
	return msg.Append(stanza.NewElement(NS, dir).Append(stanza.NewElement(NSForward, "forwarded").Append(fwd)))
}
