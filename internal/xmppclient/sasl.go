package xmppclient

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/stanza"
)

// SASL mechanism names (the IANA registry's).
const (
	MechPLAIN       = "PLAIN"         // RFC 4616
	MechSCRAMSHA1   = "SCRAM-SHA-1"   // RFC 5802
	MechSCRAMSHA256 = "SCRAM-SHA-256" // RFC 7677
	MechEXTERNAL    = "EXTERNAL"      // RFC 4422 Appendix A
)

// Authenticator authenticates a client on a stream that offers SASL (RFC
// 6120 §6.4).
type Authenticator interface {
	// Authenticate authenticates as user, the authentication identity,
	// given the mechanisms the server offered, and returns nil once the
	// server sent <success/>. The server's <failure/> is returned as a
	// *Failure. It must not restart the stream: the caller does (§6.4.6).
	Authenticate(c *Conn, mechs []string, user string) error
}

// Plain is SASL PLAIN (RFC 4616) with an empty authorization identity.
// Servers take it only over TLS.
type Plain struct{ Password string }

// SCRAM is SASL SCRAM (RFC 5802) without channel binding, by Mech:
// MechSCRAMSHA1 or MechSCRAMSHA256 (RFC 7677).
type SCRAM struct{ Mech, Password string }

// External is SASL EXTERNAL (RFC 4422 Appendix A) with the TLS client
// certificate (XEP-0178 §3). The authorization identity is empty ("=",
// RFC 6120 §6.4.2): the server takes the JID from the certificate.
type External struct{}

var (
	_ Authenticator = Plain{}
	_ Authenticator = SCRAM{}
	_ Authenticator = External{}
)

// Failure is the server's SASL <failure/> (RFC 6120 §6.5).
type Failure struct {
	// Condition is the defined condition, such as not-authorized
	// (§6.5); "failure" when the server named none.
	Condition string
	Text      string // the server's description; "" for none
}

// Error implements error.
func (f *Failure) Error() string {
	if f.Text != "" {
		return f.Condition + ": " + f.Text
	}
	return f.Condition
}

// Authenticate implements Authenticator.
func (p Plain) Authenticate(c *Conn, mechs []string, user string) error {
	if !slices.Contains(mechs, MechPLAIN) {
		return fmt.Errorf("the server does not offer %s", MechPLAIN)
	}
	// RFC 4616: [authzid] NUL authcid NUL passwd.
	msg := "\x00" + user + "\x00" + p.Password
	if err := c.WriteString(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` +
		base64.StdEncoding.EncodeToString([]byte(msg)) + `</auth>`); err != nil {
		return err
	}
	el, err := c.Next()
	if err != nil {
		return err
	}
	return outcome(el)
}

// Authenticate implements Authenticator.
func (s SCRAM) Authenticate(c *Conn, mechs []string, user string) error {
	var hash scram.HashGeneratorFcn
	switch s.Mech {
	case MechSCRAMSHA1:
		hash = scram.SHA1
	case MechSCRAMSHA256:
		hash = scram.SHA256
	default:
		return fmt.Errorf("xmppclient: %q is not a SCRAM mechanism", s.Mech)
	}
	if !slices.Contains(mechs, s.Mech) {
		return fmt.Errorf("the server does not offer %s", s.Mech)
	}
	cl, err := hash.NewClient(user, s.Password, "")
	if err != nil {
		return fmt.Errorf("scram: %w", err)
	}
	// RFC 5802 without channel binding: the gs2 flag is "n".
	conv := cl.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return fmt.Errorf("scram: %w", err)
	}
	if err := c.WriteString(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='` + s.Mech + `'>` +
		base64.StdEncoding.EncodeToString([]byte(first)) + `</auth>`); err != nil {
		return err
	}
	for {
		el, err := c.Next()
		if err != nil {
			return err
		}
		if el.Space != stanza.NSSASL || (el.Local != "challenge" && el.Local != "success") {
			return outcome(el)
		}
		data, err := saslData(el)
		if err != nil {
			return fmt.Errorf("bad base64 from the server: %w", err)
		}
		if el.Local == "success" {
			// RFC 6120 §6.4.6: the server-final message may come with
			// <success/> or in a last challenge.
			if len(data) > 0 && !conv.Done() {
				if _, err := conv.Step(string(data)); err != nil {
					return fmt.Errorf("scram: %w", err)
				}
			}
			if !conv.Valid() {
				return errors.New("scram: the server did not prove it knows the password")
			}
			return nil
		}
		resp, err := conv.Step(string(data))
		if err != nil {
			c.WriteString(`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
			return fmt.Errorf("scram: %w", err)
		}
		if err := c.WriteString(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` +
			base64.StdEncoding.EncodeToString([]byte(resp)) + `</response>`); err != nil {
			return err
		}
	}
}

// Authenticate implements Authenticator. user is not sent: the
// certificate names the client.
func (External) Authenticate(c *Conn, mechs []string, _ string) error {
	if !slices.Contains(mechs, MechEXTERNAL) {
		return fmt.Errorf("the server does not offer EXTERNAL (offered: %s); did the TLS handshake present the certificate?", strings.Join(mechs, " "))
	}
	if err := c.WriteString(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`); err != nil {
		return err
	}
	el, err := c.Next()
	if err != nil {
		return err
	}
	if el.Space == stanza.NSSASL && el.Local == "challenge" {
		// EXTERNAL has no challenges once the initial response is sent.
		c.WriteString(`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
		return errors.New("unexpected challenge")
	}
	return outcome(el)
}

// Mechanisms returns the SASL mechanisms the stream features offer (RFC
// 6120 §6.4.1), in the server's order.
func Mechanisms(features *stanza.Element) []string {
	m := features.Child(stanza.NSSASL, "mechanisms")
	if m == nil {
		return nil
	}
	var out []string
	for _, el := range m.ChildElements() {
		if el.Local == "mechanism" {
			out = append(out, strings.TrimSpace(el.Text()))
		}
	}
	return out
}

// saslData decodes the base64 payload of a challenge or success; "=" is
// explicitly empty data (RFC 6120 §6.4.2).
func saslData(el *stanza.Element) ([]byte, error) {
	text := strings.TrimSpace(el.Text())
	if text == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(text)
}

// outcome turns the server's last SASL element into nil for <success/>,
// a *Failure for <failure/> (RFC 6120 §6.5), or an error naming anything
// else.
func outcome(el *stanza.Element) error {
	if el.Space == stanza.NSSASL && el.Local == "success" {
		return nil
	}
	if el.Space == stanza.NSSASL && el.Local == "failure" {
		f := &Failure{Condition: "failure"}
		for _, ch := range el.ChildElements() {
			if ch.Local == "text" {
				f.Text = ch.Text()
			} else if f.Condition == "failure" {
				f.Condition = ch.Local
			}
		}
		return f
	}
	return fmt.Errorf("unexpected <%s/>", el.Local)
}
