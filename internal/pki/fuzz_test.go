package pki

import (
	"encoding/asn1"
	"net"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseSAN checks that ParseSAN never panics on untrusted bytes, that
// what it accepts is well-formed, and that encoding what it returns and
// parsing that again gives the same names.
func FuzzParseSAN(f *testing.F) {
	ca, _, err := newCA("example.com", testEpoch)
	if err != nil {
		f.Fatal(err)
	}
	seeds := []IssueRequest{
		{JID: "sensor1@example.com", Now: testEpoch},
		{JID: "jürgen@example.com", DNSNames: []string{"a.example", "*.b.example"}, Now: testEpoch},
	}
	for _, req := range seeds {
		tmpl, err := ca.leafTemplate(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tmpl.ExtraExtensions[0].Value)
	}
	// A SAN written by crypto/x509, with the kinds ParseSAN skips.
	tmpl, err := ca.leafTemplate(IssueRequest{JID: "sensor1@example.com", Now: testEpoch})
	if err != nil {
		f.Fatal(err)
	}
	tmpl.ExtraExtensions = nil
	tmpl.DNSNames = []string{"sensor1.example.com"}
	tmpl.EmailAddresses = []string{"admin@example.com"}
	tmpl.IPAddresses = []net.IP{net.IPv6loopback}
	iss, err := ca.sign(tmpl)
	if err != nil {
		f.Fatal(err)
	}
	for _, ext := range iss.Certificate.Extensions {
		if ext.Id.Equal(oidSubjectAltName) {
			f.Add(ext.Value)
		}
	}
	f.Add(sequence(otherName(oidSRVName, der(asn1.ClassUniversal, asn1.TagIA5String, false, []byte("_xmpp-client.example.com"))), rfc822Name("a@b")))
	f.Add(sequence(otherName(oidXMPPAddr, der(asn1.ClassUniversal, 30, false, []byte{0, 'a'}))))
	f.Add(sequence(otherName(oidXMPPAddr, utf8String("a\xff"))))
	f.Add([]byte{0x30, 0x81, 0x03, 0x82, 0x01, 'b'})

	f.Fuzz(func(t *testing.T, in []byte) {
		id, err := ParseSAN(in)
		if err != nil {
			return
		}
		for _, a := range id.XMPPAddrs {
			if a == "" || !utf8.ValidString(a) {
				t.Fatalf("ParseSAN(%x) returned xmppAddr %q", in, a)
			}
		}
		for _, d := range id.DNSNames {
			if d == "" || !isASCII([]byte(d)) {
				t.Fatalf("ParseSAN(%x) returned dNSName %q", in, d)
			}
		}
		if len(id.XMPPAddrs) == 0 && len(id.DNSNames) == 0 {
			return // only names of other kinds
		}
		out, err := marshalSAN(id)
		if err != nil {
			t.Fatalf("marshalSAN(%+v) of ParseSAN(%x): %v", id, in, err)
		}
		again, err := ParseSAN(out)
		if err != nil {
			t.Fatalf("ParseSAN(%x) of marshalSAN(%+v): %v", out, id, err)
		}
		if !equalIdentity(id, again) {
			t.Fatalf("round trip of %x: %+v, then %+v", in, id, again)
		}
	})
}

// testEpoch is a fixed time for certificates whose dates do not matter.
var testEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
