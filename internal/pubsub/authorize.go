package pubsub

import (
	"slices"

	"github.com/mote-xmpp/mote/jid"
)

// Action is something an entity asks to do with a node: a column of the
// table of XEP-0060 §4.1, or an owner use case of §8.
type Action uint8

// Actions.
const (
	ActionSubscribe           Action = iota // §6.1
	ActionRetrieveItems                     // §6.5
	ActionPublish                           // §7.1
	ActionDeleteOwnItem                     // §7.2, an item the requester published
	ActionDeleteAnyItem                     // §7.2, an item someone else published
	ActionPurge                             // §8.5
	ActionConfigure                         // §8.2, also reading the configuration and the collection links
	ActionDeleteNode                        // §8.4
	ActionManageSubscriptions               // §8.6–8.8, including pending approvals
	ActionManageAffiliations                // §8.9
	numActions
)

var actionNames = []string{
	ActionSubscribe: "subscribe", ActionRetrieveItems: "retrieve-items", ActionPublish: "publish",
	ActionDeleteOwnItem: "delete-own-item", ActionDeleteAnyItem: "delete-any-item", ActionPurge: "purge",
	ActionConfigure: "configure", ActionDeleteNode: "delete-node",
	ActionManageSubscriptions: "manage-subscriptions", ActionManageAffiliations: "manage-affiliations",
}

// String returns the action's name.
func (a Action) String() string { return enumString(actionNames, a) }

// capabilities is the table "Affiliations and their Privileges" of XEP-0060
// §4.1, extended with the owner-only use cases of §8.6–8.9. Where the table
// says "Yes *", the footnote lets a service allow a publisher to delete any
// item; this one does (so purge, which the table grants, is consistent),
// and it lets publish-only entities delete only their own items, as the
// footnote recommends.
//
// A "No" for AffNone under subscribe and retrieve is not final: the node's
// access model decides (§4.5); see Authorize.
var capabilities = [numAffiliations][numActions]bool{
	//               subscribe retrieve publish delOwn delAny purge configure delNode manSubs manAffs
	AffOwner:       {true, true, true, true, true, true, true, true, true, true},
	AffPublisher:   {true, true, true, true, true, true, false, false, false, false},
	AffPublishOnly: {false, false, true, true, false, false, false, false, false, false},
	AffMember:      {true, true, false, false, false, false, false, false, false, false},
	AffNone:        {true, false, false, false, false, false, false, false, false, false},
	AffOutcast:     {false, false, false, false, false, false, false, false, false, false},
}

// Allowed reports whether the affiliation alone grants the action (XEP-0060
// §4.1). Authorize adds the access and publish models.
func Allowed(aff Affiliation, act Action) bool {
	if aff >= numAffiliations || act >= numActions {
		return false
	}
	return capabilities[aff][act]
}

// transitions is the "Affiliation State Chart" of XEP-0060 §4.1:
// transitions[from][to] says whether an owner may change an affiliation
// from one value to the other ("n/a" cells are false). The chart does not
// mention publish-only; it is treated like publisher, except that a
// publisher may become publish-only and back.
var transitions = [numAffiliations][numAffiliations]bool{
	//               none  owner publisher publishOnly member outcast
	AffNone:        {true, true, true, true, true, true},
	AffOwner:       {true, true, false, false, false, false},
	AffPublisher:   {true, true, true, true, false, true},
	AffPublishOnly: {true, true, true, true, false, true},
	AffMember:      {true, true, true, true, true, true},
	AffOutcast:     {true, true, true, true, true, true},
}

// ValidTransition reports whether the affiliation chart of XEP-0060 §4.1
// allows an owner to change an affiliation from one value to another.
func ValidTransition(from, to Affiliation) bool {
	if from >= numAffiliations || to >= numAffiliations {
		return false
	}
	return transitions[from][to]
}

// Actor is the entity making a request, with the facts about it that
// Authorize needs and only the caller can know.
type Actor struct {
	// JID is the requester's address (the 'from' of the IQ).
	JID jid.JID
	// Self: the requester is the account whose PEP service this is
	// (XEP-0163 §2.1); it is treated as an owner of every node, and the
	// account owner must always be allowed to subscribe and retrieve items
	// (XEP-0163 §4).
	Self bool
	// Admin: a service-wide administrator; treated as an owner of every
	// node and allowed to act for other JIDs (XEP-0060 §6.1.3.1).
	Admin bool
	// PresenceSubscribed: the node owner's roster has the requester with a
	// subscription of "from" or "both" (the owner's presence goes to the
	// requester), for the presence access model (§4.5).
	PresenceSubscribed bool
	// RosterGroups are the groups the node owner's roster puts the
	// requester in, for the roster access model (§4.5).
	RosterGroups []string
}

// owner reports whether the actor is treated as an owner of every node.
func (a *Actor) owner() bool { return a.Self || a.Admin }

// effective returns the affiliation a request is judged by.
func (a *Actor) effective(aff Affiliation) Affiliation {
	if a.owner() {
		return AffOwner
	}
	return aff
}

// Authorize decides whether the actor may perform the action on the node,
// given its affiliation with the node (of its bare JID) and the state of its
// subscription (the best of those it holds; SubNone if none). It returns nil
// or the *Error to report:
//
//   - ErrNodeNotFound if n is nil;
//   - ErrForbidden for an outcast (§6.1.3.8, §6.5.9.10), or when neither the
//     affiliation (§4.1) nor the publish model grants the action;
//   - an "unsupported" error when the node cannot do it: subscriptions
//     disabled (pubsub#subscribe), publishing to or retrieving items from a
//     collection, deleting or purging items of a node that does not persist
//     them (§6.1.3.10, §6.5.9.4-5, §7.1.3.2, §7.2.3.5, §8.5.3.3);
//   - for subscribe and retrieve by an entity without affiliation, the
//     access model's errors: ErrPresenceSubscriptionRequired,
//     ErrNotInRosterGroup, ErrClosedNode, ErrNotSubscribed (§6.1.3, §6.5.9);
//   - ErrPendingSubscription for a subscribe while one is pending
//     (§6.1.3.7).
//
// A subscribe to an authorize node by an entity without affiliation is
// allowed: the service makes it pending (§6.1.4). The checks that do not
// depend on the node (the subscriber JID matching the requester,
// §6.1.3.1) and on items (own or not) are the caller's.
func Authorize(a Actor, action Action, n *Node, aff Affiliation, sub SubState) error {
	if n == nil {
		return ErrNodeNotFound
	}
	aff = a.effective(aff)
	if aff == AffOutcast {
		return ErrForbidden.with("outcast")
	}
	cfg := &n.Config
	switch action {
	case ActionSubscribe:
		if !cfg.Subscribe {
			return Unsupported("subscribe")
		}
		if sub == SubPending {
			return ErrPendingSubscription
		}
		if aff != AffNone {
			if Allowed(aff, action) {
				return nil
			}
			return ErrForbidden.with(aff.String() + " may not subscribe")
		}
		return checkAccess(&a, cfg, action, sub)

	case ActionRetrieveItems:
		if aff != AffNone && !Allowed(aff, action) {
			return ErrForbidden.with(aff.String() + " may not retrieve items")
		}
		if n.Type == Collection {
			return Unsupported("retrieve-items")
		}
		if !cfg.PersistItems {
			return Unsupported("persistent-items")
		}
		if aff != AffNone {
			return nil
		}
		return checkAccess(&a, cfg, action, sub)

	case ActionPublish:
		if !mayPublish(aff, cfg.PublishModel, sub) {
			return ErrForbidden.with("not a publisher")
		}
		if n.Type == Collection {
			return Unsupported("publish")
		}
		return nil

	case ActionDeleteOwnItem, ActionDeleteAnyItem, ActionPurge:
		ok := Allowed(aff, action)
		if action == ActionDeleteOwnItem && !ok {
			// Whoever the publish model lets publish may delete what it
			// published.
			ok = mayPublish(aff, cfg.PublishModel, sub)
		}
		if !ok {
			return ErrForbidden.with("insufficient privileges to " + action.String())
		}
		if n.Type == Collection || !cfg.PersistItems {
			return Unsupported("persistent-items")
		}
		return nil

	default:
		if !Allowed(aff, action) {
			return ErrForbidden.with("not an owner")
		}
		return nil
	}
}

// mayPublish applies the affiliation and the publish model (§4.1,
// pubsub#publish_model).
func mayPublish(aff Affiliation, pm PublishModel, sub SubState) bool {
	if Allowed(aff, ActionPublish) {
		return true
	}
	switch pm {
	case PublishOpen:
		return aff != AffOutcast
	case PublishSubscribers:
		return sub == SubSubscribed || sub == SubUnconfigured
	}
	return false
}

// checkAccess applies the access model (§4.5, §6.1.3, §6.5.1, §6.5.9) to a
// subscribe or retrieve by an entity without affiliation.
func checkAccess(a *Actor, cfg *Config, action Action, sub SubState) error {
	switch cfg.AccessModel {
	case AccessOpen:
		return nil
	case AccessPresence:
		if a.PresenceSubscribed {
			return nil
		}
		return ErrPresenceSubscriptionRequired
	case AccessRoster:
		for _, g := range a.RosterGroups {
			if slices.Contains(cfg.RosterGroupsAllowed, g) {
				return nil
			}
		}
		return ErrNotInRosterGroup
	case AccessAuthorize:
		if action == ActionSubscribe {
			return nil // pending until an owner approves (§6.1.4)
		}
		if sub == SubSubscribed || sub == SubUnconfigured {
			return nil
		}
		return ErrNotSubscribed // includes a pending subscription (§6.5.9.3)
	case AccessWhitelist:
		return ErrClosedNode
	}
	return ErrForbidden.with("invalid access model")
}

// Implicit reports whether an entity with a presence subscription to a
// PEP service's account is implicitly subscribed to a node ("auto-subscribe",
// XEP-0060 §9.1; XEP-0163 §4.3): a.PresenceSubscribed and a.RosterGroups
// describe its place in the account's roster, aff is its affiliation with
// the node. The account itself (Actor.Self) always is; an outcast never
// is; an entity that does not share presence with the account is not
// (its notifications come from explicit subscriptions only); otherwise an
// affiliation that may retrieve items grants it, and the open, presence
// and roster access models decide for everyone else. The authorize and
// whitelist models admit only explicit subscribers and affiliates.
func Implicit(a Actor, n *Node, aff Affiliation) bool {
	if n == nil || n.Type != Leaf {
		return false
	}
	if a.Self {
		return true
	}
	if aff == AffOutcast || !a.PresenceSubscribed {
		return false
	}
	if aff != AffNone {
		return Allowed(aff, ActionRetrieveItems)
	}
	switch n.Config.AccessModel {
	case AccessOpen, AccessPresence:
		return true
	case AccessRoster:
		return checkAccess(&a, &n.Config, ActionRetrieveItems, SubNone) == nil
	}
	return false
}
