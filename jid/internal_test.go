package jid

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// slowParse is Parse without the ASCII fast paths.
func slowParse(s string) (JID, error) {
	return parse(s, false)
}

// checkPaths reports a difference between the fast and the slow path for s.
func checkPaths(t *testing.T, s string) {
	t.Helper()
	fj, ferr := Parse(s)
	sj, serr := slowParse(s)
	if fj != sj || fmt.Sprint(ferr) != fmt.Sprint(serr) {
		t.Fatalf("Parse(%q) = %q, %v; slow path = %q, %v", s, fj, ferr, sj, serr)
	}
	for _, n := range [...]struct {
		name string
		fn   func(string, bool) (string, error)
	}{
		{"local", normalizeLocal},
		{"domain", normalizeDomain},
		{"resource", normalizeResource},
	} {
		f, ferr := n.fn(s, true)
		g, serr := n.fn(s, false)
		if f != g || fmt.Sprint(ferr) != fmt.Sprint(serr) {
			t.Fatalf("normalize %s(%q) = %q, %v; slow path = %q, %v", n.name, s, f, ferr, g, serr)
		}
	}
}

var pathCorpus = []string{
	"juliet@example.com", "Juliet@Example.COM", "juliet@example.com/Balcony",
	"JULIET@EXAMPLE.COM./ x ", "example.com.", "example.com..", "a.b.c.d.e",
	"xn--bcher-kva.example", "XN--BCHER-KVA.EXAMPLE", "xn--", "ab--cd.example",
	"a-b--c.example", "-a.example", "a-.example", "1.2.3.4", "[::1]", "[::1].",
	"a@[::1]/r", "\"juliet\"@example.com", "a&b@example.com", "a'b@c", "a:b@c",
	"a<b@c", "a>b@c", "a b@c", "a\\b@c", "~@c", "c/~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
	"c/\x7f", "c/\x1f", "a\x7f@c", "_a.example", "a_b", "a.-b", "a.b-", "localhost",
	"fußball@example.com", "Σ@example.com", "example.com/♚", "é.example",
}

func TestFastSlowCorpus(t *testing.T) {
	for i, s := range pathCorpus {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) { checkPaths(t, s) })
	}
	for i, tc := range validJIDsInternal() {
		t.Run(fmt.Sprintf("lengths/%d", i), func(t *testing.T) { checkPaths(t, tc) })
	}
}

func validJIDsInternal() []string {
	a := strings.Repeat("a", 1023)
	return []string{
		a + "@" + a + "/" + a,
		a + "a@example.com",
		"example.com/" + a + "a",
		a + "a",
		a + ".",
		a + "a.",
		strings.ToUpper(a) + "@" + strings.ToUpper(a) + "./" + a,
	}
}

// TestFastSlowASCII runs every ASCII string of up to two bytes through both
// paths, alone and in each position of a JID.
func TestFastSlowASCII(t *testing.T) {
	var parts []string
	for c := 0; c < 0x80; c++ {
		parts = append(parts, string(rune(c)))
		for d := 0; d < 0x80; d++ {
			parts = append(parts, string([]byte{byte(c), byte(d)}))
		}
	}
	for _, p := range parts {
		checkPaths(t, p)
		checkPaths(t, p+"@example.com")
		checkPaths(t, "a@"+p)
		checkPaths(t, "a@x"+p+"y.com")
		checkPaths(t, "a@example.com/"+p)
		checkPaths(t, "xn"+p+"a.example")
	}
}

// TestFastSlowRandom runs random ASCII strings, biased towards the
// characters that matter to the parser, through both paths.
func TestFastSlowRandom(t *testing.T) {
	const alphabet = "aAzZ09-.@/ _xn\"&'<>:[]\\~\x00\x7f"
	n := 200000
	if testing.Short() {
		n = 20000
	}
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 0, 32)
	for range n {
		b = b[:0]
		for range r.IntN(24) {
			if r.IntN(8) == 0 {
				b = append(b, byte(r.IntN(0x80)))
			} else {
				b = append(b, alphabet[r.IntN(len(alphabet))])
			}
		}
		checkPaths(t, string(b))
	}
}

func TestParseSharesInput(t *testing.T) {
	for _, s := range []string{
		"juliet@example.com/balcony", "example.com", "juliet@example.com",
		"fußball@example.com/♚", "[::1]/r",
	} {
		j, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if unsafe.StringData(j.String()) != unsafe.StringData(s) {
			t.Errorf("Parse(%q) copied an already normalised input", s)
		}
	}
}

func TestAllocs(t *testing.T) {
	full := MustParse("juliet@example.com/balcony")
	var sink JID
	var str string
	for _, tc := range [...]struct {
		name string
		max  float64
		fn   func()
	}{
		{"Parse/normalised", 0, func() { sink, _ = Parse("juliet@example.com/balcony") }},
		{"Parse/lower", 1, func() { sink, _ = Parse("Juliet@Example.com/balcony") }},
		{"Parse/trailing-dot", 1, func() { sink, _ = Parse("juliet@example.com./balcony") }},
		{"NormalizeLocal/normalised", 0, func() { str, _ = NormalizeLocal("juliet") }},
		{"NormalizeLocal/lower", 1, func() { str, _ = NormalizeLocal("Juliet") }},
		{"NormalizeDomain/normalised", 0, func() { str, _ = NormalizeDomain("example.com") }},
		{"NormalizeResource/normalised", 0, func() { str, _ = NormalizeResource("balcony") }},
		{"Bare", 0, func() { sink = full.Bare() }},
		{"Domainpart", 0, func() { sink = full.Domainpart() }},
		{"String", 0, func() { str = full.String() }},
		{"WithResource", 1, func() { sink, _ = full.WithResource("orchard") }},
	} {
		if got := testing.AllocsPerRun(100, tc.fn); got > tc.max {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, got, tc.max)
		}
	}
	_, _ = sink, str
}
