package jid_test

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/jid"
)

var (
	_ fmt.Stringer             = jid.JID{}
	_ encoding.TextMarshaler   = jid.JID{}
	_ encoding.TextAppender    = jid.JID{}
	_ encoding.TextUnmarshaler = (*jid.JID)(nil)
)

var validJIDs = [...]struct {
	in                      string
	local, domain, resource string
	want                    string // normalised form; "" means in
}{
	// RFC 7622 §3.5.1, examples of valid JIDs.
	0:  {in: "juliet@example.com", local: "juliet", domain: "example.com"},
	1:  {in: "juliet@example.com/foo", local: "juliet", domain: "example.com", resource: "foo"},
	2:  {in: "juliet@example.com/foo bar", local: "juliet", domain: "example.com", resource: "foo bar"},
	3:  {in: "juliet@example.com/foo@bar", local: "juliet", domain: "example.com", resource: "foo@bar"},
	4:  {in: `foo\20bar@example.com`, local: `foo\20bar`, domain: "example.com"},
	5:  {in: "fussball@example.com", local: "fussball", domain: "example.com"},
	6:  {in: "fußball@example.com", local: "fußball", domain: "example.com"},
	7:  {in: "π@example.com", local: "π", domain: "example.com"},
	8:  {in: "Σ@example.com/foo", local: "σ", domain: "example.com", resource: "foo", want: "σ@example.com/foo"},
	9:  {in: "σ@example.com/foo", local: "σ", domain: "example.com", resource: "foo"},
	10: {in: "ς@example.com/foo", local: "ς", domain: "example.com", resource: "foo"},
	11: {in: "king@example.com/♚", local: "king", domain: "example.com", resource: "♚"},
	12: {in: "example.com", domain: "example.com"},
	13: {in: "example.com/foobar", domain: "example.com", resource: "foobar"},
	14: {in: "a.example.com/b@example.net", domain: "a.example.com", resource: "b@example.net"},

	// RFC 7622 §3.5.2 example 3 lists a leading space in the resourcepart as
	// invalid, but OpaqueString (RFC 8265 §4.2) allows U+0020 anywhere.
	15: {in: "juliet@example.com/ foo", local: "juliet", domain: "example.com", resource: " foo"},
	16: {in: "juliet@example.com/foo ", local: "juliet", domain: "example.com", resource: "foo "},
	17: {in: "juliet@example.com/ ", local: "juliet", domain: "example.com", resource: " "},

	// Splitting (RFC 7622 §3.1): the first '/' starts the resourcepart, the
	// first '@' before it ends the localpart.
	18: {in: "mercutio@example.net/rp@rp/rp", local: "mercutio", domain: "example.net", resource: "rp@rp/rp"},
	19: {in: "mercutio@example.net//@//", local: "mercutio", domain: "example.net", resource: "/@//"},
	20: {in: "example.net/@", domain: "example.net", resource: "@"},

	// Case, width and normalisation mapping.
	21: {in: "JULIET@EXAMPLE.COM/BALCONY", local: "juliet", domain: "example.com", resource: "BALCONY", want: "juliet@example.com/BALCONY"},
	22: {in: "ＪＵＬＩＥＴ@ＥＸＡＭＰＬＥ．ＣＯＭ/Ｒ", local: "juliet", domain: "example.com", resource: "Ｒ", want: "juliet@example.com/Ｒ"},
	23: {in: "İ@example.com", local: "i\u0307", domain: "example.com", want: "i\u0307@example.com"},
	24: {in: "e\u0301@example.com/e\u0301", local: "é", domain: "example.com", resource: "é", want: "é@example.com/é"},
	25: {in: "example.com/a\u00a0b\u3000", domain: "example.com", resource: "a b ", want: "example.com/a b "},
	26: {in: "example.com/Ⅳ", domain: "example.com", resource: "Ⅳ"},
	27: {in: "\u212a@example.com", local: "k", domain: "example.com", want: "k@example.com"},
	28: {in: "l·l@example.com", local: "l·l", domain: "example.com"},
	29: {in: "שלום@example.com", local: "שלום", domain: "example.com"},
	// The Bidi Rule applies only to right-to-left strings (RFC 8265 §3.3).
	30: {in: "1é@example.com", local: "1é", domain: "example.com"},
	31: {in: "é!@example.com", local: "é!", domain: "example.com"},
	32: {in: "1a!@example.com", local: "1a!", domain: "example.com"},
	33: {in: "~!#$%^*()-_=+[]{}|\\;,.?`@example.com", local: "~!#$%^*()-_=+[]{}|\\;,.?`", domain: "example.com"},

	// Domainparts (RFC 7622 §3.2).
	34: {in: "example.com.", domain: "example.com", want: "example.com"},
	35: {in: "juliet@Example.COM./r", local: "juliet", domain: "example.com", resource: "r", want: "juliet@example.com/r"},
	36: {in: "xn--bcher-kva.example", domain: "bücher.example", want: "bücher.example"},
	37: {in: "XN--BCHER-KVA.example", domain: "bücher.example", want: "bücher.example"},
	38: {in: "BU\u0308CHER.example", domain: "bücher.example", want: "bücher.example"},
	39: {in: "faß.de", domain: "faß.de"},
	40: {in: "xn--zca.de", domain: "ß.de", want: "ß.de"},
	41: {in: "пример.рф", domain: "пример.рф"},
	42: {in: "例え.テスト", domain: "例え.テスト"},
	43: {in: "مثال.إختبار", domain: "مثال.إختبار"},
	44: {in: "l·l.cat", domain: "l·l.cat"},
	45: {in: "カ・a.example", domain: "カ・a.example"},
	46: {in: "a\u00ad.example", domain: "a.example", want: "a.example"},
	47: {in: "localhost", domain: "localhost"},
	48: {in: "r3-sn-4.example", domain: "r3-sn-4.example"},
	49: {in: "192.0.2.1", domain: "192.0.2.1"},
	50: {in: "[::1]", domain: "[::1]"},
	51: {in: "juliet@[2001:DB8:0:0:0:0:0:1]/r", local: "juliet", domain: "[2001:db8::1]", resource: "r", want: "juliet@[2001:db8::1]/r"},
	52: {in: "[::ffff:192.0.2.1]", domain: "[::ffff:192.0.2.1]"},
	53: {in: "[::1].", domain: "[::1]", want: "[::1]"},
	54: {in: strings.Repeat("a", 100) + ".example", domain: strings.Repeat("a", 100) + ".example"},

	// Length limits (RFC 7622 §3.2 to §3.4) apply after normalisation.
	55: {in: strings.Repeat("a", 1023) + "@" + strings.Repeat("b", 1023) + "/" + strings.Repeat("c", 1023), local: strings.Repeat("a", 1023), domain: strings.Repeat("b", 1023), resource: strings.Repeat("c", 1023)},
	56: {in: strings.Repeat("e\u0301", 511) + "a@example.com", local: strings.Repeat("é", 511) + "a", domain: "example.com", want: strings.Repeat("é", 511) + "a@example.com"},
	57: {in: "example.com/" + strings.Repeat("😀", 255) + "abc", domain: "example.com", resource: strings.Repeat("😀", 255) + "abc"},
	58: {in: strings.Repeat("A", 1023) + "@example.com", local: strings.Repeat("a", 1023), domain: "example.com", want: strings.Repeat("a", 1023) + "@example.com"},

	// U+2138 DALET SYMBOL maps to U+05D3 HEBREW LETTER DALET (UTS #46).
	59: {in: "ℸ.example", domain: "ד.example", want: "ד.example"},
}

func TestParseValid(t *testing.T) {
	for i, tc := range validJIDs {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			j, err := jid.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := j.Local(); got != tc.local {
				t.Errorf("Local() = %q, want %q", got, tc.local)
			}
			if got := j.Domain(); got != tc.domain {
				t.Errorf("Domain() = %q, want %q", got, tc.domain)
			}
			if got := j.Resource(); got != tc.resource {
				t.Errorf("Resource() = %q, want %q", got, tc.resource)
			}
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if got := j.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			n, err := jid.New(tc.local, tc.domain, tc.resource)
			if err != nil {
				t.Fatalf("New(%q, %q, %q): %v", tc.local, tc.domain, tc.resource, err)
			}
			if n != j {
				t.Errorf("New(parts) = %q, Parse = %q", n, j)
			}
			if j.IsZero() {
				t.Error("IsZero() = true")
			}
			if got, want := j.IsBare(), tc.resource == ""; got != want {
				t.Errorf("IsBare() = %v, want %v", got, want)
			}
		})
	}
}

var invalidJIDs = [...]struct {
	in  string
	err error
}{
	// RFC 7622 §3.5.2, examples of invalid JIDs (except example 3, see
	// validJIDs).
	0: {`"juliet"@example.com`, jid.ErrInvalidLocal},
	1: {"foo bar@example.com", jid.ErrInvalidLocal},
	2: {"@example.com/", jid.ErrEmptyLocal},
	3: {"henry\u2163@example.com", jid.ErrInvalidLocal},
	4: {"♚@example.com", jid.ErrInvalidLocal},
	5: {"juliet@", jid.ErrEmptyDomain},
	6: {"/foobar", jid.ErrEmptyDomain},

	// Empty parts.
	7:  {"", jid.ErrEmptyDomain},
	8:  {"@", jid.ErrEmptyLocal},
	9:  {"/", jid.ErrEmptyDomain},
	10: {"@example.com", jid.ErrEmptyLocal},
	11: {"juliet@example.com/", jid.ErrEmptyResource},
	12: {"example.com/", jid.ErrEmptyResource},
	13: {".", jid.ErrEmptyDomain},
	14: {"juliet@./r", jid.ErrEmptyDomain},

	// Localparts: the extra rule of RFC 7622 §3.3.1 and the IdentifierClass.
	15: {`b&d@example.net`, jid.ErrInvalidLocal},
	16: {`b'd@example.net`, jid.ErrInvalidLocal},
	17: {`b:d@example.net`, jid.ErrInvalidLocal},
	18: {`b<d@example.net`, jid.ErrInvalidLocal},
	19: {`b>d@example.net`, jid.ErrInvalidLocal},
	20: {"b＠d@example.net", jid.ErrInvalidLocal}, // fullwidth '@' maps to '@'
	21: {"b／d@example.net", jid.ErrInvalidLocal}, // fullwidth '/' maps to '/'
	22: {"a\tb@example.net", jid.ErrInvalidLocal},
	23: {"a\x7fb@example.net", jid.ErrInvalidLocal},
	24: {"a\x00@example.net", jid.ErrInvalidLocal},
	25: {"a\u00a0b@example.net", jid.ErrInvalidLocal},
	26: {"a\u200bb@example.net", jid.ErrInvalidLocal},
	27: {"a·b@example.net", jid.ErrInvalidLocal},      // CONTEXTO, RFC 5892 A.3
	28: {"a\u200db@example.net", jid.ErrInvalidLocal}, // CONTEXTJ, RFC 5892 A.2
	29: {"ﬀ@example.net", jid.ErrInvalidLocal},        // compatibility ligature
	30: {"אבa@example.net", jid.ErrInvalidLocal},      // Bidi Rule
	31: {"aאב@example.net", jid.ErrInvalidLocal},      // Bidi Rule
	32: {"\xff@example.net", jid.ErrInvalidLocal},
	33: {"a@b@example.net", jid.ErrInvalidDomain}, // the first '@' splits

	// Domainparts.
	34: {"a..b", jid.ErrInvalidDomain},
	35: {".example", jid.ErrInvalidDomain},
	36: {"example..", jid.ErrInvalidDomain},
	37: {"example.com。", jid.ErrInvalidDomain}, // only U+002E is stripped
	38: {"-a.example", jid.ErrInvalidDomain},
	39: {"a-.example", jid.ErrInvalidDomain},
	40: {"ab--cd.example", jid.ErrInvalidDomain},
	41: {"_xmpp.example", jid.ErrInvalidDomain},
	42: {"a b.example", jid.ErrInvalidDomain},
	43: {"example.com:5222", jid.ErrInvalidDomain},
	44: {"xn--", jid.ErrInvalidDomain},
	45: {"xn--.example", jid.ErrInvalidDomain},
	46: {"xn--abc-.example", jid.ErrInvalidDomain},
	47: {"xn--a.example", jid.ErrInvalidDomain},
	48: {"xn--example.com", jid.ErrInvalidDomain},
	49: {"♚.example", jid.ErrInvalidDomain}, // IDNA2008 disallows symbols
	50: {"a·b.example", jid.ErrInvalidDomain},
	51: {"a\u200db.example", jid.ErrInvalidDomain},
	52: {"123.אב.example", jid.ErrInvalidDomain}, // Bidi Rule, RFC 5893 §2
	53: {"\u0301a.example", jid.ErrInvalidDomain},
	54: {"\xff.example", jid.ErrInvalidDomain},
	55: {"[127.0.0.1]", jid.ErrInvalidDomain},
	56: {"[::1", jid.ErrInvalidDomain},
	57: {"::1]", jid.ErrInvalidDomain},
	58: {"::1", jid.ErrInvalidDomain},
	59: {"[::gg]", jid.ErrInvalidDomain},
	60: {"[fe80::1%eth0]", jid.ErrInvalidDomain},
	61: {"[fe80::1%25eth0]", jid.ErrInvalidDomain},
	62: {"[v1.example]", jid.ErrInvalidDomain},
	63: {"[]", jid.ErrInvalidDomain},
	64: {"[", jid.ErrInvalidDomain},

	// Resourceparts.
	65: {"example.com/a\x00", jid.ErrInvalidResource},
	66: {"example.com/\t", jid.ErrInvalidResource},
	67: {"example.com/\x7f", jid.ErrInvalidResource},
	68: {"example.com/\u0085", jid.ErrInvalidResource},
	69: {"example.com/\u00ad", jid.ErrInvalidResource},
	70: {"example.com/a\u200db", jid.ErrInvalidResource},
	71: {"example.com/\ue000", jid.ErrInvalidResource},
	72: {"example.com/\xff", jid.ErrInvalidResource},

	// Length limits.
	73: {strings.Repeat("a", 1024) + "@example.com", jid.ErrLocalTooLong},
	74: {strings.Repeat("é", 512) + "@example.com", jid.ErrLocalTooLong},
	75: {strings.Repeat("a", 1024), jid.ErrDomainTooLong},
	76: {strings.Repeat("é", 512), jid.ErrDomainTooLong},
	77: {"example.com/" + strings.Repeat("a", 1024), jid.ErrResourceTooLong},
	78: {"example.com/" + strings.Repeat("😀", 256), jid.ErrResourceTooLong},

	// Found by FuzzParse: mapping U+2138 (Bidi class L) to U+05D3 (class R)
	// makes this a Bidi domain name, and "דa" breaks the Bidi Rule.
	79: {"ℸA", jid.ErrInvalidDomain},
}

func TestParseInvalid(t *testing.T) {
	for i, tc := range invalidJIDs {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			j, err := jid.Parse(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%q) = %q, %v; want error %v", tc.in, j, err, tc.err)
			}
			if !j.IsZero() {
				t.Errorf("Parse returned %q with an error", j)
			}
			if !strings.HasPrefix(err.Error(), "jid: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for i, tc := range [...]struct {
		local, domain, resource string
		want                    string
		err                     error
	}{
		0:  {"Juliet", "Example.com", "Balcony", "juliet@example.com/Balcony", nil},
		1:  {"", "example.com", "", "example.com", nil},
		2:  {"", "example.com", "r", "example.com/r", nil},
		3:  {"a", "example.com", "r/s@t", "a@example.com/r/s@t", nil},
		4:  {"a", "example.com.", "", "a@example.com", nil},
		5:  {"a@b", "example.com", "", "", jid.ErrInvalidLocal},
		6:  {"a/b", "example.com", "", "", jid.ErrInvalidLocal},
		7:  {"a", "", "", "", jid.ErrEmptyDomain},
		8:  {"a", "example.com/x", "", "", jid.ErrInvalidDomain},
		9:  {"a", "b@example.com", "", "", jid.ErrInvalidDomain},
		10: {strings.Repeat("a", 1024), "example.com", "", "", jid.ErrLocalTooLong},
		11: {"a", "example.com", "\x00", "", jid.ErrInvalidResource},
	} {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			j, err := jid.New(tc.local, tc.domain, tc.resource)
			if !errors.Is(err, tc.err) {
				t.Fatalf("New(%q, %q, %q) error = %v, want %v", tc.local, tc.domain, tc.resource, err, tc.err)
			}
			if got := j.String(); got != tc.want {
				t.Errorf("New(%q, %q, %q) = %q, want %q", tc.local, tc.domain, tc.resource, got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for i, tc := range [...]struct {
		fn      func(string) (string, error)
		in, out string
		err     error
	}{
		0:  {jid.NormalizeLocal, "juliet", "juliet", nil},
		1:  {jid.NormalizeLocal, "Juliet", "juliet", nil},
		2:  {jid.NormalizeLocal, "ＪＵＬＩＥＴ", "juliet", nil},
		3:  {jid.NormalizeLocal, "", "", jid.ErrEmptyLocal},
		4:  {jid.NormalizeLocal, "a b", "", jid.ErrInvalidLocal},
		5:  {jid.NormalizeLocal, "a@b", "", jid.ErrInvalidLocal},
		6:  {jid.NormalizeDomain, "Example.COM.", "example.com", nil},
		7:  {jid.NormalizeDomain, "example.com", "example.com", nil},
		8:  {jid.NormalizeDomain, "[0::1]", "[::1]", nil},
		9:  {jid.NormalizeDomain, ".", "", jid.ErrEmptyDomain},
		10: {jid.NormalizeDomain, "", "", jid.ErrEmptyDomain},
		11: {jid.NormalizeDomain, "a_b", "", jid.ErrInvalidDomain},
		12: {jid.NormalizeResource, "Balcony", "Balcony", nil},
		13: {jid.NormalizeResource, " ", " ", nil},
		14: {jid.NormalizeResource, "\u2000x", " x", nil},
		15: {jid.NormalizeResource, "", "", jid.ErrEmptyResource},
		16: {jid.NormalizeResource, "a\nb", "", jid.ErrInvalidResource},
	} {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			out, err := tc.fn(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if out != tc.out {
				t.Errorf("(%q) = %q, want %q", tc.in, out, tc.out)
			}
		})
	}
}

func TestWithResource(t *testing.T) {
	full := jid.MustParse("juliet@example.com/balcony")
	for i, tc := range [...]struct {
		j    jid.JID
		r    string
		want string
		err  error
	}{
		0: {full, "Orchard", "juliet@example.com/Orchard", nil},
		1: {full, "", "juliet@example.com", nil},
		2: {full.Bare(), "a\u00a0b", "juliet@example.com/a b", nil},
		3: {full.Domainpart(), "r", "example.com/r", nil},
		4: {full, "\x00", "", jid.ErrInvalidResource},
		5: {full, strings.Repeat("r", 1024), "", jid.ErrResourceTooLong},
		6: {jid.JID{}, "r", "", jid.ErrEmptyDomain},
	} {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			j, err := tc.j.WithResource(tc.r)
			if !errors.Is(err, tc.err) {
				t.Fatalf("WithResource(%q) error = %v, want %v", tc.r, err, tc.err)
			}
			if got := j.String(); got != tc.want {
				t.Errorf("WithResource(%q) = %q, want %q", tc.r, got, tc.want)
			}
			if err == nil && j != jid.MustParse(tc.want) {
				t.Errorf("WithResource(%q) = %#v, differs from Parse", tc.r, j)
			}
		})
	}
}

func TestParts(t *testing.T) {
	for i, tc := range [...]struct {
		in, bare, domain string
	}{
		0: {"juliet@example.com/balcony", "juliet@example.com", "example.com"},
		1: {"juliet@example.com", "juliet@example.com", "example.com"},
		2: {"example.com/r", "example.com", "example.com"},
		3: {"example.com", "example.com", "example.com"},
	} {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			j := jid.MustParse(tc.in)
			b, d := j.Bare(), j.Domainpart()
			if b != jid.MustParse(tc.bare) || b.String() != tc.bare || !b.IsBare() {
				t.Errorf("Bare() = %#v, want %q", b, tc.bare)
			}
			if d != jid.MustParse(tc.domain) || d.String() != tc.domain || d.Local() != "" {
				t.Errorf("Domainpart() = %#v, want %q", d, tc.domain)
			}
			if !j.Equal(jid.MustParse(tc.in)) || j.Equal(jid.JID{}) {
				t.Error("Equal is wrong")
			}
		})
	}
}

func TestZero(t *testing.T) {
	var z jid.JID
	if !z.IsZero() || z.IsBare() || z.String() != "" || z.Local() != "" || z.Domain() != "" || z.Resource() != "" {
		t.Errorf("zero JID misbehaves: %#v", z)
	}
	if !z.Bare().IsZero() || !z.Domainpart().IsZero() {
		t.Error("Bare or Domainpart of the zero JID is not zero")
	}
}

func TestMustParse(t *testing.T) {
	for i, tc := range [...]struct {
		in    string
		panic bool
	}{
		0: {"juliet@example.com", false},
		1: {"@example.com", true},
		2: {"juliet@", true},
	} {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			defer func() {
				r := recover()
				if (r != nil) != tc.panic {
					t.Errorf("MustParse(%q) panic = %v, want panic %v", tc.in, r, tc.panic)
				}
			}()
			jid.MustParse(tc.in)
		})
	}
}

func TestMapKey(t *testing.T) {
	m := map[jid.JID]int{jid.MustParse("juliet@example.com"): 1}
	if m[jid.MustParse("Juliet@EXAMPLE.com/balcony").Bare()] != 1 {
		t.Error("bare JID of an equivalent full JID is a different map key")
	}
}

func TestText(t *testing.T) {
	type msg struct {
		To   jid.JID `json:"to"`
		From jid.JID `json:"from"`
	}
	in := msg{To: jid.MustParse("juliet@example.com/balcony")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"to":"juliet@example.com/balcony","from":""}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	var out msg
	if err := json.Unmarshal([]byte(`{"to":"Juliet@Example.com/balcony","from":""}`), &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("Unmarshal = %+v, want %+v", out, in)
	}
	err = json.Unmarshal([]byte(`{"to":"@example.com"}`), &out)
	if !errors.Is(err, jid.ErrEmptyLocal) {
		t.Errorf("Unmarshal of an invalid JID: error %v, want %v", err, jid.ErrEmptyLocal)
	}
	if got, _ := in.To.AppendText([]byte("to=")); string(got) != "to=juliet@example.com/balcony" {
		t.Errorf("AppendText = %q", got)
	}
}
