package jid

import "testing"

var benchSink JID

func BenchmarkParse(b *testing.B) {
	for _, bc := range [...]struct {
		name, in string
	}{
		{"ascii-bare", "juliet@example.com"},
		{"ascii-full", "juliet@example.com/balcony-4f2a"},
		{"ascii-full-lower", "Juliet@Example.COM/balcony-4f2a"},
		{"ascii-domain", "pubsub.example.com"},
		{"ip-literal", "juliet@[2001:db8::1]/balcony"},
		{"nonascii-local", "fußball@example.com/balcony"},
		{"nonascii-resource", "juliet@example.com/♚"},
		{"nonascii-domain", "juliet@bücher.example/balcony"},
		{"nonascii-mapped", "ＪＵＬＩＥＴ@Ｅxample.com/balcony"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchSink, _ = Parse(bc.in)
			}
		})
		b.Run(bc.name+"/slow", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchSink, _ = slowParse(bc.in)
			}
		})
	}
}

func BenchmarkWithResource(b *testing.B) {
	j := MustParse("juliet@example.com")
	b.ReportAllocs()
	for b.Loop() {
		benchSink, _ = j.WithResource("balcony-4f2a")
	}
}
