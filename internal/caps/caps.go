// Package caps implements the parts of XEP-0115 (Entity Capabilities,
// version 1.6.0) that a server needs to learn what its clients support from
// the <c/> element of their presence.
//
// The flow for a presence from a client:
//
//  1. Parse finds the <c/> annotation.
//  2. Cache.Get looks (hash, ver) up; a hit is the client's feature set.
//  3. On a miss, the server sends a disco#info request to the client's full
//     JID with the node Caps.InfoNode (§6.2) and, when the result arrives,
//     Verify checks it against the annotation (§5.4). Only a verified
//     result goes into the Cache with Cache.Put(hash, ver,
//     NewSet(Features(result))). A result that does not verify, or one for
//     legacy caps (no 'hash') or an unknown hash algorithm (§5.4 steps 1
//     and 2), may be associated with that one JID but never cached
//     globally.
//
// VerString and Hash are also how the server computes the 'ver' it
// advertises itself (§6.3, the disco module).
//
// Security (§9.3). A verified result proves only that the responder's
// disco#info hashes to the advertised ver, not that it is the answer the
// software named by 'node' gives: the verification string has no marked
// boundaries between identities, features and forms, so more than one
// disco#info result can produce the same S. Whoever answers first for a
// (hash, ver) decides what the Cache holds for it. Callers must therefore
// treat a cached set as a hint about a client's wishes (such as PEP
// "+notify" interests, XEP-0163 §4.3), never as an authorisation. The
// Cache and Set are bounded so that a client cannot make the server hold
// unbounded memory by advertising many distinct, self-consistent caps.
package caps

import (
	"github.com/mote-xmpp/mote/stanza"
)

// NS is the entity capabilities namespace (XEP-0115 §4).
const NS = "http://jabber.org/protocol/caps"

// Caps is the entity capabilities annotation of a presence (XEP-0115 §4).
type Caps struct {
	// Hash is the hashing algorithm of Ver as an IANA hash name, such as
	// "sha-1". It is "" for legacy caps (§5.4 step 1, §13), whose Ver is
	// not a verification string and cannot be verified.
	Hash string
	// Node identifies the client software, typically a URL.
	Node string
	// Ver is the verification string of the client's disco#info.
	Ver string
}

// Parse returns the entity capabilities annotation of presence: its first
// child <c xmlns='http://jabber.org/protocol/caps'/>. ok is false when there
// is none, or when its 'node' or 'ver' attribute is missing or empty (both
// are REQUIRED, §4). The deprecated 'ext' attribute is ignored.
func Parse(presence *stanza.Element) (c Caps, ok bool) {
	if presence == nil {
		return Caps{}, false
	}
	el := presence.Child(NS, "c")
	if el == nil {
		return Caps{}, false
	}
	c = Caps{Hash: el.Attr("hash"), Node: el.Attr("node"), Ver: el.Attr("ver")}
	if c.Node == "" || c.Ver == "" {
		return Caps{}, false
	}
	return c, true
}

// InfoNode is the 'node' of the disco#info request that discovers what c
// stands for: the caps node, "#" and the ver (XEP-0115 §6.2).
func (c Caps) InfoNode() string {
	return c.Node + "#" + c.Ver
}

// Element renders c as a <c/> element, for a presence or the stream
// features (XEP-0115 §4, §6.3). An empty Hash is omitted.
func (c Caps) Element() *stanza.Element {
	el := stanza.NewElement(NS, "c")
	if c.Hash != "" {
		el.SetAttr("hash", c.Hash)
	}
	el.SetAttr("node", c.Node)
	el.SetAttr("ver", c.Ver)
	return el
}
