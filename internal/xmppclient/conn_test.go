package xmppclient

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// clientHeader opens the server's side of a stream in the tests' inputs.
const clientHeader = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// parse parses one element as the server would send it.
func parse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := xmlstream.ParseStanza([]byte(s))
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return el
}

// reading returns a connection that reads input, after the stream header
// (already read).
func reading(t *testing.T, input string) *Conn {
	t.Helper()
	c := &Conn{Dec: xmlstream.NewDecoder(strings.NewReader(clientHeader+input), xmlstream.DefaultLimits)}
	if ev, err := c.Dec.Next(); err != nil || ev.Kind != xmlstream.StreamStart {
		t.Fatalf("header: %v, %v", ev.Kind, err)
	}
	return c
}

// TestNext checks what the server's stream yields: elements, a stream
// error as an error (RFC 6120 §4.9), the end of the stream as
// ErrStreamEnd.
func TestNext(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    string // the element's name, or the error
		wantEnd bool
	}{
		{"element", ` <message id='m1'/>`, "message", false},
		{"stream error", `<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`, "stream error host-unknown", false},
		{"stream error with text", `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>` +
			`<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>replaced</text></stream:error>`, "stream error conflict: replaced", false},
		{"empty stream error", `<stream:error/>`, "stream error undefined-condition", false},
		{"end", `</stream:stream>`, ErrStreamEnd.Error(), true},
		{"cut", `<message>`, io.EOF.Error(), false}, // the reader's error, unchanged
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el, err := reading(t, tt.input).Next()
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = el.Local
			}
			if !strings.Contains(got, tt.want) || errors.Is(err, ErrStreamEnd) != tt.wantEnd {
				t.Errorf("%d: got %q, %v; want %q", i, got, err, tt.want)
			}
		})
	}
}

// TestExchange checks that an IQ exchange skips whatever else comes
// before its reply, including requests with the same id.
func TestExchange(t *testing.T) {
	c := inStream(t, func(p *peer) {
		if req := p.expect(stanza.NSClient, "iq"); req.Attr("id") != "q1" {
			p.t.Errorf("server: got %s", req)
		}
		p.send(`<message id='q1'/><iq type='get' id='q1'><ping xmlns='urn:xmpp:ping'/></iq><iq type='result' id='q0'/>` +
			`<iq type='error' id='q1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
	})
	el, err := c.Exchange(`<iq type='get' id='q1'><query xmlns='jabber:iq:version'/></iq>`, "q1")
	if err != nil || el.Attr("type") != stanza.TypeError || el.Attr("id") != "q1" {
		t.Fatalf("got %v, %v; want the error reply", el, err)
	}
}

// failConn is a net.Conn whose writes fail, recording what is done to it.
type failConn struct {
	net.Conn
	writes, closes int
	writeDeadline  time.Time
}

var errBroken = errors.New("broken pipe")

func (f *failConn) Write([]byte) (int, error)          { f.writes++; return 0, errBroken }
func (f *failConn) Close() error                       { f.closes++; return nil }
func (f *failConn) SetWriteDeadline(t time.Time) error { f.writeDeadline = t; return nil }

// TestWriteFails checks that the first write error closes the socket and
// is returned again without another write: a TLS connection is unusable
// after one.
func TestWriteFails(t *testing.T) {
	for i, timeout := range []time.Duration{0, time.Minute} {
		f := &failConn{}
		c := &Conn{Raw: f, NC: f, WriteTimeout: timeout}
		before := time.Now()
		err1, err2 := c.WriteString("<presence/>"), c.Write([]byte("<presence/>"))
		if err1 != errBroken || err2 != errBroken || f.writes != 1 || f.closes != 1 {
			t.Errorf("%d: errors %v, %v; %d writes, %d closes; want broken pipe twice, one write, one close", i, err1, err2, f.writes, f.closes)
		}
		if set := !f.writeDeadline.IsZero(); set != (timeout > 0) || set && f.writeDeadline.Before(before.Add(timeout)) {
			t.Errorf("%d: write deadline %v with WriteTimeout %v", i, f.writeDeadline, timeout)
		}
	}
}

// deadlineConn records the deadlines set on it.
type deadlineConn struct {
	net.Conn
	deadline time.Time
}

func (d *deadlineConn) SetDeadline(t time.Time) error { d.deadline = t; return nil }

// TestBound checks the deadline Bound sets, the earlier of the timeout's
// and the context's, and that end clears it.
func TestBound(t *testing.T) {
	soon := time.Now().Add(time.Second)
	ctxSoon, cancel := context.WithDeadline(context.Background(), soon)
	defer cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		timeout time.Duration
		want    func(d time.Time) bool
	}{
		{"timeout", context.Background(), time.Hour, func(d time.Time) bool { return d.After(soon) && d.Before(time.Now().Add(time.Hour+time.Second)) }},
		{"context first", ctxSoon, time.Hour, func(d time.Time) bool { return d.Equal(soon) }},
		{"timeout first", ctxSoon, time.Millisecond, func(d time.Time) bool { return d.Before(soon) && !d.IsZero() }},
		{"context only", ctxSoon, 0, func(d time.Time) bool { return d.Equal(soon) }},
		{"no bound", context.Background(), 0, time.Time.IsZero},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &deadlineConn{}
			c := &Conn{Raw: d, NC: d}
			end := c.Bound(tt.ctx, tt.timeout)
			if !tt.want(d.deadline) {
				t.Errorf("%d: deadline %v", i, d.deadline)
			}
			if err := end(); err != nil || !d.deadline.IsZero() {
				t.Errorf("%d: end: %v, deadline %v; want nil and none", i, err, d.deadline)
			}
		})
	}
}

// TestBoundInterrupts checks that the end of the context interrupts a
// read in progress at once, and that end then reports it.
func TestBoundInterrupts(t *testing.T) {
	nc := serve(t, func(p *peer) { p.next() }) // silent until the client goes
	c := &Conn{Raw: nc, NC: nc, Dec: xmlstream.NewDecoder(nc, xmlstream.DefaultLimits)}
	ctx, cancel := context.WithCancel(context.Background())
	end := c.Bound(ctx, time.Hour)
	read := make(chan error)
	go func() {
		_, err := c.Dec.Next()
		read <- err
	}()
	cancel()
	if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read: %v, want a passed deadline", err)
	}
	if err := end(); err != context.Canceled {
		t.Errorf("end: %v, want %v", err, context.Canceled)
	}
}
