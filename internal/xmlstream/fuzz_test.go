package xmlstream

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mote-xmpp/mote/stanza"
)

// seedStanzas are typical and tricky top-level elements for the fuzz
// targets' corpora.
var seedStanzas = []string{
	`<message to='juliet@example.com/balcony' from='romeo@example.net/orchard' type='chat' id='m1' xml:lang='en'><body>Wherefore art thou, Romeo?</body><thread>e0ffe42b</thread><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
	`<presence><show>away</show><status>Out &amp; about</status><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://example.com' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>`,
	`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`,
	`<iq type='result' id='d1' from='example.com'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='server' type='im' name='mote'/><feature var='urn:xmpp:ping'/></query></iq>`,
	`<iq type='set' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='sensors'><item id='t1'><data xmlns='urn:example:sensor'>{"temp":21.5,"hum":40}</data></item></publish></pubsub></iq>`,
	`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
	`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>`,
	`<a xmlns:p='urn:p' p:x='1&#x9;2' y="a&lt;b'"><![CDATA[x<y]]]>text&#128512;<p:b xmlns=''/></a>`,
	"<message>\r\n<body xml:lang='fr'>a\rb \u00e9\u4e16</body></message>  ",
	`<x xmlns='urn:a'><y xmlns='urn:b' xmlns:q='urn:a' q:z='1' z='2'/></x>`,
	`<r xmlns='urn:xmpp:sm:3'/>`,
	`<a v='a` + "\t\n\r\n" + `b'>&#13;&#10;]]&gt;</a>`,
	`<a><!-- c --></a>`, `<a>&foo;</a>`, `<a b='1' b='2'/>`, `<p:a/>`, "<a>\xff</a>", `hello`,
	`</stream:stream>`,
}

// fuzzLimits are small enough for the fuzzer to reach every limit.
var fuzzLimits = Limits{MaxStanzaBytes: 1024, MaxDepth: 8, MaxChildren: 16, MaxAttrs: 8, MaxNamespaces: 4, MaxTokenBytes: 256}

// FuzzSplit checks that decoding does not depend on how the input is split
// into reads: the events and the error must be the same for the input
// delivered in one piece and in chunks whose sizes come from cuts.
func FuzzSplit(f *testing.F) {
	f.Add([]byte(header+strings.Join(seedStanzas[:10], " ")+"</stream:stream>"), []byte{0, 1, 2, 3, 7, 30})
	f.Add([]byte("<?xml version='1.0' encoding='UTF-8'?>"+header+seedStanzas[0]), []byte{0})
	f.Add([]byte("\xEF\xBB\xBF"+header+seedStanzas[7]), []byte{2, 200, 5})
	for _, s := range seedStanzas {
		f.Add([]byte(header+s), []byte{3, 1, 4, 1, 5, 9, 2, 6})
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		for _, lim := range []Limits{fuzzLimits, {}} {
			want, wantErr := decodeAll(bytes.NewReader(data), lim)
			d := NewDecoder(nil, lim)
			r := &chunkReader{data: data, sizes: cuts, eofWithData: len(cuts)%2 == 1}
			r.onRead = func([]byte) { checkBounded(t, d) }
			d.Reset(r)
			got, gotErr := decodeAll3(d)
			if !equalNames(got, want) || errText(gotErr) != errText(wantErr) {
				t.Fatalf("split input decoded differently:\nwhole: %q %v\nsplit: %q %v", want, wantErr, got, gotErr)
			}
		}
	})
}

// decodeAll3 is decodeAll on a given decoder.
func decodeAll3(d *Decoder) ([]string, error) {
	var out []string
	ns := ""
	for {
		ev, err := d.Next()
		if err != nil {
			return out, err
		}
		if ev.Kind == StreamStart {
			ns = ev.DefaultNS
		}
		out = append(out, describe(ev, ns))
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzDifferential compares the decoder with encoding/xml on input that
// follows a stream header:
//
//	(a) every element the decoder accepts, encoding/xml (Strict) accepts
//	    too, with the same tree: expanded names, attributes without the
//	    namespace declarations, and character data;
//	(b) the element re-serialised with stanza.Element.AppendXML decodes
//	    to an identical tree.
//
// encoding/xml is laxer than XML 1.0 in places (duplicate attributes,
// undeclared prefixes, character references to surrogates, xmlns:p=""), so
// only this direction is checked. Known non-conformances of encoding/xml,
// which the comparison allows for:
//   - It does not normalise attribute values (XML 1.0 §3.3.3): a literal
//     tab or line end stays as it is. Attribute values and namespace names
//     (the normalised values of xmlns attributes) are compared with tab,
//     CR and LF mapped to spaces on both sides.
//   - It checks names against the Unicode tables of XML 1.0 before the
//     fifth edition, which reject some non-ASCII names the current
//     NameStartChar/NameChar productions allow ("invalid XML name").
func FuzzDifferential(f *testing.F) {
	for _, s := range seedStanzas {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Join(seedStanzas[:11], "\n")))
	f.Add([]byte("<\u00e9l\u00e8ve \u00b7a='1'/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(header), data...)
		els, ends := decodeElements(in)
		if len(els) == 0 {
			return
		}
		// (b) Round trip through AppendXML.
		out := []byte(header)
		for _, e := range els {
			out = e.AppendXML(out, stanza.NSClient)
		}
		again, _ := decodeElements(out)
		if len(again) != len(els) {
			t.Fatalf("re-serialised %q decoded to %d elements, want %d", out, len(again), len(els))
		}
		for i := range els {
			if a, b := dump(els[i], false), dump(again[i], false); a != b {
				t.Fatalf("round trip changed the tree:\n%s\n%s\nserialised: %q", a, b, out)
			}
		}
		// (a) encoding/xml accepts the same bytes with the same tree.
		theirs, err := encodingXMLElements(in[:ends[len(ends)-1]], len(els))
		if err != nil {
			if strings.Contains(err.Error(), "invalid XML name") && !isASCII(data) {
				return // encoding/xml's older name tables, see above
			}
			t.Fatalf("encoding/xml rejects what the decoder accepted: %v\ninput: %q", err, in)
		}
		for i := range els {
			if a, b := dump(els[i], true), dump(theirs[i], true); a != b {
				t.Fatalf("trees differ from encoding/xml:\nmote: %s\nxml:  %s\ninput: %q", a, b, in)
			}
		}
	})
}

// decodeElements returns the elements the decoder accepts from in, with
// the input offset where each ends.
func decodeElements(in []byte) ([]*stanza.Element, []int) {
	r := bytes.NewReader(in)
	d := NewDecoder(r, Limits{})
	var els []*stanza.Element
	var ends []int
	for {
		ev, err := d.Next()
		if err != nil || ev.Kind == StreamEnd {
			return els, ends
		}
		if ev.Kind == Element {
			els = append(els, ev.Elem)
			ends = append(ends, len(in)-r.Len()-d.Buffered())
		}
	}
}

// encodingXMLElements decodes in with encoding/xml and returns the first n
// children of the root element as trees.
func encodingXMLElements(in []byte, n int) ([]*stanza.Element, error) {
	xd := xml.NewDecoder(bytes.NewReader(in))
	var out []*stanza.Element
	var stack []*stanza.Element
	depth := 0
	for len(out) < n {
		tok, err := xd.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				continue
			}
			e := elementOf(tok)
			if len(stack) > 0 {
				stack[len(stack)-1].Append(e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			depth--
			if depth == 0 {
				continue
			}
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				out = append(out, e)
			}
		case xml.CharData:
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				if k := len(p.Children) - 1; k >= 0 && p.Children[k].Elem == nil {
					p.Children[k].Text += string(tok)
				} else {
					p.AppendText(string(tok))
				}
			}
		default:
			if depth > 1 {
				return nil, &xml.SyntaxError{Msg: "comment, processing instruction or directive in an element"}
			}
		}
	}
	return out, nil
}

// dump writes a tree canonically; with norm, attribute values have tab,
// CR and LF mapped to spaces.
func dump(e *stanza.Element, norm bool) string {
	n := func(s string) string {
		if !norm {
			return s
		}
		return strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	}
	var b strings.Builder
	var walk func(e *stanza.Element)
	walk = func(e *stanza.Element) {
		b.WriteString("<{" + strconv.Quote(n(e.Space)) + "}" + e.Local)
		for _, a := range e.Attrs {
			b.WriteString(" {" + strconv.Quote(n(a.Space)) + "}" + a.Local + "=" + strconv.Quote(n(a.Value)))
		}
		b.WriteString(">")
		for _, c := range e.Children {
			if c.Elem != nil {
				walk(c.Elem)
			} else {
				b.WriteString(strconv.Quote(c.Text))
			}
		}
		b.WriteString("</>")
	}
	walk(e)
	return b.String()
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// FuzzNoPanic decodes arbitrary bytes, bare and after a stream header,
// with small limits and reads of varying sizes, checking that the decoder
// never panics and that its memory stays within the limits.
func FuzzNoPanic(f *testing.F) {
	for _, s := range seedStanzas {
		f.Add([]byte(s))
		f.Add([]byte(header + s))
	}
	f.Add([]byte("<?xml version='1.0'?>" + header + strings.Repeat("<a>", 10) + strings.Repeat("x", 300)))
	lim := Limits{MaxStanzaBytes: 300, MaxDepth: 4, MaxChildren: 4, MaxAttrs: 4, MaxNamespaces: 2, MaxTokenBytes: 160}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, append([]byte(header), data...)} {
			d := NewDecoder(nil, lim)
			r := &chunkReader{data: in, sizes: data[:min(len(data), 7)]}
			r.onRead = func([]byte) { checkBounded(t, d) }
			d.Reset(r)
			for i := 0; ; i++ {
				ev, err := d.Next()
				checkBounded(t, d)
				if err != nil {
					if _, ok := err.(*Error); !ok && err != io.EOF {
						t.Fatalf("unexpected error %v", err)
					}
					break
				}
				if ev.Elem != nil {
					ev.Elem.AppendXML(nil, "")
				}
				if i > len(in) {
					t.Fatal("more events than input bytes")
				}
			}
		}
	})
}
