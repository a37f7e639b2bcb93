package stanza

// ErrorType is the type attribute of a stanza error (RFC 6120 §8.3.2).
type ErrorType string

// Stanza error types (RFC 6120 §8.3.2).
const (
	Auth     ErrorType = "auth"
	Cancel   ErrorType = "cancel"
	Continue ErrorType = "continue"
	Modify   ErrorType = "modify"
	Wait     ErrorType = "wait"
)

// Condition is a defined stanza error condition (RFC 6120 §8.3.3).
type Condition string

// Stanza error conditions (RFC 6120 §8.3.3).
const (
	BadRequest            Condition = "bad-request"
	Conflict              Condition = "conflict"
	FeatureNotImplemented Condition = "feature-not-implemented"
	Forbidden             Condition = "forbidden"
	Gone                  Condition = "gone"
	InternalServerError   Condition = "internal-server-error"
	ItemNotFound          Condition = "item-not-found"
	JIDMalformed          Condition = "jid-malformed"
	NotAcceptable         Condition = "not-acceptable"
	NotAllowed            Condition = "not-allowed"
	NotAuthorized         Condition = "not-authorized"
	PolicyViolation       Condition = "policy-violation"
	RecipientUnavailable  Condition = "recipient-unavailable"
	Redirect              Condition = "redirect"
	RegistrationRequired  Condition = "registration-required"
	RemoteServerNotFound  Condition = "remote-server-not-found"
	RemoteServerTimeout   Condition = "remote-server-timeout"
	ResourceConstraint    Condition = "resource-constraint"
	ServiceUnavailable    Condition = "service-unavailable"
	SubscriptionRequired  Condition = "subscription-required"
	UndefinedCondition    Condition = "undefined-condition"
	UnexpectedRequest     Condition = "unexpected-request"
)

// defaultTypes gives the error type RFC 6120 §8.3.3 recommends for each
// condition.
var defaultTypes = map[Condition]ErrorType{
	BadRequest:            Modify,
	Conflict:              Cancel,
	FeatureNotImplemented: Cancel,
	Forbidden:             Auth,
	Gone:                  Cancel,
	InternalServerError:   Cancel,
	ItemNotFound:          Cancel,
	JIDMalformed:          Modify,
	NotAcceptable:         Modify,
	NotAllowed:            Cancel,
	NotAuthorized:         Auth,
	PolicyViolation:       Modify,
	RecipientUnavailable:  Wait,
	Redirect:              Modify,
	RegistrationRequired:  Auth,
	RemoteServerNotFound:  Cancel,
	RemoteServerTimeout:   Wait,
	ResourceConstraint:    Wait,
	ServiceUnavailable:    Cancel,
	SubscriptionRequired:  Auth,
	UndefinedCondition:    Cancel,
	UnexpectedRequest:     Wait,
}

// Error is a stanza error (RFC 6120 §8.3). It implements error so that
// handlers can return it; the server turns it into an error reply.
type Error struct {
	Type      ErrorType
	Condition Condition
	Text      string   // optional human-readable text (RFC 6120 §8.3.2)
	By        string   // optional JID of the entity that generated the error
	Extra     *Element // optional application-specific condition
}

// NewError returns an Error with the condition's recommended type.
func NewError(c Condition, text string) Error {
	return Error{Type: defaultTypes[c], Condition: c, Text: text}
}

// Error implements error.
func (e Error) Error() string {
	if e.Text != "" {
		return "stanza error: " + string(e.Condition) + ": " + e.Text
	}
	return "stanza error: " + string(e.Condition)
}

// Element returns the <error/> child element for e.
func (e Error) Element() *Element {
	typ := e.Type
	if typ == "" {
		typ = defaultTypes[e.Condition]
		if typ == "" {
			typ = Cancel
		}
	}
	el := NewElement(NSClient, "error", "type", string(typ))
	if e.By != "" {
		el.SetAttr("by", e.By)
	}
	el.Append(&Element{Space: NSStanzas, Local: string(e.Condition)})
	if e.Text != "" {
		t := NewElement(NSStanzas, "text")
		t.Attrs = append(t.Attrs, Attr{Space: NSXML, Local: "lang", Value: "en"})
		el.Append(t.AppendText(e.Text))
	}
	if e.Extra != nil {
		el.Append(e.Extra)
	}
	return el
}

// ErrorFromElement parses the <error/> child of an error stanza.
// ok is false when the stanza carries no recognisable error.
func ErrorFromElement(st *Element) (e Error, ok bool) {
	el := st.Child("", "error")
	if el == nil {
		return Error{}, false
	}
	e.Type = ErrorType(el.Attr("type"))
	e.By = el.Attr("by")
	for _, c := range el.ChildElements() {
		if c.Space != NSStanzas {
			e.Extra = c
			continue
		}
		if c.Local == "text" {
			e.Text = c.Text()
		} else {
			e.Condition = Condition(c.Local)
		}
	}
	return e, e.Condition != ""
}

// ErrorReply builds the error response to st (RFC 6120 §8.3.1): the same
// kind and id, to and from swapped, type "error", the original payload
// included, and the error child appended. It returns nil when st is itself
// an error, which must never be answered with an error.
func ErrorReply(st *Element, e Error) *Element {
	if st.Attr("type") == "error" {
		return nil
	}
	r := &Element{Space: st.Space, Local: st.Local}
	r.Attrs = make([]Attr, 0, 5)
	if id := st.Attr("id"); id != "" || st.HasAttr("id") {
		r.Attrs = append(r.Attrs, Attr{Local: "id", Value: id})
	}
	if to := st.Attr("to"); to != "" {
		r.Attrs = append(r.Attrs, Attr{Local: "from", Value: to})
	}
	if from := st.Attr("from"); from != "" {
		r.Attrs = append(r.Attrs, Attr{Local: "to", Value: from})
	}
	r.Attrs = append(r.Attrs, Attr{Local: "type", Value: "error"})
	if lang := st.AttrNS(NSXML, "lang"); lang != "" {
		r.Attrs = append(r.Attrs, Attr{Space: NSXML, Local: "lang", Value: lang})
	}
	// The original payload is included for messages and presence; an IQ
	// error carries the request child so the requester can correlate it.
	for _, n := range st.Children {
		if n.Elem != nil && n.Elem.Local != "error" {
			r.Children = append(r.Children, n)
		}
	}
	r.Children = append(r.Children, Node{Elem: e.Element()})
	return r
}

// StreamCondition is a stream error condition (RFC 6120 §4.9.3).
type StreamCondition string

// Stream error conditions (RFC 6120 §4.9.3).
const (
	StreamBadFormat              StreamCondition = "bad-format"
	StreamBadNamespacePrefix     StreamCondition = "bad-namespace-prefix"
	StreamConflict               StreamCondition = "conflict"
	StreamConnectionTimeout      StreamCondition = "connection-timeout"
	StreamHostGone               StreamCondition = "host-gone"
	StreamHostUnknown            StreamCondition = "host-unknown"
	StreamImproperAddressing     StreamCondition = "improper-addressing"
	StreamInternalServerError    StreamCondition = "internal-server-error"
	StreamInvalidFrom            StreamCondition = "invalid-from"
	StreamInvalidNamespace       StreamCondition = "invalid-namespace"
	StreamInvalidXML             StreamCondition = "invalid-xml"
	StreamNotAuthorized          StreamCondition = "not-authorized"
	StreamNotWellFormed          StreamCondition = "not-well-formed"
	StreamPolicyViolation        StreamCondition = "policy-violation"
	StreamRemoteConnectionFailed StreamCondition = "remote-connection-failed"
	StreamReset                  StreamCondition = "reset"
	StreamResourceConstraint     StreamCondition = "resource-constraint"
	StreamRestrictedXML          StreamCondition = "restricted-xml"
	StreamSeeOtherHost           StreamCondition = "see-other-host"
	StreamSystemShutdown         StreamCondition = "system-shutdown"
	StreamUndefinedCondition     StreamCondition = "undefined-condition"
	StreamUnsupportedEncoding    StreamCondition = "unsupported-encoding"
	StreamUnsupportedFeature     StreamCondition = "unsupported-feature"
	StreamUnsupportedStanzaType  StreamCondition = "unsupported-stanza-type"
	StreamUnsupportedVersion     StreamCondition = "unsupported-version"
)

// StreamError is a stream-level error (RFC 6120 §4.9). It is unrecoverable:
// the stream is closed after it is sent.
type StreamError struct {
	Condition StreamCondition
	Text      string
	// Extra is an application-specific condition element (§4.9.4), such
	// as XEP-0198's <handled-count-too-high/>; nil for none.
	Extra *Element
}

// Error implements error.
func (e *StreamError) Error() string {
	if e.Text != "" {
		return "stream error: " + string(e.Condition) + ": " + e.Text
	}
	return "stream error: " + string(e.Condition)
}

// Element returns the <stream:error/> element.
func (e *StreamError) Element() *Element {
	el := &Element{Space: NSStream, Local: "error"}
	el.Append(&Element{Space: NSStreams, Local: string(e.Condition)})
	if e.Text != "" {
		t := NewElement(NSStreams, "text")
		t.Attrs = append(t.Attrs, Attr{Space: NSXML, Local: "lang", Value: "en"})
		el.Append(t.AppendText(e.Text))
	}
	if e.Extra != nil {
		el.Append(e.Extra)
	}
	return el
}

// AppendStreamXML appends the error as written on a stream whose stream
// namespace is bound to the prefix "stream".
func (e *StreamError) AppendStreamXML(buf []byte) []byte {
	return e.appendXML(buf, "<stream:error><", NSStream)
}

// AppendStandaloneXML appends the error as a document of its own, which
// declares the "stream" prefix itself: the form XMPP over WebSocket sends,
// one element per message (RFC 7395 §3.3.3, §3.5).
func (e *StreamError) AppendStandaloneXML(buf []byte) []byte {
	return e.appendXML(buf, `<stream:error xmlns:stream="`+NSStream+`"><`, "")
}

// appendXML appends the error after open, its start tag up to the
// condition's '<'; parentNS is the default namespace in scope.
func (e *StreamError) appendXML(buf []byte, open, parentNS string) []byte {
	buf = append(buf, open...)
	buf = append(buf, e.Condition...)
	buf = append(buf, ` xmlns="`+NSStreams+`"/>`...)
	if e.Text != "" {
		buf = append(buf, `<text xmlns="`+NSStreams+`" xml:lang="en">`...)
		buf = appendEscaped(buf, e.Text, false)
		buf = append(buf, "</text>"...)
	}
	if e.Extra != nil {
		buf = e.Extra.AppendXML(buf, parentNS)
	}
	return append(buf, "</stream:error>"...)
}
