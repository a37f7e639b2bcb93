// Package subscription implements the presence subscription state machine of
// RFC 6121 (XMPP IM), Appendix A ("Subscription States"), together with
// subscription pre-approval (RFC 6121 §3.4), as pure functions without I/O.
//
// A roster item's subscription state, seen from the roster owner's side, is
// one of the nine states of App. A.1: "None", "None + Pending Out",
// "None + Pending In", "None + Pending Out+In", "To", "To + Pending In",
// "From", "From + Pending Out" and "Both". [State] holds it as the
// subscription attribute plus the two pending flags, and the 'approved' flag
// of §3.4 besides.
//
// [Outbound] is the table set of App. A.2: the owner's server processing a
// subscription stanza that the owner sends to the contact. [Inbound] is the
// table set of App. A.3: the owner's server processing a subscription stanza
// that arrives from the contact for the owner. Both return the new state,
// whether the stanza goes on (routed to the contact, or delivered to the
// owner) and whether the state changed, in which case the caller persists it
// and sends a roster push (§2.1.6) to the owner's interested resources.
//
// What the functions leave to the caller:
//   - stamping the stanza with bare JIDs (§3) and resolving the roster item
//     (a contact not in the roster is the zero State, "None"; §3.4 asks to
//     create the item when an outbound "subscribed" pre-approves, and §3.1.3
//     to keep a pending inbound request without creating a roster item);
//   - storing an inbound "subscribe" while the owner is offline and
//     delivering it again at the owner's next available presence (§3.1.3);
//   - the presence that accompanies some transitions: after an outbound
//     "subscribed" that is routed, the owner's current presence to the
//     contact (§3.1.5); before an outbound "unsubscribed" that is routed from
//     a state with a subscription from the contact, "unavailable" presence
//     from the owner's available resources to the contact (§3.2.2); after an
//     inbound "unsubscribe" that removed the contact's subscription,
//     "unavailable" presence from the owner's available resources to the
//     contact (§3.3.3).
//
// # Invalid states
//
// A state that App. A.1 does not define never results from these functions:
// PendingOut with subscription To or Both (the owner is already subscribed),
// PendingIn with From or Both (the contact is already subscribed), Approved
// with From or Both (there is nothing left to pre-approve) and Approved with
// PendingIn (a request that meets a pre-approval is approved at once, §3.4),
// nor a Sub value other than the four defined ones. Given such a state,
// Outbound and Inbound first normalise it: they drop the impossible flag
// (PendingOut, PendingIn or Approved; the pending request wins over the
// pre-approval, so the owner answers it explicitly) and read an undefined Sub
// as None. The normalised state then goes through the tables, and changed
// reports the difference from the state as given, so the caller persists the
// repair.
package subscription

import (
	"fmt"

	"github.com/mote-xmpp/mote/internal/storage"
)

// State is one roster item's subscription state from its owner's point of
// view.
type State struct {
	Sub        storage.Subscription // storage.SubNone, SubTo, SubFrom or SubBoth
	PendingOut bool                 // the owner sent subscribe, unanswered ("ask")
	PendingIn  bool                 // the contact sent subscribe, unanswered
	Approved   bool                 // the owner pre-approved the contact (§3.4)
}

// Presence subscription stanza types.
const (
	Subscribe    = "subscribe"
	Subscribed   = "subscribed"
	Unsubscribe  = "unsubscribe"
	Unsubscribed = "unsubscribed"
)

// split returns the two directions of a subscription: to (the owner receives
// the contact's presence) and from (the contact receives the owner's). An
// undefined value counts as none.
func split(sub storage.Subscription) (to, from bool) {
	switch sub {
	case storage.SubTo:
		return true, false
	case storage.SubFrom:
		return false, true
	case storage.SubBoth:
		return true, true
	}
	return false, false
}

// join is the inverse of split.
func join(to, from bool) storage.Subscription {
	switch {
	case to && from:
		return storage.SubBoth
	case to:
		return storage.SubTo
	case from:
		return storage.SubFrom
	}
	return storage.SubNone
}

// normalise returns s as one of the states of App. A.1 (see the package
// documentation).
func normalise(s State) State {
	to, from := split(s.Sub)
	s.Sub = join(to, from)
	if to {
		s.PendingOut = false
	}
	if from {
		s.PendingIn = false
		s.Approved = false
	}
	if s.PendingIn {
		s.Approved = false
	}
	return s
}

// Outbound applies the owner sending a stanza of type typ to the contact
// (RFC 6121 App. A.2; §3.1.2, §3.1.5, §3.2.2, §3.3.2, §3.4):
//
//   - "subscribe" (A.2.1) is always routed and sets PendingOut unless the
//     owner is already subscribed (To, Both).
//   - "unsubscribe" (A.2.2) is always routed and removes the owner's
//     subscription to the contact and PendingOut.
//   - "subscribed" (A.2.3) with PendingIn approves the contact's request: it
//     is routed and the state gains From. Otherwise it is not routed; if the
//     contact has no subscription (None, None + Pending Out, To) it
//     pre-approves the contact by setting Approved (§3.4), and if the contact
//     is already subscribed (From, From + Pending Out, Both) it is ignored.
//   - "unsubscribed" (A.2.4) is routed when it denies a pending request or
//     cancels the contact's subscription (PendingIn, From, Both) and removes
//     both; it also cancels a pre-approval, clearing Approved without routing
//     (§3.2.2, §3.4).
//
// route reports whether the owner's server routes the stanza on to the
// contact; changed whether next differs from s (the caller then persists next
// and sends a roster push). An invalid s is normalised first (see the package
// documentation). For an unknown typ, Outbound returns s unchanged, false,
// false.
func Outbound(s State, typ string) (next State, route, changed bool) {
	n := normalise(s)
	to, from := split(n.Sub)
	switch typ {
	case Subscribe:
		route = true
		if !to {
			n.PendingOut = true
		}
	case Unsubscribe:
		route = true
		n.Sub = join(false, from)
		n.PendingOut = false
	case Subscribed:
		switch {
		case n.PendingIn:
			route = true
			n.Sub = join(to, true)
			n.PendingIn = false
		case !from:
			n.Approved = true
		}
	case Unsubscribed:
		route = n.PendingIn || from
		n.Sub = join(to, false)
		n.PendingIn = false
		n.Approved = false
	default:
		return s, false, false
	}
	return n, route, n != s
}

// Inbound applies a stanza of type typ from the contact arriving for the owner
// (RFC 6121 App. A.3; §3.1.3, §3.1.6, §3.2.3, §3.3.3, §3.4):
//
//   - "subscribe" (A.3.1) from a contact that already has a subscription
//     (From, From + Pending Out, Both) is not delivered and the owner's
//     server auto-replies "subscribed" (§3.1.3). With a request already
//     pending (PendingIn) it is not delivered and changes nothing. With a
//     pre-approval (Approved) it is not delivered either: the server
//     auto-replies "subscribed", the state gains From and Approved is
//     cleared (§3.4). Otherwise it is delivered and sets PendingIn.
//   - "unsubscribe" (A.3.2) is delivered when it cancels the contact's
//     subscription or withdraws its pending request (From, Both, PendingIn)
//     and removes both.
//   - "subscribed" (A.3.3) is delivered only when it answers the owner's
//     request (PendingOut): the state gains To and loses PendingOut.
//   - "unsubscribed" (A.3.4) is delivered when it denies the owner's request
//     or cancels the owner's subscription (PendingOut, To, Both) and removes
//     both.
//
// deliver reports whether the stanza is delivered to the owner (for
// "subscribe": shown to the owner, or kept as a pending request while the
// owner is offline). autoReply is the type of a subscription stanza the
// owner's server sends back to the contact on the owner's behalf, or "".
// changed is as for Outbound. An invalid s is normalised first (see the
// package documentation). For an unknown typ, Inbound returns s unchanged,
// false, "", false.
func Inbound(s State, typ string) (next State, deliver bool, autoReply string, changed bool) {
	n := normalise(s)
	to, from := split(n.Sub)
	switch typ {
	case Subscribe:
		switch {
		case from:
			autoReply = Subscribed
		case n.PendingIn:
			// A repeated request: already recorded, not delivered again.
		case n.Approved:
			autoReply = Subscribed
			n.Sub = join(to, true)
			n.Approved = false
		default:
			deliver = true
			n.PendingIn = true
		}
	case Unsubscribe:
		deliver = n.PendingIn || from
		n.Sub = join(to, false)
		n.PendingIn = false
	case Subscribed:
		if n.PendingOut {
			deliver = true
			n.Sub = join(true, from)
			n.PendingOut = false
		}
	case Unsubscribed:
		deliver = n.PendingOut || to
		n.Sub = join(false, from)
		n.PendingOut = false
	default:
		return s, false, "", false
	}
	return n, deliver, autoReply, n != s
}

// String renders a state the way App. A.1 names it, e.g.
// "None + Pending Out", "None + Pending Out+In", "To + Pending In" or "Both",
// with " (pre-approved)" appended when Approved. A state outside App. A.1 is
// rendered the same way from its fields (e.g. "Both + Pending Out").
func (s State) String() string {
	var name string
	switch s.Sub {
	case storage.SubNone:
		name = "None"
	case storage.SubTo:
		name = "To"
	case storage.SubFrom:
		name = "From"
	case storage.SubBoth:
		name = "Both"
	default:
		name = fmt.Sprintf("Subscription(%d)", uint8(s.Sub))
	}
	switch {
	case s.PendingOut && s.PendingIn:
		name += " + Pending Out+In"
	case s.PendingOut:
		name += " + Pending Out"
	case s.PendingIn:
		name += " + Pending In"
	}
	if s.Approved {
		name += " (pre-approved)"
	}
	return name
}
