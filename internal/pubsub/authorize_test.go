package pubsub

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mote-xmpp/mote/jid"
)

// spec41 transcribes the table "Affiliations and their Privileges" of
// XEP-0060 §4.1, with "Delete Single Item" split into own and any item (the
// footnote: a publisher may delete any item, publish-only only its own) and
// the owner-only use cases of §8.6-8.9 appended. Columns: subscribe,
// retrieve items, publish, delete own item, delete any item, purge,
// configure, delete node, manage subscriptions, manage affiliations.
var spec41 = map[Affiliation]string{
	AffOwner:       "YYYYYYYYYY",
	AffPublisher:   "YYYYYYNNNN",
	AffPublishOnly: "NNYYNNNNNN",
	AffMember:      "YYNNNNNNNN",
	AffNone:        "YNNNNNNNNN",
	AffOutcast:     "NNNNNNNNNN",
}

var allActions = []Action{
	ActionSubscribe, ActionRetrieveItems, ActionPublish, ActionDeleteOwnItem, ActionDeleteAnyItem,
	ActionPurge, ActionConfigure, ActionDeleteNode, ActionManageSubscriptions, ActionManageAffiliations,
}

var allAffiliations = []Affiliation{AffOwner, AffPublisher, AffPublishOnly, AffMember, AffNone, AffOutcast}

func TestCapabilityTable(t *testing.T) {
	if len(allActions) != int(numActions) || len(allAffiliations) != int(numAffiliations) {
		t.Fatal("test tables out of date")
	}
	for _, aff := range allAffiliations {
		row := spec41[aff]
		for i, act := range allActions {
			want := row[i] == 'Y'
			if got := Allowed(aff, act); got != want {
				t.Errorf("Allowed(%v, %v) = %t, want %t", aff, act, got, want)
			}
		}
	}
	if Allowed(numAffiliations, ActionSubscribe) || Allowed(AffOwner, numActions) {
		t.Error("out-of-range values allowed")
	}
}

// TestAuthorizeTable checks every cell of §4.1 through Authorize on a
// persistent leaf with the open access model and the publishers publish
// model: the table holds, except that the open model lets an entity
// without affiliation retrieve items (§4.5, §6.5.1).
func TestAuthorizeTable(t *testing.T) {
	n := &Node{ID: "n", Config: DefaultConfig()}
	a := Actor{JID: jid.MustParse("x@example.com/r")}
	for _, aff := range allAffiliations {
		for i, act := range allActions {
			want := spec41[aff][i] == 'Y'
			if aff == AffNone && act == ActionRetrieveItems {
				want = true
			}
			err := Authorize(a, act, n, aff, SubNone)
			switch {
			case want && err != nil:
				t.Errorf("%v %v: %v, want allowed", aff, act, err)
			case !want && !errors.Is(err, ErrForbidden):
				t.Errorf("%v %v: %v, want forbidden", aff, act, err)
			}
		}
	}
	// Self (a PEP account) and administrators act as owners.
	for _, a := range []Actor{{JID: a.JID, Self: true}, {JID: a.JID, Admin: true}} {
		for _, act := range allActions {
			if err := Authorize(a, act, n, AffNone, SubNone); err != nil {
				t.Errorf("self/admin %v: %v", act, err)
			}
		}
	}
}

// TestAccessModels checks subscribe and retrieve under each access model
// (§4.5, §6.1.3, §6.5.1, §6.5.9) for each relationship of the requester to
// the node and its owner.
func TestAccessModels(t *testing.T) {
	x := jid.MustParse("x@example.com/r")
	type rel struct {
		name string
		a    Actor
		aff  Affiliation
		sub  SubState
	}
	rels := []rel{
		{"stranger", Actor{JID: x}, AffNone, SubNone},
		{"presence", Actor{JID: x, PresenceSubscribed: true}, AffNone, SubNone},
		{"in-group", Actor{JID: x, RosterGroups: []string{"Work", "Friends"}}, AffNone, SubNone},
		{"other-group", Actor{JID: x, PresenceSubscribed: true, RosterGroups: []string{"Work"}}, AffNone, SubNone},
		{"member", Actor{JID: x}, AffMember, SubNone},
		{"publisher", Actor{JID: x}, AffPublisher, SubNone},
		{"owner", Actor{JID: x}, AffOwner, SubNone},
		{"self", Actor{JID: x, Self: true}, AffNone, SubNone},
		{"subscribed", Actor{JID: x}, AffNone, SubSubscribed},
		{"pending", Actor{JID: x}, AffNone, SubPending},
		{"outcast", Actor{JID: x, PresenceSubscribed: true, RosterGroups: []string{"Friends"}}, AffOutcast, SubNone},
	}
	const (
		ok   = "ok"
		psr  = "presence-subscription-required"
		nirg = "not-in-roster-group"
		ns   = "not-subscribed"
		cn   = "closed-node"
		pend = "pending-subscription"
		forb = "forbidden"
	)
	errs := map[string]error{psr: ErrPresenceSubscriptionRequired, nirg: ErrNotInRosterGroup, ns: ErrNotSubscribed,
		cn: ErrClosedNode, pend: ErrPendingSubscription, forb: ErrForbidden}
	// want[model][relationship] = {subscribe, retrieve}
	want := map[AccessModel]map[string][2]string{
		AccessOpen: {
			"stranger": {ok, ok}, "presence": {ok, ok}, "in-group": {ok, ok}, "other-group": {ok, ok},
			"member": {ok, ok}, "publisher": {ok, ok}, "owner": {ok, ok}, "self": {ok, ok},
			"subscribed": {ok, ok}, "pending": {pend, ok}, "outcast": {forb, forb},
		},
		AccessPresence: {
			"stranger": {psr, psr}, "presence": {ok, ok}, "in-group": {psr, psr}, "other-group": {ok, ok},
			"member": {ok, ok}, "publisher": {ok, ok}, "owner": {ok, ok}, "self": {ok, ok},
			"subscribed": {psr, psr}, "pending": {pend, psr}, "outcast": {forb, forb},
		},
		AccessRoster: {
			"stranger": {nirg, nirg}, "presence": {nirg, nirg}, "in-group": {ok, ok}, "other-group": {nirg, nirg},
			"member": {ok, ok}, "publisher": {ok, ok}, "owner": {ok, ok}, "self": {ok, ok},
			"subscribed": {nirg, nirg}, "pending": {pend, nirg}, "outcast": {forb, forb},
		},
		AccessAuthorize: {
			"stranger": {ok, ns}, "presence": {ok, ns}, "in-group": {ok, ns}, "other-group": {ok, ns},
			"member": {ok, ok}, "publisher": {ok, ok}, "owner": {ok, ok}, "self": {ok, ok},
			"subscribed": {ok, ok}, "pending": {pend, ns}, "outcast": {forb, forb},
		},
		AccessWhitelist: {
			"stranger": {cn, cn}, "presence": {cn, cn}, "in-group": {cn, cn}, "other-group": {cn, cn},
			"member": {ok, ok}, "publisher": {ok, ok}, "owner": {ok, ok}, "self": {ok, ok},
			"subscribed": {cn, cn}, "pending": {pend, cn}, "outcast": {forb, forb},
		},
	}
	for model, rows := range want {
		cfg := DefaultConfig()
		cfg.AccessModel = model
		cfg.RosterGroupsAllowed = []string{"Friends", "Family"}
		n := &Node{ID: "n", Config: cfg}
		for _, r := range rels {
			exp, found := rows[r.name]
			if !found {
				t.Fatalf("%v: no expectation for %s", model, r.name)
			}
			for i, act := range []Action{ActionSubscribe, ActionRetrieveItems} {
				err := Authorize(r.a, act, n, r.aff, r.sub)
				if exp[i] == ok {
					if err != nil {
						t.Errorf("%v, %s, %v: %v, want allowed", model, r.name, act, err)
					}
					continue
				}
				if !errors.Is(err, errs[exp[i]]) {
					t.Errorf("%v, %s, %v: %v, want %s", model, r.name, act, err, exp[i])
				}
			}
		}
	}
}

func TestAuthorizeNodeFeatures(t *testing.T) {
	a := Actor{JID: jid.MustParse("o@example.com")}
	coll := &Node{ID: "c", Type: Collection, Config: DefaultConfig()}
	transient := &Node{ID: "t", Config: DefaultConfig()}
	transient.Config.PersistItems = false
	closed := &Node{ID: "s", Config: DefaultConfig()}
	closed.Config.Subscribe = false

	tests := []struct {
		n       *Node
		act     Action
		feature string
	}{
		{coll, ActionPublish, "publish"},
		{coll, ActionRetrieveItems, "retrieve-items"},
		{coll, ActionPurge, "persistent-items"},
		{coll, ActionDeleteOwnItem, "persistent-items"},
		{transient, ActionRetrieveItems, "persistent-items"},
		{transient, ActionPurge, "persistent-items"},
		{transient, ActionDeleteAnyItem, "persistent-items"},
		{closed, ActionSubscribe, "subscribe"},
	}
	for _, tt := range tests {
		err := Authorize(a, tt.act, tt.n, AffOwner, SubNone)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrUnsupported) || e.Feature() != tt.feature {
			t.Errorf("%s %v: %v, want unsupported %s", tt.n.ID, tt.act, err, tt.feature)
		}
	}
	for _, act := range []Action{ActionSubscribe, ActionConfigure, ActionDeleteNode, ActionManageSubscriptions} {
		if err := Authorize(a, act, coll, AffOwner, SubNone); err != nil {
			t.Errorf("collection %v: %v", act, err)
		}
	}
	if err := Authorize(a, ActionPublish, transient, AffOwner, SubNone); err != nil {
		t.Errorf("publish to a transient node: %v", err)
	}
	if err := Authorize(a, ActionPublish, nil, AffOwner, SubNone); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("nil node: %v", err)
	}
}

func TestPublishModels(t *testing.T) {
	a := Actor{JID: jid.MustParse("x@example.com")}
	cases := []struct {
		model PublishModel
		aff   Affiliation
		sub   SubState
		ok    bool
	}{
		{PublishPublishers, AffNone, SubSubscribed, false},
		{PublishPublishers, AffMember, SubNone, false},
		{PublishPublishers, AffPublishOnly, SubNone, true},
		{PublishSubscribers, AffNone, SubSubscribed, true},
		{PublishSubscribers, AffNone, SubPending, false},
		{PublishSubscribers, AffMember, SubNone, false},
		{PublishOpen, AffNone, SubNone, true},
		{PublishOpen, AffOutcast, SubNone, false},
	}
	for _, c := range cases {
		n := &Node{ID: "n", Config: DefaultConfig()}
		n.Config.PublishModel = c.model
		err := Authorize(a, ActionPublish, n, c.aff, c.sub)
		if (err == nil) != c.ok {
			t.Errorf("%v %v %v: %v", c.model, c.aff, c.sub, err)
		}
		// Whoever may publish may delete its own items, not others'.
		own := Authorize(a, ActionDeleteOwnItem, n, c.aff, c.sub)
		if (own == nil) != c.ok {
			t.Errorf("%v %v %v delete own: %v", c.model, c.aff, c.sub, own)
		}
		if c.aff != AffPublisher && Authorize(a, ActionDeleteAnyItem, n, c.aff, c.sub) == nil {
			t.Errorf("%v %v %v may delete any item", c.model, c.aff, c.sub)
		}
	}
}

// TestTransitions checks the "Affiliation State Chart" of §4.1.
func TestTransitions(t *testing.T) {
	// chart[from] lists the allowed targets among outcast, none, member,
	// publisher, owner, as the chart's cells say ("n/a" is not allowed).
	order := []Affiliation{AffOutcast, AffNone, AffMember, AffPublisher, AffOwner}
	chart := map[Affiliation]string{
		AffOutcast:   "YYYYY",
		AffNone:      "YYYYY",
		AffMember:    "YYYYY",
		AffPublisher: "YYNYY",
		AffOwner:     "NYNNY",
	}
	for from, row := range chart {
		for i, to := range order {
			if got, want := ValidTransition(from, to), row[i] == 'Y'; got != want {
				t.Errorf("%v -> %v: %t, want %t", from, to, got, want)
			}
		}
	}
	if ValidTransition(AffOwner, AffPublishOnly) || !ValidTransition(AffPublisher, AffPublishOnly) {
		t.Error("publish-only transitions")
	}
	if ValidTransition(numAffiliations, AffNone) {
		t.Error("out of range")
	}
}

// TestErrorConditions checks each error against the XMPP error XEP-0060's
// examples give it (condition, type, pubsub#errors condition).
func TestErrorConditions(t *testing.T) {
	tests := []struct {
		err            *Error
		cond, typ, app string
	}{
		{ErrBadRequest, "bad-request", "modify", ""},
		{ErrInvalidJID, "bad-request", "modify", "invalid-jid"},
		{ErrJIDRequired, "bad-request", "modify", "jid-required"},
		{ErrSubIDRequired, "bad-request", "modify", "subid-required"},
		{ErrNodeIDRequired, "bad-request", "modify", "nodeid-required"},
		{ErrItemRequired, "bad-request", "modify", "item-required"},
		{ErrItemForbidden, "bad-request", "modify", "item-forbidden"},
		{ErrPayloadRequired, "bad-request", "modify", "payload-required"},
		{ErrInvalidPayload, "bad-request", "modify", "invalid-payload"},
		{ErrInvalidSubOptions, "bad-request", "modify", "invalid-options"},
		{ErrForbidden, "forbidden", "auth", ""},
		{ErrNodeNotFound, "item-not-found", "cancel", ""},
		{ErrItemNotFound, "item-not-found", "cancel", ""},
		{ErrConflict, "conflict", "cancel", ""},
		{ErrNodeFull, "conflict", "cancel", "node-full"},
		{ErrPreconditionNotMet, "conflict", "cancel", "precondition-not-met"},
		{ErrNotAcceptable, "not-acceptable", "modify", ""},
		{ErrInvalidSubID, "not-acceptable", "modify", "invalid-subid"},
		{ErrConfigurationRequired, "not-acceptable", "modify", "configuration-required"},
		{ErrPayloadTooBig, "not-acceptable", "modify", "payload-too-big"},
		{ErrUnsupportedAccessModel, "not-acceptable", "modify", "unsupported-access-model"},
		{ErrPresenceSubscriptionRequired, "not-authorized", "auth", "presence-subscription-required"},
		{ErrNotInRosterGroup, "not-authorized", "auth", "not-in-roster-group"},
		{ErrPendingSubscription, "not-authorized", "auth", "pending-subscription"},
		{ErrNotSubscribed, "not-authorized", "auth", "not-subscribed"},
		{ErrNoSuchSubscriber, "unexpected-request", "cancel", "not-subscribed"},
		{ErrNotAllowed, "not-allowed", "cancel", ""},
		{ErrClosedNode, "not-allowed", "cancel", "closed-node"},
		{ErrInvalidOptions, "not-allowed", "cancel", "invalid-options"},
		{ErrMaxItemsExceeded, "not-allowed", "cancel", "max-items-exceeded"},
		{ErrMaxNodesExceeded, "not-allowed", "cancel", "max-nodes-exceeded"},
		{ErrTooManySubscriptions, "policy-violation", "wait", "too-many-subscriptions"},
		{ErrUnsupported, "feature-not-implemented", "cancel", "unsupported"},
	}
	for _, tt := range tests {
		e := tt.err
		if e.Condition() != tt.cond || e.Type() != tt.typ || e.App() != tt.app {
			t.Errorf("%v: got %s/%s/%s, want %s/%s/%s", e, e.Condition(), e.Type(), e.App(), tt.cond, tt.typ, tt.app)
		}
		// Derived errors keep the identity and the rendering.
		d := e.with("detail")
		if !errors.Is(d, e) || d.Condition() != tt.cond || d.App() != tt.app || d.Text() != "detail" {
			t.Errorf("%v: derived error lost its identity", e)
		}
		for _, o := range tests {
			if o.err != e && errors.Is(d, o.err) {
				t.Errorf("%v matches %v", d, o.err)
			}
		}
	}
	u := Unsupported("purge-nodes")
	if !errors.Is(u, ErrUnsupported) || u.Feature() != "purge-nodes" || u.App() != "unsupported" {
		t.Errorf("Unsupported: %v", u)
	}
	if got := u.Error(); got != "pubsub: feature-not-implemented (unsupported purge-nodes)" {
		t.Errorf("Error() = %q", got)
	}
	// The XMPP layer finds the *Error behind every error type of the
	// package.
	for _, err := range []error{
		&ConfigError{Field: "f", Reason: "r", kind: ErrNotAcceptable, cause: ErrUnknownOption},
		&PartialError{Err: ErrNotAcceptable},
		fmt.Errorf("wrapped: %w", ErrClosedNode),
	} {
		var e *Error
		if !errors.As(err, &e) || e.Condition() == "" {
			t.Errorf("%v: no *Error", err)
		}
	}
}

func TestImplicit(t *testing.T) {
	leaf := func(am AccessModel, groups ...string) *Node {
		n := &Node{ID: "n", Type: Leaf, Config: DefaultConfig()}
		n.Config.AccessModel, n.Config.RosterGroupsAllowed = am, groups
		return n
	}
	contact := Actor{PresenceSubscribed: true, RosterGroups: []string{"friends"}}
	stranger := Actor{}
	self := Actor{Self: true}
	coll := &Node{ID: "c", Type: Collection, Config: DefaultConfig()}
	for _, tc := range []struct {
		name string
		a    Actor
		n    *Node
		aff  Affiliation
		want bool
	}{
		{"self, whitelist", self, leaf(AccessWhitelist), AffNone, true},
		{"contact, presence", contact, leaf(AccessPresence), AffNone, true},
		{"contact, open", contact, leaf(AccessOpen), AffNone, true},
		{"stranger, open", stranger, leaf(AccessOpen), AffNone, false},
		{"stranger, presence", stranger, leaf(AccessPresence), AffNone, false},
		{"contact in group, roster", contact, leaf(AccessRoster, "friends"), AffNone, true},
		{"contact not in group, roster", contact, leaf(AccessRoster, "family"), AffNone, false},
		{"contact, authorize", contact, leaf(AccessAuthorize), AffNone, false},
		{"contact, whitelist", contact, leaf(AccessWhitelist), AffNone, false},
		{"member contact, whitelist", contact, leaf(AccessWhitelist), AffMember, true},
		{"publish-only contact, whitelist", contact, leaf(AccessWhitelist), AffPublishOnly, false},
		{"outcast contact, presence", contact, leaf(AccessPresence), AffOutcast, false},
		{"member stranger, whitelist", stranger, leaf(AccessWhitelist), AffMember, false},
		{"collection", contact, coll, AffNone, false},
		{"no node", contact, nil, AffNone, false},
	} {
		if got := Implicit(tc.a, tc.n, tc.aff); got != tc.want {
			t.Errorf("%s: Implicit = %v, want %v", tc.name, got, tc.want)
		}
	}
}
