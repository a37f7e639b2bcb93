package stanza_test

import (
	"testing"

	"github.com/mote-xmpp/mote/stanza"
)

func TestAppendXML(t *testing.T) {
	xmlLang := stanza.Attr{Space: stanza.NSXML, Local: "lang", Value: "en"}
	tests := []struct {
		name string
		el   *stanza.Element
		ns   string
		want string
	}{
		{"empty", stanza.NewElement(stanza.NSClient, "presence"), stanza.NSClient, `<presence/>`},
		{"declares namespace", stanza.NewElement("urn:x", "a"), stanza.NSClient, `<a xmlns="urn:x"/>`},
		{"escapes attributes", stanza.NewElement(stanza.NSClient, "message", "to", `a"<&>'b`), stanza.NSClient,
			`<message to="a&quot;&lt;&amp;&gt;&apos;b"/>`},
		{"escapes whitespace in attributes", stanza.NewElement(stanza.NSClient, "m", "x", "a\tb\nc\rd"), stanza.NSClient,
			`<m x="a&#x9;b&#xA;c&#xD;d"/>`},
		{"escapes text", stanza.NewElement(stanza.NSClient, "body").AppendText("1 < 2 & ]]> \r\n"), stanza.NSClient,
			"<body>1 &lt; 2 &amp; ]]&gt; &#xD;\n</body>"},
		{"children inherit namespace", stanza.NewElement(stanza.NSClient, "iq").Append(
			stanza.NewElement("urn:x", "q").Append(stanza.NewElement("urn:x", "item"))), stanza.NSClient,
			`<iq><q xmlns="urn:x"><item/></q></iq>`},
		{"xml:lang", &stanza.Element{Space: stanza.NSClient, Local: "message", Attrs: []stanza.Attr{xmlLang}}, stanza.NSClient,
			`<message xml:lang="en"/>`},
		{"foreign attribute prefix", &stanza.Element{Space: "urn:x", Local: "a", Attrs: []stanza.Attr{
			{Space: "urn:y", Local: "b", Value: "1"}, {Space: "urn:y", Local: "c", Value: "2"}, {Space: "urn:z", Local: "d", Value: "3"}}}, "urn:x",
			`<a xmlns:ns0="urn:y" ns0:b="1" ns0:c="2" xmlns:ns1="urn:z" ns1:d="3"/>`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.el.AppendXML(nil, tc.ns)); got != tc.want {
				t.Errorf("%d: got\n%s\nwant\n%s", i, got, tc.want)
			}
		})
	}
}

func TestAttrs(t *testing.T) {
	e := stanza.NewElement(stanza.NSClient, "iq", "type", "get", "id", "1")
	e.SetAttr("to", "a@b")
	e.SetAttr("type", "set")
	if e.Attr("type") != "set" || e.Attr("to") != "a@b" || e.Attr("missing") != "" || !e.HasAttr("id") {
		t.Fatalf("attrs: %v", e.Attrs)
	}
	e.RemoveAttr("id")
	if e.HasAttr("id") || len(e.Attrs) != 2 {
		t.Fatalf("remove: %v", e.Attrs)
	}
	c := e.ShallowCopy()
	c.SetAttr("to", "other")
	if e.Attr("to") != "a@b" {
		t.Fatal("ShallowCopy shares attributes")
	}
}

func TestErrorReply(t *testing.T) {
	iq := stanza.NewElement(stanza.NSClient, "iq", "id", "7", "from", "a@x/r", "to", "x", "type", "get")
	iq.Append(stanza.NewElement("urn:q", "query"))
	r := stanza.ErrorReply(iq, stanza.NewError(stanza.ServiceUnavailable, "no"))
	want := `<iq id="7" from="x" to="a@x/r" type="error"><query xmlns="urn:q"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">no</text></error></iq>`
	if got := string(r.AppendXML(nil, stanza.NSClient)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	e, ok := stanza.ErrorFromElement(r)
	if !ok || e.Condition != stanza.ServiceUnavailable || e.Type != stanza.Cancel || e.Text != "no" {
		t.Fatalf("parsed %+v", e)
	}
	// RFC 6120 §8.3.1: an error is never answered with an error.
	if stanza.ErrorReply(r, stanza.NewError(stanza.BadRequest, "")) != nil {
		t.Fatal("error reply to an error")
	}
}

func TestStreamError(t *testing.T) {
	e := &stanza.StreamError{Condition: stanza.StreamHostUnknown, Text: "no <such> host"}
	want := `<stream:error><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">no &lt;such&gt; host</text></stream:error>`
	if got := string(e.AppendStreamXML(nil)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		el   *stanza.Element
		want stanza.Kind
	}{
		{stanza.NewElement(stanza.NSClient, "message"), stanza.KindMessage},
		{stanza.NewElement(stanza.NSServer, "presence"), stanza.KindPresence},
		{stanza.NewElement(stanza.NSClient, "iq"), stanza.KindIQ},
		{stanza.NewElement("urn:x", "iq"), stanza.KindNone},
		{stanza.NewElement(stanza.NSClient, "foo"), stanza.KindNone},
	} {
		if got := stanza.KindOf(tc.el); got != tc.want {
			t.Errorf("KindOf(%s) = %v, want %v", tc.el, got, tc.want)
		}
	}
}
