package xmppclient

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/mote-xmpp/mote/internal/pki"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// peer is the server's end of a scripted transcript. Content that differs
// from the script fails the test; an I/O error ends the script quietly
// (the client has given up, which is for the test to check), and every
// later step is a no-op.
type peer struct {
	t    *testing.T
	conn net.Conn
	dec  *xmlstream.Decoder
	dead bool
}

// serverHeader is the stream header the peer sends.
const serverHeader = `<?xml version='1.0'?><stream:stream from='localhost' id='s1' version='1.0' xml:lang='en' ` +
	`xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// serve runs script on the server's end of a pipe and returns the
// client's end. The test waits for the script at its end, after closing
// the client's end.
func serve(t *testing.T, script func(p *peer)) net.Conn {
	client, server := net.Pipe()
	p := &peer{t: t, conn: server, dec: xmlstream.NewDecoder(server, xmlstream.DefaultLimits)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		script(p)
		for !p.dead { // take whatever else the client writes
			p.next()
		}
	}()
	t.Cleanup(func() {
		client.Close()
		<-done
	})
	return client
}

// inStream returns a connection whose stream both sides have opened, and
// runs script on the server's end.
func inStream(t *testing.T, script func(p *peer)) *Conn {
	t.Helper()
	nc := serve(t, func(p *peer) {
		p.header()
		script(p)
	})
	c := &Conn{Raw: nc, NC: nc, Dec: xmlstream.NewDecoder(nc, xmlstream.DefaultLimits)}
	if err := c.WriteString(`<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`); err != nil {
		t.Fatal(err)
	}
	if ev, err := c.Dec.Next(); err != nil || ev.Kind != xmlstream.StreamStart {
		t.Fatalf("stream header: %v, %v", ev.Kind, err)
	}
	return c
}

// header reads the client's stream header, answers with the server's and
// returns the client's.
func (p *peer) header() *stanza.Element {
	if p.dead {
		return &stanza.Element{}
	}
	ev, err := p.dec.Next()
	if err != nil {
		p.dead = true
		return &stanza.Element{}
	}
	if ev.Kind != xmlstream.StreamStart {
		p.t.Errorf("server: want a stream header, got event %v", ev.Kind)
	}
	p.send(serverHeader)
	return ev.Elem
}

// next returns the client's next element.
func (p *peer) next() *stanza.Element {
	for !p.dead {
		ev, err := p.dec.Next()
		if err != nil {
			p.dead = true
			break
		}
		if ev.Kind == xmlstream.Element {
			return ev.Elem
		}
	}
	return &stanza.Element{}
}

// expect returns the client's next element, which must be {space}local.
func (p *peer) expect(space, local string) *stanza.Element {
	el := p.next()
	if !p.dead && (el.Space != space || el.Local != local) {
		p.t.Errorf("server: want {%s}%s, got %s", space, local, el)
	}
	return el
}

// send writes raw XML.
func (p *peer) send(xml string) {
	if p.dead {
		return
	}
	if _, err := p.conn.Write([]byte(xml)); err != nil {
		p.dead = true
	}
}

// restart expects the client's new stream header after SASL success and
// answers it.
func (p *peer) restart() *stanza.Element {
	p.dec.Restart()
	return p.header()
}

// startTLS runs the server's TLS handshake and reads a fresh stream over
// it (RFC 6120 §5.4.3.3).
func (p *peer) startTLS(cfg *tls.Config) {
	if p.dead {
		return
	}
	tc := tls.Server(p.conn, cfg)
	if err := tc.Handshake(); err != nil {
		p.t.Errorf("server: TLS handshake: %v", err)
		p.dead = true
		return
	}
	p.conn = tc
	p.dec.Reset(tc)
}

// testTLS returns a server configuration with a certificate from a fresh
// CA, and a client configuration that does not verify it, as the tools
// do by default.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir(), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue(pki.IssueRequest{JID: "server@localhost", DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(iss.Bundle, iss.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true}
}

// errText is err's message, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
