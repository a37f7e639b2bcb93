package caps

import (
	"errors"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// query wraps disco#info children in a <query/>.
func query(children string) string {
	return `<query xmlns='http://jabber.org/protocol/disco#info'>` + children + `</query>`
}

// xform wraps fields in an <x xmlns='jabber:x:data' type='result'/>.
func xform(fields string) string {
	return `<x xmlns='jabber:x:data' type='result'>` + fields + `</x>`
}

func formType(v string) string {
	return `<field var='FORM_TYPE' type='hidden'><value>` + v + `</value></field>`
}

func parse(t testing.TB, s string) *stanza.Element {
	t.Helper()
	el, err := xmlstream.ParseStanza([]byte(s))
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return el
}

// The disco#info result of XEP-0115 §5.2 (Simple Generation Example).
var simpleInfo = query(`<identity category='client' type='pc' name='Exodus 0.9.1'/>` +
	`<feature var='http://jabber.org/protocol/disco#info'/>` +
	`<feature var='http://jabber.org/protocol/disco#items'/>` +
	`<feature var='http://jabber.org/protocol/muc'/>` +
	`<feature var='http://jabber.org/protocol/caps'/>`)

const simpleS = "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
	"http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<"

// The disco#info result of XEP-0115 §5.3 (Complex Generation Example), as
// the example stanza has it.
const complexInfo = `<query xmlns='http://jabber.org/protocol/disco#info'
         node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
    <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
    <identity xml:lang='el' category='client' name='&#936; 0.11' type='pc'/>
    <feature var='http://jabber.org/protocol/caps'/>
    <feature var='http://jabber.org/protocol/disco#info'/>
    <feature var='http://jabber.org/protocol/disco#items'/>
    <feature var='http://jabber.org/protocol/muc'/>
    <x xmlns='jabber:x:data' type='result'>
      <field var='FORM_TYPE' type='hidden'>
        <value>urn:xmpp:dataforms:softwareinfo</value>
      </field>
      <field var='ip_version' type='text-multi' >
        <value>ipv4</value>
        <value>ipv6</value>
      </field>
      <field var='os'>
        <value>Mac</value>
      </field>
      <field var='os_version'>
        <value>10.5.1</value>
      </field>
      <field var='software'>
        <value>Psi</value>
      </field>
      <field var='software_version'>
        <value>0.11</value>
      </field>
    </x>
  </query>`

const complexS = "client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
	"http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<" +
	"ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<"

func TestVerString(t *testing.T) {
	for i, tc := range []struct {
		name, info, s, sha1 string
	}{
		{"§5.2 simple example", simpleInfo, simpleS, "QgayPKawpkPSDYmwT/WM94uAlu0="},
		{"§5.3 complex example", complexInfo, complexS, "q07IKJEyjvHSyhy//CH0CxmKi8w="},
		{"§5.3 complex example, children reversed",
			query(`<x xmlns='jabber:x:data' type='result'>` +
				`<field var='software_version'><value>0.11</value></field>` +
				`<field var='software'><value>Psi</value></field>` +
				`<field var='os_version'><value>10.5.1</value></field>` +
				`<field var='os'><value>Mac</value></field>` +
				`<field var='ip_version' type='text-multi'><value>ipv6</value><value>ipv4</value></field>` +
				`<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field></x>` +
				`<feature var='http://jabber.org/protocol/muc'/>` +
				`<feature var='http://jabber.org/protocol/disco#items'/>` +
				`<feature var='http://jabber.org/protocol/disco#info'/>` +
				`<feature var='http://jabber.org/protocol/caps'/>` +
				`<identity xml:lang='el' category='client' name='&#936; 0.11' type='pc'/>` +
				`<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>`),
			complexS, "q07IKJEyjvHSyhy//CH0CxmKi8w="},
		{"empty", query(``), "", ""},
		{"identity without name or type", query(`<identity category='client'/>`), "client///<", ""},
		// §5.1: sorted by category, then type, then xml:lang, each as a
		// whole: "en" before "en-GB", although "en-GB/" sorts before
		// "en/" as a string.
		{"sort by lang, then name",
			query(`<identity category='client' type='pc' xml:lang='en-GB' name='A'/>` +
				`<identity category='client' type='pc' xml:lang='en' name='B'/>` +
				`<identity category='client' type='pc' xml:lang='en' name='A'/>` +
				`<identity category='client' type='pc' name='Z'/>`),
			"client/pc//Z<client/pc/en/A<client/pc/en/B<client/pc/en-GB/A<", ""},
		{"sort by category, then type",
			query(`<identity category='client' type='pc-x'/><identity category='client' type='pc'/>` +
				`<identity category='cl' type='z'/>`),
			"cl/z//<client/pc//<client/pc-x//<", ""},
		// The &lt; note of §5.1: a literal "&lt;" stays four characters.
		{"literal &lt;", query(`<identity category='client' type='pc' name='SomeClient&amp;lt;http://jabber.org/protocol/muc'/>`),
			"client/pc//SomeClient&lt;http://jabber.org/protocol/muc<", ""},
		{"escaped <", query(`<feature var='a&lt;b'/>`), "a<b<", ""},
		{"unprefixed lang is not xml:lang", query(`<identity category='c' type='t' lang='en'/>`), "c/t//<", ""},
		{"other namespaces ignored",
			query(`<feature xmlns='urn:other' var='x'/><identity xmlns='urn:other' category='c' type='t'/>` +
				`<x xmlns='urn:other' type='result'>` + formType("urn:f") + `</x><feature var='f'/>`),
			"f<", ""},
		{"forms sorted by FORM_TYPE, fields by var, values sorted",
			query(xform(formType("urn:b")+`<field var='z'><value>2</value><value>1</value></field><field var='a'/>`) +
				xform(`<field var='x'><value>v</value></field>`+formType("urn:a"))),
			"urn:a<x<v<urn:b<a<z<1<2<", ""},
		{"form without FORM_TYPE ignored", query(`<feature var='f'/>` + xform(`<field var='a'><value>1</value></field>`)), "f<", ""},
		{"FORM_TYPE not hidden ignored (§5.4 3.6)",
			query(xform(`<field var='FORM_TYPE'><value>urn:a</value></field><field var='a'><value>1</value></field>`) +
				xform(`<field var='FORM_TYPE' type='text-single'><value>urn:a</value></field>`) +
				xform(formType("urn:a"))),
			"urn:a<", ""},
		{"FORM_TYPE without value ignored", query(xform(`<field var='FORM_TYPE' type='hidden'/>`)), "", ""},
		{"FORM_TYPE with equal values", query(xform(`<field var='FORM_TYPE' type='hidden'><value>urn:a</value><value>urn:a</value></field>`)), "urn:a<", ""},
		{"form not of type result ignored",
			query(`<x xmlns='jabber:x:data' type='form'>` + formType("urn:a") + `</x>` +
				`<x xmlns='jabber:x:data'>` + formType("urn:b") + `</x>`),
			"", ""},
		{"fixed field without var left out",
			query(xform(formType("urn:a") + `<field type='fixed'><value>note</value></field><field var='b'><value>1</value></field>`)),
			"urn:a<b<1<", ""},
		{"field without values", query(xform(formType("urn:a") + `<field var='b'/>`)), "urn:a<b<", ""},
		{"empty value", query(xform(formType("urn:a") + `<field var='b'><value/></field>`)), "urn:a<b<<", ""},
		{"reported and items not part of S",
			query(xform(formType("urn:a") + `<reported><field var='r'/></reported><item><field var='r'><value>1</value></field></item>`)),
			"urn:a<", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := VerString(parse(t, tc.info))
			if err != nil {
				t.Fatalf("%d: VerString: %v", i, err)
			}
			if s != tc.s {
				t.Fatalf("%d: S = %q, want %q", i, s, tc.s)
			}
			if tc.sha1 == "" {
				return
			}
			if ver, ok := Hash("sha-1", s); !ok || ver != tc.sha1 {
				t.Fatalf("%d: ver = %q, %v, want %q", i, ver, ok, tc.sha1)
			}
		})
	}
}

// TestVerStringIllFormed: the rules of XEP-0115 §5.4 step 3 under which
// the whole response is ill-formed.
func TestVerStringIllFormed(t *testing.T) {
	for i, tc := range []struct {
		name, info string
		err        error
	}{
		{"not disco#info", `<query xmlns='http://jabber.org/protocol/disco#items'/>`, ErrNotInfo},
		{"not a query", `<x xmlns='http://jabber.org/protocol/disco#info'/>`, ErrNotInfo},
		{"§5.4 3.3 duplicate identity",
			query(`<identity category='client' type='pc' name='A'/><feature var='f'/><identity name='A' type='pc' category='client'/>`),
			ErrDuplicateIdentity},
		{"§5.4 3.3 duplicate identity with xml:lang",
			query(`<identity category='client' type='pc' xml:lang='en'/><identity category='client' type='pc' xml:lang='en'/>`),
			ErrDuplicateIdentity},
		{"§5.4 3.4 duplicate feature", query(`<feature var='a'/><feature var='b'/><feature var='a'/>`), ErrDuplicateFeature},
		{"§5.4 3.4 duplicate empty feature", query(`<feature/><feature var=''/>`), ErrDuplicateFeature},
		{"§5.4 3.5 duplicate FORM_TYPE",
			query(xform(formType("urn:a")+`<field var='x'><value>1</value></field>`) + xform(formType("urn:b")) + xform(formType("urn:a"))),
			ErrDuplicateFormType},
		{"§5.4 3.5 FORM_TYPE with different values",
			query(xform(`<field var='FORM_TYPE' type='hidden'><value>urn:a</value><value>urn:b</value></field>`)),
			ErrFormTypeValues},
		{"form with duplicate field var", query(xform(formType("urn:a") + `<field var='b'/><field var='b'/>`)), ErrForm},
		{"form with two FORM_TYPE fields",
			query(xform(`<field var='FORM_TYPE' type='text-single'><value>urn:a</value></field>` + formType("urn:a"))),
			ErrForm},
		{"form with unknown field type", query(xform(formType("urn:a") + `<field var='b' type='bogus'/>`)), ErrForm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := VerString(parse(t, tc.info))
			if !errors.Is(err, tc.err) || s != "" {
				t.Fatalf("%d: VerString = %q, %v; want %v", i, s, err, tc.err)
			}
		})
	}
	if _, err := VerString(nil); !errors.Is(err, ErrNotInfo) {
		t.Fatalf("VerString(nil): %v", err)
	}
}

func TestHash(t *testing.T) {
	// FIPS 180-4 "abc" test vectors, base64-encoded.
	for i, tc := range []struct {
		algo, want string
	}{
		{"sha-1", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="},
		{"sha-224", "Iwl9IjQF2CKGQqR3vaJVsyqtvOS9oLP342ydpw=="},
		{"sha-256", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="},
		{"sha-384", "ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"},
		{"sha-512", "3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="},
	} {
		got, ok := Hash(tc.algo, "abc")
		if !ok || got != tc.want {
			t.Errorf("%d: Hash(%s) = %q, %v; want %q", i, tc.algo, got, ok, tc.want)
		}
		if n := verLen(tc.algo); n != len(tc.want) {
			t.Errorf("%d: verLen(%s) = %d, want %d", i, tc.algo, n, len(tc.want))
		}
	}
	for _, algo := range []string{"", "md5", "md2", "SHA-1", "sha1", "sha3-256"} {
		if got, ok := Hash(algo, "abc"); ok || got != "" {
			t.Errorf("Hash(%q) = %q, %v; want refused", algo, got, ok)
		}
	}
}

func TestVerify(t *testing.T) {
	const node = "http://code.google.com/p/exodus"
	simple := parse(t, simpleInfo)
	sha256Ver, _ := Hash("sha-256", simpleS)
	// The ver of a response with a duplicate feature, hashed as if it were
	// well-formed: it must still not verify (§5.4 3.4).
	dup := parse(t, strings.Replace(simpleInfo, "</query>", "<feature var='http://jabber.org/protocol/muc'/></query>", 1))
	dupVer, _ := Hash("sha-1", simpleS+"http://jabber.org/protocol/muc<")
	for i, tc := range []struct {
		name string
		c    Caps
		info *stanza.Element
		want bool
	}{
		{"§5.2 sha-1", Caps{"sha-1", node, "QgayPKawpkPSDYmwT/WM94uAlu0="}, simple, true},
		{"§5.3 sha-1", Caps{"sha-1", "http://psi-im.org", "q07IKJEyjvHSyhy//CH0CxmKi8w="}, parse(t, complexInfo), true},
		{"sha-256", Caps{"sha-256", node, sha256Ver}, simple, true},
		{"wrong ver", Caps{"sha-1", node, "66/0NaeaBKkwk85efJTGmU47vXI="}, simple, false},
		{"wrong algorithm", Caps{"sha-256", node, "QgayPKawpkPSDYmwT/WM94uAlu0="}, simple, false},
		{"legacy", Caps{"", node, "QgayPKawpkPSDYmwT/WM94uAlu0="}, simple, false},
		{"unknown algorithm", Caps{"md5", node, "QgayPKawpkPSDYmwT/WM94uAlu0="}, simple, false},
		{"ill-formed", Caps{"sha-1", node, dupVer}, dup, false},
		{"no info", Caps{"sha-1", node, "QgayPKawpkPSDYmwT/WM94uAlu0="}, nil, false},
	} {
		if got := Verify(tc.c, tc.info); got != tc.want {
			t.Errorf("%d %s: Verify = %v, want %v", i, tc.name, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for i, tc := range []struct {
		name, presence string
		want           Caps
		ok             bool
	}{
		{"§6.1", `<presence from='romeo@montague.lit/orchard'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://code.google.com/p/exodus' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>`,
			Caps{"sha-1", "http://code.google.com/p/exodus", "QgayPKawpkPSDYmwT/WM94uAlu0="}, true},
		{"legacy", `<presence><c xmlns='http://jabber.org/protocol/caps' node='http://psi-im.org/caps' ver='0.11' ext='cs'/></presence>`,
			Caps{"", "http://psi-im.org/caps", "0.11"}, true},
		{"first of two", `<presence><status>hi</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='a' ver='b'/><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='c' ver='d'/></presence>`,
			Caps{"sha-1", "a", "b"}, true},
		{"absent", `<presence><show>away</show></presence>`, Caps{}, false},
		{"other namespace", `<presence><c xmlns='urn:other' hash='sha-1' node='a' ver='b'/></presence>`, Caps{}, false},
		{"no node", `<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' ver='b'/></presence>`, Caps{}, false},
		{"empty ver", `<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='a' ver=''/></presence>`, Caps{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Parse(parse(t, tc.presence))
			if got != tc.want || ok != tc.ok {
				t.Fatalf("%d: Parse = %+v, %v; want %+v, %v", i, got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := Parse(nil); ok {
		t.Fatal("Parse(nil): ok")
	}
}

func TestCapsElement(t *testing.T) {
	c := Caps{"sha-1", "http://code.google.com/p/exodus", "QgayPKawpkPSDYmwT/WM94uAlu0="}
	if got, want := c.InfoNode(), "http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0="; got != want {
		t.Errorf("InfoNode = %q, want %q", got, want)
	}
	p := stanza.NewElement(stanza.NSClient, "presence").Append(c.Element())
	if got, ok := Parse(parse(t, string(p.AppendXML(nil, stanza.NSClient)))); !ok || got != c {
		t.Errorf("Parse(Element) = %+v, %v; want %+v", got, ok, c)
	}
}

func TestFeatures(t *testing.T) {
	info := parse(t, query(`<identity category='client' type='pc'/><feature var='b'/><feature var='a'/>`+
		`<feature var='b'/><feature var=''/><feature xmlns='urn:other' var='c'/>`+xform(formType("urn:f"))))
	got := Features(info)
	if strings.Join(got, " ") != "a b" {
		t.Fatalf("Features = %q", got)
	}
	if Features(nil) != nil {
		t.Fatal("Features(nil) not nil")
	}
}
