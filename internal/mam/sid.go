package mam

import "github.com/mote-xmpp/mote/stanza"

// StanzaID returns the 'id' of st's <stanza-id/> whose 'by' is by
// (XEP-0359 §2.1), or "" when it has none.
func StanzaID(st *stanza.Element, by string) string {
	for _, n := range st.Children {
		if c := n.Elem; c != nil && c.Space == NSSID && c.Local == "stanza-id" && c.Attr("by") == by {
			return c.Attr("id")
		}
	}
	return ""
}

// OriginID returns the 'id' of st's <origin-id/> (XEP-0359 §2.2), the
// sender's own ID of the message, or "" when it has none. A server that
// adds a <stanza-id/> keeps it as it is (§2.2).
func OriginID(st *stanza.Element) string {
	if c := st.Child(NSSID, "origin-id"); c != nil {
		return c.Attr("id")
	}
	return ""
}

// StripStanzaIDs removes the <stanza-id/> children of st whose 'by'
// attribute forged reports true for and returns how many it removed: an
// entity that assigns stanza IDs removes those that claim to be its own
// (XEP-0359 §3, §6). It gives st a new child slice when it removes any and
// never changes a child element, so copies of st that share its children
// (stanza.Element.ShallowCopy) are unaffected; st itself must be the
// caller's to change.
func StripStanzaIDs(st *stanza.Element, forged func(by string) bool) int {
	removed := 0
	for _, n := range st.Children {
		if isForged(n.Elem, forged) {
			removed++
		}
	}
	if removed == 0 {
		return 0
	}
	kept := make([]stanza.Node, 0, len(st.Children)-removed)
	for _, n := range st.Children {
		if !isForged(n.Elem, forged) {
			kept = append(kept, n)
		}
	}
	st.Children = kept
	return removed
}

func isForged(c *stanza.Element, forged func(by string) bool) bool {
	return c != nil && c.Space == NSSID && c.Local == "stanza-id" && forged(c.Attr("by"))
}

// AddStanzaID appends <stanza-id xmlns='urn:xmpp:sid:0' id='…' by='…'/>
// to st (XEP-0359 §2.1; XEP-0313 §3.5: by is the archive's address). The
// caller removed any other one with the same by first (StripStanzaIDs).
func AddStanzaID(st *stanza.Element, id, by string) {
	st.Append(stanza.NewElement(NSSID, "stanza-id", "id", id, "by", by))
}
