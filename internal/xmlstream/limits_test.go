package xmlstream

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unsafe"

	"github.com/mote-xmpp/mote/stanza"
)

// TestLimits checks each limit just below and just above its value.
func TestLimits(t *testing.T) {
	small := Limits{MaxStanzaBytes: 400, MaxDepth: 3, MaxChildren: 3, MaxAttrs: 3, MaxNamespaces: 2, MaxTokenBytes: 64}
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name string
		lim  Limits
		in   string
		ok   bool
	}{
		{"depth ok", small, `<a><b><c/></b></a>`, true},
		{"depth exceeded", small, `<a><b><c><d/></c></b></a>`, false},
		{"children ok", small, `<a>t<b/>t<b/>t<b/>t</a>`, true},
		{"children exceeded", small, `<a><b/><b/><b/><b/></a>`, false},
		{"children per element", small, `<a><b><c/><c/><c/></b><b/><b/></a>`, true},
		{"attributes ok", small, `<a xmlns='urn:a' xmlns:p='urn:p' b='1' c='2' p:d='3'/>`, true},
		{"attributes exceeded", small, `<a b='1' c='2' d='3' e='4'/>`, false},
		{"namespaces ok", small, `<a xmlns='urn:a' xmlns:p='urn:p'/>`, true},
		{"namespaces exceeded", small, `<a xmlns='urn:a' xmlns:p='urn:p' xmlns:q='urn:q'/>`, false},
		{"tag at limit", Limits{MaxTokenBytes: 64}, `<a b='` + x(64-9) + `'/>`, true},
		{"tag over limit", Limits{MaxTokenBytes: 64}, `<a b='` + x(64-8) + `'/>`, false},
		{"end tag over limit", Limits{MaxTokenBytes: 64}, `<` + x(62) + `></` + x(62) + ` >`, false},
		{"text at limit", Limits{MaxTokenBytes: 64}, `<a>` + x(64) + `</a>`, true},
		{"text over limit", Limits{MaxTokenBytes: 64}, `<a>` + x(65) + `</a>`, false},
		{"text runs counted apart", Limits{MaxTokenBytes: 64}, `<a>` + x(64) + `<b/>` + x(64) + `</a>`, true},
		{"text with references over limit", Limits{MaxTokenBytes: 64}, `<a>` + strings.Repeat("&lt;", 17) + `</a>`, false},
		{"cdata at limit", Limits{MaxTokenBytes: 64}, `<a><![CDATA[` + x(64-12) + `]]></a>`, true},
		{"cdata over limit", Limits{MaxTokenBytes: 64}, `<a><![CDATA[` + x(64-11) + `]]></a>`, false},
		{"stanza at limit", Limits{MaxStanzaBytes: 400}, `<a>` + x(400-7) + `</a>`, true},
		{"stanza over limit", Limits{MaxStanzaBytes: 400}, `<a>` + x(400-6) + `</a>`, false},
		{"stanza of small tokens", Limits{MaxStanzaBytes: 400, MaxTokenBytes: 64}, `<a>` + strings.Repeat("<b>x</b>", 60) + `</a>`, false},
		{"whitespace not counted", small, `<a/>` + strings.Repeat(" ", 5000) + `<a/>`, true},
		{"header over token limit", Limits{MaxTokenBytes: 64}, "@" + header, false},
	}
	// A header shorter than the token limit: the header is a token too.
	const shortHeader = `<stream xmlns='jabber:client'>`
	for _, tc := range tests {
		in := shortHeader + tc.in
		if strings.HasPrefix(tc.in, "@") {
			in = tc.in[1:]
		}
		for rname, r := range readers(in) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				_, err := decodeAll(r(), tc.lim)
				want := "EOF"
				if !tc.ok {
					want = string(stanza.StreamPolicyViolation)
				}
				if got := condOf(err); got != want {
					t.Fatalf("got %v, want %s", err, want)
				}
			})
		}
	}
}

// TestSetLimits checks that new limits apply from the next token on.
func TestSetLimits(t *testing.T) {
	msg := `<message><body>` + strings.Repeat("x", 20000) + `</body></message>`
	if _, err := decodeAll(strings.NewReader(header+msg), PreAuthLimits); condOf(err) != string(stanza.StreamPolicyViolation) {
		t.Fatalf("pre-auth: %v", err)
	}
	d := NewDecoder(strings.NewReader(header+msg), PreAuthLimits)
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	d.SetLimits(DefaultLimits)
	if ev, err := d.Next(); err != nil || len(ev.Elem.Child("", "body").Text()) != 20000 {
		t.Fatalf("post-auth: %v", err)
	}
}

// endlessReader returns prefix and then pattern forever, counting bytes.
type endlessReader struct {
	prefix, pattern string
	n               int
	pos             int
	check           func(p []byte)
}

func (r *endlessReader) Read(p []byte) (int, error) {
	if r.check != nil {
		r.check(p)
	}
	n := 0
	for n < len(p) {
		var src string
		if r.pos < len(r.prefix) {
			src = r.prefix[r.pos:]
		} else {
			src = r.pattern[(r.pos-len(r.prefix))%len(r.pattern):]
		}
		c := copy(p[n:], src)
		n += c
		r.pos += c
	}
	r.n += n
	return n, nil
}

// TestEndlessInput checks that an endless token or element is rejected
// after reading about the limit, with memory bounded by the limits.
func TestEndlessInput(t *testing.T) {
	lim := PreAuthLimits
	tests := []struct {
		name, prefix, pattern string
	}{
		{"text", `<message><body>`, "a"},
		{"non-ascii text", `<message><body>`, "\u00e9\u4e16"},
		{"text with references", `<message><body>`, "&amp;"},
		{"attribute value", `<message to='`, "a"},
		{"element name", `<`, "a"},
		{"attributes", `<message`, ` a='1' b="2"`},
		{"namespace declarations", `<message`, ` xmlns:a='1'`},
		{"cdata", `<message><![CDATA[`, "]"},
		{"entity name", `<message>&`, "a"},
		{"character reference", `<message>&#`, "0"},
		{"children", `<message>`, "<a/>"},
		{"nesting", ``, "<a>"},
		{"small tokens", `<message>`, "<a>b</a>x"},
		{"whitespace in tag", `<message`, " "},
		{"end tag whitespace", `<message></message`, " "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(nil, lim)
			r := &endlessReader{prefix: header + tc.prefix, pattern: tc.pattern}
			r.check = func(p []byte) { checkBounded(t, d) }
			d.Reset(r)
			_, err := decodeAll2(d)
			if condOf(err) != string(stanza.StreamPolicyViolation) {
				t.Fatalf("got %v", err)
			}
			if max := len(header) + lim.MaxStanzaBytes + chunkSize; r.n > max {
				t.Fatalf("read %d bytes before rejecting, want at most %d", r.n, max)
			}
		})
	}
	t.Run("whitespace between stanzas", func(t *testing.T) {
		// A megabyte of keepalive whitespace is discarded as it
		// arrives, read into the small array.
		var d *Decoder
		in := header + "<a/>" + strings.Repeat(" \n", 1<<19) + "<b/>"
		r := &chunkReader{data: []byte(in)}
		reads := 0
		r.onRead = func(p []byte) {
			if reads++; reads > 1 && len(p) > smallSize {
				t.Fatalf("read of %d bytes while idle", len(p))
			}
		}
		d = NewDecoder(r, lim)
		n, err := decodeAll2(d)
		if err != io.EOF || n != 3 {
			t.Fatalf("%d events, %v", n, err)
		}
	})
}

// decodeAll2 runs d until an error.
func decodeAll2(d *Decoder) (int, error) {
	n := 0
	for {
		if _, err := d.Next(); err != nil {
			return n, err
		}
		n++
	}
}

// checkBounded checks the memory the decoder holds against its limits:
// the read buffer is at most the smaller of the token and stanza limits
// plus a read chunk, the scratch at most one element.
func checkBounded(t *testing.T, d *Decoder) {
	t.Helper()
	if m := d.maxBuf(); m > 0 && cap(d.buf) > max(m, chunkSize) {
		t.Fatalf("read buffer of %d bytes, limit %d", cap(d.buf), m)
	}
	if d.wk != nil {
		m := max(d.lim.MaxStanzaBytes, d.lim.MaxTokenBytes)
		if m > 0 && len(d.wk.text) > m {
			t.Fatalf("scratch of %d bytes, limit %d", len(d.wk.text), m)
		}
	}
}

// TestIdleMemory checks that a decoder waiting for the next element holds
// no pooled memory and reads into its small array.
func TestIdleMemory(t *testing.T) {
	big := `<message><body>` + strings.Repeat("y", 3000) + `</body></message>`
	chunks := []string{header, `<presence/>`, big, " ", `<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`, "\n"}
	var d *Decoder
	boundary := true
	var idleReads int
	r := &chunkReader{}
	r.onRead = func(p []byte) {
		if boundary {
			boundary = false
			idleReads++
			if len(p) != smallSize || d.wk != nil || d.kind != bufSmall {
				t.Errorf("idle read: len %d, scratch %v, buffer kind %d", len(p), d.wk != nil, d.kind)
			}
		}
	}
	var data []byte
	var sizes []byte
	for _, c := range chunks {
		data = append(data, c...)
		for n := len(c); n > 0; n -= 256 {
			sizes = append(sizes, byte(min(n, 256)-1))
		}
	}
	r.data, r.sizes = data, sizes
	d = NewDecoder(r, DefaultLimits)
	for {
		_, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		boundary = d.Buffered() == 0
	}
	if idleReads < 4 {
		t.Fatalf("%d idle reads", idleReads)
	}
	if s := unsafe.Sizeof(Decoder{}); s > 640 {
		t.Fatalf("sizeof(Decoder) = %d", s)
	}
	t.Logf("sizeof(Decoder) = %d bytes", unsafe.Sizeof(Decoder{}))
}

// TestLinearTime checks that a long token arriving one byte per Read is
// not parsed again after every byte: 200 KB must decode in well under the
// seconds a quadratic rescan takes.
func TestLinearTime(t *testing.T) {
	prefixes := []string{
		"<a>&", "<a>&#", "<a>&#x", "<a b='", `<a b="`, "<a", "<a ", "<a>", "<a></a", "<a><![CDATA[",
		"<a>]", "<a><![CDATA[]", "<a>\r", "@<?xml version='", "@<stream:stream a='", "@",
	}
	const n = 200000
	for _, p := range prefixes {
		t.Run(p, func(t *testing.T) {
			in := header + p
			if strings.HasPrefix(p, "@") {
				in = p[1:]
			}
			fill := "0"
			if strings.HasSuffix(p, "]") || strings.HasSuffix(p, "\r") {
				fill = p[len(p)-1:]
			}
			in += strings.Repeat(fill, n)
			start := time.Now()
			decodeAll(iotest.OneByteReader(strings.NewReader(in)), Limits{})
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("%d one-byte reads took %v", n, d)
			}
		})
	}
}
