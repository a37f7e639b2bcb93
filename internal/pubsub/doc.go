// Package pubsub is mote's publish-subscribe core: nodes, affiliations,
// subscriptions, access control, items and notification fan-out as
// XEP-0060 (Publish-Subscribe), XEP-0248 (Collection Nodes) and XEP-0163
// (Personal Eventing Protocol) define them, without XML. The XMPP modules
// (the pubsub service at pubsub.<domain>, and PEP on every account)
// translate stanzas to calls of a Service and Events back to stanzas.
//
// # Pieces
//
//   - Types: Node, Config (every pubsub#node_config option, with
//     DefaultConfig, Validate, ParseOption and Form for data forms),
//     Affiliation, Subscription and SubOptions (with ParseSubOption), Item
//     (with an opaque []byte payload).
//   - Authorization: the affiliation table of XEP-0060 §4.1 as data
//     (Allowed), the affiliation state chart (ValidTransition) and one
//     function, Authorize, which applies the table, the access model and
//     the publish model to an Actor (the requester and the roster facts the
//     caller knows). Every failure is an *Error that carries its XMPP
//     condition, error type and pubsub#errors application condition.
//   - Service: one pubsub service or one PEP account. It holds nodes,
//     affiliations and subscriptions in memory, persists through a Store
//     (MemStore in memory; a SQL backend implements the same interface) and
//     hands every notification to a Notifier as one Event with its
//     recipient list.
//
// # What the caller does
//
// The XMPP layer parses requests (ParseOption, ParseSubOption,
// ParseAffiliation, ParseSubState, ParseNodeType), builds the Actor
// (looking up the node owner's roster for the presence and roster access
// models), calls the Service, renders *Error values and Events, and
// addresses notifications to resources (XEP-0060 §13.3; XEP-0163 §4.3).
// It checks payload namespaces against pubsub#type (ErrInvalidPayload),
// applies pubsub#show-values and pubsub#include_body, sends the last
// published item when a subscriber comes online (LastPublished), and runs
// ExpireItems now and then. A PEP module also notifies the account's own
// resources and the contacts that asked for a payload through entity
// capabilities (XEP-0163 §4), which are not explicit subscriptions, and
// calls RecheckAccess after roster changes (XEP-0163 §7.1).
//
// # Fan-out and concurrency
//
// Each node has its own lock; operations on different nodes run in
// parallel, and a service-wide lock is taken for writing only to create,
// delete or re-parent nodes. A publish computes no per-subscriber state:
// the recipient list of a leaf (its subscribers and those of every
// collection above it whose subscription type and depth cover it) is an
// immutable snapshot, rebuilt only after a subscription or graph change,
// and shared by the Events. Only pubsub#presence_based_delivery costs a
// pass over the list (one Options.Available call per recipient). The
// Notifier is called with the node locked, in the order of the
// operations, and must only enqueue.
//
// Storage is touched only to persist: subscriptions and affiliations are
// written through on change, items are written on publish and read on
// retrieval; nothing is read from storage to route a notification.
package pubsub
