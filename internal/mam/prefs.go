package mam

import (
	"slices"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// MaxPrefsJIDs bounds each list of the archiving preferences.
const MaxPrefsJIDs = 1000

// ParsePrefs parses the <prefs xmlns='urn:xmpp:mam:2' default='…'/> of a
// request that sets an account's archiving preferences (XEP-0441;
// formerly §6 of XEP-0313): 'default' is always, never or roster; the
// optional <always/> and <never/> (each at most once) list <jid/>
// elements. The JIDs are normalised to bare JIDs, sorted and without
// duplicates, as storage.ArchivePrefs holds them; a missing list is
// empty. A bad default, a JID that does not parse or a repeated list is
// bad-request; a list longer than MaxPrefsJIDs is not-acceptable.
func ParsePrefs(el *stanza.Element) (storage.ArchivePrefs, error) {
	var p storage.ArchivePrefs
	if el == nil || el.Space != NS || el.Local != "prefs" {
		return p, badRequest("not a urn:xmpp:mam:2 <prefs/>")
	}
	switch p.Default = el.Attr("default"); p.Default {
	case storage.ArchiveAlways, storage.ArchiveNever, storage.ArchiveRoster:
	default:
		return storage.ArchivePrefs{}, badRequest("default must be always, never or roster")
	}
	var seenAlways, seenNever bool
	for _, n := range el.Children {
		c := n.Elem
		if c == nil || c.Space != NS {
			continue
		}
		var list *[]string
		switch c.Local {
		case "always":
			if seenAlways {
				return storage.ArchivePrefs{}, badRequest("more than one <always/>")
			}
			seenAlways, list = true, &p.Always
		case "never":
			if seenNever {
				return storage.ArchivePrefs{}, badRequest("more than one <never/>")
			}
			seenNever, list = true, &p.Never
		default:
			continue
		}
		for _, jn := range c.Children {
			j := jn.Elem
			if j == nil || j.Space != NS || j.Local != "jid" {
				continue
			}
			if len(*list) >= MaxPrefsJIDs {
				return storage.ArchivePrefs{}, stanza.NewError(stanza.NotAcceptable, "too many JIDs in <"+c.Local+"/>")
			}
			parsed, err := jid.Parse(trimSpace(j.Text()))
			if err != nil {
				return storage.ArchivePrefs{}, badRequest("<" + c.Local + "/>: not a JID")
			}
			*list = append(*list, parsed.Bare().String())
		}
		slices.Sort(*list)
		*list = slices.Compact(*list)
	}
	return p, nil
}

// PrefsElement renders p as the <prefs/> of a reply (XEP-0441),
// with <always/> and <never/> present even when empty.
func PrefsElement(p storage.ArchivePrefs) *stanza.Element {
	el := stanza.NewElement(NS, "prefs", "default", p.Default)
	for _, l := range []struct {
		name string
		jids []string
	}{{"always", p.Always}, {"never", p.Never}} {
		list := stanza.NewElement(NS, l.name)
		for _, j := range l.jids {
			list.Append(stanza.NewElement(NS, "jid").AppendText(j))
		}
		el.Append(list)
	}
	return el
}
