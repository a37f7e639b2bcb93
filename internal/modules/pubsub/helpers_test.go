package pubsub_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const (
	nsPS     = "http://jabber.org/protocol/pubsub"
	nsEvent  = nsPS + "#event"
	nsOwner  = nsPS + "#owner"
	nsErrors = nsPS + "#errors"
	nsShim   = "http://jabber.org/protocol/shim"
	nsX      = "jabber:x:data"
	nsRSM    = "http://jabber.org/protocol/rsm"
	nsInfo   = "http://jabber.org/protocol/disco#info"
	nsItems  = "http://jabber.org/protocol/disco#items"
	service  = "pubsub.localhost"
)

var seq atomic.Int64

// client is a scripted client that keeps the stanzas it read while waiting
// for something else, so that notifications, which the service delivers
// asynchronously, can arrive before or after the IQ results.
type client struct {
	*xmpptest.Client
	t     testing.TB
	bare  string
	inbox []*stanza.Element
}

// login logs user in with resource and sends initial presence, so that
// notifications to the bare JID reach it.
func login(t testing.TB, s *xmpptest.Server, user, resource string) *client {
	t.Helper()
	c := &client{Client: xmpptest.Login(t, s, user, "secret", resource), t: t, bare: user + "@localhost"}
	c.Send(`<presence/>`)
	c.sync()
	c.dropPresence()
	return c
}

// start starts a server with the users (password "secret").
func start(t testing.TB, yaml string, users ...string) *xmpptest.Server {
	t.Helper()
	s := xmpptest.Start(t, yaml)
	for _, u := range users {
		s.AddUser(t, u, "secret")
	}
	return s
}

func nextID() string { return fmt.Sprintf("i%d", seq.Add(1)) }

// read returns the next stanza from the server.
func (c *client) read() *stanza.Element {
	c.t.Helper()
	return c.NextElement()
}

// iq sends an IQ of type typ to service with payload and returns the
// reply, keeping whatever else arrives meanwhile.
func (c *client) iq(typ, payload string) *stanza.Element {
	c.t.Helper()
	return c.iqTo(service, typ, payload)
}

func (c *client) iqTo(to, typ, payload string) *stanza.Element {
	c.t.Helper()
	id := nextID()
	c.Send(`<iq type='` + typ + `' to='` + to + `' id='` + id + `'>` + payload + `</iq>`)
	for {
		el := c.read()
		if el.Local == "iq" && el.Attr("id") == id {
			return el
		}
		c.inbox = append(c.inbox, el)
	}
}

// ok sends an IQ and fails the test unless the reply is a result.
func (c *client) ok(typ, payload string) *stanza.Element {
	c.t.Helper()
	r := c.iq(typ, payload)
	if r.Attr("type") != "result" {
		c.t.Fatalf("%s: want result for %s, got %s", c.bare, payload, r)
	}
	return r
}

// sync pings the server and keeps what arrives before the pong.
func (c *client) sync() {
	c.t.Helper()
	c.iqTo("localhost", "get", `<ping xmlns='urn:xmpp:ping'/>`)
}

// dropPresence removes presence stanzas from the inbox.
func (c *client) dropPresence() {
	out := c.inbox[:0]
	for _, el := range c.inbox {
		if el.Local != "presence" {
			out = append(out, el)
		}
	}
	c.inbox = out
}

// message returns the first message (from the inbox, or read) that match
// accepts.
func (c *client) message(what string, match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	for i, el := range c.inbox {
		if el.Local == "message" && match(el) {
			c.inbox = append(c.inbox[:i:i], c.inbox[i+1:]...)
			return el
		}
	}
	for n := 0; n < 1000; n++ {
		el := c.read()
		if el.Local == "message" && match(el) {
			return el
		}
		c.inbox = append(c.inbox, el)
	}
	c.t.Fatalf("%s: no %s", c.bare, what)
	return nil
}

// presence waits for a presence of type typ from the bare JID from.
func (c *client) presence(typ, from string) *stanza.Element {
	c.t.Helper()
	match := func(el *stanza.Element) bool {
		return el.Local == "presence" && el.Attr("type") == typ && strings.HasPrefix(el.Attr("from"), from)
	}
	for i, el := range c.inbox {
		if match(el) {
			c.inbox = append(c.inbox[:i:i], c.inbox[i+1:]...)
			return el
		}
	}
	for {
		el := c.read()
		if match(el) {
			return el
		}
		c.inbox = append(c.inbox, el)
	}
}

// event returns the next notification about node whose <event/> holds a
// child named local.
func (c *client) event(node, local string) *stanza.Element {
	c.t.Helper()
	return c.message("<"+local+"/> event for "+node, func(el *stanza.Element) bool {
		ev := el.Child(nsEvent, "event")
		if ev == nil {
			return false
		}
		ch := ev.Child(nsEvent, local)
		return ch != nil && ch.Attr("node") == node
	})
}

// itemEvent returns the notification of item id on node.
func (c *client) itemEvent(node, id string) *stanza.Element {
	c.t.Helper()
	return c.message("item "+id+" of "+node, func(el *stanza.Element) bool {
		return eventItem(el, node, id) != nil
	})
}

// eventItem returns the <item/> with id in a notification about node.
func eventItem(msg *stanza.Element, node, id string) *stanza.Element {
	ev := msg.Child(nsEvent, "event")
	if ev == nil {
		return nil
	}
	items := ev.Child(nsEvent, "items")
	if items == nil || items.Attr("node") != node {
		return nil
	}
	for _, it := range items.ChildElements() {
		if it.Local == "item" && it.Attr("id") == id {
			return it
		}
	}
	return nil
}

// quiet checks that no message is waiting for c (notifications are
// asynchronous: this catches those already delivered).
func (c *client) quiet() {
	c.t.Helper()
	c.sync()
	c.dropPresence()
	for _, el := range c.inbox {
		if el.Local == "message" {
			c.t.Fatalf("%s: unexpected %s", c.bare, el)
		}
	}
}

// wantError checks that el is an error with the defined condition cond of
// type typ and the pubsub#errors condition app ("" for none), with the
// 'feature' attribute feature.
func wantError(t testing.TB, el *stanza.Element, typ, cond, app, feature string) {
	t.Helper()
	e, ok := stanza.ErrorFromElement(el)
	if el.Attr("type") != "error" || !ok || string(e.Condition) != cond || string(e.Type) != typ {
		t.Fatalf("want %s error %s, got %s", typ, cond, el)
	}
	var got *stanza.Element
	for _, c := range el.Child("", "error").ChildElements() {
		if c.Space == nsErrors {
			got = c
		}
	}
	switch {
	case app == "" && got != nil:
		t.Fatalf("want no pubsub#errors condition, got %s", el)
	case app != "" && (got == nil || got.Local != app):
		t.Fatalf("want pubsub#errors condition %s, got %s", app, el)
	case got != nil && got.Attr("feature") != feature:
		t.Fatalf("want feature %q, got %s", feature, el)
	}
}

// form renders a submitted data form of FORM_TYPE formType with the
// fields given as var, value, var, value, ….
func form(formType string, fields ...string) string {
	var b strings.Builder
	b.WriteString(`<x xmlns='jabber:x:data' type='submit'>`)
	if formType != "" {
		b.WriteString(`<field var='FORM_TYPE' type='hidden'><value>` + formType + `</value></field>`)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString(`<field var='` + fields[i] + `'><value>` + string(stanza.AppendEscaped(nil, fields[i+1], false)) + `</value></field>`)
	}
	b.WriteString(`</x>`)
	return b.String()
}

// nodeConfig is a submitted node_config form.
func nodeConfig(fields ...string) string { return form(nsPS+"#node_config", fields...) }

// subOptions is a submitted subscribe_options form.
func subOptions(fields ...string) string { return form(nsPS+"#subscribe_options", fields...) }

// create creates a node, with configuration fields if any.
func (c *client) create(node string, fields ...string) {
	c.t.Helper()
	p := `<pubsub xmlns='` + nsPS + `'><create node='` + node + `'/>`
	if len(fields) > 0 {
		p += `<configure>` + nodeConfig(fields...) + `</configure>`
	}
	c.ok("set", p+`</pubsub>`)
}

// subscribe subscribes c's bare JID to node and returns the result.
func (c *client) subscribe(node string) *stanza.Element {
	c.t.Helper()
	return c.ok("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='`+node+`' jid='`+c.bare+`'/></pubsub>`)
}

// publish publishes payload as item id to node and returns the item id
// of the result.
func (c *client) publish(node, id, payload string) string {
	c.t.Helper()
	idAttr := ""
	if id != "" {
		idAttr = ` id='` + id + `'`
	}
	r := c.ok("set", `<pubsub xmlns='`+nsPS+`'><publish node='`+node+`'><item`+idAttr+`>`+payload+`</item></publish></pubsub>`)
	it := r.Child(nsPS, "pubsub").Child(nsPS, "publish").Child(nsPS, "item")
	if it == nil {
		c.t.Fatalf("publish result without item: %s", r)
	}
	return it.Attr("id")
}

// pubsub returns the <pubsub/> child of an IQ result.
func pubsubOf(t testing.TB, r *stanza.Element, space string) *stanza.Element {
	t.Helper()
	p := r.Child(space, "pubsub")
	if p == nil {
		t.Fatalf("no pubsub element in %s", r)
	}
	return p
}

// formValues returns the values of a data form's fields by var.
func formValues(x *stanza.Element) map[string][]string {
	out := map[string][]string{}
	if x == nil {
		return out
	}
	for _, f := range x.ChildElements() {
		if f.Local != "field" {
			continue
		}
		var vs []string
		for _, v := range f.ChildElements() {
			if v.Local == "value" {
				vs = append(vs, v.Text())
			}
		}
		out[f.Attr("var")] = vs
	}
	return out
}

// shimHeaders returns the SHIM headers of a message by name.
func shimHeaders(msg *stanza.Element) map[string][]string {
	out := map[string][]string{}
	h := msg.Child(nsShim, "headers")
	if h == nil {
		return out
	}
	for _, e := range h.ChildElements() {
		out[e.Attr("name")] = append(out[e.Attr("name")], e.Text())
	}
	return out
}

// itemIDs returns the ids of the <item/> children of el.
func itemIDs(el *stanza.Element) []string {
	var out []string
	for _, it := range el.ChildElements() {
		if it.Local == "item" {
			out = append(out, it.Attr("id"))
		}
	}
	return out
}
