// Package rsm parses XEP-0059 Result Set Management requests and renders
// responses (namespace http://jabber.org/protocol/rsm).
//
// A using protocol (disco#items, MAM, pubsub and the like) finds the <set/>
// child of its request, calls ParseRequest, pages its result and appends
// Response.Element to its reply. ParseRequest is strict and bounded; every
// error it returns is an *Error whose StanzaError is the bad-request reply
// to send.
package rsm

import (
	"strconv"

	"github.com/mote-xmpp/mote/stanza"
)

// NS is the result set management namespace (XEP-0059 §7.1).
const NS = "http://jabber.org/protocol/rsm"

// MaxIDLen is the longest item UID, in bytes, that ParseRequest accepts in
// <after/> or <before/>. UIDs are opaque (XEP-0059 §2.2); the bound only
// keeps requests small.
const MaxIDLen = 3072

// Request is the <set/> of a request (XEP-0059 §2).
//
// After and Before are the UIDs of §2.2 and §2.3; at most one of them is
// set. HasBefore distinguishes an empty <before/>, which asks for the last
// page (§2.5), from no <before/> at all. An empty <after/> is the same as
// none: the page starts at the beginning of the result set (§2.2).
type Request struct {
	Max       int // <max/> (§2.1), -1 when absent; 0 asks for the count only (§2.7)
	After     string
	Before    string
	HasBefore bool
	Index     int // <index/> (§2.6), -1 when absent
}

// Error is the error ParseRequest returns for a malformed <set/>.
type Error struct {
	Msg string
}

// Error implements error.
func (e *Error) Error() string { return "rsm: " + e.Msg }

// StanzaError returns the stanza error to reply with: bad-request.
func (e *Error) StanzaError() stanza.Error {
	return stanza.NewError(stanza.BadRequest, e.Msg)
}

func fail(msg string) *Error { return &Error{Msg: msg} }

// ParseRequest parses a <set xmlns='http://jabber.org/protocol/rsm'/>
// request element.
//
// <max/> and <index/> must be non-negative integers no larger than 2^31-1
// (the xs:int of the XEP-0059 §8 schema; surrounding white space is
// allowed); <after/> and <before/> at most MaxIDLen bytes long; and each
// child may appear once. A request with both <after/> and <before/> is
// rejected, as it names no single page. Children that have no meaning in a
// request (<first/>, <last/>, <count/>) and elements of other namespaces
// are ignored. The caller clamps Max to its own page size limit.
func ParseRequest(el *stanza.Element) (Request, error) {
	r := Request{Max: -1, Index: -1}
	if el == nil || el.Space != NS || el.Local != "set" {
		return Request{}, fail("not a result set management <set/> element")
	}
	var hasMax, hasIndex, hasAfter bool
	for _, n := range el.Children {
		c := n.Elem
		if c == nil || c.Space != NS {
			continue
		}
		var err error
		switch c.Local {
		case "max":
			if hasMax {
				return Request{}, fail("more than one <max/>")
			}
			hasMax = true
			r.Max, err = parseCount("max", c.Text())
		case "index":
			if hasIndex {
				return Request{}, fail("more than one <index/>")
			}
			hasIndex = true
			r.Index, err = parseCount("index", c.Text())
		case "after":
			if hasAfter {
				return Request{}, fail("more than one <after/>")
			}
			hasAfter = true
			r.After, err = parseID("after", c.Text())
		case "before":
			if r.HasBefore {
				return Request{}, fail("more than one <before/>")
			}
			r.HasBefore = true
			r.Before, err = parseID("before", c.Text())
		}
		if err != nil {
			return Request{}, err
		}
	}
	if hasAfter && r.HasBefore {
		return Request{}, fail("both <after/> and <before/>")
	}
	return r, nil
}

// parseCount parses the content of <max/> or <index/>: ASCII digits,
// possibly surrounded by XML white space, at most 2^31-1.
func parseCount(name, s string) (int, error) {
	s = trimSpace(s)
	if s == "" {
		return 0, fail("empty <" + name + "/>")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fail("<" + name + "/> is not a non-negative integer")
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fail("<" + name + "/> is out of range")
	}
	return int(n), nil
}

// parseID checks the length of a UID.
func parseID(name, s string) (string, error) {
	if len(s) > MaxIDLen {
		return "", fail("<" + name + "/> is too long")
	}
	return s, nil
}

// trimSpace removes leading and trailing XML white space (XML 1.0 §2.3).
func trimSpace(s string) string {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// Element renders r as a <set/> request (XEP-0059 §2): <max/> when Max is
// not negative, <after/> when After is not empty, <before/> when HasBefore,
// and <index/> when Index is not negative. For a request that ParseRequest
// returned, ParseRequest(r.Element()) returns r.
func (r Request) Element() *stanza.Element {
	set := stanza.NewElement(NS, "set")
	if r.Max >= 0 {
		set.Append(stanza.NewElement(NS, "max").AppendText(strconv.Itoa(r.Max)))
	}
	if r.After != "" {
		set.Append(stanza.NewElement(NS, "after").AppendText(r.After))
	}
	if r.HasBefore {
		set.Append(stanza.NewElement(NS, "before").AppendText(r.Before))
	}
	if r.Index >= 0 {
		set.Append(stanza.NewElement(NS, "index").AppendText(strconv.Itoa(r.Index)))
	}
	return set
}

// Response is the <set/> of a response (XEP-0059 §2.2).
//
// First and Last are the UIDs of the first and last items of the page,
// both set, and equal for a one-item page; both are "" for an empty page,
// whose <set/> then carries only the count (§2.2, §2.7). FirstIndex is the
// position of the first item in the full result set, -1 when unknown; it
// must equal the request's index for a request by index (§2.6). Count is
// the size of the full result set, -1 when it would be too costly to
// compute (§2.2).
type Response struct {
	First      string
	FirstIndex int
	Last       string
	Count      int
}

// Element renders r as <set><first index='…'>…</first><last>…</last>
// <count>…</count></set> (XEP-0059 §2.2), leaving out <first/> (and with it
// the index) when First is "", <last/> when Last is "", the index when
// FirstIndex is negative and <count/> when Count is negative. Note that
// the zero Response has FirstIndex and Count 0, which are rendered.
func (r Response) Element() *stanza.Element {
	set := stanza.NewElement(NS, "set")
	if r.First != "" {
		first := stanza.NewElement(NS, "first")
		if r.FirstIndex >= 0 {
			first.SetAttr("index", strconv.Itoa(r.FirstIndex))
		}
		set.Append(first.AppendText(r.First))
	}
	if r.Last != "" {
		set.Append(stanza.NewElement(NS, "last").AppendText(r.Last))
	}
	if r.Count >= 0 {
		set.Append(stanza.NewElement(NS, "count").AppendText(strconv.Itoa(r.Count)))
	}
	return set
}
