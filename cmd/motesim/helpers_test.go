package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// bufConn is a net.Conn that records what is written to it. Only Write,
// SetWriteDeadline, SetReadDeadline and Close may be called.
type bufConn struct {
	net.Conn
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (b *bufConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, net.ErrClosed
	}
	return b.buf.Write(p)
}

func (b *bufConn) SetWriteDeadline(time.Time) error { return nil }
func (b *bufConn) SetReadDeadline(time.Time) error  { return nil }

func (b *bufConn) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// take returns what was written since the last call, as a string.
func (b *bufConn) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// elements parses what was written since the last call into top-level
// elements.
func (b *bufConn) elements(t *testing.T) []*stanza.Element {
	t.Helper()
	return parseElements(t, b.take())
}

// parseElements parses XML written on a jabber:client stream.
func parseElements(t *testing.T, s string) []*stanza.Element {
	t.Helper()
	els, err := parseAll(s)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return els
}

// parseAll parses XML written on a jabber:client stream into its
// top-level elements.
func parseAll(s string) ([]*stanza.Element, error) {
	d := xmlstream.NewDecoder(io.MultiReader(strings.NewReader(
		`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`), strings.NewReader(s)), xmlstream.DefaultLimits)
	var out []*stanza.Element
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if ev.Kind == xmlstream.Element {
			out = append(out, ev.Elem)
		}
	}
}

// testDevice returns device bed1 of a vitals simulation, online on a
// bufConn, with a known latest reading.
func testDevice(t *testing.T) (*device, *bufConn) {
	t.Helper()
	s, err := newSim(Config{Devices: []Device{{Name: "bed1"}}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := s.devices[0]
	bc := &bufConn{}
	d.c = newConn(bc)
	d.last = reading{at: t0, fields: []field{
		{name: "heartRate", unit: "bpm", value: 72},
		{name: "spo2", unit: "%", value: 97.5, decimals: 1},
	}}
	t.Cleanup(func() {
		d.mu.Lock()
		d.stopScheduledLocked()
		d.mu.Unlock()
	})
	return d, bc
}

// mustParse parses one stanza.
func mustParse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := xmlstream.ParseStanza([]byte(s))
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return el
}

// xmlOf serialises els as they go on a jabber:client stream.
func xmlOf(els ...*stanza.Element) string {
	var b []byte
	for _, el := range els {
		b = el.AppendXML(b, stanza.NSClient)
	}
	return string(b)
}
