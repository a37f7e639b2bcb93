package c2s

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// fakeMessages is a MessageConn that returns queued messages, then io.EOF.
type fakeMessages struct{ msgs [][]byte }

func (f *fakeMessages) ReadMessage() ([]byte, error) {
	if len(f.msgs) == 0 {
		return nil, io.EOF
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	return m, nil
}
func (f *fakeMessages) WriteMessage([]byte) error        { return nil }
func (f *fakeMessages) SetReadLimit(int)                 {}
func (f *fakeMessages) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeMessages) SetWriteDeadline(time.Time) error { return nil }
func (f *fakeMessages) TLSState() *tls.ConnectionState   { return nil }
func (f *fakeMessages) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fakeMessages) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeMessages) Close() error                     { return nil }
func (f *fakeMessages) CloseGracefully() error           { return nil }
func (f *fakeMessages) queue(ms ...string) *fakeMessages { return f.add(ms) }
func (f *fakeMessages) add(ms []string) *fakeMessages {
	for _, m := range ms {
		f.msgs = append(f.msgs, []byte(m))
	}
	return f
}

const testOpen = `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>`

// events reads the messages through a framedConn and a decoder as c2s
// does (next, endEvent) and returns what it got, up to the first error.
func events(msgs ...string) ([]xmlstream.Event, error) {
	f := &framedConn{mc: (&fakeMessages{}).queue(msgs...), expectOpen: true, lim: xmlstream.DefaultLimits}
	d := xmlstream.NewDecoder(f, xmlstream.DefaultLimits)
	var evs []xmlstream.Event
	for {
		ev, err := d.Next()
		if err == nil {
			err = f.endEvent(d)
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func condition(err error) stanza.StreamCondition {
	var se *stanza.StreamError
	if errors.As(err, &se) {
		return se.Condition
	}
	var xe *xmlstream.Error
	if errors.As(err, &xe) {
		return xe.Condition
	}
	return ""
}

// TestFraming: how messages become the stream c2s reads (RFC 7395 §3.3).
func TestFraming(t *testing.T) {
	for i, tc := range []struct {
		msgs   []string
		events int                    // events before the error
		err    error                  // nil: a stream condition is expected
		cond   stanza.StreamCondition // when err is nil
	}{
		{[]string{testOpen}, 1, io.EOF, ""},
		{[]string{testOpen, `<presence xmlns='jabber:client'/>`, `<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`}, 2, errStreamClosed, ""},
		{[]string{"<?xml version='1.0'?> " + testOpen + "\n", " ", `<presence/>`}, 2, io.EOF, ""},
		{[]string{`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`}, 0, errStreamClosed, ""},
		{[]string{`<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>`}, 0, nil, stanza.StreamInvalidNamespace},
		{[]string{`<open xmlns='jabber:client' version='1.0'/>`}, 0, nil, stanza.StreamInvalidNamespace},
		{[]string{`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0'>`}, 0, nil, stanza.StreamNotWellFormed},
		{[]string{testOpen + testOpen}, 0, nil, stanza.StreamNotWellFormed},
		{[]string{testOpen, `<presence/><presence/>`}, 1, nil, stanza.StreamNotWellFormed},
		{[]string{testOpen, `<message>`, `</message>`}, 1, nil, stanza.StreamNotWellFormed},
		{[]string{testOpen, testOpen}, 2, io.EOF, ""}, // a second <open/> is an element (c2s refuses it)
		{[]string{testOpen, `<close xmlns='jabber:client'/>`}, 2, io.EOF, ""},
	} {
		evs, err := events(tc.msgs...)
		if len(evs) != tc.events {
			t.Errorf("%d: %d events, want %d (%v)", i, len(evs), tc.events, err)
		}
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%d: error %v, want %v", i, err, tc.err)
			}
		} else if c := condition(err); c != tc.cond {
			t.Errorf("%d: error %v, want %s", i, err, tc.cond)
		}
	}
	evs, _ := events(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a&amp;b' from='x"y' version='1.0' xml:lang='de' xmlns:p='urn:p' p:q='r'/>`)
	h := evs[0]
	if h.Kind != xmlstream.StreamStart || h.Elem.Space != stanza.NSStream || h.Elem.Local != "stream" || h.DefaultNS != stanza.NSClient {
		t.Fatalf("header %+v", h)
	}
	if h.Elem.Attr("to") != "a&b" || h.Elem.Attr("from") != `x"y` || h.Elem.Attr("version") != "1.0" || len(h.Elem.Attrs) != 4 {
		t.Fatalf("header attributes %v", h.Elem.Attrs)
	}
}

// FuzzFraming: whatever the first message, the framing accepts it only as
// an <open/> in the framing namespace, and the stream header it yields
// carries exactly that element's attributes; an element message that the
// stream accepts is one complete element on its own (parseFrame agrees).
func FuzzFraming(f *testing.F) {
	for _, s := range []string{
		testOpen,
		`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a&amp;b' xml:lang='en' version='1.0'/>`,
		"<?xml version='1.0'?><open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
		`<f:open xmlns:f='urn:ietf:params:xml:ns:xmpp-framing' version='1.0'/>`,
		`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`,
		`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`,
		`<message xmlns='jabber:client' to='a@b'><body>x</body></message>`,
		`<presence/><presence/>`,
		`<iq>`,
		" \n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, m []byte) {
		// As the first message.
		evs, _ := events(string(m))
		if len(evs) > 0 {
			el, err := parseFrame(skipXMLDecl(trimXMLSpace(m)), xmlstream.DefaultLimits)
			if err != nil || el.Space != NSFraming || el.Local != "open" {
				t.Fatalf("accepted %q as a stream header (%v, %v)", m, el, err)
			}
			var want []stanza.Attr
			for _, a := range el.Attrs {
				if a.Space == "" || a.Space == stanza.NSXML {
					want = append(want, a)
				}
			}
			h := evs[0].Elem
			if len(h.Attrs) != len(want) {
				t.Fatalf("%q: header attributes %v, want %v", m, h.Attrs, want)
			}
			for i := range want {
				if h.Attrs[i] != want[i] {
					t.Fatalf("%q: header attributes %v, want %v", m, h.Attrs, want)
				}
			}
		}
		// As a message of an open stream.
		evs, err := events(testOpen, string(m))
		if len(evs) == 2 {
			if _, perr := parseFrame(skipXMLDecl(trimXMLSpace(m)), xmlstream.DefaultLimits); perr != nil {
				t.Fatalf("accepted %q, which is not one element: %v", m, perr)
			}
		} else if len(evs) != 1 {
			t.Fatalf("%q: %d events (%v)", m, len(evs), err)
		}
	})
}
