package caps

import (
	"slices"
	"testing"

	"github.com/mote-xmpp/mote/internal/dataform"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// FuzzVerString parses fuzzed XML with xmlstream and computes the
// verification string of the disco#info <query/> (the element itself or
// its child, as in an <iq/> result). VerString must not panic; whether it
// fails and the S it returns must not depend on the order of the children
// of the query and of its forms (§5.1 sorts everything); and an accepted
// query must give the same S after serialisation and parsing.
func FuzzVerString(f *testing.F) {
	for _, s := range []string{
		simpleInfo,
		complexInfo,
		`<iq type='result' id='1'>` + complexInfo + `</iq>`,
		query(`<identity category='client' type='pc' xml:lang='en-GB' name='A'/><identity category='client' type='pc' xml:lang='en' name='B'/>`),
		query(`<identity category='client' type='pc' name='SomeClient&amp;lt;x'/><feature var='a&lt;b'/>`),
		query(`<feature var='a'/><feature var='a'/>`),
		query(xform(formType("urn:b")+`<field var='z'><value>2</value><value>1</value></field>`) + xform(formType("urn:a"))),
		query(xform(formType("urn:a")) + xform(formType("urn:a"))),
		query(xform(`<field var='FORM_TYPE' type='hidden'><value>urn:a</value><value>urn:b</value></field>`)),
		query(xform(`<field var='FORM_TYPE'><value>urn:a</value></field>` + formType("urn:a"))),
		query(xform(formType("urn:a") + `<field type='fixed'><value>x</value></field><field type='fixed'><value>y</value></field>`)),
		query(`<x xmlns='jabber:x:data' type='form'>` + formType("urn:a") + `<field var='b' type='boolean'><value>yes</value></field></x>`),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := xmlstream.ParseStanza(data)
		if err != nil {
			return
		}
		if el.Space != nsInfo || el.Local != "query" {
			if q := el.Child(nsInfo, "query"); q != nil {
				el = q
			}
		}
		s, err := VerString(el)
		rs, rerr := VerString(reversed(el))
		if (err == nil) != (rerr == nil) || rs != s {
			t.Fatalf("order changes the result: %q, %v; reversed %q, %v", s, err, rs, rerr)
		}
		if err != nil {
			if s != "" {
				t.Fatalf("S %q with error %v", s, err)
			}
			return
		}
		if _, ok := Hash("sha-1", s); !ok {
			t.Fatal("sha-1 refused")
		}
		b := el.AppendXML(nil, stanza.NSClient)
		if len(b) > 64<<10 {
			return // re-escaping could push the output past the stream limits
		}
		el2, err := xmlstream.ParseStanza(b)
		if err != nil {
			t.Fatalf("reparse %s: %v", b, err)
		}
		if s2, err := VerString(el2); err != nil || s2 != s {
			t.Fatalf("after a round trip: %q, %v; want %q", s2, err, s)
		}
	})
}

// reversed returns a copy of a disco#info query with its children, and the
// children of its forms, in reverse order. Deeper levels (the values of a
// field, whose text nodes concatenate in order) are left alone.
func reversed(q *stanza.Element) *stanza.Element {
	r := q.ShallowCopy()
	slices.Reverse(r.Children)
	for i, n := range r.Children {
		if n.Elem != nil && n.Elem.Space == dataform.NS && n.Elem.Local == "x" {
			x := n.Elem.ShallowCopy()
			slices.Reverse(x.Children)
			r.Children[i].Elem = x
		}
	}
	return r
}
