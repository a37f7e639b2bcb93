package rsm

import (
	"errors"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

func xmlElem(t testing.TB, s string) *stanza.Element {
	t.Helper()
	el, err := xmlstream.ParseStanza([]byte(s))
	if err != nil {
		t.Fatalf("ParseStanza(%q): %v", s, err)
	}
	return el
}

func set(body string) string {
	return `<set xmlns='http://jabber.org/protocol/rsm'>` + body + `</set>`
}

func TestParseRequest(t *testing.T) {
	long := strings.Repeat("x", MaxIDLen)
	tests := []struct {
		name string
		in   string
		want Request
	}{
		{"empty", set(""), Request{Max: -1, Index: -1}},
		{"limit §2.1", set(`<max>10</max>`), Request{Max: 10, Index: -1}},
		{"next page §2.2", set(`<max>10</max><after>peterpan@neverland.lit</after>`),
			Request{Max: 10, After: "peterpan@neverland.lit", Index: -1}},
		{"previous page §2.3", set(`<max>10</max><before>peter@pixyland.org</before>`),
			Request{Max: 10, Before: "peter@pixyland.org", HasBefore: true, Index: -1}},
		{"last page §2.5", set(`<max>10</max><before/>`), Request{Max: 10, HasBefore: true, Index: -1}},
		{"by index §2.6", set(`<max>10</max><index>371</index>`), Request{Max: 10, Index: 371}},
		{"count §2.7", set(`<max>0</max>`), Request{Max: 0, Index: -1}},
		{"empty after", set(`<after/>`), Request{Max: -1, Index: -1}},
		{"white space", set("<max>\n 20\t</max><index> 0 </index>"), Request{Max: 20, Index: 0}},
		{"leading zeros", set(`<max>007</max>`), Request{Max: 7, Index: -1}},
		{"largest", set(`<max>2147483647</max>`), Request{Max: 2147483647, Index: -1}},
		{"opaque ids kept as is", set("<after> a&amp;b\n</after>"), Request{Max: -1, After: " a&b\n", Index: -1}},
		{"longest id", set(`<after>` + long + `</after>`), Request{Max: -1, After: long, Index: -1}},
		{"response children ignored", set(`<first index='1'>a</first><last>b</last><count>3</count><max>1</max>`),
			Request{Max: 1, Index: -1}},
		{"foreign children ignored", set(`<max xmlns='urn:other'>x</max><after xmlns='urn:other'>a</after><before xmlns='urn:other'/>`),
			Request{Max: -1, Index: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(xmlElem(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			again, err := ParseRequest(got.Element())
			if err != nil || again != got {
				t.Fatalf("round trip of %s: %+v, %v", got.Element(), again, err)
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"wrong name", `<get xmlns='http://jabber.org/protocol/rsm'/>`},
		{"wrong namespace", `<set xmlns='urn:other'/>`},
		{"negative max", set(`<max>-1</max>`)},
		{"plus max", set(`<max>+1</max>`)},
		{"empty max", set(`<max/>`)},
		{"blank max", set(`<max> </max>`)},
		{"text max", set(`<max>ten</max>`)},
		{"fraction max", set(`<max>1.5</max>`)},
		{"inner space max", set(`<max>1 0</max>`)},
		{"huge max", set(`<max>2147483648</max>`)},
		{"very huge max", set(`<max>99999999999999999999999999999</max>`)},
		{"two max", set(`<max>1</max><max>1</max>`)},
		{"negative index", set(`<index>-5</index>`)},
		{"empty index", set(`<index/>`)},
		{"two index", set(`<index>1</index><index>2</index>`)},
		{"after and before", set(`<after>a</after><before>b</before>`)},
		{"after and empty before", set(`<after>a</after><before/>`)},
		{"empty after and before", set(`<before/><after/>`)},
		{"two after", set(`<after>a</after><after>b</after>`)},
		{"two before", set(`<before/><before/>`)},
		{"long after", set(`<after>` + strings.Repeat("x", MaxIDLen+1) + `</after>`)},
		{"long before", set(`<before>` + strings.Repeat("\u00e9", MaxIDLen/2+1) + `</before>`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRequest(xmlElem(t, tt.in))
			if err == nil {
				t.Fatalf("ParseRequest succeeded: %+v", r)
			}
			if r != (Request{}) {
				t.Errorf("request %+v returned with the error", r)
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if se := re.StanzaError(); se.Condition != stanza.BadRequest || se.Text == "" || !strings.HasPrefix(err.Error(), "rsm: ") {
				t.Errorf("StanzaError() = %+v, Error() = %q", se, err)
			}
		})
	}
	if _, err := ParseRequest(nil); err == nil {
		t.Error("ParseRequest(nil) succeeded")
	}
}

func TestRequestElement(t *testing.T) {
	tests := []struct {
		r    Request
		want string
	}{
		{Request{Max: -1, Index: -1}, `<set xmlns="http://jabber.org/protocol/rsm"/>`},
		{Request{Max: 10, After: "a<b", Index: -1}, `<set xmlns="http://jabber.org/protocol/rsm"><max>10</max><after>a&lt;b</after></set>`},
		{Request{Max: 5, HasBefore: true, Index: -1}, `<set xmlns="http://jabber.org/protocol/rsm"><max>5</max><before/></set>`},
		{Request{Max: -1, Before: "z", HasBefore: true, Index: 3}, `<set xmlns="http://jabber.org/protocol/rsm"><before>z</before><index>3</index></set>`},
	}
	for _, tt := range tests {
		if got := tt.r.Element().String(); got != tt.want {
			t.Errorf("%+v.Element():\n got %s\nwant %s", tt.r, got, tt.want)
		}
	}
}

func TestResponseElement(t *testing.T) {
	const ns = `<set xmlns="http://jabber.org/protocol/rsm">`
	tests := []struct {
		name string
		r    Response
		want string
	}{
		{"full page §2.2", Response{First: "stpeter@jabber.org", FirstIndex: 0, Last: "peterpan@neverland.lit", Count: 800},
			ns + `<first index="0">stpeter@jabber.org</first><last>peterpan@neverland.lit</last><count>800</count></set>`},
		{"by index §2.6", Response{First: "peter@pixyland.org", FirstIndex: 371, Last: "peter@rabbit.lit", Count: 800},
			ns + `<first index="371">peter@pixyland.org</first><last>peter@rabbit.lit</last><count>800</count></set>`},
		{"empty page §2.2", Response{FirstIndex: -1, Count: 790}, ns + `<count>790</count></set>`},
		{"empty page, index ignored", Response{FirstIndex: 5, Count: 0}, ns + `<count>0</count></set>`},
		{"no count or index", Response{First: "a", FirstIndex: -1, Last: "b", Count: -1},
			ns + `<first>a</first><last>b</last></set>`},
		{"one item", Response{First: "a&b", FirstIndex: 2, Last: "a&b", Count: 3},
			ns + `<first index="2">a&amp;b</first><last>a&amp;b</last><count>3</count></set>`},
		{"nothing", Response{FirstIndex: -1, Count: -1}, `<set xmlns="http://jabber.org/protocol/rsm"/>`},
		{"zero value", Response{}, ns + `<count>0</count></set>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := tt.r.Element()
			if got := el.String(); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			// The rendering goes through a stream unchanged.
			if back, err := xmlstream.ParseStanza(el.AppendXML(nil, stanza.NSClient)); err != nil || back.String() != tt.want {
				t.Fatalf("reparsed: %v, %v", back, err)
			}
		})
	}
}
