package module

import (
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Addressee returns the sender of an IQ and the entity it is addressed to:
// the bare JID of its 'to', or the sender's own account when it has none
// (RFC 6120 §10.3.3). own reports whether that is the sender's account.
// The router has already stamped and checked both addresses.
func Addressee(iq *stanza.Element) (from, to jid.JID, own bool) {
	from, _ = jid.Parse(iq.Attr("from"))
	if iq.Attr("to") == "" {
		return from, from.Bare(), true
	}
	to, err := jid.Parse(iq.Attr("to"))
	if err != nil {
		return from, jid.JID{}, false
	}
	to = to.Bare()
	return from, to, to == from.Bare()
}

// OwnAccount returns the sender of an IQ that may only concern the
// sender's own account; one addressed to anyone else gets the condition
// other (each protocol names its own).
func OwnAccount(iq *stanza.Element, other stanza.Condition) (jid.JID, error) {
	from, _, own := Addressee(iq)
	if !own || from.Local() == "" {
		return jid.JID{}, stanza.NewError(other, "")
	}
	return from, nil
}
