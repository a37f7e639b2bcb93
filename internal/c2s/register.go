package c2s

import (
	"errors"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces of In-Band Registration (XEP-0077).
const (
	nsRegister        = "jabber:iq:register"
	nsRegisterFeature = "http://jabber.org/features/iq-register" // §8
)

// registration returns the module's handler of In-Band Registration
// before authentication when el is a request it answers: an IQ get or set
// to the server (no 'to', or the served domain) whose single child is
// {jabber:iq:register}query, on a stream protected by TLS (XEP-0077 §11:
// never over plaintext). Otherwise, or when registration is off, nil: the
// stanza is then refused like any other before authentication.
func (c *Conn) registration(el *stanza.Element) module.RegistrationHandler {
	if !c.secure() || stanza.KindOf(el) != stanza.KindIQ {
		return nil
	}
	if t := el.Attr("type"); t != stanza.TypeGet && t != stanza.TypeSet {
		return nil
	}
	q := el.FirstChild()
	if q == nil || q.Space != nsRegister || q.Local != "query" || el.CountChildElements() != 1 {
		return nil
	}
	if to := el.Attr("to"); to != "" {
		if j, err := jid.Parse(to); err != nil || j != c.srv.cfg.Domain {
			return nil
		}
	}
	return c.srv.cfg.Modules.Registration()
}

// register answers a registration request before authentication and
// writes the reply synchronously, like the other negotiation steps; the
// stream goes on and the client authenticates next (XEP-0077 §3.1.1).
// After one account was created on this stream (*registered, kept by the
// caller for the stream), another set is refused with not-acceptable
// (§3.1.1: "if an entity attempts to register a second identity after
// successfully completing the registration use case").
func (c *Conn) register(h module.RegistrationHandler, iq *stanza.Element, registered *bool) error {
	// There is no sender address before authentication; whatever the
	// client claims is ignored (RFC 6120 §8.1.2.1).
	iq.RemoveAttr("from")
	set := iq.Attr("type") == stanza.TypeSet
	var res *stanza.Element
	var err error
	if set && *registered {
		err = stanza.NewError(stanza.NotAcceptable, "an account was already registered on this stream")
	} else {
		res, err = h(c.ctx, c.ip, iq)
	}
	var reply *stanza.Element
	if err != nil {
		var se stanza.Error
		if !errors.As(err, &se) {
			c.logger().Error("in-band registration failed", "err", err)
			se = stanza.NewError(stanza.InternalServerError, "")
		}
		// The request may carry a password: an error never echoes it.
		iq.FirstChild().Children = nil
		reply = stanza.ErrorReply(iq, se)
	} else {
		if set {
			*registered = true
		}
		reply = stanza.IQResult(iq, res)
	}
	return c.writeRaw(reply.AppendXML(nil, c.contentNS()))
}
