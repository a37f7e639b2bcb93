// Package stanza holds the XML element tree that mote routes, the stanza
// kinds of RFC 6120 §8, and typed stanza and stream errors (RFC 6120 §8.3,
// §4.9).
//
// An Element is produced by the framer in internal/xmlstream and always
// re-serialised from the tree with full escaping: raw input bytes are never
// forwarded to another connection.
package stanza

import (
	"strings"
)

// Well-known namespaces (RFC 6120, RFC 6121).
const (
	NSClient  = "jabber:client"
	NSServer  = "jabber:server"
	NSStream  = "http://etherx.jabber.org/streams"
	NSStreams = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession = "urn:ietf:params:xml:ns:xmpp-session"
	NSXML     = "http://www.w3.org/XML/1998/namespace"
	NSXMLNS   = "http://www.w3.org/2000/xmlns/"
)

// Attr is one attribute. Space is the resolved namespace URI of a prefixed
// attribute ("" for an unprefixed one, NSXML for xml:lang). Namespace
// declarations are not attributes: they are implied by the names in the tree
// and written back by the serialiser.
type Attr struct {
	Space string
	Local string
	Value string
}

// Node is one child of an Element: either an element (Elem != nil) or a run
// of character data (Elem == nil, Text holds the unescaped text).
type Node struct {
	Elem *Element
	Text string
}

// Element is an XML element with its namespace resolved.
//
// An Element must not be modified while another goroutine reads it. The
// router hands the same element to one receiver at a time; code that needs
// to change a shared element (for example to stamp from/to) works on a
// ShallowCopy.
type Element struct {
	Space    string // namespace URI
	Local    string // local name
	Attrs    []Attr
	Children []Node
}

// NewElement returns an element with the given namespace and local name and
// unprefixed attributes given as name/value pairs.
func NewElement(space, local string, attrs ...string) *Element {
	e := &Element{Space: space, Local: local}
	if len(attrs)%2 != 0 {
		panic("stanza: NewElement needs attribute name/value pairs")
	}
	if len(attrs) > 0 {
		e.Attrs = make([]Attr, 0, len(attrs)/2)
		for i := 0; i < len(attrs); i += 2 {
			e.Attrs = append(e.Attrs, Attr{Local: attrs[i], Value: attrs[i+1]})
		}
	}
	return e
}

// Attr returns the value of the unprefixed attribute named local, or "".
func (e *Element) Attr(local string) string {
	for i := range e.Attrs {
		if e.Attrs[i].Local == local && e.Attrs[i].Space == "" {
			return e.Attrs[i].Value
		}
	}
	return ""
}

// AttrNS returns the value of the attribute {space}local, or "".
func (e *Element) AttrNS(space, local string) string {
	for i := range e.Attrs {
		if e.Attrs[i].Local == local && e.Attrs[i].Space == space {
			return e.Attrs[i].Value
		}
	}
	return ""
}

// HasAttr reports whether the unprefixed attribute named local is present.
func (e *Element) HasAttr(local string) bool {
	for i := range e.Attrs {
		if e.Attrs[i].Local == local && e.Attrs[i].Space == "" {
			return true
		}
	}
	return false
}

// SetAttr sets the unprefixed attribute local to value, adding it when absent.
func (e *Element) SetAttr(local, value string) {
	for i := range e.Attrs {
		if e.Attrs[i].Local == local && e.Attrs[i].Space == "" {
			e.Attrs[i].Value = value
			return
		}
	}
	e.Attrs = append(e.Attrs, Attr{Local: local, Value: value})
}

// RemoveAttr removes the unprefixed attribute local if present.
func (e *Element) RemoveAttr(local string) {
	for i := range e.Attrs {
		if e.Attrs[i].Local == local && e.Attrs[i].Space == "" {
			e.Attrs = append(e.Attrs[:i:i], e.Attrs[i+1:]...)
			return
		}
	}
}

// Child returns the first child element named {space}local, or nil.
// An empty space matches any namespace.
func (e *Element) Child(space, local string) *Element {
	for _, n := range e.Children {
		if n.Elem != nil && n.Elem.Local == local && (space == "" || n.Elem.Space == space) {
			return n.Elem
		}
	}
	return nil
}

// FirstChild returns the first child element, or nil.
func (e *Element) FirstChild() *Element {
	for _, n := range e.Children {
		if n.Elem != nil {
			return n.Elem
		}
	}
	return nil
}

// ChildElements returns the element children in document order.
func (e *Element) ChildElements() []*Element {
	var out []*Element
	for _, n := range e.Children {
		if n.Elem != nil {
			out = append(out, n.Elem)
		}
	}
	return out
}

// CountChildElements returns how many element children e has.
func (e *Element) CountChildElements() int {
	c := 0
	for _, n := range e.Children {
		if n.Elem != nil {
			c++
		}
	}
	return c
}

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string {
	switch len(e.Children) {
	case 0:
		return ""
	case 1:
		return e.Children[0].Text
	}
	var b strings.Builder
	for _, n := range e.Children {
		if n.Elem == nil {
			b.WriteString(n.Text)
		}
	}
	return b.String()
}

// Append adds child elements and returns e, for building trees inline.
func (e *Element) Append(children ...*Element) *Element {
	for _, c := range children {
		if c == nil {
			panic("stanza: nil child element")
		}
		e.Children = append(e.Children, Node{Elem: c})
	}
	return e
}

// AppendText adds character data and returns e.
func (e *Element) AppendText(s string) *Element {
	if s != "" {
		e.Children = append(e.Children, Node{Text: s})
	}
	return e
}

// ShallowCopy returns a copy of e with its own attribute slice and its own
// child slice; the child elements themselves are shared. It is what the
// router uses before stamping addresses on a stanza it does not own.
func (e *Element) ShallowCopy() *Element {
	c := &Element{Space: e.Space, Local: e.Local}
	if len(e.Attrs) > 0 {
		c.Attrs = make([]Attr, len(e.Attrs), len(e.Attrs)+2)
		copy(c.Attrs, e.Attrs)
	}
	if len(e.Children) > 0 {
		c.Children = append([]Node(nil), e.Children...)
	}
	return c
}

// DeepCopy returns a copy of the whole tree.
func (e *Element) DeepCopy() *Element {
	c := e.ShallowCopy()
	for i, n := range c.Children {
		if n.Elem != nil {
			c.Children[i].Elem = n.Elem.DeepCopy()
		}
	}
	return c
}

// String returns the serialised element with its namespace declared.
func (e *Element) String() string {
	return string(e.AppendXML(nil, ""))
}

// Size returns an estimate, in bytes, of e's serialised form (without
// escaping), for accounting such as bounded outbound queues. It walks the
// tree once and does not allocate.
func (e *Element) Size() int {
	n := 2*len(e.Local) + 5 // <name ...></name>
	for i := range e.Attrs {
		n += len(e.Attrs[i].Local) + len(e.Attrs[i].Value) + 4
	}
	for _, c := range e.Children {
		if c.Elem != nil {
			n += c.Elem.Size()
		} else {
			n += len(c.Text)
		}
	}
	return n
}
