package xmpptest

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// Client is a scripted XMPP client for protocol transcripts: it writes raw
// XML and reads the server's elements one at a time.
type Client struct {
	t      testing.TB
	Conn   net.Conn
	tls    *tls.Conn
	dec    *xmlstream.Decoder
	Domain string
	JID    string // bound full JID
	// Header is the last stream header received from the server.
	Header *stanza.Element
	// Certificate, when set before TLS starts, is presented as the
	// client certificate (SASL EXTERNAL, XEP-0178).
	Certificate *tls.Certificate
}

// Timeout bounds every read of a scripted client.
const Timeout = 10 * time.Second

// NewClient wraps an open connection.
func NewClient(t testing.TB, conn net.Conn, domain string) *Client {
	c := &Client{t: t, Conn: conn, Domain: domain}
	c.dec = xmlstream.NewDecoder(conn, xmlstream.Limits{})
	return c
}

// Dial connects to the STARTTLS port of s.
func Dial(t testing.TB, s *Server) *Client {
	return NewClient(t, DialTCP(t, s.Addr), s.Domain())
}

// DialTLS connects to the direct TLS port of s (XEP-0368).
func DialTLS(t testing.TB, s *Server) *Client {
	c := NewClient(t, DialTCP(t, s.TLSAddr), s.Domain())
	c.upgrade()
	return c
}

// Send writes raw XML.
func (c *Client) Send(xml string) {
	c.t.Helper()
	c.Conn.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := io.WriteString(c.Conn, xml); err != nil {
		c.t.Fatalf("xmpptest: send: %v", err)
	}
}

// Next returns the next event from the server, failing the test on a read
// error.
func (c *Client) Next() xmlstream.Event {
	c.t.Helper()
	ev, err := c.NextErr()
	if err != nil {
		c.t.Fatalf("xmpptest: read: %v", err)
	}
	return ev
}

// NextErr returns the next event or the read error.
func (c *Client) NextErr() (xmlstream.Event, error) {
	c.Conn.SetReadDeadline(time.Now().Add(Timeout))
	return c.dec.Next()
}

// NextElement returns the next top-level element.
func (c *Client) NextElement() *stanza.Element {
	c.t.Helper()
	ev := c.Next()
	if ev.Kind != xmlstream.Element {
		c.t.Fatalf("xmpptest: want an element, got event %d", ev.Kind)
	}
	return ev.Elem
}

// Expect reads the next element and checks its name.
func (c *Client) Expect(space, local string) *stanza.Element {
	c.t.Helper()
	el := c.NextElement()
	if el.Space != space || el.Local != local {
		c.t.Fatalf("xmpptest: want {%s}%s, got %s", space, local, el)
	}
	return el
}

// ExpectStreamError reads until the stream ends and checks that the server
// sent the stream error cond followed by its closing tag, and then closed
// the connection.
func (c *Client) ExpectStreamError(cond stanza.StreamCondition) {
	c.t.Helper()
	for {
		ev, err := c.NextErr()
		if err != nil {
			c.t.Fatalf("xmpptest: want stream error %s, got read error %v", cond, err)
		}
		if ev.Kind == xmlstream.StreamStart {
			continue
		}
		if ev.Kind == xmlstream.StreamEnd {
			c.t.Fatalf("xmpptest: want stream error %s, got end of stream", cond)
		}
		if ev.Elem.Space == stanza.NSStream && ev.Elem.Local == "error" {
			got := ev.Elem.FirstChild()
			if got == nil || got.Space != stanza.NSStreams || got.Local != string(cond) {
				c.t.Fatalf("xmpptest: want stream error %s, got %s", cond, ev.Elem)
			}
			break
		}
	}
	if ev, err := c.NextErr(); err != nil || ev.Kind != xmlstream.StreamEnd {
		c.t.Fatalf("xmpptest: want </stream:stream> after the stream error, got %v %v", ev.Kind, err)
	}
	c.ExpectClosed()
}

// ExpectClosed checks that the server closes the connection.
func (c *Client) ExpectClosed() {
	c.t.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(Timeout))
	buf := make([]byte, 512)
	for {
		_, err := c.Conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("xmpptest: server did not close the connection")
		}
		return
	}
}

// OpenStream sends a stream header and returns the server's features.
func (c *Client) OpenStream() *stanza.Element {
	c.t.Helper()
	c.Send(fmt.Sprintf(`<?xml version='1.0'?><stream:stream to='%s' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`, c.Domain))
	ev := c.Next()
	if ev.Kind != xmlstream.StreamStart {
		c.t.Fatalf("xmpptest: want the server's stream header")
	}
	c.Header = ev.Elem
	return c.Expect(stanza.NSStream, "features")
}

// StartTLS negotiates STARTTLS (RFC 6120 §5) and reopens the stream.
func (c *Client) StartTLS() *stanza.Element {
	c.t.Helper()
	c.Send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	c.Expect(stanza.NSTLS, "proceed")
	c.upgrade()
	return c.OpenStream()
}

func (c *Client) upgrade() {
	c.t.Helper()
	cfg := &tls.Config{ServerName: c.Domain, InsecureSkipVerify: true}
	if c.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*c.Certificate}
	}
	tc := tls.Client(c.Conn, cfg)
	tc.SetDeadline(time.Now().Add(Timeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("xmpptest: tls: %v", err)
	}
	tc.SetDeadline(time.Time{})
	c.tls = tc
	c.Conn = tc
	c.dec.Reset(tc)
}

// TLSState returns the client's TLS connection state.
func (c *Client) TLSState() tls.ConnectionState { return c.tls.ConnectionState() }

// AuthExternal authenticates with SASL EXTERNAL (XEP-0178), the
// authorization identity authzid ("" for none, sent as "="), and returns
// the server's answer.
func (c *Client) AuthExternal(authzid string) *stanza.Element {
	c.t.Helper()
	data := "="
	if authzid != "" {
		data = base64.StdEncoding.EncodeToString([]byte(authzid))
	}
	c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>` + data + `</auth>`)
	return c.NextElement()
}

// LoginCert logs in on the STARTTLS port with the client certificate in
// the PEM bundle (key and certificate) by SASL EXTERNAL, and binds
// resource.
func LoginCert(t testing.TB, s *Server, bundle []byte, resource string) *Client {
	t.Helper()
	cert, err := tls.X509KeyPair(bundle, bundle)
	if err != nil {
		t.Fatalf("xmpptest: certificate bundle: %v", err)
	}
	c := Dial(t, s)
	c.Certificate = &cert
	c.OpenStream()
	c.StartTLS()
	if el := c.AuthExternal(""); el.Local != "success" {
		t.Fatalf("xmpptest: EXTERNAL: %s", el)
	}
	c.Restart()
	c.Bind(resource)
	return c
}

// AuthPLAIN authenticates with SASL PLAIN and returns the server's answer
// (<success/> or <failure/>).
func (c *Client) AuthPLAIN(user, password string) *stanza.Element {
	c.t.Helper()
	c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)) + `</auth>`)
	return c.NextElement()
}

// AuthSCRAM runs a SCRAM exchange with mech (e.g. SCRAM-SHA-256 or
// SCRAM-SHA-256-PLUS with a tls-exporter binding) and returns the final
// <success/> or <failure/>.
func (c *Client) AuthSCRAM(mech, user, password string) *stanza.Element {
	c.t.Helper()
	return authSCRAM(c.t, c, mech, user, password, scram.NewTLSExporterBinding)
}

// AuthSCRAMEndpoint is AuthSCRAM with SCRAM-SHA-256-PLUS and the
// tls-server-end-point channel binding (RFC 5929 §4), which hashes the
// certificate the server presented on this connection.
func (c *Client) AuthSCRAMEndpoint(user, password string) *stanza.Element {
	c.t.Helper()
	return authSCRAM(c.t, c, "SCRAM-SHA-256-PLUS", user, password, scram.NewTLSServerEndpointBinding)
}

// transcript is what the SASL and bind scripts need of a scripted client
// (Client on TCP, WSClient on WebSocket).
type transcript interface {
	Send(xml string)
	NextElement() *stanza.Element
	TLSState() tls.ConnectionState
}

// authSCRAM runs a SCRAM exchange on c (see Client.AuthSCRAM).
func authSCRAM(t testing.TB, c transcript, mech, user, password string,
	binding func(*tls.ConnectionState) (scram.ChannelBinding, error)) *stanza.Element {
	t.Helper()
	hash := scram.SHA256
	switch {
	case strings.HasPrefix(mech, "SCRAM-SHA-1"):
		hash = scram.SHA1
	case strings.HasPrefix(mech, "SCRAM-SHA-512"):
		hash = scram.SHA512
	}
	cl, err := hash.NewClient(user, password, "")
	if err != nil {
		t.Fatalf("xmpptest: scram: %v", err)
	}
	var conv *scram.ClientConversation
	if strings.HasSuffix(mech, "-PLUS") {
		st := c.TLSState()
		cb, err := binding(&st)
		if err != nil {
			t.Fatalf("xmpptest: channel binding: %v", err)
		}
		conv = cl.NewConversationWithChannelBinding(cb)
	} else {
		conv = cl.NewConversation()
	}
	first, err := conv.Step("")
	if err != nil {
		t.Fatalf("xmpptest: scram: %v", err)
	}
	c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='` + mech + `'>` +
		base64.StdEncoding.EncodeToString([]byte(first)) + `</auth>`)
	for {
		el := c.NextElement()
		if el.Local != "challenge" {
			return el
		}
		ch, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			t.Fatalf("xmpptest: challenge: %v", err)
		}
		resp, err := conv.Step(string(ch))
		if err != nil {
			// The server's proof was wrong: abort.
			c.Send(`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
			continue
		}
		c.Send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + base64.StdEncoding.EncodeToString([]byte(resp)) + `</response>`)
	}
}

// RestartParser expects a new stream header from the server, as after SASL
// success, without sending one.
func (c *Client) RestartParser() { c.dec.Restart() }

// Restart opens the new stream after SASL success (RFC 6120 §6.4.6) and
// returns its features.
func (c *Client) Restart() *stanza.Element {
	c.t.Helper()
	c.dec.Restart()
	return c.OpenStream()
}

// Bind binds resource ("" lets the server choose) on a restarted stream and
// returns the bind result.
func (c *Client) Bind(resource string) *stanza.Element {
	c.t.Helper()
	res, j := bind(c.t, c, resource)
	if j != "" {
		c.JID = j
	}
	return res
}

// bind binds resource on c and returns the result and the bound JID ("" if
// none).
func bind(t testing.TB, c transcript, resource string) (*stanza.Element, string) {
	t.Helper()
	// The namespace is declared, as a WebSocket message must (RFC 7395
	// §3.3.3); on TCP it is the stream's default anyway.
	req := `<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`
	if resource != "" {
		req = `<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + resource + `</resource></bind></iq>`
	}
	c.Send(req)
	res := c.NextElement()
	if res.Space != stanza.NSClient || res.Local != "iq" {
		t.Fatalf("xmpptest: want the bind result, got %s", res)
	}
	if res.Attr("type") == stanza.TypeResult {
		if b := res.Child(stanza.NSBind, "bind"); b != nil {
			if j := b.Child(stanza.NSBind, "jid"); j != nil {
				return res, j.Text()
			}
		}
	}
	return res, ""
}

// Authenticate connects over STARTTLS, authenticates with SCRAM-SHA-256
// and restarts the stream, failing the test on any deviation; it returns
// the client and the stream features offered for binding.
func Authenticate(t testing.TB, s *Server, user, password string) (*Client, *stanza.Element) {
	t.Helper()
	c := Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	if el := c.AuthSCRAM("SCRAM-SHA-256", user, password); el.Local != "success" {
		t.Fatalf("xmpptest: login %s: %s", user, el)
	}
	return c, c.Restart()
}

// Login connects over STARTTLS, authenticates with SCRAM-SHA-256 and binds
// resource, failing the test on any deviation.
func Login(t testing.TB, s *Server, user, password, resource string) *Client {
	t.Helper()
	c, _ := Authenticate(t, s, user, password)
	if res := c.Bind(resource); res.Attr("type") != stanza.TypeResult {
		t.Fatalf("xmpptest: bind %s: %s", user, res)
	}
	return c
}

// Drop closes the TCP connection without closing the stream, as when a
// device loses its network.
func (c *Client) Drop() {
	if c.tls != nil {
		c.tls.NetConn().Close()
		return
	}
	c.Conn.Close()
}

// Close sends the closing stream tag and waits for the server's.
func (c *Client) Close() {
	c.t.Helper()
	c.Send(`</stream:stream>`)
	for {
		ev, err := c.NextErr()
		if err != nil || ev.Kind == xmlstream.StreamEnd {
			return
		}
	}
}
