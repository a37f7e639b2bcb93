// Package xmlstream is mote's restricted-XML framer: it turns the bytes of
// an XMPP stream into a stream header and a sequence of top-level elements
// (RFC 6120 §4, §11), enforcing limits while it reads.
package xmlstream

import (
	"github.com/mote-xmpp/mote/stanza"
)

// Limits bound what one peer can make the framer hold. Every limit is
// enforced while streaming: an oversized token is rejected before it
// completes. A zero field means "no limit" (only for tests).
type Limits struct {
	MaxStanzaBytes int // bytes of one top-level element, markup included
	MaxDepth       int // nesting depth inside a top-level element (the element itself is depth 1)
	MaxChildren    int // child elements of one element
	MaxAttrs       int // attributes of one element, namespace declarations excluded
	MaxNamespaces  int // namespace declarations on one element
	MaxTokenBytes  int // bytes of one token: a start or end tag, or one run of character data
}

// PreAuthLimits are the defaults before authentication.
var PreAuthLimits = Limits{
	MaxStanzaBytes: 10 << 10,
	MaxDepth:       32,
	MaxChildren:    64,
	MaxAttrs:       32,
	MaxNamespaces:  16,
	MaxTokenBytes:  8 << 10,
}

// DefaultLimits are the defaults after authentication.
var DefaultLimits = Limits{
	MaxStanzaBytes: 256 << 10,
	MaxDepth:       32,
	MaxChildren:    1024,
	MaxAttrs:       64,
	MaxNamespaces:  32,
	MaxTokenBytes:  128 << 10,
}

// EventKind says what Next returned.
type EventKind uint8

// Event kinds.
const (
	// StreamStart: the opening <stream:stream> tag. Event.Elem holds its
	// name ({NSStream}stream when the peer used the right namespace) and
	// attributes; Event.DefaultNS holds the content namespace declared with
	// xmlns (jabber:client for c2s).
	StreamStart EventKind = iota + 1
	// Element: one complete top-level element (a stanza or a stream-level
	// element such as <starttls/> or <auth/>), namespaces resolved.
	Element
	// StreamEnd: the closing </stream:stream> tag.
	StreamEnd
)

// Event is one result of Decoder.Next.
type Event struct {
	Kind      EventKind
	Elem      *stanza.Element
	DefaultNS string // StreamStart only
}

// Error is a framing error; Condition is the stream error the peer must get
// (RFC 6120 §4.9.3): not-well-formed, restricted-xml (§11.1),
// unsupported-encoding (§11.6), policy-violation (limits), bad-format,
// invalid-namespace or bad-namespace-prefix as applicable.
type Error struct {
	Condition stanza.StreamCondition
	Msg       string
}

func (e *Error) Error() string { return "xmlstream: " + string(e.Condition) + ": " + e.Msg }

// StreamError returns the stream error to send for e.
func (e *Error) StreamError() *stanza.StreamError {
	return &stanza.StreamError{Condition: e.Condition, Text: e.Msg}
}
