package pubsub

import (
	"math"
	"slices"
	"strconv"
)

// SubscriptionType says which events of a collection's descendants a
// subscription to the collection receives (pubsub#subscription_type,
// XEP-0248 §6.1). Subscriptions to leaf nodes receive every event of the
// node whatever their type.
type SubscriptionType uint8

// Subscription types. The zero value is invalid.
const (
	SubTypeItems SubscriptionType = iota + 1 // items published, retracted, purged
	SubTypeNodes                             // nodes created, deleted, configured
	SubTypeAll                               // both (XEP-0248 §6.1)
)

var subTypeNames = []string{SubTypeItems: "items", SubTypeNodes: "nodes", SubTypeAll: "all"}

// String returns the pubsub#subscription_type value.
func (t SubscriptionType) String() string { return enumString(subTypeNames, t) }

func (t SubscriptionType) items() bool { return t == SubTypeItems || t == SubTypeAll }
func (t SubscriptionType) nodes() bool { return t == SubTypeNodes || t == SubTypeAll }

// DepthAll is the SubOptions.Depth value "all": every descendant of the
// collection (pubsub#subscription_depth, XEP-0248 §6.1).
const DepthAll = -1

// showValues are the values of pubsub#show-values (XEP-0060 §17.4.2).
var showValues = []string{"away", "chat", "dnd", "online", "xa"}

// SubOptions are a subscription's options: the fields of the
// http://jabber.org/protocol/pubsub#subscribe_options form (XEP-0060
// §6.3, §17.4.2) and those of XEP-0248 §6.1.
//
// The service acts on Deliver, Type and Depth. ShowValues, Digest,
// DigestFrequency and IncludeBody are recorded for the XMPP layer, which
// knows the subscriber's presence and the payload format.
type SubOptions struct {
	Deliver         bool     // pubsub#deliver: receive notifications at all
	Digest          bool     // pubsub#digest
	DigestFrequency int      // pubsub#digest_frequency, milliseconds
	IncludeBody     bool     // pubsub#include_body
	ShowValues      []string // pubsub#show-values; nil means any presence
	// Type and Depth select the events of a collection's descendants; see
	// SubscriptionType and DepthAll.
	Type  SubscriptionType // pubsub#subscription_type
	Depth int              // pubsub#subscription_depth: 0 or more, or DepthAll
}

// DefaultSubOptions returns the default subscription options (XEP-0060
// §6.4): deliver, no digest, no body, any presence; for collections the
// XEP-0248 §6.1 defaults, type "nodes" and depth 1. A device that wants the
// items of every leaf below a collection asks for type "items" and depth
// "all".
func DefaultSubOptions() SubOptions {
	return SubOptions{Deliver: true, Type: SubTypeNodes, Depth: 1}
}

// Validate checks the options; it returns a *ConfigError wrapping
// ErrInvalidSubOptions (XEP-0060 §6.3.6.2).
func (o *SubOptions) Validate() error {
	bad := func(field, reason string) error {
		return &ConfigError{Field: field, Reason: reason, kind: ErrInvalidSubOptions}
	}
	if o.DigestFrequency < 0 || o.DigestFrequency > math.MaxInt32 {
		return bad("pubsub#digest_frequency", "invalid value")
	}
	if len(o.ShowValues) > len(showValues) {
		return bad("pubsub#show-values", "too many values")
	}
	for i, v := range o.ShowValues {
		if !slices.Contains(showValues, v) || slices.Contains(o.ShowValues[:i], v) {
			return bad("pubsub#show-values", "invalid or repeated value")
		}
	}
	if o.Type == 0 || int(o.Type) >= len(subTypeNames) {
		return bad("pubsub#subscription_type", "invalid value")
	}
	if o.Depth < DepthAll || o.Depth > math.MaxInt32 {
		return bad("pubsub#subscription_depth", "invalid value")
	}
	return nil
}

// ParseSubOption parses the values of one subscribe_options data form field
// (XEP-0060 §17.4.2, XEP-0248 §6.1) and returns the function that sets the
// option. Errors are *ConfigError values wrapping ErrInvalidSubOptions, and
// also ErrUnknownOption for an unknown field. The caller skips FORM_TYPE.
func ParseSubOption(name string, values []string) (apply func(*SubOptions), err error) {
	fail := func(value, reason string, cause error) (func(*SubOptions), error) {
		return nil, &ConfigError{Field: name, Value: value, Reason: reason, kind: ErrInvalidSubOptions, cause: cause}
	}
	boolField := func(f func(*SubOptions) *bool) (func(*SubOptions), error) {
		v, reason, val := parseBool(values)
		if reason != "" {
			return fail(val, reason, nil)
		}
		return func(o *SubOptions) { *f(o) = v }, nil
	}
	switch name {
	case "pubsub#deliver":
		return boolField(func(o *SubOptions) *bool { return &o.Deliver })
	case "pubsub#digest":
		return boolField(func(o *SubOptions) *bool { return &o.Digest })
	case "pubsub#include_body":
		return boolField(func(o *SubOptions) *bool { return &o.IncludeBody })
	case "pubsub#digest_frequency":
		s, reason := single(values)
		if reason != "" {
			return fail("", reason, nil)
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return fail(s, "not a non-negative integer", nil)
		}
		return func(o *SubOptions) { o.DigestFrequency = n }, nil
	case "pubsub#show-values":
		if len(values) > len(showValues) {
			return fail("", "too many values", nil)
		}
		var vs []string
		for _, v := range values {
			if !slices.Contains(showValues, v) {
				return fail(v, "unknown value", nil)
			}
			if !slices.Contains(vs, v) {
				vs = append(vs, v)
			}
		}
		return func(o *SubOptions) { o.ShowValues = vs }, nil
	case "pubsub#subscription_type":
		s, reason := single(values)
		if reason != "" {
			return fail("", reason, nil)
		}
		t, err := parseEnum[SubscriptionType](subTypeNames, name, s, ErrInvalidSubOptions)
		if err != nil {
			return fail(s, "unknown value", nil)
		}
		return func(o *SubOptions) { o.Type = t }, nil
	case "pubsub#subscription_depth":
		s, reason := single(values)
		if reason != "" {
			return fail("", reason, nil)
		}
		if s == "all" {
			return func(o *SubOptions) { o.Depth = DepthAll }, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return fail(s, "not a non-negative integer or \"all\"", nil)
		}
		return func(o *SubOptions) { o.Depth = n }, nil
	}
	return fail("", "not a subscription option", ErrUnknownOption)
}

// Form returns o as the fields of a subscribe_options form, in a
// stable order; ParseSubOption(f.Var, f.Values) sets each back.
func (o SubOptions) Form() []FormField {
	depth := strconv.Itoa(o.Depth)
	if o.Depth == DepthAll {
		depth = "all"
	}
	return []FormField{
		{Var: "pubsub#deliver", Type: FieldBoolean, Label: "Whether an entity wants to receive or disable notifications", Values: []string{formatBool(o.Deliver)}},
		{Var: "pubsub#digest", Type: FieldBoolean, Label: "Whether an entity wants to receive digests (aggregations) of notifications or all notifications individually", Values: []string{formatBool(o.Digest)}},
		{Var: "pubsub#digest_frequency", Type: FieldTextSingle, Label: "The minimum number of milliseconds between sending any two notification digests", Values: []string{strconv.Itoa(o.DigestFrequency)}},
		{Var: "pubsub#include_body", Type: FieldBoolean, Label: "Whether an entity wants to receive an XMPP message body in addition to the payload format", Values: []string{formatBool(o.IncludeBody)}},
		{Var: "pubsub#show-values", Type: FieldListMulti, Label: "The presence states for which an entity wants to receive notifications", Options: showValues, Values: cloneSlice(o.ShowValues)},
		{Var: "pubsub#subscription_type", Type: FieldListSingle, Options: []string{"items", "nodes", "all"}, Values: []string{enumString(subTypeNames, o.Type)}},
		{Var: "pubsub#subscription_depth", Type: FieldListSingle, Options: []string{"1", "all"}, Values: []string{depth}},
	}
}
