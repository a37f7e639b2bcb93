package xmppclient

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mote-xmpp/mote/stanza"
)

// Bind binds resource, or a resource the server chooses when it is ""
// (RFC 6120 §7), given the features of the authenticated stream, and sets
// c.JID to the full JID the server bound. An error reply is returned as a
// stanza.Error. Nothing else may read c meanwhile.
func (c *Conn) Bind(features *stanza.Element, resource string) error {
	if features.Child(stanza.NSBind, "bind") == nil {
		return errors.New("bind: not offered")
	}
	req := []byte(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'`)
	if resource == "" {
		req = append(req, `/></iq>`...)
	} else {
		req = append(req, `><resource>`...)
		req = stanza.AppendEscaped(req, resource, false)
		req = append(req, `</resource></bind></iq>`...)
	}
	res, err := c.Exchange(string(req), "bind1")
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if res.Attr("type") != stanza.TypeResult {
		e, ok := stanza.ErrorFromElement(res)
		if !ok {
			e = stanza.NewError(stanza.UndefinedCondition, "")
		}
		return fmt.Errorf("bind: %w", e)
	}
	if b := res.Child(stanza.NSBind, "bind"); b != nil {
		if j := b.Child(stanza.NSBind, "jid"); j != nil {
			c.JID = strings.TrimSpace(j.Text())
		}
	}
	if c.JID == "" {
		return errors.New("bind: no JID in the result")
	}
	return nil
}
