package jid

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/bidirule"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

var (
	// localProfile is the PRECIS UsernameCaseMapped profile of RFC 8265
	// §3.3 (IdentifierClass; width mapping; toLowerCase; NFC) without its
	// directionality rule, which normalizeLocal applies itself: x/text would
	// apply the Bidi Rule to all non-ASCII strings instead of only to those
	// that contain right-to-left code points.
	localProfile = precis.NewIdentifier(precis.FoldWidth, precis.LowerCase(), precis.Norm(norm.NFC))

	// domainProfile maps and validates domain names for lookup as RFC 5891
	// §5 and UTS #46 describe (nontransitional, STD3 ASCII rules, hyphen and
	// joiner checks, Bidi Rule for Bidi domain names). It is what idna.Display
	// is today, spelled out so that it cannot change under us.
	domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false))

	// labelClass checks the repertoire of a non-ASCII label after mapping.
	// The PRECIS IdentifierClass (RFC 8264 §4.2) allows only letters, digits
	// and printable ASCII and applies the contextual rules of RFC 5892
	// Appendix A, which for a mapped U-label amounts to the IDNA2008 rules of
	// RFC 5892 that UTS #46 relaxes (it lets symbols such as U+265A through).
	labelClass = precis.NewIdentifier()
)

// forbiddenLocal lists the code points that RFC 7622 §3.3.1 disallows in a
// localpart in addition to the UsernameCaseMapped profile.
const forbiddenLocal = "\"&'/:<>@"

// NormalizeLocal prepares and enforces s as a localpart (RFC 7622 §3.3): the
// PRECIS UsernameCaseMapped profile of RFC 8265 §3.3, then the extra rule of
// RFC 7622 §3.3.1 that forbids " & ' / : < > and @. The result is 1 to 1023
// bytes long. If s is already normalised, NormalizeLocal returns s itself.
func NormalizeLocal(s string) (string, error) {
	return normalizeLocal(s, true)
}

// NormalizeDomain prepares and enforces s as a domainpart (RFC 7622 §3.2).
// One trailing dot is stripped first (RFC 7622 §3.2). A bracketed IPv6
// literal is returned in the canonical form of RFC 5952; anything else must
// be an internationalised domain name whose labels are NR-LDH labels or
// U-labels (RFC 5890): A-labels are converted to U-labels and the UTS #46
// mapping (lower case, width, NFC) is applied, as RFC 7622 §3.2.2 asks. The
// result is 1 to 1023 bytes long. If s is already normalised,
// NormalizeDomain returns s itself.
func NormalizeDomain(s string) (string, error) {
	return normalizeDomain(s, true)
}

// NormalizeResource prepares and enforces s as a resourcepart (RFC 7622
// §3.4) with the PRECIS OpaqueString profile of RFC 8265 §4.2: non-ASCII
// spaces become U+0020 and the result is in NFC. The result is 1 to 1023
// bytes long. If s is already normalised, NormalizeResource returns s itself.
func NormalizeResource(s string) (string, error) {
	return normalizeResource(s, true)
}

func normalizeLocal(s string, fast bool) (string, error) {
	if s == "" {
		return "", ErrEmptyLocal
	}
	if fast {
		if upper, ok := scanLocal(s); ok {
			if upper {
				return lowerASCII(s), nil
			}
			return s, nil
		}
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: invalid UTF-8", ErrInvalidLocal)
	}
	out, err := localProfile.String(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidLocal, err)
	}
	if i := strings.IndexAny(out, forbiddenLocal); i >= 0 {
		return "", fmt.Errorf("%w: forbidden character %q", ErrInvalidLocal, out[i])
	}
	// RFC 8265 §3.3, directionality rule: apply the Bidi Rule of RFC 5893
	// to strings that contain right-to-left code points.
	if bidirule.DirectionString(out) == bidi.RightToLeft && !bidirule.ValidString(out) {
		return "", fmt.Errorf("%w: %w", ErrInvalidLocal, bidirule.ErrInvalid)
	}
	switch {
	case out == "":
		return "", ErrEmptyLocal
	case len(out) > maxPart:
		return "", ErrLocalTooLong
	}
	return out, nil
}

func normalizeDomain(s string, fast bool) (string, error) {
	// RFC 7622 §3.2: a final label separator is stripped before any other
	// canonicalisation step.
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", ErrEmptyDomain
	}
	if fast {
		if upper, ok := scanDomain(s); ok {
			if upper {
				return lowerASCII(s), nil
			}
			return s, nil
		}
	}
	if s[0] == '[' {
		return ipLiteral(s)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: invalid UTF-8", ErrInvalidDomain)
	}
	out, err := domainProfile.ToUnicode(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidDomain, err)
	}
	// x/net/idna decides whether the Bidi Rule applies from the input, but
	// mapping can introduce right-to-left code points: U+2138 DALET SYMBOL
	// (class L) maps to U+05D3 HEBREW LETTER DALET (class R). RFC 5893 §2
	// applies the rule to every label of a domain name that contains a
	// right-to-left label, so check the mapped result.
	bidiDomain := bidirule.DirectionString(out) == bidi.RightToLeft
	// UTS #46 tolerates empty labels, and an A-label "xn--" decodes to an
	// empty one; a domain name has none (RFC 1034 §3.1).
	for label := range strings.SplitSeq(out, ".") {
		if label == "" {
			return "", fmt.Errorf("%w: empty label", ErrInvalidDomain)
		}
		if bidiDomain && !bidirule.ValidString(label) {
			return "", fmt.Errorf("%w: label %q: %w", ErrInvalidDomain, label, bidirule.ErrInvalid)
		}
		if isASCII(label) {
			continue
		}
		v, err := labelClass.String(label)
		if err != nil {
			return "", fmt.Errorf("%w: label %q: %w", ErrInvalidDomain, label, err)
		}
		if v != label {
			return "", fmt.Errorf("%w: label %q is not stable", ErrInvalidDomain, label)
		}
	}
	if len(out) > maxPart {
		return "", ErrDomainTooLong
	}
	return out, nil
}

// ipLiteral normalises an IP-literal domainpart (RFC 7622 §3.2, RFC 3986
// §3.2.2): an IPv6 address in brackets, without a zone (RFC 6874 zones are
// not part of the JID grammar). The address is written in the canonical form
// of RFC 5952 so that equal addresses compare equal.
func ipLiteral(s string) (string, error) {
	if len(s) < 2 || s[len(s)-1] != ']' {
		return "", fmt.Errorf("%w: malformed IP literal", ErrInvalidDomain)
	}
	a, err := netip.ParseAddr(s[1 : len(s)-1])
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", fmt.Errorf("%w: malformed IPv6 literal", ErrInvalidDomain)
	}
	out := "[" + a.String() + "]"
	if out == s {
		return s, nil
	}
	return out, nil
}

func normalizeResource(s string, fast bool) (string, error) {
	if s == "" {
		return "", ErrEmptyResource
	}
	if fast && scanResource(s) {
		return s, nil
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: invalid UTF-8", ErrInvalidResource)
	}
	out, err := precis.OpaqueString.String(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidResource, err)
	}
	switch {
	case out == "":
		return "", ErrEmptyResource
	case len(out) > maxPart:
		return "", ErrResourceTooLong
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
