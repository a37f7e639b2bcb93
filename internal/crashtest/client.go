// Package crashtest checks that an acknowledged message survives a crash
// of the server process (SIGKILL), for the reliability promise of stream
// management (XEP-0198): the h the server reports counts a stanza only
// once it is durable or delivered. It starts the real mote binary as a
// separate process; see crash_test.go.
package crashtest

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// client is a minimal XMPP client that reports errors instead of failing
// a test: the server it talks to is killed on purpose.
type client struct {
	nc  net.Conn
	c   net.Conn // nc or the TLS layer over it
	dec *xmlstream.Decoder
}

// dial connects to addr over STARTTLS, authenticates with SASL PLAIN and
// binds resource.
func dial(addr, domain, user, password, resource string) (*client, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &client{nc: nc, c: nc}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.login(domain, user, password, resource); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: %w", user, err)
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *client) login(domain, user, password, resource string) error {
	c.dec = xmlstream.NewDecoder(c.nc, xmlstream.DefaultLimits)
	if _, err := c.open(domain); err != nil {
		return err
	}
	if err := c.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`); err != nil {
		return err
	}
	if el, err := c.next(); err != nil || el.Local != "proceed" {
		return fmt.Errorf("starttls: %v %v", el, err)
	}
	tc := tls.Client(c.nc, &tls.Config{ServerName: domain, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.c = tc
	c.dec.Reset(tc)
	if _, err := c.open(domain); err != nil {
		return err
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if err := c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + cred + `</auth>`); err != nil {
		return err
	}
	if el, err := c.next(); err != nil || el.Local != "success" {
		return fmt.Errorf("sasl: %v %v", el, err)
	}
	c.dec.Restart()
	if _, err := c.open(domain); err != nil {
		return err
	}
	if err := c.send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + resource + `</resource></bind></iq>`); err != nil {
		return err
	}
	if el, err := c.next(); err != nil || el.Attr("type") != "result" {
		return fmt.Errorf("bind: %v %v", el, err)
	}
	return nil
}

// open sends a stream header and reads the server's header and features.
func (c *client) open(domain string) (*stanza.Element, error) {
	if err := c.send(`<?xml version='1.0'?><stream:stream to='` + domain +
		`' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`); err != nil {
		return nil, err
	}
	ev, err := c.dec.Next()
	if err != nil {
		return nil, err
	}
	if ev.Kind != xmlstream.StreamStart {
		return nil, errors.New("no stream header")
	}
	return c.next()
}

func (c *client) send(s string) error {
	_, err := io.WriteString(c.c, s)
	return err
}

// next returns the next top-level element.
func (c *client) next() (*stanza.Element, error) {
	ev, err := c.dec.Next()
	if err != nil {
		return nil, err
	}
	if ev.Kind == xmlstream.StreamEnd {
		return nil, io.EOF
	}
	if ev.Elem.Space == stanza.NSStream && ev.Elem.Local == "error" {
		return nil, fmt.Errorf("stream error: %s", ev.Elem)
	}
	return ev.Elem, nil
}

func (c *client) close() { c.nc.Close() }

// archive pages through the account's whole message archive (XEP-0313)
// and returns the bodies of the archived messages.
func (c *client) archive() ([]string, error) {
	var bodies []string
	after := ""
	for page := 0; ; page++ {
		set := `<max>500</max>`
		if after != "" {
			set += `<after>` + after + `</after>`
		}
		id := fmt.Sprint("mam", page)
		if err := c.send(`<iq type='set' id='` + id + `'><query xmlns='urn:xmpp:mam:2' queryid='q'><set xmlns='http://jabber.org/protocol/rsm'>` +
			set + `</set></query></iq>`); err != nil {
			return nil, err
		}
		for {
			el, err := c.next()
			if err != nil {
				return nil, err
			}
			if el.Local == "message" {
				if r := el.Child("urn:xmpp:mam:2", "result"); r != nil {
					if f := r.Child("urn:xmpp:forward:0", "forwarded"); f != nil {
						if m := f.Child(stanza.NSClient, "message"); m != nil {
							if b := m.Child(stanza.NSClient, "body"); b != nil {
								bodies = append(bodies, b.Text())
							}
						}
					}
				}
				continue
			}
			if el.Local != "iq" || el.Attr("id") != id {
				continue
			}
			if el.Attr("type") != "result" {
				return nil, fmt.Errorf("archive query: %s", el)
			}
			fin := el.Child("urn:xmpp:mam:2", "fin")
			if fin == nil {
				return nil, fmt.Errorf("archive query without fin: %s", el)
			}
			if fin.Attr("complete") == "true" {
				return bodies, nil
			}
			last := fin.Child("http://jabber.org/protocol/rsm", "set").Child("http://jabber.org/protocol/rsm", "last")
			if last == nil {
				return bodies, nil
			}
			after = last.Text()
			break
		}
	}
}
