package pubsub

import (
	"errors"
	"strconv"
	"strings"
)

// Error is a publish-subscribe failure together with the XMPP error it is
// reported as (RFC 6120 §8.3; XEP-0060 §12 and the per-use-case error
// sections). The XMPP layer renders it without a switch: the defined
// condition, the error type, and, when there is one, the application
// condition of namespace http://jabber.org/protocol/pubsub#errors with its
// 'feature' attribute.
//
// The Err variables are the distinct failures. errors.Is matches an error to
// the variable it was derived from (one carrying extra text, or an
// "unsupported" error with a particular feature), and errors.As finds the
// *Error inside the wrapping error types of this package.
type Error struct {
	condition string
	typ       string
	app       string
	feature   string
	text      string
	kind      *Error // the Err variable this one was derived from; nil for those
}

// Condition returns the RFC 6120 §8.3.3 defined condition, such as
// "forbidden" or "item-not-found".
func (e *Error) Condition() string { return e.condition }

// Type returns the RFC 6120 §8.3.2 error type: "auth", "cancel", "modify"
// or "wait".
func (e *Error) Type() string { return e.typ }

// App returns the name of the pubsub#errors application condition element
// (XEP-0060 §18.2 schema), such as "closed-node", or "" if there is none.
func (e *Error) App() string { return e.app }

// Feature returns the value of the 'feature' attribute of an "unsupported"
// application condition, or "".
func (e *Error) Feature() string { return e.feature }

// Text returns the human-readable detail, or "". It is meant for logs and,
// if the XMPP layer chooses, the <text/> element.
func (e *Error) Text() string { return e.text }

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pubsub: ")
	b.WriteString(e.condition)
	if e.app != "" {
		b.WriteString(" (")
		b.WriteString(e.app)
		if e.feature != "" {
			b.WriteString(" ")
			b.WriteString(e.feature)
		}
		b.WriteString(")")
	}
	if e.text != "" {
		b.WriteString(": ")
		b.WriteString(e.text)
	}
	return b.String()
}

// Is reports whether target is the Err variable e was derived from.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.root() == e.root()
}

func (e *Error) root() *Error {
	if e.kind != nil {
		return e.kind
	}
	return e
}

// with returns a copy of e carrying text.
func (e *Error) with(text string) *Error {
	c := *e
	c.text = text
	c.kind = e.root()
	return &c
}

// Unsupported returns the feature-not-implemented error with the
// pubsub#errors condition <unsupported feature='…'/> (XEP-0060 §18.2), for
// example Unsupported("persistent-items"). errors.Is(err, ErrUnsupported)
// holds for every such error.
func Unsupported(feature string) *Error {
	c := *ErrUnsupported
	c.feature = feature
	c.kind = ErrUnsupported
	return &c
}

func newError(cond, typ, app, text string) *Error {
	return &Error{condition: cond, typ: typ, app: app, text: text}
}

// The failures, each with the XMPP error of the XEP-0060 section that names
// it.
var (
	// ErrBadRequest: a malformed request (bad-request).
	ErrBadRequest = newError("bad-request", "modify", "", "")
	// ErrInvalidJID: the subscriber JID's bare part differs from the
	// requester's (§6.1.3.1).
	ErrInvalidJID = newError("bad-request", "modify", "invalid-jid", "")
	// ErrJIDRequired: no subscriber JID was given (§6.3.4.3).
	ErrJIDRequired = newError("bad-request", "modify", "jid-required", "")
	// ErrSubIDRequired: the entity has several subscriptions and gave no
	// SubID (§6.2.3.1, §6.3.4.4, §6.5.9.1).
	ErrSubIDRequired = newError("bad-request", "modify", "subid-required", "")
	// ErrNodeIDRequired: the request names no node (§7.2.3.3, §8.2.3.3).
	ErrNodeIDRequired = newError("bad-request", "modify", "nodeid-required", "")
	// ErrItemRequired: a persistent node got a publish without an item, or a
	// retract without an ItemID (§7.1.3.7, §7.2.3.4).
	ErrItemRequired = newError("bad-request", "modify", "item-required", "")
	// ErrItemForbidden: a transient notification-only node got an item
	// (§7.1.3.7).
	ErrItemForbidden = newError("bad-request", "modify", "item-forbidden", "")
	// ErrPayloadRequired: a payload node got an item without a payload
	// (§7.1.3.7).
	ErrPayloadRequired = newError("bad-request", "modify", "payload-required", "")
	// ErrInvalidPayload: the payload does not match the node (§7.1.3.6);
	// detected by the XMPP layer, which sees the XML.
	ErrInvalidPayload = newError("bad-request", "modify", "invalid-payload", "")
	// ErrInvalidSubOptions: invalid subscription options (§6.3.6.2).
	ErrInvalidSubOptions = newError("bad-request", "modify", "invalid-options", "")

	// ErrForbidden: insufficient privileges, acting for another JID, or an
	// outcast (§12; §6.1.3.8, §7.1.3.1, §8.2.3.2, …).
	ErrForbidden = newError("forbidden", "auth", "", "")

	// ErrNodeNotFound: the node does not exist (§6.1.3.12, §7.1.3.3, …).
	ErrNodeNotFound = newError("item-not-found", "cancel", "", "node does not exist")
	// ErrItemNotFound: the item does not exist (§7.2.3.2), or a paging
	// cursor names no item (XEP-0059 §2.5).
	ErrItemNotFound = newError("item-not-found", "cancel", "", "item does not exist")

	// ErrConflict: the NodeID already exists (§8.1.1).
	ErrConflict = newError("conflict", "cancel", "", "")
	// ErrNodeFull: the node holds max_items and publish_node_full is
	// "reject" (§7.1.3.4).
	ErrNodeFull = newError("conflict", "cancel", "node-full", "")
	// ErrPreconditionNotMet: a publish-options precondition does not hold
	// (§7.1.5).
	ErrPreconditionNotMet = newError("conflict", "cancel", "precondition-not-met", "")

	// ErrNotAcceptable: a configuration that cannot be applied (§8.2.5.2),
	// such as invalid option values or removing the last owner (§8.9.2).
	ErrNotAcceptable = newError("not-acceptable", "modify", "", "")
	// ErrInvalidSubID: the SubID is not one of the entity's subscriptions
	// (§6.2.3.5, §6.3.4.5, §6.5.9.2).
	ErrInvalidSubID = newError("not-acceptable", "modify", "invalid-subid", "")
	// ErrConfigurationRequired: the subscription must be configured when it
	// is made (§6.1.5). This package answers with the "unconfigured" state
	// instead; the variable is for XMPP layers that cannot.
	ErrConfigurationRequired = newError("not-acceptable", "modify", "configuration-required", "")
	// ErrPayloadTooBig: the payload exceeds the size limit (§7.1.3.5).
	ErrPayloadTooBig = newError("not-acceptable", "modify", "payload-too-big", "")
	// ErrUnsupportedAccessModel: an unknown access model (§8.1.2).
	ErrUnsupportedAccessModel = newError("not-acceptable", "modify", "unsupported-access-model", "")

	// ErrPresenceSubscriptionRequired: presence access model, and the
	// requester is not subscribed to the owner's presence (§6.1.3.2).
	ErrPresenceSubscriptionRequired = newError("not-authorized", "auth", "presence-subscription-required", "")
	// ErrNotInRosterGroup: roster access model, and the requester is in none
	// of the allowed groups (§6.1.3.3).
	ErrNotInRosterGroup = newError("not-authorized", "auth", "not-in-roster-group", "")
	// ErrPendingSubscription: the requester's subscription awaits approval
	// (§6.1.3.7).
	ErrPendingSubscription = newError("not-authorized", "auth", "pending-subscription", "")
	// ErrNotSubscribed: authorize access model, and the requester is not
	// subscribed (§6.5.9.3).
	ErrNotSubscribed = newError("not-authorized", "auth", "not-subscribed", "")

	// ErrNoSuchSubscriber: the JID has no subscription to the node
	// (§6.2.3.2, §6.3.4.2).
	ErrNoSuchSubscriber = newError("unexpected-request", "cancel", "not-subscribed", "")

	// ErrNotAllowed: the action is disabled for the node.
	ErrNotAllowed = newError("not-allowed", "cancel", "", "")
	// ErrClosedNode: whitelist access model, and the requester is not on
	// the whitelist (§6.1.3.4, §6.5.9.8).
	ErrClosedNode = newError("not-allowed", "cancel", "closed-node", "")
	// ErrInvalidOptions: a collection graph change that XEP-0248 forbids: a
	// leaf as parent, a cycle (XEP-0248 §7.2.3).
	ErrInvalidOptions = newError("not-allowed", "cancel", "invalid-options", "")
	// ErrMaxItemsExceeded: a batch publish larger than max_items (§13.11).
	ErrMaxItemsExceeded = newError("not-allowed", "cancel", "max-items-exceeded", "")
	// ErrMaxNodesExceeded: too many nodes: a collection's children_max
	// (XEP-0248 §7.2.3.3), or the service's node limits.
	ErrMaxNodesExceeded = newError("not-allowed", "cancel", "max-nodes-exceeded", "")

	// ErrTooManySubscriptions: a subscription limit is reached (§6.1.3.9).
	ErrTooManySubscriptions = newError("policy-violation", "wait", "too-many-subscriptions", "")

	// ErrUnsupported is the "unsupported" failure without a feature; use
	// Unsupported to name one (§6.1.3.10, §6.5.9.4, §7.1.3.2, …).
	ErrUnsupported = newError("feature-not-implemented", "cancel", "unsupported", "")
)

// ErrUnknownOption is wrapped by the *ConfigError for a field name that is
// not a known option. Publish-options preconditions with unknown fields
// must be rejected (§7.1.5); configuration forms may ignore them.
var ErrUnknownOption = errors.New("pubsub: unknown option")

// ErrNodeOption is wrapped by the *ConfigError for the options that describe
// the node rather than its configuration: pubsub#node_type,
// pubsub#collection and pubsub#children (XEP-0248 §7.2). Parse those with
// ParseNodeType and pass them to CreateNode or SetParents.
var ErrNodeOption = errors.New("pubsub: node structure option")

// ConfigError reports an invalid node configuration or subscription option
// value. It wraps ErrNotAcceptable (node configuration, §8.2.5.2),
// ErrUnsupportedAccessModel (§8.1.2) or ErrInvalidSubOptions (§6.3.6.2), and
// for unknown fields also ErrUnknownOption or ErrNodeOption.
type ConfigError struct {
	Field  string // option name, such as "pubsub#max_items"
	Value  string // offending value, "" if not applicable
	Reason string
	kind   *Error
	cause  error
}

// Error implements the error interface.
func (e *ConfigError) Error() string {
	s := "pubsub: " + e.Field
	if e.Value != "" {
		s += " " + quote(e.Value)
	}
	return s + ": " + e.Reason
}

// Unwrap returns the *Error the failure is reported as and, if any, the
// cause (ErrUnknownOption, ErrNodeOption).
func (e *ConfigError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func quote(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return "\"" + s + "\""
}

// PartialError is returned by SetSubscriptions and SetAffiliations when
// some of the requested changes were invalid (§8.8.2.4, §8.9.2.4): the
// others were applied. It lists the failed entries as they are now
// (unchanged) and wraps the *Error to report, usually ErrNotAcceptable.
type PartialError struct {
	Subscriptions []Subscription // failed subscription changes, current state
	Affiliations  []Affiliated   // failed affiliation changes, current affiliation
	Err           *Error
}

// Error implements the error interface.
func (e *PartialError) Error() string {
	return e.Err.Error() + " (" + strconv.Itoa(len(e.Subscriptions)+len(e.Affiliations)) + " entries failed)"
}

// Unwrap returns the *Error.
func (e *PartialError) Unwrap() error { return e.Err }
