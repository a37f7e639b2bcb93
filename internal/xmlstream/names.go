package xmlstream

import (
	"unicode/utf8"

	"github.com/mote-xmpp/mote/stanza"
)

// Byte classes used by the scanners: one table lookup per byte instead of a
// chain of comparisons.
const (
	cNameStart uint8 = 1 << iota // ASCII NameStartChar other than ':' (XML 1.0 §2.3)
	cName                        // ASCII NameChar other than ':'
	cSpace                       // S: #x20 | #x9 | #xD | #xA
	cText                        // needs no attention in character data
	cAttr                        // needs no attention in an attribute value
)

var class [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		var k uint8
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
			k |= cNameStart | cName
		case c >= '0' && c <= '9', c == '-', c == '.':
			k |= cName
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			k |= cSpace
		}
		if (c >= 0x20 && c < 0x80 && c != '<' && c != '&' && c != '>') || c == '\t' || c == '\n' {
			k |= cText
		}
		if c >= 0x20 && c < 0x80 && c != '<' && c != '&' && c != '"' && c != '\'' {
			k |= cAttr
		}
		class[c] = k
	}
}

// isNameStartRune reports whether a non-ASCII rune is a NameStartChar
// (XML 1.0 fifth edition, §2.3).
func isNameStartRune(r rune) bool {
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

// isNameRune reports whether a non-ASCII rune is a NameChar.
func isNameRune(r rune) bool {
	return isNameStartRune(r) || r == 0xB7 || (r >= 0x300 && r <= 0x36F) || r == 0x203F || r == 0x2040
}

// nameStartAt reports whether the name character at b[i] may start a name.
func nameStartAt(b []byte, i int) bool {
	if c := b[i]; c < utf8.RuneSelf {
		return class[c]&cNameStart != 0
	}
	r, _ := utf8.DecodeRune(b[i:])
	return isNameStartRune(r)
}

// scanName scans a Name starting at b[i] and returns the index after it and
// the index of its first colon (-1 if none). With qname set the name must be
// a QName of the Namespaces in XML recommendation (§4): at most one colon,
// neither first nor last. It returns errMore when the name runs to the end
// of b.
func scanName(b []byte, i int, qname bool) (end, colon int, err error) {
	start := i
	colon = -1
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if class[c]&cName != 0 {
				i++
				continue
			}
			if c != ':' {
				break
			}
			if qname && colon >= 0 {
				return 0, 0, errf(stanza.StreamNotWellFormed, "name with more than one colon")
			}
			if colon < 0 {
				colon = i
			}
			i++
			continue
		}
		if !utf8.FullRune(b[i:]) {
			return 0, 0, errMore
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return 0, 0, errInvalidUTF8
		}
		if !isNameRune(r) {
			break
		}
		i += n
	}
	if i == len(b) {
		return 0, 0, errMore
	}
	if i == start || (b[start] != ':' && !nameStartAt(b, start)) {
		return 0, 0, errf(stanza.StreamNotWellFormed, "invalid name")
	}
	if qname && colon >= 0 && (colon == start || colon == i-1 || !nameStartAt(b, colon+1)) {
		return 0, 0, errf(stanza.StreamNotWellFormed, "invalid qualified name")
	}
	return i, colon, nil
}

// Interning. The names, namespaces and attribute values that nearly every
// stanza carries are looked up in a static open-addressing table, so the
// tree refers to these constant strings and no bytes are copied for them.
// Downstream string comparisons (module dispatch on namespace and name) then
// usually compare identical pointers.
var internStrs = [...]string{
	"",
	// Prefixes.
	"stream", "xml", "xmlns", "db",
	// Namespaces (RFC 6120, RFC 6121 and common XEPs).
	stanza.NSClient, stanza.NSServer, stanza.NSStream, stanza.NSStreams, stanza.NSStanzas,
	stanza.NSTLS, stanza.NSSASL, stanza.NSBind, stanza.NSSession, stanza.NSXML,
	"jabber:iq:roster", "jabber:iq:version", "jabber:iq:private", "jabber:iq:register",
	"jabber:iq:last", "jabber:iq:auth", "jabber:x:data", "jabber:x:oob", "jabber:server:dialback",
	"vcard-temp", "vcard-temp:x:update", "urn:ietf:params:xml:ns:vcard-4.0",
	"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
	"http://jabber.org/protocol/caps", "http://jabber.org/protocol/chatstates",
	"http://jabber.org/protocol/pubsub", "http://jabber.org/protocol/pubsub#event",
	"http://jabber.org/protocol/pubsub#owner", "http://jabber.org/protocol/pubsub#publish-options",
	"http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user",
	"http://jabber.org/protocol/muc#owner", "http://jabber.org/protocol/muc#admin",
	"http://jabber.org/protocol/address", "http://jabber.org/protocol/commands",
	"http://jabber.org/protocol/nick", "http://jabber.org/protocol/rsm",
	"http://jabber.org/protocol/shim", "http://jabber.org/protocol/ibb",
	"http://jabber.org/features/iq-register", "http://jabber.org/protocol/geoloc",
	"urn:xmpp:ping", "urn:xmpp:time", "urn:xmpp:delay", "urn:xmpp:receipts", "urn:xmpp:sm:3",
	"urn:xmpp:csi:0", "urn:xmpp:carbons:2", "urn:xmpp:forward:0", "urn:xmpp:mam:2",
	"urn:xmpp:blocking", "urn:xmpp:chat-markers:0", "urn:xmpp:sid:0", "urn:xmpp:hints",
	"urn:xmpp:message-correct:0", "urn:xmpp:bookmarks:1", "urn:xmpp:avatar:data",
	"urn:xmpp:avatar:metadata", "urn:xmpp:http:upload:0", "urn:xmpp:iot:sensordata",
	"urn:xmpp:iot:control", "urn:xmpp:jingle:1", "urn:xmpp:sasl:2", "urn:xmpp:bind:0",
	"urn:xmpp:sasl-cb:0", "urn:xmpp:features:rosterver", "urn:xmpp:features:pre-approval",
	"urn:xmpp:omemo:2", "eu.siacs.conversations.axolotl", "urn:xmpp:eme:0",
	// Element names.
	"message", "presence", "iq", "body", "subject", "thread", "show", "status", "priority",
	"error", "text", "query", "item", "items", "x", "c", "delay", "request", "received",
	"active", "inactive", "composing", "paused", "gone", "ping", "time", "tzo", "utc",
	"features", "starttls", "proceed", "required", "mechanisms", "mechanism", "auth",
	"challenge", "response", "success", "failure", "abort", "bind", "resource", "jid",
	"session", "optional", "enable", "enabled", "resume", "resumed", "r", "a", "sm", "csi",
	"feature", "identity", "group", "pubsub", "publish", "publish-options", "event",
	"retract", "subscribe", "subscription", "subscriptions", "affiliations", "options",
	"configure", "field", "value", "data", "vCard", "version", "name", "os", "sent",
	"forwarded", "result", "fin", "set", "first", "last", "count", "before", "after", "max",
	"private", "storage", "blocklist", "block", "unblock", "register", "username",
	"password", "email", "nick", "photo", "markable", "displayed", "acknowledged",
	"origin-id", "stanza-id", "store", "no-store", "no-copy", "replace", "encrypted",
	"header", "payload", "ver", "instructions", "title", "reported", "desc", "url",
	// Attribute names.
	"to", "from", "id", "type", "lang", "node", "hash", "ext", "var", "category", "ask",
	"by", "stamp", "code", "label", "h", "seconds", "previd", "location", "action",
	"sessionid", "queryid", "with", "start", "end", "xmlns", "sid", "rid",
	// Values of the type attribute (RFC 6121 §5.2.2, §4.7.1; RFC 6120 §8.2.3, §8.3.2).
	"chat", "get", "result", "normal", "groupchat", "headline", "unavailable",
	"subscribed", "unsubscribe", "unsubscribed", "probe", "cancel", "continue", "modify",
	"wait", "submit", "form", "boolean", "text-single", "hidden", "list-single",
	"list-multi", "jid-single", "jid-multi", "text-multi", "fixed", "both", "none",
}

const internBits = 10

// internTab maps a hash to the index into internStrs plus one (0 = empty).
// It is built by a variable initialiser, not init, so that other package
// variables may use lookupIntern.
var internTab = buildInternTab()

func buildInternTab() *[1 << internBits]uint16 {
	tab := new([1 << internBits]uint16)
	for i, s := range internStrs {
		if s == "" {
			continue
		}
		h := internHash([]byte(s))
		dup := false
		for tab[h] != 0 {
			if internStrs[tab[h]-1] == s {
				dup = true // listed twice
				break
			}
			h = (h + 1) & (1<<internBits - 1)
		}
		if !dup {
			tab[h] = uint16(i + 1)
		}
	}
	return tab
}

// internHash hashes the length and four sampled bytes: enough to spread
// the table's entries, and cheap for the long namespace URIs.
func internHash(b []byte) uint32 {
	n := len(b)
	h := uint32(n)*0x9E3779B1 ^ uint32(b[0]) ^ uint32(b[n-1])<<8 ^ uint32(b[n>>1])<<16 ^ uint32(b[(n*3)>>2])<<24
	h *= 0x85EBCA6B
	h ^= h >> 15
	return h & (1<<internBits - 1)
}

// lookupIntern returns the index of b in internStrs.
func lookupIntern(b []byte) (int32, bool) {
	if len(b) == 0 || len(b) > 64 {
		return 0, false
	}
	h := internHash(b)
	for {
		k := internTab[h]
		if k == 0 {
			return 0, false
		}
		if internStrs[k-1] == string(b) {
			return int32(k - 1), true
		}
		h = (h + 1) & (1<<internBits - 1)
	}
}
