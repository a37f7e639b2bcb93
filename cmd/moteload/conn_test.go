package main

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/internal/xmppclient"
	"github.com/mote-xmpp/mote/stanza"
)

func TestLeadingInt(t *testing.T) {
	for i, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1700000000123456789 xxxx", 1700000000123456789, true},
		{"42", 42, true},
		{"", 0, false},
		{"hello", 0, false},
		{" 12", 0, false},
	} {
		if got, ok := leadingInt(c.in); got != c.want || ok != c.ok {
			t.Errorf("%d: leadingInt(%q) = %d, %v; want %d, %v", i, c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	if got := string(appendEscaped(nil, `a'b"c<d>e&f`)); got != "a&apos;b&quot;c&lt;d&gt;e&amp;f" {
		t.Errorf("appendEscaped = %s", got)
	}
}

// TestAnswerIQ checks the replies to the server's requests: a result for a
// ping (XEP-0199 §4.2), service-unavailable for anything else, nothing for
// results.
func TestAnswerIQ(t *testing.T) {
	tests := []struct {
		name string
		in   *stanza.Element
		want string
	}{
		{"ping", stanza.NewElement(stanza.NSClient, "iq", "type", "get", "id", "p'1", "from", "localhost").
			Append(stanza.NewElement(NSPing, "ping")), `<iq type='result' id='p&apos;1' to='localhost'/>`},
		{"other", stanza.NewElement(stanza.NSClient, "iq", "type", "get", "id", "v1").
			Append(stanza.NewElement("jabber:iq:version", "query")),
			`<iq type='error' id='v1'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`},
		{"result", stanza.NewElement(stanza.NSClient, "iq", "type", "result", "id", "r1"), ``},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer server.Close()
			c := &conn{Conn: xmppclient.Conn{NC: client}, st: newStats(nil, false)}
			go func() { c.answerIQ(tt.in); client.Close() }()
			server.SetDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(server)
			if err != nil || string(got) != tt.want {
				t.Errorf("%d: got %q, %v; want %q", i, got, err, tt.want)
			}
		})
	}
}

// TestReadLoopLost checks that a stream error or an unasked end of stream
// counts as a lost connection, that the end of a stream we closed does not,
// and that a bounced message counts as an error.
func TestReadLoopLost(t *testing.T) {
	const header = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
	tests := []struct {
		name    string
		input   string
		closing bool
		lost    bool
		errors  int64
	}{
		{"stream error", header + `<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`, false, true, 1},
		{"unasked end", header + `</stream:stream>`, false, true, 1},
		{"closed by us", header + `</stream:stream>`, true, false, 0},
		{"bounce", header + `<message type='error' id='m1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, true, false, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStats(nil, false)
			c := &conn{Conn: xmppclient.Conn{Dec: xmlstream.NewDecoder(strings.NewReader(tt.input), xmlstream.DefaultLimits)}, st: st}
			c.closing.Store(tt.closing)
			c.startReader(nil)
			<-c.done
			if got := c.lost.Load(); got != tt.lost {
				t.Errorf("%d: lost = %v, want %v", i, got, tt.lost)
			}
			if got := st.errors.Load(); got != tt.errors {
				t.Errorf("%d: errors = %d, want %d", i, got, tt.errors)
			}
		})
	}
}
