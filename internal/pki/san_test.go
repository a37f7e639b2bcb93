package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"slices"
	"testing"
)

// oidEmailAddress is the PKCS #9 emailAddress attribute of a subject DN.
var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// oidSRVName is id-on-dnsSRV (RFC 4985), another otherName type-id.
var oidSRVName = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 7}

// der encodes an ASN.1 element of the given class and tag around body.
func der(class, tag int, compound bool, body ...[]byte) []byte {
	b, err := asn1.Marshal(asn1.RawValue{Class: class, Tag: tag, IsCompound: compound, Bytes: bytes.Join(body, nil)})
	if err != nil {
		panic(err)
	}
	return b
}

// sequence encodes a SEQUENCE of elems: a GeneralNames value.
func sequence(elems ...[]byte) []byte {
	return der(asn1.ClassUniversal, asn1.TagSequence, true, elems...)
}

// otherName encodes an otherName GeneralName with the given type-id and
// value, which goes inside the [0] EXPLICIT.
func otherName(typeID asn1.ObjectIdentifier, value []byte) []byte {
	oid, err := asn1.Marshal(typeID)
	if err != nil {
		panic(err)
	}
	return der(asn1.ClassContextSpecific, tagOtherName, true, oid, der(asn1.ClassContextSpecific, 0, true, value))
}

// utf8String encodes s as a UTF8String.
func utf8String(s string) []byte {
	return der(asn1.ClassUniversal, asn1.TagUTF8String, false, []byte(s))
}

// dnsName encodes a dNSName GeneralName.
func dnsName(s string) []byte {
	return der(asn1.ClassContextSpecific, tagDNSName, false, []byte(s))
}

// rfc822Name encodes an rfc822Name GeneralName.
func rfc822Name(s string) []byte {
	return der(asn1.ClassContextSpecific, 1, false, []byte(s))
}

// equalIdentity reports whether a and b list the same names in the same
// order, treating nil and empty lists alike.
func equalIdentity(a, b Identity) bool {
	return slices.Equal(a.XMPPAddrs, b.XMPPAddrs) && slices.Equal(a.DNSNames, b.DNSNames)
}

// TestMarshalSAN checks the encoding byte by byte against RFC 6120
// §13.7.1.4: otherName [0] { type-id OID, [0] EXPLICIT UTF8String }.
func TestMarshalSAN(t *testing.T) {
	got, err := marshalSAN(Identity{XMPPAddrs: []string{"a@b"}, DNSNames: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "3016" + // SEQUENCE OF GeneralName
		"a011" + // otherName [0] IMPLICIT OtherName
		"06082b06010505070805" + // type-id id-on-xmppAddr 1.3.6.1.5.5.7.8.5
		"a005" + // value [0] EXPLICIT
		"0c03614062" + // UTF8String "a@b"
		"820162" // dNSName [2] IA5String "b"
	if hex.EncodeToString(got) != want {
		t.Errorf("marshalSAN = %x\nwant          %s", got, want)
	}

	for i, id := range []Identity{
		{},
		{XMPPAddrs: []string{""}},
		{XMPPAddrs: []string{"\xff@example.com"}},
		{DNSNames: []string{"bücher.example"}},
	} {
		if b, err := marshalSAN(id); err == nil {
			t.Errorf("%d: marshalSAN(%+v) = %x, want an error", i, id, b)
		}
	}
}

func TestParseSAN(t *testing.T) {
	xmpp := func(s string) []byte { return otherName(oidXMPPAddr, utf8String(s)) }
	tests := []struct {
		name string
		der  []byte
		want Identity
		err  bool
	}{
		{name: "one xmppAddr", der: sequence(xmpp("sensor1@example.com")),
			want: Identity{XMPPAddrs: []string{"sensor1@example.com"}}},
		{name: "two xmppAddrs", der: sequence(xmpp("a@example.com"), xmpp("b@example.net")),
			want: Identity{XMPPAddrs: []string{"a@example.com", "b@example.net"}}},
		{name: "non-ASCII xmppAddr", der: sequence(xmpp("jürgen@example.com")),
			want: Identity{XMPPAddrs: []string{"jürgen@example.com"}}},
		{name: "dNSName only", der: sequence(dnsName("device.example.com")),
			want: Identity{DNSNames: []string{"device.example.com"}}},
		{name: "other kinds skipped",
			der: sequence(rfc822Name("admin@example.com"), otherName(oidSRVName, der(asn1.ClassUniversal, asn1.TagIA5String, false, []byte("_xmpp-client.example.com"))),
				otherName(asn1.ObjectIdentifier{1, 2, 3}, utf8String("admin@example.com")), xmpp("sensor1@example.com"), dnsName("d.example"),
				der(asn1.ClassContextSpecific, 7, false, []byte{127, 0, 0, 1})),
			want: Identity{XMPPAddrs: []string{"sensor1@example.com"}, DNSNames: []string{"d.example"}}},
		{name: "nothing known", der: sequence(rfc822Name("admin@example.com"))},

		{name: "empty input", der: nil, err: true},
		{name: "empty sequence", der: sequence(), err: true},
		{name: "not a sequence", der: der(asn1.ClassUniversal, asn1.TagSet, true, xmpp("a@b")), err: true},
		{name: "trailing data", der: append(sequence(xmpp("a@b")), 0), err: true},
		{name: "truncated", der: sequence(xmpp("a@b"))[:10], err: true},
		{name: "universal GeneralName", der: sequence(utf8String("a@b")), err: true},
		{name: "xmppAddr as BMPString", der: sequence(otherName(oidXMPPAddr, der(asn1.ClassUniversal, 30, false, []byte{0, 'a', 0, '@', 0, 'b'}))), err: true},
		{name: "xmppAddr as IA5String", der: sequence(otherName(oidXMPPAddr, der(asn1.ClassUniversal, asn1.TagIA5String, false, []byte("a@b")))), err: true},
		{name: "xmppAddr invalid UTF-8", der: sequence(xmpp("a\xff@b")), err: true},
		{name: "xmppAddr empty", der: sequence(xmpp("")), err: true},
		{name: "xmppAddr value not explicit", der: sequence(der(asn1.ClassContextSpecific, tagOtherName, true, mustMarshal(oidXMPPAddr), utf8String("a@b"))), err: true},
		{name: "xmppAddr trailing value", der: sequence(otherName(oidXMPPAddr, append(utf8String("a@b"), utf8String("c@d")...))), err: true},
		{name: "otherName without value", der: sequence(der(asn1.ClassContextSpecific, tagOtherName, true, mustMarshal(oidXMPPAddr))), err: true},
		{name: "otherName primitive", der: sequence(der(asn1.ClassContextSpecific, tagOtherName, false, []byte{1})), err: true},
		{name: "otherName of other type malformed", der: sequence(der(asn1.ClassContextSpecific, tagOtherName, true, mustMarshal(oidSRVName), utf8String("x"))), err: true},
		{name: "dNSName not ASCII", der: sequence(dnsName("bücher.example")), err: true},
		{name: "dNSName empty", der: sequence(dnsName("")), err: true},
		{name: "dNSName constructed", der: sequence(der(asn1.ClassContextSpecific, tagDNSName, true, utf8String("a"))), err: true},
		{name: "non-minimal length", der: []byte{0x30, 0x81, 0x03, 0x82, 0x01, 'b'}, err: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSAN(tt.der)
			if tt.err {
				if err == nil {
					t.Fatalf("%d: ParseSAN(%x) = %+v, want an error", i, tt.der, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("%d: ParseSAN(%x): %v", i, tt.der, err)
			}
			if !equalIdentity(got, tt.want) {
				t.Errorf("%d: ParseSAN = %+v, want %+v", i, got, tt.want)
			}
		})
	}
}

func TestIdentities(t *testing.T) {
	ca := newTestCA(t, "example.com")
	req := IssueRequest{JID: "sensor1@example.com"}
	sanExt := func(b []byte) []pkix.Extension {
		return []pkix.Extension{{Id: oidSubjectAltName, Value: b}}
	}
	tests := []struct {
		name string
		edit func(*x509.Certificate)
		want Identity
		err  bool
	}{
		{name: "issued", edit: func(*x509.Certificate) {},
			want: Identity{XMPPAddrs: []string{"sensor1@example.com"}}},
		{
			// The subject and an rfc822Name claim admin; so does an
			// otherName of another type. Only the xmppAddr counts.
			name: "SAN spoof",
			edit: func(c *x509.Certificate) {
				c.Subject = pkix.Name{
					CommonName: "admin@example.com",
					ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidEmailAddress, Value: "admin@example.com"}},
				}
				c.ExtraExtensions = sanExt(sequence(
					rfc822Name("admin@example.com"),
					otherName(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 9}, utf8String("admin@example.com")),
					otherName(oidXMPPAddr, utf8String("sensor1@example.com")),
				))
			},
			want: Identity{XMPPAddrs: []string{"sensor1@example.com"}},
		},
		{name: "no SAN", edit: func(c *x509.Certificate) {
			c.Subject = pkix.Name{CommonName: "admin@example.com"}
			c.ExtraExtensions = nil
		}},
		{
			// A SAN made by crypto/x509, with every kind it can write.
			name: "dNSName only",
			edit: func(c *x509.Certificate) {
				c.ExtraExtensions = nil
				c.DNSNames = []string{"sensor1.example.com", "*.devices.example.com"}
				c.EmailAddresses = []string{"sensor1@example.com"}
				c.IPAddresses = []net.IP{net.IPv4(192, 0, 2, 1)}
				c.URIs = []*url.URL{{Scheme: "xmpp", Opaque: "sensor1@example.com"}}
			},
			want: Identity{DNSNames: []string{"sensor1.example.com", "*.devices.example.com"}},
		},
		{name: "two xmppAddrs", edit: func(c *x509.Certificate) {
			san, err := marshalSAN(Identity{XMPPAddrs: []string{"sensor1@example.com", "sensor1@example.net"}, DNSNames: []string{"sensor1.example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			c.ExtraExtensions = sanExt(san)
		}, want: Identity{XMPPAddrs: []string{"sensor1@example.com", "sensor1@example.net"}, DNSNames: []string{"sensor1.example.com"}}},
		{
			// crypto/x509 does not look into otherName values, so the
			// certificate parses, but Identities refuses it.
			name: "xmppAddr not UTF8String",
			edit: func(c *x509.Certificate) {
				c.ExtraExtensions = sanExt(sequence(otherName(oidXMPPAddr, der(asn1.ClassUniversal, asn1.TagPrintableString, false, []byte("sensor1")))))
			},
			err: true,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := issueWith(t, ca, req, tt.edit).Certificate
			got, err := Identities(c)
			if tt.err {
				if err == nil {
					t.Fatalf("%d: Identities = %+v, want an error", i, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("%d: %v", i, err)
			}
			if !equalIdentity(got, tt.want) {
				t.Errorf("%d: Identities = %+v, want %+v", i, got, tt.want)
			}
		})
	}

	// crypto/x509 refuses to parse certificates like these; Identities
	// refuses them too when it is handed one built by hand.
	san, err := marshalSAN(Identity{XMPPAddrs: []string{"sensor1@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, exts := range [][]pkix.Extension{
		{{Id: oidSubjectAltName, Value: san}, {Id: oidSubjectAltName, Value: san}},
		{{Id: oidSubjectAltName, Value: san[:len(san)-1]}},
	} {
		if id, err := Identities(&x509.Certificate{Extensions: exts}); err == nil {
			t.Errorf("%d: Identities = %+v, want an error", i, id)
		}
	}
	if _, err := Identities(nil); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("Identities(nil) = %v, want ErrNoCertificate", err)
	}
}

// mustMarshal returns the DER encoding of v.
func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
