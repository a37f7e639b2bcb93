package stanza

// Kind is the kind of a top-level stanza (RFC 6120 §8).
type Kind uint8

// Stanza kinds.
const (
	KindNone Kind = iota // not a stanza
	KindMessage
	KindPresence
	KindIQ
)

// String returns the element name of k.
func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindPresence:
		return "presence"
	case KindIQ:
		return "iq"
	}
	return "none"
}

// KindOf returns the kind of e when it is a stanza in the jabber:client or
// jabber:server namespace, and KindNone otherwise.
func KindOf(e *Element) Kind {
	if e.Space != NSClient && e.Space != NSServer {
		return KindNone
	}
	switch e.Local {
	case "message":
		return KindMessage
	case "presence":
		return KindPresence
	case "iq":
		return KindIQ
	}
	return KindNone
}

// Common values of the type attribute (RFC 6120 §8.2.3, RFC 6121 §4.7.1,
// §5.2.2).
const (
	TypeGet    = "get"
	TypeSet    = "set"
	TypeResult = "result"
	TypeError  = "error"

	TypeChat      = "chat"
	TypeGroupchat = "groupchat"
	TypeHeadline  = "headline"
	TypeNormal    = "normal"

	TypeUnavailable  = "unavailable"
	TypeSubscribe    = "subscribe"
	TypeSubscribed   = "subscribed"
	TypeUnsubscribe  = "unsubscribe"
	TypeUnsubscribed = "unsubscribed"
	TypeProbe        = "probe"
)

// IQResult builds the result reply to the IQ request iq with an optional
// payload (RFC 6120 §8.2.3).
func IQResult(iq *Element, payload *Element) *Element {
	r := &Element{Space: iq.Space, Local: "iq"}
	r.Attrs = make([]Attr, 0, 4)
	r.Attrs = append(r.Attrs, Attr{Local: "id", Value: iq.Attr("id")})
	if to := iq.Attr("to"); to != "" {
		r.Attrs = append(r.Attrs, Attr{Local: "from", Value: to})
	}
	if from := iq.Attr("from"); from != "" {
		r.Attrs = append(r.Attrs, Attr{Local: "to", Value: from})
	}
	r.Attrs = append(r.Attrs, Attr{Local: "type", Value: TypeResult})
	if payload != nil {
		r.Append(payload)
	}
	return r
}
