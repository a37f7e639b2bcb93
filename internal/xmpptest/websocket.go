package xmpptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// NSFraming is the namespace of RFC 7395's <open/> and <close/>.
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// WSClient is a scripted XMPP-over-WebSocket client (RFC 7395) for
// protocol transcripts: each Send is one text message, and each message
// received is parsed as a document of its own, so a message that is not
// exactly one element with its namespaces declared fails the test.
type WSClient struct {
	t      testing.TB
	Conn   *websocket.Conn
	tls    *tls.Conn // nil on ws://
	Domain string
	JID    string // bound full JID
	// Header is the last <open/> received from the server.
	Header *stanza.Element
}

// WSURL returns the WebSocket URL of s: ws:// on the plain HTTP listener,
// wss:// on the TLS one.
func (s *Server) WSURL(secure bool) string {
	if secure {
		return "wss://" + s.WSSAddr + "/xmpp-websocket"
	}
	return "ws://" + s.WSAddr + "/xmpp-websocket"
}

// DialWSOptions performs a WebSocket handshake with url as a test
// configures it (opts may be nil: no subprotocol, no Origin), trusting any
// certificate. It returns the connection, the TLS connection under it
// (wss), and the handshake's response, which Dial returns also on failure.
func DialWSOptions(url string, opts *websocket.DialOptions) (*websocket.Conn, *tls.Conn, *http.Response, error) {
	var tc *tls.Conn
	tr := &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				tc = c.(*tls.Conn)
			}
			return c, err
		},
	}
	o := websocket.DialOptions{}
	if opts != nil {
		o = *opts
	}
	o.HTTPClient = &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &o)
	if err != nil {
		return nil, nil, resp, err
	}
	ws.SetReadLimit(-1)
	return ws, tc, resp, nil
}

// DialWS opens a WebSocket with the xmpp subprotocol to the plain (secure
// false) or the TLS HTTP listener of s.
func DialWS(t testing.TB, s *Server, secure bool) *WSClient {
	t.Helper()
	ws, tc, _, err := DialWSOptions(s.WSURL(secure), &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatalf("xmpptest: websocket: %v", err)
	}
	if ws.Subprotocol() != "xmpp" {
		t.Fatalf("xmpptest: websocket: subprotocol %q, want xmpp", ws.Subprotocol())
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &WSClient{t: t, Conn: ws, tls: tc, Domain: s.Domain()}
}

// Send writes xml as one text message.
func (c *WSClient) Send(xml string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, []byte(xml)); err != nil {
		c.t.Fatalf("xmpptest: websocket send: %v", err)
	}
}

// NextErr reads the next message and parses it as one standalone element.
func (c *WSClient) NextErr() (*stanza.Element, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	typ, b, err := c.Conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, fmt.Errorf("xmpptest: a binary message from the server")
	}
	el, err := ParseMessage(b)
	if err != nil {
		return nil, fmt.Errorf("%w in message %q", err, b)
	}
	return el, nil
}

// ParseMessage parses b, a WebSocket message, which must be exactly one
// complete element that declares its namespaces (RFC 7395 §3.3.3).
func ParseMessage(b []byte) (*stanza.Element, error) {
	d := xmlstream.NewDecoder(io.MultiReader(strings.NewReader("<m>"), bytes.NewReader(b), strings.NewReader("</m>")), xmlstream.Limits{})
	if _, err := d.Next(); err != nil {
		return nil, err
	}
	ev, err := d.Next()
	if err != nil {
		return nil, err
	}
	if ev.Kind != xmlstream.Element {
		return nil, errors.New("xmpptest: no element")
	}
	if end, err := d.Next(); err != nil || end.Kind != xmlstream.StreamEnd {
		return nil, fmt.Errorf("xmpptest: more than one element (%v)", err)
	}
	return ev.Elem, nil
}

// NextElement returns the next message's element.
func (c *WSClient) NextElement() *stanza.Element {
	c.t.Helper()
	el, err := c.NextErr()
	if err != nil {
		c.t.Fatalf("xmpptest: websocket read: %v", err)
	}
	return el
}

// Expect reads the next message and checks its element's name.
func (c *WSClient) Expect(space, local string) *stanza.Element {
	c.t.Helper()
	el := c.NextElement()
	if el.Space != space || el.Local != local {
		c.t.Fatalf("xmpptest: want {%s}%s, got %s", space, local, el)
	}
	return el
}

// OpenStream sends <open/> (RFC 7395 §3.4) and returns the features sent
// after the server's <open/>.
func (c *WSClient) OpenStream() *stanza.Element {
	c.t.Helper()
	c.Send(fmt.Sprintf(`<open xmlns='%s' to='%s' version='1.0' xml:lang='en'/>`, NSFraming, c.Domain))
	c.Header = c.Expect(NSFraming, "open")
	return c.Expect(stanza.NSStream, "features")
}

// TLSState returns the state of the TLS connection under a wss:// client.
func (c *WSClient) TLSState() tls.ConnectionState {
	if c.tls == nil {
		c.t.Fatalf("xmpptest: not a wss:// connection")
	}
	return c.tls.ConnectionState()
}

// AuthSCRAM runs a SCRAM exchange (see Client.AuthSCRAM).
func (c *WSClient) AuthSCRAM(mech, user, password string) *stanza.Element {
	c.t.Helper()
	return authSCRAM(c.t, c, mech, user, password, scram.NewTLSExporterBinding)
}

// Restart opens the stream again after SASL success (RFC 7395 §3.7) and
// returns its features.
func (c *WSClient) Restart() *stanza.Element {
	c.t.Helper()
	return c.OpenStream()
}

// Bind binds resource ("" lets the server choose) and returns the result.
func (c *WSClient) Bind(resource string) *stanza.Element {
	c.t.Helper()
	res, j := bind(c.t, c, resource)
	if j != "" {
		c.JID = j
	}
	return res
}

// LoginWS connects over WebSocket (wss:// when secure), authenticates with
// SCRAM-SHA-256 and binds resource, failing the test on any deviation.
func LoginWS(t testing.TB, s *Server, secure bool, user, password, resource string) *WSClient {
	t.Helper()
	c := DialWS(t, s, secure)
	c.OpenStream()
	if el := c.AuthSCRAM("SCRAM-SHA-256", user, password); el.Local != "success" {
		t.Fatalf("xmpptest: login %s: %s", user, el)
	}
	c.Restart()
	if res := c.Bind(resource); res.Attr("type") != stanza.TypeResult {
		t.Fatalf("xmpptest: bind %s: %s", user, res)
	}
	return c
}

// ExpectStreamError reads until the stream error cond, which must be
// followed by <close/>, answers with <close/> and expects the server's
// WebSocket closing handshake (RFC 7395 §3.5, §3.6).
func (c *WSClient) ExpectStreamError(cond stanza.StreamCondition) {
	c.t.Helper()
	for {
		el, err := c.NextErr()
		if err != nil {
			c.t.Fatalf("xmpptest: want stream error %s, got read error %v", cond, err)
		}
		if el.Space == NSFraming && el.Local == "open" {
			continue
		}
		if el.Space == NSFraming && el.Local == "close" {
			c.t.Fatalf("xmpptest: want stream error %s, got <close/>", cond)
		}
		if el.Space == stanza.NSStream && el.Local == "error" {
			got := el.FirstChild()
			if got == nil || got.Space != stanza.NSStreams || got.Local != string(cond) {
				c.t.Fatalf("xmpptest: want stream error %s, got %s", cond, el)
			}
			break
		}
	}
	c.Expect(NSFraming, "close")
	// Answer like a client (RFC 7395 §3.6), so that the server need not
	// wait for it; the server may be gone already.
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c.Conn.Write(ctx, websocket.MessageText, []byte(`<close xmlns='`+NSFraming+`'/>`))
	c.ExpectClosed()
}

// ExpectClosed checks that the server closes the WebSocket with its
// closing handshake, status 1000 (RFC 6455 §7.4.1).
func (c *WSClient) ExpectClosed() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	_, b, err := c.Conn.Read(ctx)
	if err == nil {
		c.t.Fatalf("xmpptest: want the WebSocket closed, got message %q", b)
	}
	if st := websocket.CloseStatus(err); st != websocket.StatusNormalClosure {
		c.t.Fatalf("xmpptest: want a WebSocket close with status 1000, got %v", err)
	}
}

// Close closes the stream (<close/>), expects the server's <close/> and
// its WebSocket closing handshake.
func (c *WSClient) Close() {
	c.t.Helper()
	c.Send(`<close xmlns='` + NSFraming + `'/>`)
	for {
		el := c.NextElement()
		if el.Space == NSFraming && el.Local == "close" {
			break
		}
	}
	c.ExpectClosed()
}
