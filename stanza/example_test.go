package stanza_test

import (
	"fmt"

	"github.com/mote-xmpp/mote/stanza"
)

func ExampleElement_AppendXML() {
	msg := stanza.NewElement(stanza.NSClient, "message", "to", "thermostat@example.com", "type", "chat")
	msg.Append(stanza.NewElement(stanza.NSClient, "body").AppendText("set 21 <°C>"))
	fmt.Println(string(msg.AppendXML(nil, stanza.NSClient)))
	// Output: <message to="thermostat@example.com" type="chat"><body>set 21 &lt;°C&gt;</body></message>
}

func ExampleErrorReply() {
	iq := stanza.NewElement(stanza.NSClient, "iq", "id", "42", "from", "dashboard@example.com/web", "to", "example.com", "type", "get")
	iq.Append(stanza.NewElement("urn:example:unknown", "query"))
	reply := stanza.ErrorReply(iq, stanza.NewError(stanza.ServiceUnavailable, ""))
	fmt.Println(reply)
	// Output: <iq xmlns="jabber:client" id="42" from="example.com" to="dashboard@example.com/web" type="error"><query xmlns="urn:example:unknown"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>
}
