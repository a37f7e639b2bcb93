package rsm

import (
	"errors"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmlstream"
)

// FuzzParseRequest parses fuzzed XML with xmlstream and then as an RSM
// request (the <set/> itself or the <set/> inside a query). ParseRequest
// must not panic, must fail only with an *Error, and every request it
// accepts must keep its invariants and survive Element and ParseRequest.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		set(`<max>10</max>`),
		set(`<max>10</max><after>peterpan@neverland.lit</after>`),
		set(`<max>10</max><before/>`),
		set(`<max>10</max><before>peter@pixyland.org</before>`),
		set(`<max>10</max><index>371</index>`),
		set(`<max>0</max>`),
		set(`<max> 2147483647 </max><after/>`),
		set(`<max>-1</max>`),
		set(`<after>a</after><before>b</before>`),
		`<query xmlns='http://jabber.org/protocol/disco#items'>` + set(`<max>20</max>`) + `</query>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := xmlstream.ParseStanza(data)
		if err != nil {
			return
		}
		if c := el.Child(NS, "set"); c != nil && el.Local != "set" {
			el = c
		}
		r, err := ParseRequest(el)
		if err != nil {
			var re *Error
			if !errors.As(err, &re) || r != (Request{}) {
				t.Fatalf("ParseRequest: %+v, %#v", r, err)
			}
			return
		}
		if r.Max < -1 || r.Index < -1 || len(r.After) > MaxIDLen || len(r.Before) > MaxIDLen ||
			(r.Before != "" && !r.HasBefore) || (r.After != "" && r.HasBefore) {
			t.Fatalf("accepted %+v", r)
		}
		again, err := ParseRequest(r.Element())
		if err != nil || again != r {
			t.Fatalf("round trip of %+v: %+v, %v", r, again, err)
		}
	})
}
