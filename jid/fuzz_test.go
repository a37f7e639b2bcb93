package jid

import (
	"strings"
	"testing"
)

// FuzzParse checks, for every input that parses, that the normalised form is
// stable (parsing it again gives the same JID), that the fast and slow paths
// agree, and that the parts fit together.
func FuzzParse(f *testing.F) {
	for _, s := range pathCorpus {
		f.Add(s)
	}
	for _, s := range []string{
		"", "@", "/", ".", "xn--", "xn--zca.de", "[fe80::1%eth0]",
		"juliet@example.com/ foo", "henry\u2163@example.com", "ＪＵＬＩＥＴ@ＥＸＡＭＰＬＥ．ＣＯＭ",
		"İ@example.com", "e\u0301@example.com/e\u0301", "example.com/a\u00a0b",
		"שלום@example.com", "123.אב.example", "l·l.cat", "カ・a.example",
		"a\u00ad.example", "example.com。", "\xff@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		sj, serr := slowParse(s)
		if j != sj || (err == nil) != (serr == nil) || err != nil && err.Error() != serr.Error() {
			t.Fatalf("Parse(%q) = %q, %v; slow path = %q, %v", s, j, err, sj, serr)
		}
		if err != nil {
			if !j.IsZero() {
				t.Fatalf("Parse(%q) returned %q with error %v", s, j, err)
			}
			return
		}
		str := j.String()
		j2, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, str, err)
		}
		if j2 != j {
			t.Fatalf("Parse(%q) = %#v, which parses as %#v", s, j, j2)
		}
		if !strings.HasPrefix(str, j.Bare().String()) {
			t.Fatalf("Bare() = %q is not a prefix of %q", j.Bare(), str)
		}
		n, err := New(j.Local(), j.Domain(), j.Resource())
		if err != nil || n != j {
			t.Fatalf("New(parts of %q) = %q, %v", str, n, err)
		}
		for _, p := range [...]string{j.Local(), j.Domain(), j.Resource()} {
			if len(p) > maxPart {
				t.Fatalf("Parse(%q) has a part of %d bytes", s, len(p))
			}
		}
		if j.Domain() == "" {
			t.Fatalf("Parse(%q) has an empty domainpart", s)
		}
	})
}
