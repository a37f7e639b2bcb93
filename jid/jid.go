// Package jid parses, normalises and compares XMPP addresses (JIDs) as
// defined in RFC 7622.
//
// A JID has the form [ localpart "@" ] domainpart [ "/" resourcepart ]
// (RFC 7622 §3.1). Parse and New prepare and enforce every part:
//
//   - the localpart with the PRECIS UsernameCaseMapped profile (RFC 8265
//     §3.3) plus the eight code points that RFC 7622 §3.3.1 forbids
//     (" & ' / : < > @);
//   - the domainpart as an internationalised domain name (RFC 7622 §3.2):
//     one trailing dot is stripped, A-labels become U-labels, and the
//     UTS #46 mapping (lower case, width, NFC) is applied; IPv4 addresses and
//     bracketed IPv6 literals are accepted too;
//   - the resourcepart with the PRECIS OpaqueString profile (RFC 8265 §4.2).
//
// Each part is 1 to 1023 bytes long after normalisation. A JID value always
// holds the normalised form, so two JIDs denote the same entity exactly when
// they are equal with ==, and a JID can be used as a map key.
//
// Most addresses on the wire are plain ASCII and already in canonical form.
// For those, Parse does not touch the PRECIS or IDNA machinery and does not
// allocate: the returned JID shares the input string. ASCII input that needs
// only lower-casing costs one allocation. Everything else goes through
// golang.org/x/text/secure/precis and golang.org/x/net/idna.
//
// Where the standards leave room, this package decides as follows:
//
//   - The Bidi Rule (RFC 5893) is applied to a localpart only if it holds a
//     right-to-left code point, as RFC 8265 §3.3 says; the UsernameCaseMapped
//     profile of x/text applies it to every non-ASCII string, which would
//     reject "1é" while accepting "1e".
//   - A resourcepart with leading or trailing spaces is valid: OpaqueString
//     allows U+0020 anywhere, although example 3 of RFC 7622 §3.5.2 lists
//     "juliet@example.com/ foo" as invalid without a rule to back it.
//   - Domain labels must be NR-LDH labels or IDNA2008 U-labels (RFC 7622
//     §3.2.1, RFC 5890). Symbols such as U+265A, which UTS #46 would let
//     through, are rejected. The DNS limits of 63 bytes per label and 253 in
//     all are not enforced: RFC 7622 sets 1023 bytes, and names that are never
//     looked up in the DNS (components, "localhost") are common in XMPP.
//   - IPv6 literals are rewritten in the canonical text form of RFC 5952
//     ("[2001:DB8:0::1]" becomes "[2001:db8::1]") so that comparison works;
//     zones and IPvFuture literals are rejected.
//
// Every error returned by this package wraps one of the Err variables.
package jid

import (
	"errors"
	"strconv"
	"strings"
)

// maxPart is the largest permitted length in bytes of a localpart,
// domainpart or resourcepart (RFC 7622 §3.2, §3.3, §3.4).
const maxPart = 1023

// Errors returned by Parse, New, WithResource and the Normalize functions.
// Errors about an invalid part wrap the matching ErrInvalid... value and, if
// there is one, the error of the underlying PRECIS or IDNA library.
var (
	ErrEmptyLocal      = errors.New("jid: empty localpart")
	ErrEmptyDomain     = errors.New("jid: empty domainpart")
	ErrEmptyResource   = errors.New("jid: empty resourcepart")
	ErrLocalTooLong    = errors.New("jid: localpart longer than 1023 bytes")
	ErrDomainTooLong   = errors.New("jid: domainpart longer than 1023 bytes")
	ErrResourceTooLong = errors.New("jid: resourcepart longer than 1023 bytes")
	ErrInvalidLocal    = errors.New("jid: invalid localpart")
	ErrInvalidDomain   = errors.New("jid: invalid domainpart")
	ErrInvalidResource = errors.New("jid: invalid resourcepart")
)

// JID is a normalised XMPP address. The zero value is the empty JID, which is
// not a valid address; IsZero reports it.
//
// JIDs are small values that compare with == (equal JIDs denote the same
// entity, RFC 7622 §3) and are cheap map keys.
type JID struct {
	// s is the normalised address, "local@domain/resource". The domainpart is
	// s[dstart:dend]; the localpart, if any, is s[:dstart-1]; the
	// resourcepart, if any, is s[dend+1:]. Because every part is at most 1023
	// bytes long, s is at most 3071 bytes and the offsets fit into uint16.
	// The offsets are a function of s (neither the localpart nor the
	// domainpart can contain '@' or '/'), so == on JID compares s.
	s            string
	dstart, dend uint16
}

// Parse splits s into its parts as described in RFC 7622 §3.1 and prepares
// and enforces each part (RFC 7622 §3.2 to §3.4). The separators '@' and '/'
// are located before any normalisation: the resourcepart starts after the
// first '/', and the localpart ends at the first '@' before that.
func Parse(s string) (JID, error) {
	return parse(s, true)
}

// MustParse is like Parse but panics if s is not a valid JID. It is meant for
// tests and for addresses fixed at compile time.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic("jid: MustParse(" + strconv.Quote(s) + "): " + err.Error())
	}
	return j
}

// New builds a JID from its parts, normalising each. An empty local or
// resource means that the JID has no such part; the domain is required.
// Unlike Parse, New does not look for separators, so a localpart containing
// '@' is an error rather than a different split.
func New(local, domain, resource string) (JID, error) {
	var err error
	if local != "" {
		if local, err = NormalizeLocal(local); err != nil {
			return JID{}, err
		}
	}
	if domain, err = NormalizeDomain(domain); err != nil {
		return JID{}, err
	}
	if resource != "" {
		if resource, err = NormalizeResource(resource); err != nil {
			return JID{}, err
		}
	}
	return join(local, domain, resource), nil
}

// parse implements Parse. With fast set to false it never takes the ASCII
// fast paths; tests use that to check that both paths agree.
func parse(s string, fast bool) (JID, error) {
	at, slash, err := split(s)
	if err != nil {
		return JID{}, err
	}
	if fast {
		if j, ok := parseASCII(s, at, slash); ok {
			return j, nil
		}
	}
	bareEnd, resource := len(s), ""
	if slash >= 0 {
		bareEnd, resource = slash, s[slash+1:]
	}
	var local string
	if at >= 0 {
		if local, err = normalizeLocal(s[:at], fast); err != nil {
			return JID{}, err
		}
	}
	domain, err := normalizeDomain(s[at+1:bareEnd], fast)
	if err != nil {
		return JID{}, err
	}
	if slash >= 0 {
		if resource, err = normalizeResource(resource, fast); err != nil {
			return JID{}, err
		}
	}
	if (at < 0 || local == s[:at]) && domain == s[at+1:bareEnd] && (slash < 0 || resource == s[slash+1:]) {
		// Already normalised: share the input.
		return JID{s: s, dstart: uint16(at + 1), dend: uint16(bareEnd)}, nil
	}
	return join(local, domain, resource), nil
}

// split finds the separators of s as described in RFC 7622 §3.1 and §3.2:
// slash is the index of the first '/' (or -1) and at the index of the first
// '@' before it (or -1). It reports a part that is present but empty.
func split(s string) (at, slash int, err error) {
	bareEnd := len(s)
	slash = strings.IndexByte(s, '/')
	if slash >= 0 {
		bareEnd = slash
	}
	at = strings.IndexByte(s[:bareEnd], '@')
	switch {
	case at == 0:
		return 0, 0, ErrEmptyLocal
	case at+1 == bareEnd:
		return 0, 0, ErrEmptyDomain
	case slash == len(s)-1:
		return 0, 0, ErrEmptyResource
	}
	return at, slash, nil
}

// join assembles a JID from normalised parts; local and resource may be empty.
func join(local, domain, resource string) JID {
	n := len(local) + len(domain) + len(resource)
	if local != "" {
		n++
	}
	if resource != "" {
		n++
	}
	var b strings.Builder
	b.Grow(n)
	if local != "" {
		b.WriteString(local)
		b.WriteByte('@')
	}
	b.WriteString(domain)
	if resource != "" {
		b.WriteByte('/')
		b.WriteString(resource)
	}
	dstart := 0
	if local != "" {
		dstart = len(local) + 1
	}
	return JID{s: b.String(), dstart: uint16(dstart), dend: uint16(dstart + len(domain))}
}

// Local returns the localpart of j, or "" if j has none.
func (j JID) Local() string {
	if j.dstart == 0 {
		return ""
	}
	return j.s[:j.dstart-1]
}

// Domain returns the domainpart of j.
func (j JID) Domain() string {
	return j.s[j.dstart:j.dend]
}

// Resource returns the resourcepart of j, or "" if j has none.
func (j JID) Resource() string {
	if int(j.dend) == len(j.s) {
		return ""
	}
	return j.s[j.dend+1:]
}

// Bare returns j without its resourcepart (the "bare JID" of RFC 6120 §1.4).
// It does not allocate.
func (j JID) Bare() JID {
	return JID{s: j.s[:j.dend], dstart: j.dstart, dend: j.dend}
}

// Domainpart returns the JID made of the domainpart of j alone, the address
// of the server or service that hosts j. It does not allocate.
func (j JID) Domainpart() JID {
	return JID{s: j.s[j.dstart:j.dend], dend: j.dend - j.dstart}
}

// IsBare reports whether j is a valid JID without a resourcepart. The zero JID
// is not bare.
func (j JID) IsBare() bool {
	return j.s != "" && int(j.dend) == len(j.s)
}

// IsZero reports whether j is the zero JID.
func (j JID) IsZero() bool {
	return j.s == ""
}

// String returns j in its normalised text form. It does not allocate.
func (j JID) String() string {
	return j.s
}

// Equal reports whether j and o are the same address. It is the same as
// j == o and is provided for symmetry with other address types.
func (j JID) Equal(o JID) bool {
	return j == o
}

// WithResource returns the bare JID of j with the resourcepart r, normalised
// as by NormalizeResource. An empty r yields j.Bare(). The zero JID has no
// domainpart to attach a resource to and yields ErrEmptyDomain.
func (j JID) WithResource(r string) (JID, error) {
	if j.IsZero() {
		return JID{}, ErrEmptyDomain
	}
	b := j.Bare()
	if r == "" {
		return b, nil
	}
	r, err := NormalizeResource(r)
	if err != nil {
		return JID{}, err
	}
	return JID{s: b.s + "/" + r, dstart: b.dstart, dend: b.dend}, nil
}

// MarshalText implements encoding.TextMarshaler. The zero JID marshals as
// empty text.
func (j JID) MarshalText() ([]byte, error) {
	return []byte(j.s), nil
}

// AppendText implements encoding.TextAppender.
func (j JID) AppendText(b []byte) ([]byte, error) {
	return append(b, j.s...), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. Empty text yields the
// zero JID; anything else must be a valid JID for Parse.
func (j *JID) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*j = JID{}
		return nil
	}
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	*j = p
	return nil
}
