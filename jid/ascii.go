package jid

import "strings"

// The ASCII fast path recognises the addresses that the PRECIS and IDNA
// libraries would leave unchanged except for lower-casing, and handles them
// without calling those libraries. It never rejects anything: whatever it
// does not recognise goes down the general path, which alone reports errors.
// The tests check that both paths agree.

// Classes of ASCII bytes, as bits in asciiClass.
const (
	// cLocal: allowed in a localpart. The IdentifierClass allows all of
	// U+0021 to U+007E (RFC 8264 §4.2, category K "ASCII7"), less the eight
	// code points that RFC 7622 §3.3.1 forbids. Space and controls are
	// disallowed.
	cLocal = 1 << iota
	// cDomain: allowed in an NR-LDH label (RFC 5890 §2.3.1): letters,
	// digits and hyphen. '.' separates labels and is handled apart.
	cDomain
	// cResource: allowed in a resourcepart. The FreeformClass allows U+0020
	// to U+007E (RFC 8264 §4.3, categories K "ASCII7" and N "Spaces");
	// OpaqueString maps none of them (RFC 8265 §4.2).
	cResource
	// cUpper: 'A' to 'Z', lower-cased in a localpart (RFC 8265 §3.3) and
	// a domainpart (UTS #46 §4).
	cUpper
)

var asciiClass = func() (t [256]uint8) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] |= cResource
		if c != ' ' && strings.IndexByte(forbiddenLocal, byte(c)) < 0 {
			t[c] |= cLocal
		}
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
			t[c] |= cDomain
		case 'A' <= c && c <= 'Z':
			t[c] |= cDomain | cUpper
		}
	}
	return t
}()

// scanLocal reports whether the fast path can take s as a localpart and
// whether s contains upper-case letters.
func scanLocal(s string) (upper, ok bool) {
	if len(s) == 0 || len(s) > maxPart {
		return false, false
	}
	var all uint8 = cLocal
	for i := 0; i < len(s); i++ {
		c := asciiClass[s[i]]
		if c&cLocal == 0 {
			return false, false
		}
		all |= c
	}
	return all&cUpper != 0, true
}

// scanDomain reports whether the fast path can take s, without its trailing
// dot, as a domainpart, and whether s contains upper-case letters. It takes
// only labels of letters, digits and inner hyphens without "--" in the third
// and fourth positions: those are NR-LDH labels (RFC 5890 §2.3.1) that UTS #46
// maps to themselves apart from case. A-labels ("xn--") are left to IDNA.
func scanDomain(s string) (upper, ok bool) {
	if len(s) == 0 || len(s) > maxPart {
		return false, false
	}
	var all uint8
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := asciiClass[s[i]]
			if c&cDomain == 0 {
				return false, false
			}
			all |= c
			continue
		}
		label := s[start:i]
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' ||
			len(label) >= 4 && label[2] == '-' && label[3] == '-' {
			return false, false
		}
		start = i + 1
	}
	return all&cUpper != 0, true
}

// scanResource reports whether the fast path can take s as a resourcepart.
func scanResource(s string) bool {
	if len(s) == 0 || len(s) > maxPart {
		return false
	}
	for i := 0; i < len(s); i++ {
		if asciiClass[s[i]]&cResource == 0 {
			return false
		}
	}
	return true
}

// lowerASCII returns s with 'A' to 'Z' mapped to lower case.
func lowerASCII(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	writeLower(&b, s)
	return b.String()
}

func writeLower(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}

// parseASCII is the fast path of Parse for s with separators at and slash as
// found by split. It reports false if any part needs the general path. It
// returns a JID sharing s if s is already normalised, and otherwise allocates
// the normalised string once.
func parseASCII(s string, at, slash int) (JID, bool) {
	bareEnd := len(s)
	if slash >= 0 {
		bareEnd = slash
		if !scanResource(s[slash+1:]) {
			return JID{}, false
		}
	}
	var upperLocal bool
	if at >= 0 {
		var ok bool
		if upperLocal, ok = scanLocal(s[:at]); !ok {
			return JID{}, false
		}
	}
	dstart := at + 1
	domain := s[dstart:bareEnd]
	dot := strings.HasSuffix(domain, ".")
	if dot {
		domain = domain[:len(domain)-1]
	}
	upperDomain, ok := scanDomain(domain)
	if !ok {
		return JID{}, false
	}
	dend := dstart + len(domain)
	if !upperLocal && !upperDomain && !dot {
		return JID{s: s, dstart: uint16(dstart), dend: uint16(dend)}, true
	}
	var b strings.Builder
	n := len(s)
	if dot {
		n--
	}
	b.Grow(n)
	if at >= 0 {
		writeLower(&b, s[:at])
		b.WriteByte('@')
	}
	writeLower(&b, domain)
	if slash >= 0 {
		b.WriteString(s[slash:])
	}
	return JID{s: b.String(), dstart: uint16(dstart), dend: uint16(dend)}, true
}
