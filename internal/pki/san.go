package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"unicode/utf8"
)

var (
	// oidSubjectAltName is the subjectAltName extension (RFC 5280 §4.2.1.6).
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// oidXMPPAddr is id-on-xmppAddr (RFC 6120 §13.7.1.4).
	oidXMPPAddr = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 5}
)

// GeneralName tags (RFC 5280 §4.2.1.6); each is context-specific.
const (
	tagOtherName = 0 // otherName [0] OtherName, constructed
	tagDNSName   = 2 // dNSName [2] IA5String, primitive
)

// Identity lists the names a certificate's subjectAltName extension
// carries. The values are as encoded: the caller parses each XMPP address
// with jid.Parse and refuses the ones that are not JIDs.
type Identity struct {
	// XMPPAddrs are the id-on-xmppAddr otherName values (RFC 6120
	// §13.7.1.4), in the order of the extension.
	XMPPAddrs []string
	// DNSNames are the dNSName values, in the order of the extension.
	DNSNames []string
}

// Identities returns the names in the subjectAltName extension of cert,
// read from the extension's DER bytes as ParseSAN does. The subject DN is
// never consulted (XEP-0178 §2: a JID is carried as an xmppAddr). A
// certificate without the extension has an empty Identity and no error, and
// the caller refuses it; a malformed or repeated extension is an error.
func Identities(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, ErrNoCertificate
	}
	var (
		id    Identity
		found bool
	)
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		if found {
			return Identity{}, errors.New("pki: subjectAltName: extension repeated")
		}
		found = true
		var err error
		if id, err = ParseSAN(ext.Value); err != nil {
			return Identity{}, err
		}
	}
	return id, nil
}

// ParseSAN parses der, the value of a subjectAltName extension: a DER
// SEQUENCE OF GeneralName (RFC 5280 §4.2.1.6). It collects
//
//   - otherName entries whose type-id is id-on-xmppAddr: the value must be
//     [0] EXPLICIT UTF8String holding valid, non-empty UTF-8 (RFC 6120
//     §13.7.1.4), else ParseSAN fails;
//   - dNSName entries, which must be non-empty ASCII (IA5String).
//
// otherName entries of other type-ids (such as SRVName) and other kinds of
// GeneralName (rfc822Name, URI, iPAddress and so on) are skipped, but must
// still be well-formed. An empty sequence and trailing bytes are errors.
func ParseSAN(der []byte) (Identity, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return Identity{}, fmt.Errorf("pki: subjectAltName: %w", err)
	}
	if len(rest) > 0 {
		return Identity{}, errors.New("pki: subjectAltName: trailing data")
	}
	if seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return Identity{}, errors.New("pki: subjectAltName: not a SEQUENCE")
	}
	if len(seq.Bytes) == 0 {
		return Identity{}, errors.New("pki: subjectAltName: no names")
	}
	var id Identity
	for names := seq.Bytes; len(names) > 0; {
		var name asn1.RawValue
		if names, err = asn1.Unmarshal(names, &name); err != nil {
			return Identity{}, fmt.Errorf("pki: subjectAltName: %w", err)
		}
		if name.Class != asn1.ClassContextSpecific {
			return Identity{}, fmt.Errorf("pki: subjectAltName: GeneralName with class %d", name.Class)
		}
		switch name.Tag {
		case tagOtherName:
			addr, ok, err := parseOtherName(name)
			if err != nil {
				return Identity{}, err
			}
			if ok {
				id.XMPPAddrs = append(id.XMPPAddrs, addr)
			}
		case tagDNSName:
			if name.IsCompound || len(name.Bytes) == 0 || !isASCII(name.Bytes) {
				return Identity{}, errors.New("pki: subjectAltName: dNSName is not a non-empty IA5String")
			}
			id.DNSNames = append(id.DNSNames, string(name.Bytes))
		}
	}
	return id, nil
}

// parseOtherName parses the otherName GeneralName name,
//
//	OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
//
// with the SEQUENCE tag replaced by the implicit [0]. It returns the address
// and true if the type-id is id-on-xmppAddr, and false for other type-ids.
func parseOtherName(name asn1.RawValue) (string, bool, error) {
	if !name.IsCompound {
		return "", false, errors.New("pki: subjectAltName: otherName is not constructed")
	}
	var typeID asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(name.Bytes, &typeID)
	if err != nil {
		return "", false, fmt.Errorf("pki: subjectAltName: otherName type-id: %w", err)
	}
	var value asn1.RawValue
	if rest, err = asn1.Unmarshal(rest, &value); err != nil {
		return "", false, fmt.Errorf("pki: subjectAltName: otherName value: %w", err)
	}
	if len(rest) > 0 || value.Class != asn1.ClassContextSpecific || value.Tag != 0 || !value.IsCompound {
		return "", false, errors.New("pki: subjectAltName: otherName value is not [0] EXPLICIT")
	}
	if !typeID.Equal(oidXMPPAddr) {
		return "", false, nil
	}
	var s asn1.RawValue
	if rest, err = asn1.Unmarshal(value.Bytes, &s); err != nil {
		return "", false, fmt.Errorf("pki: subjectAltName: xmppAddr: %w", err)
	}
	if len(rest) > 0 || s.Class != asn1.ClassUniversal || s.Tag != asn1.TagUTF8String || s.IsCompound {
		return "", false, errors.New("pki: subjectAltName: xmppAddr is not a UTF8String")
	}
	if len(s.Bytes) == 0 || !utf8.Valid(s.Bytes) {
		return "", false, errors.New("pki: subjectAltName: xmppAddr is not non-empty UTF-8")
	}
	return string(s.Bytes), true, nil
}

// marshalSAN encodes id as the value of a subjectAltName extension: first
// an id-on-xmppAddr otherName for each XMPP address, then a dNSName for each
// DNS name. It checks only what the encoding needs (non-empty names, UTF-8
// addresses, ASCII DNS names); ParseSAN accepts everything it produces.
func marshalSAN(id Identity) ([]byte, error) {
	if len(id.XMPPAddrs) == 0 && len(id.DNSNames) == 0 {
		return nil, errors.New("pki: subjectAltName: no names")
	}
	oid, err := asn1.Marshal(oidXMPPAddr)
	if err != nil {
		return nil, fmt.Errorf("pki: subjectAltName: %w", err)
	}
	names := make([]asn1.RawValue, 0, len(id.XMPPAddrs)+len(id.DNSNames))
	for _, addr := range id.XMPPAddrs {
		if addr == "" || !utf8.ValidString(addr) {
			return nil, fmt.Errorf("pki: subjectAltName: xmppAddr %q is not non-empty UTF-8", addr)
		}
		str, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(addr)})
		if err != nil {
			return nil, fmt.Errorf("pki: subjectAltName: %w", err)
		}
		value, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: str})
		if err != nil {
			return nil, fmt.Errorf("pki: subjectAltName: %w", err)
		}
		names = append(names, asn1.RawValue{
			Class:      asn1.ClassContextSpecific,
			Tag:        tagOtherName,
			IsCompound: true,
			Bytes:      append(append([]byte(nil), oid...), value...),
		})
	}
	for _, dns := range id.DNSNames {
		if dns == "" || !isASCII([]byte(dns)) {
			return nil, fmt.Errorf("pki: subjectAltName: dNSName %q is not non-empty ASCII", dns)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagDNSName, Bytes: []byte(dns)})
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("pki: subjectAltName: %w", err)
	}
	return der, nil
}

// isASCII reports whether b holds only 7-bit characters, the IA5String
// alphabet.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
