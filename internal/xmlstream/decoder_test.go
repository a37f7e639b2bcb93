package xmlstream

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/stanza"
)

// TestRejections checks the stream error condition for each kind of bad
// input, delivered whole, one byte at a time and in odd chunks. Inputs
// starting with '@' are complete streams; the others follow the header.
func TestRejections(t *testing.T) {
	const (
		nwf        = stanza.StreamNotWellFormed
		restricted = stanza.StreamRestrictedXML
		encoding   = stanza.StreamUnsupportedEncoding
		badFormat  = stanza.StreamBadFormat
	)
	tests := []struct {
		name string
		in   string
		want stanza.StreamCondition
	}{
		// RFC 6120 §11.1: restricted XML.
		{"comment in element", `<message><!-- hi --></message>`, restricted},
		{"comment at stream level", `<!-- hi -->`, restricted},
		{"comment before header", `@<!-- hi -->` + header, restricted},
		{"pi in element", `<message><?php echo 1 ?></message>`, restricted},
		{"pi at stream level", `<?php x?>`, restricted},
		{"pi before header", `@<?xml-stylesheet href='a'?>` + header, restricted},
		{"doctype before header", `@<!DOCTYPE stream>` + header, restricted},
		{"doctype at stream level", `<!DOCTYPE x [<!ENTITY a 'b'>]>`, restricted},
		{"entity declaration in element", `<a><!ENTITY x 'y'></a>`, restricted},
		{"undeclared entity in text", `<a>&foo;</a>`, restricted},
		{"undeclared entity in attribute", `<a b='&foo;'/>`, restricted},
		{"external entity name", `<a>&xxe;</a>`, restricted},
		// Malformed references.
		{"entity without semicolon", `<a>&amp </a>`, nwf},
		{"bare ampersand", `<a>a & b</a>`, nwf},
		{"empty entity", `<a>&;</a>`, nwf},
		{"char ref zero", `<a>&#0;</a>`, nwf},
		{"char ref control", `<a>&#x1;</a>`, nwf},
		{"char ref surrogate", `<a>&#xD800;</a>`, nwf},
		{"char ref fffe", `<a>&#xFFFE;</a>`, nwf},
		{"char ref too large", `<a>&#x110000;</a>`, nwf},
		{"char ref huge", `<a>&#99999999999999999999;</a>`, nwf},
		{"char ref no digits", `<a>&#;</a>`, nwf},
		{"char ref hex no digits", `<a>&#x;</a>`, nwf},
		{"char ref bad digit", `<a>&#12a;</a>`, nwf},
		{"char ref uppercase X", `<a>&#X41;</a>`, nwf},
		{"char ref in attribute", `<a b='&#xFFFF;'/>`, nwf},
		// RFC 6120 §11.6 and XML 1.0 §2.2: encoding and characters.
		{"invalid utf8 in text", "<a>\xff</a>", encoding},
		{"invalid utf8 in attribute", "<a b='\xfe'/>", encoding},
		{"invalid utf8 in name", "<a\xc3\x28/>", encoding},
		{"overlong utf8", "<a>\xc0\xaf</a>", encoding},
		{"encoded surrogate", "<a>\xed\xa0\x80</a>", encoding},
		{"invalid utf8 at stream level", "\xff", encoding},
		{"invalid utf8 in cdata", "<a><![CDATA[\xff]]></a>", encoding},
		{"fffe in text", "<a>\xef\xbf\xbe</a>", nwf},
		{"control char in text", "<a>\x01</a>", nwf},
		{"control char in attribute", "<a b='\x1f'/>", nwf},
		{"control char in cdata", "<a><![CDATA[\x00]]></a>", nwf},
		{"control char at stream level", "\x00", nwf},
		// Attributes.
		{"duplicate attribute", `<a b='1' b='2'/>`, nwf},
		{"duplicate expanded name", `<a xmlns:p='urn:x' xmlns:q='urn:x' p:b='1' q:b='2'/>`, nwf},
		{"duplicate prefixed", `<a xmlns:p='urn:x' p:b='1' p:b='2'/>`, nwf},
		{"duplicate namespace declaration", `<a xmlns:p='urn:x' xmlns:p='urn:y'/>`, nwf},
		{"duplicate default namespace", `<a xmlns='urn:x' xmlns='urn:y'/>`, nwf},
		{"lt in attribute", `<a b='<'/>`, nwf},
		{"unquoted attribute", `<a b=c/>`, nwf},
		{"attribute without value", `<a b/>`, nwf},
		{"no space between attributes", `<a b='1'c='2'/>`, nwf},
		{"unterminated attribute", `<a b='1>`, "EOF"},
		// Names and tags.
		{"mismatched end tag", `<a></b>`, nwf},
		{"mismatched prefix", `<p:a xmlns:p='urn:x' xmlns:q='urn:x'></q:a>`, nwf},
		{"nested mismatch", `<a><b></a></b>`, nwf},
		{"name starts with digit", `<1a/>`, nwf},
		{"two colons", `<a:b:c xmlns:a='urn:x'/>`, nwf},
		{"leading colon", `<:a/>`, nwf},
		{"trailing colon", `<a:/>`, nwf},
		{"attribute trailing colon", `<a b:='1'/>`, nwf},
		{"space after lt", `< a/>`, nwf},
		{"slash space gt", `<a/ >`, nwf},
		{"garbage in end tag", `<a></a b>`, nwf},
		{"bad markup after bang", `<a><!x></a>`, nwf},
		{"bad cdata start", `<a><![CDATX[x]]></a>`, nwf},
		{"cdata end in text", `<a>x]]>y</a>`, nwf},
		// Namespaces in XML (RFC 6120 §11.2).
		{"undeclared element prefix", `<p:a/>`, nwf},
		{"undeclared attribute prefix", `<a p:b='1'/>`, nwf},
		{"prefix out of scope", `<a><b xmlns:p='urn:x'/><p:c/></a>`, nwf},
		{"xml prefix rebound", `<a xmlns:xml='urn:x'/>`, nwf},
		{"xmlns prefix declared", `<a xmlns:xmlns='urn:x'/>`, nwf},
		{"xmlns namespace bound", `<a xmlns:p='http://www.w3.org/2000/xmlns/'/>`, nwf},
		{"xml namespace to other prefix", `<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>`, nwf},
		{"xml namespace as default", `<a xmlns='http://www.w3.org/XML/1998/namespace'/>`, nwf},
		{"prefix undeclared", `<a xmlns:p=''/>`, nwf},
		{"element prefix xmlns", `<xmlns:a/>`, nwf},
		{"element prefix xml", `<xml:a/>`, nwf},
		// Stream level (RFC 6120 §4, §11.7).
		{"text at stream level", `hello`, badFormat},
		{"entity at stream level", `&amp;`, badFormat},
		{"cdata at stream level", `<![CDATA[x]]>`, badFormat},
		{"non-ascii text at stream level", "\u00e9", badFormat},
		{"wrong stream end tag", `</stream>`, nwf},
		{"wrong stream end prefix", `</s:stream>`, nwf},
		{"text before header", `@hello` + header, nwf},
		{"cdata before header", `@<![CDATA[x]]>` + header, nwf},
		{"end tag before header", `@</stream:stream>`, nwf},
		// XML declaration (RFC 6120 §11.5, §11.6).
		{"declaration after whitespace", `@ <?xml version='1.0'?>` + header, nwf},
		{"declaration at stream level", `<?xml version='1.0'?>`, nwf},
		{"declaration in element", `<a><?xml version='1.0'?></a>`, nwf},
		{"declaration utf-16", `@<?xml version='1.0' encoding='UTF-16'?>` + header, encoding},
		{"declaration latin1", `@<?xml version="1.0" encoding="ISO-8859-1"?>` + header, encoding},
		{"declaration without version", `@<?xml encoding='UTF-8'?>` + header, nwf},
		{"declaration version 2", `@<?xml version='2.0'?>` + header, nwf},
		{"declaration wrong order", `@<?xml version='1.0' standalone='yes' encoding='UTF-8'?>` + header, nwf},
		{"declaration unknown", `@<?xml version='1.0' foo='bar'?>` + header, nwf},
		{"declaration unterminated", `@<?xml version='1.0'>` + header, nwf},
		{"truncated", `<message><body>hi`, "EOF"},
	}
	for _, tc := range tests {
		in := header + tc.in
		if strings.HasPrefix(tc.in, "@") {
			in = tc.in[1:]
		}
		for rname, r := range readers(in) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				evs, err := decodeAll(r(), DefaultLimits)
				if got := condOf(err); got != string(tc.want) {
					t.Fatalf("got %s (%v) after %q, want %s", got, err, evs, tc.want)
				}
			})
		}
	}
}

// TestDeadAfterError checks that a framing error is sticky.
func TestDeadAfterError(t *testing.T) {
	d := NewDecoder(strings.NewReader(header+`<a><!-- x --></a><b/>`), DefaultLimits)
	if ev, err := d.Next(); err != nil || ev.Kind != StreamStart {
		t.Fatalf("Next = %v, %v", ev, err)
	}
	_, err1 := d.Next()
	_, err2 := d.Next()
	var xe *Error
	if !errors.As(err1, &xe) || err1 != err2 {
		t.Fatalf("errors %v, %v; want the same *Error twice", err1, err2)
	}
	if se := xe.StreamError(); se.Condition != stanza.StreamRestrictedXML {
		t.Fatalf("StreamError = %v", se)
	}
}

// TestNamespaces checks namespace resolution and scoping.
func TestNamespaces(t *testing.T) {
	type name struct{ space, local string }
	tests := []struct {
		name  string
		in    string
		elems []name // the top-level element and its descendants in document order
		attrs []name // attributes of all elements in document order
	}{
		{"inherits stream default", `<message/>`, []name{{"jabber:client", "message"}}, nil},
		{"stream prefix", `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
			[]name{{stanza.NSStream, "features"}, {stanza.NSBind, "bind"}}, nil},
		{"default redeclared", `<x xmlns='urn:a'><y/></x>`, []name{{"urn:a", "x"}, {"urn:a", "y"}}, nil},
		{"prefixed keeps default", `<p:x xmlns:p='urn:p'><y/></p:x>`, []name{{"urn:p", "x"}, {"jabber:client", "y"}}, nil},
		{"undeclare default", `<x xmlns='urn:a'><y xmlns=''><z/></y></x>`, []name{{"urn:a", "x"}, {"", "y"}, {"", "z"}}, nil},
		{"shadowing", `<p:a xmlns:p='urn:1'><p:b xmlns:p='urn:2'/><p:c/></p:a>`,
			[]name{{"urn:1", "a"}, {"urn:2", "b"}, {"urn:1", "c"}}, nil},
		{"declaration after use", `<p:a p:x='1' xmlns:p='urn:p'/>`, []name{{"urn:p", "a"}}, []name{{"urn:p", "x"}}},
		{"xml lang", `<message xml:lang='en' to='a'/>`, []name{{"jabber:client", "message"}},
			[]name{{stanza.NSXML, "lang"}, {"", "to"}}},
		{"xml prefix declared correctly", `<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:space='preserve'/>`,
			[]name{{"jabber:client", "a"}}, []name{{stanza.NSXML, "space"}}},
		{"unprefixed attribute has no namespace", `<x xmlns='urn:a' b='1'/>`, []name{{"urn:a", "x"}}, []name{{"", "b"}}},
		{"stream prefix redeclared", `<stream:error xmlns:stream='urn:other'/>`, []name{{"urn:other", "error"}}, nil},
		{"same local different namespaces", `<a xmlns:p='urn:p' xmlns:q='urn:q' p:b='1' q:b='2' b='3'/>`,
			[]name{{"jabber:client", "a"}}, []name{{"urn:p", "b"}, {"urn:q", "b"}, {"", "b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			els := elements(t, header+tc.in)
			if len(els) != 1 {
				t.Fatalf("got %d elements", len(els))
			}
			var gotE, gotA []name
			var walk func(e *stanza.Element)
			walk = func(e *stanza.Element) {
				gotE = append(gotE, name{e.Space, e.Local})
				for _, a := range e.Attrs {
					gotA = append(gotA, name{a.Space, a.Local})
				}
				for _, c := range e.Children {
					if c.Elem != nil {
						walk(c.Elem)
					}
				}
			}
			walk(els[0])
			if !equalNames(gotE, tc.elems) || !equalNames(gotA, tc.attrs) {
				t.Fatalf("elements %v attrs %v; want %v %v", gotE, gotA, tc.elems, tc.attrs)
			}
		})
	}
}

func equalNames[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestStreamHeader checks what StreamStart reports.
func TestStreamHeader(t *testing.T) {
	tests := []struct {
		name, in         string
		space, local, ns string
		attrs            int
	}{
		{"client", header, stanza.NSStream, "stream", "jabber:client", 2},
		{"server", `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en'>`,
			stanza.NSStream, "stream", "jabber:server", 1},
		{"no default namespace", `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`, stanza.NSStream, "stream", "", 0},
		{"wrong namespace", `<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>`, "urn:wrong", "stream", "jabber:client", 0},
		{"wrong name", `<foo xmlns='jabber:client'>`, "jabber:client", "foo", "jabber:client", 0},
		{"with declaration", `<?xml version='1.0' encoding='utf-8' standalone="no" ?>` + header, stanza.NSStream, "stream", "jabber:client", 2},
		{"bom and declaration", "\xEF\xBB\xBF<?xml version='1.0'?>\n" + header, stanza.NSStream, "stream", "jabber:client", 2},
		{"leading whitespace", "\n  " + header, stanza.NSStream, "stream", "jabber:client", 2},
	}
	for _, tc := range tests {
		for rname, r := range readers(tc.in) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				d := NewDecoder(r(), PreAuthLimits)
				ev, err := d.Next()
				if err != nil {
					t.Fatal(err)
				}
				if ev.Kind != StreamStart || ev.Elem.Space != tc.space || ev.Elem.Local != tc.local ||
					ev.DefaultNS != tc.ns || len(ev.Elem.Attrs) != tc.attrs {
					t.Fatalf("got %d %q %+v", ev.Kind, ev.DefaultNS, ev.Elem)
				}
			})
		}
	}
}

// TestStreamEnd checks the closing tag and a self-closed header.
func TestStreamEnd(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"close", header + `<a/></stream:stream>`, []string{"start", "elem", "end", "EOF"}},
		{"close with space", header + `</stream:stream >`, []string{"start", "end", "EOF"}},
		{"self-closed header", `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>`, []string{"start", "end", "EOF"}},
		{"default-namespaced header", `<stream xmlns='http://etherx.jabber.org/streams'><a/></stream>`, []string{"start", "elem", "end", "EOF"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tc.in), DefaultLimits)
			var got []string
			for len(got) < len(tc.want) {
				ev, err := d.Next()
				switch {
				case err != nil:
					got = append(got, condOf(err))
				case ev.Kind == StreamStart:
					got = append(got, "start")
				case ev.Kind == Element:
					got = append(got, "elem")
				case ev.Kind == StreamEnd:
					got = append(got, "end")
				}
			}
			if !equalNames(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCharacterData checks decoding of text and attribute values.
func TestCharacterData(t *testing.T) {
	tests := []struct {
		name, in string
		text     string // concatenated text of the top-level element
		nodes    int    // its number of children
		attr     string // value of its attribute v
	}{
		{"predefined entities", `<a>&lt;&gt;&amp;&quot;&apos;</a>`, `<>&"'`, 1, ""},
		{"character references", `<a>&#65;&#x42;&#x00043;&#128512;&#xe9;</a>`, "ABC\U0001F600\u00e9", 1, ""},
		{"gt allowed", `<a>a > b ]> ]]</a>`, "a > b ]> ]]", 1, ""},
		{"line ends", "<a>a\r\nb\rc\n\rd</a>", "a\nb\nc\n\nd", 1, ""},
		{"cdata", `<a>x<![CDATA[<b>&amp;]]]]>y</a>`, "x<b>&amp;]]y", 1, ""},
		{"cdata brackets", `<a><![CDATA[]]]><![CDATA[]]></a>`, "]", 1, ""},
		{"cdata line ends", "<a><![CDATA[a\r\nb\r]]></a>", "a\nb\n", 1, ""},
		{"text around child", `<a>x<b/>y</a>`, "xy", 3, ""},
		{"whitespace kept", "<a>\n  <b/>\n</a>", "\n  \n", 3, ""},
		{"non-ascii", "<a>h\u00e9llo \u4e16\u754c \U0001F600</a>", "h\u00e9llo \u4e16\u754c \U0001F600", 1, ""},
		{"attribute normalisation", "<a v='a\tb\nc\r\nd\re'/>", "", 0, "a b c d e"},
		{"attribute references kept", `<a v='&#9;&#10;&#13;&#x20;'/>`, "", 0, "\t\n\r "},
		{"attribute entities", `<a v="&lt;&amp;'&quot;"/>`, "", 0, `<&'"`},
		{"attribute gt", `<a v='a>b'/>`, "", 0, "a>b"},
		{"attribute non-ascii", "<a v='\u00e9\u4e16'/>", "", 0, "\u00e9\u4e16"},
	}
	for _, tc := range tests {
		for rname, r := range readers(header + tc.in) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				d := NewDecoder(r(), DefaultLimits)
				d.Next()
				ev, err := d.Next()
				if err != nil {
					t.Fatal(err)
				}
				e := ev.Elem
				if got := e.Text(); got != tc.text || len(e.Children) != tc.nodes || e.Attr("v") != tc.attr {
					t.Fatalf("text %q (%d nodes) attr %q; want %q (%d) %q", got, len(e.Children), e.Attr("v"), tc.text, tc.nodes, tc.attr)
				}
			})
		}
	}
}

// TestKeepalives checks that whitespace between stanzas is accepted.
func TestKeepalives(t *testing.T) {
	in := header + " \n\t\r\n  <a/>    <b/> \n" + strings.Repeat(" ", 10000) + "<c/>  "
	for rname, r := range readers(in) {
		t.Run(rname, func(t *testing.T) {
			evs, err := decodeAll(r(), PreAuthLimits)
			if err != io.EOF || len(evs) != 4 {
				t.Fatalf("got %q, %v", evs, err)
			}
		})
	}
}

// TestRestart checks that Restart keeps pipelined input (RFC 6120 §6.4.6)
// and Reset discards it (RFC 6120 §5.4.3.3).
func TestRestart(t *testing.T) {
	t.Run("restart keeps pipelined bytes", func(t *testing.T) {
		in := header + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` +
			`<?xml version='1.0'?>` + header + `<iq type='set' id='1'/>`
		d := NewDecoder(strings.NewReader(in), PreAuthLimits)
		want := []EventKind{StreamStart, Element}
		for _, k := range want {
			if ev, err := d.Next(); err != nil || ev.Kind != k {
				t.Fatalf("Next = %v, %v", ev.Kind, err)
			}
		}
		if d.Buffered() == 0 {
			t.Fatal("nothing buffered")
		}
		d.Restart()
		d.SetLimits(DefaultLimits)
		if ev, err := d.Next(); err != nil || ev.Kind != StreamStart {
			t.Fatalf("after Restart: %v, %v", ev.Kind, err)
		}
		if ev, err := d.Next(); err != nil || ev.Kind != Element || ev.Elem.Local != "iq" || ev.Elem.Space != stanza.NSClient {
			t.Fatalf("after Restart: %v, %v", ev.Elem, err)
		}
	})
	t.Run("reset discards buffered bytes", func(t *testing.T) {
		in := header + `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>garbage<<<`
		d := NewDecoder(strings.NewReader(in), PreAuthLimits)
		d.Next()
		if ev, err := d.Next(); err != nil || ev.Elem.Local != "starttls" {
			t.Fatalf("Next = %v, %v", ev.Elem, err)
		}
		if d.Buffered() != len("garbage<<<") {
			t.Fatalf("Buffered = %d", d.Buffered())
		}
		d.Reset(strings.NewReader(header + `<a/>`))
		if d.Buffered() != 0 {
			t.Fatalf("Buffered after Reset = %d", d.Buffered())
		}
		for _, k := range []EventKind{StreamStart, Element} {
			if ev, err := d.Next(); err != nil || ev.Kind != k {
				t.Fatalf("after Reset: %v, %v", ev.Kind, err)
			}
		}
	})
	t.Run("reset revives a dead decoder", func(t *testing.T) {
		d := NewDecoder(strings.NewReader(`junk`), PreAuthLimits)
		if _, err := d.Next(); err == nil {
			t.Fatal("no error")
		}
		d.Reset(strings.NewReader(header))
		if ev, err := d.Next(); err != nil || ev.Kind != StreamStart {
			t.Fatalf("after Reset: %v, %v", ev.Kind, err)
		}
	})
}

// scriptReader returns its chunks one Read at a time and then fails the
// test: the decoder must not read beyond what an event needs.
type scriptReader struct {
	t      *testing.T
	chunks []string
}

var errNoMoreReads = errors.New("read beyond the script")

func (r *scriptReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		r.t.Error("unexpected Read")
		return 0, errNoMoreReads
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// TestNoReadAhead checks that an event is returned as soon as its last byte
// has arrived.
func TestNoReadAhead(t *testing.T) {
	r := &scriptReader{t: t, chunks: []string{header[:10], header[10:],
		"<message><body>hi</bo", "dy></message>",
		"<iq id='1' type='get'><ping xmlns='urn:xmpp:ping'/", "></iq>",
		"  <presence/", ">",
		"</stream:stream", ">"}}
	d := NewDecoder(r, DefaultLimits)
	for _, k := range []EventKind{StreamStart, Element, Element, Element, StreamEnd} {
		if ev, err := d.Next(); err != nil || ev.Kind != k {
			t.Fatalf("Next = %v, %v; want %v", ev.Kind, err, k)
		}
	}
}

// flakyReader returns a timeout-like error between chunks.
type flakyReader struct{ chunks []any }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func (r *flakyReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	c := r.chunks[0]
	r.chunks = r.chunks[1:]
	if err, ok := c.(error); ok {
		return 0, err
	}
	return copy(p, c.(string)), nil
}

// TestReadErrors checks that read errors are returned unchanged and that
// decoding resumes after one.
func TestReadErrors(t *testing.T) {
	r := &flakyReader{chunks: []any{header, timeoutErr{}, "<message><bo", timeoutErr{}, "dy>x</body></message>", "<a b='"}}
	d := NewDecoder(r, DefaultLimits)
	steps := []string{"start", "timeout", "timeout", "message", "EOF", "EOF"}
	for i, want := range steps {
		ev, err := d.Next()
		got := ""
		switch {
		case err == io.EOF:
			got = "EOF"
		case err != nil:
			if _, ok := err.(timeoutErr); !ok {
				t.Fatalf("step %d: error %#v not returned unchanged", i, err)
			}
			got = "timeout"
		case ev.Kind == StreamStart:
			got = "start"
		default:
			got = ev.Elem.Local
		}
		if got != want {
			t.Fatalf("step %d: got %s, want %s", i, got, want)
		}
	}
}

// TestTreeSlices checks that the shared backing arrays of one element's
// tree are capped: appending to one element's attributes or children does
// not overwrite another's.
func TestTreeSlices(t *testing.T) {
	e := elements(t, header+`<a x='1'><b y='2'/><c z='3'>t</c></a>`)[0]
	b, c := e.Children[0].Elem, e.Children[1].Elem
	b.SetAttr("w", "4")
	e.Attrs = append(e.Attrs, stanza.Attr{Local: "n", Value: "5"})
	e.Children = append(e.Children, stanza.Node{Text: "u"})
	if c.Attr("z") != "3" || c.Children[0].Text != "t" || len(b.Children) != 0 {
		t.Fatalf("tree clobbered: %v", e)
	}
}
