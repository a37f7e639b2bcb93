package pubsub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

const will = `<status xmlns='urn:mote:device:0' state='offline'/>`

// TestLastWill: a node's mote#last_will is published, as item last-will
// with the device as publisher, when the device's session is lost (its
// connection dropped, or a stream management session not resumed in
// time), and not after a clean close or while another resource is on.
func TestLastWill(t *testing.T) {
	s := start(t, "c2s: {resume_timeout: 1s}", "owner", "dev", "watch")
	o := login(t, s, "owner", "o")
	o.create("devices/dev", "mote#last_will", will)
	o.ok("set", `<pubsub xmlns='`+nsOwner+`'><affiliations node='devices/dev'><affiliation jid='dev@localhost' affiliation='publisher'/></affiliations></pubsub>`)
	w := login(t, s, "watch", "w")
	w.subscribe("devices/dev")

	// The device may read its configuration's will like any form value.
	r := o.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='devices/dev'/></pubsub>`)
	if v := formValues(pubsubOf(t, r, nsOwner).Child(nsOwner, "configure").Child(nsX, "x")); len(v["mote#last_will"]) != 1 || !strings.Contains(v["mote#last_will"][0], "urn:mote:device:0") {
		t.Fatalf("configuration: %v", v)
	}

	// A clean close: nothing. A marker published afterwards comes first.
	d := xmpptest.Login(t, s, "dev", "secret", "sim")
	d.Send(`</stream:stream>`)
	d.ExpectClosed()
	o.publish("devices/dev", "marker1", `<m xmlns='urn:x'/>`)
	if el := w.itemEvent("devices/dev", "marker1"); eventItem(el, "devices/dev", "last-will") != nil {
		t.Fatalf("a will after a clean close: %s", el)
	}
	time.Sleep(200 * time.Millisecond) // a will would be published by now
	w.quiet()

	// Lost connection: the will, published by the device.
	d = xmpptest.Login(t, s, "dev", "secret", "sim")
	d.Drop()
	item := eventItem(w.itemEvent("devices/dev", "last-will"), "devices/dev", "last-will")
	if p := item.Child("urn:mote:device:0", "status"); p == nil || p.Attr("state") != "offline" {
		t.Fatalf("will payload: %s", item)
	}

	// Another resource still on: nothing.
	d1 := xmpptest.Login(t, s, "dev", "secret", "one")
	d2 := xmpptest.Login(t, s, "dev", "secret", "two")
	d1.Drop()
	o.publish("devices/dev", "marker2", `<m xmlns='urn:x'/>`)
	if el := w.itemEvent("devices/dev", "marker2"); eventItem(el, "devices/dev", "last-will") != nil {
		t.Fatalf("a will while a resource is on: %s", el)
	}
	time.Sleep(200 * time.Millisecond) // a will would be published by now
	w.quiet()
	d2.Send(`</stream:stream>`)
	d2.ExpectClosed()

	// Stream management: resumed in time, nothing; not resumed, the will
	// once resume_timeout (1 s) has passed.
	d = xmpptest.Login(t, s, "dev", "secret", "sm")
	d.Send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	enabled := d.Expect("urn:xmpp:sm:3", "enabled")
	d.Drop()
	d = xmpptest.Dial(t, s)
	d.OpenStream()
	d.StartTLS()
	if el := d.AuthSCRAM("SCRAM-SHA-256", "dev", "secret"); el.Local != "success" {
		t.Fatalf("login: %s", el)
	}
	d.Restart()
	d.Send(`<resume xmlns='urn:xmpp:sm:3' previd='` + enabled.Attr("id") + `' h='0'/>`)
	d.Expect("urn:xmpp:sm:3", "resumed")
	time.Sleep(200 * time.Millisecond) // a will would be published by now
	w.quiet()
	start := time.Now()
	d.Drop()
	w.itemEvent("devices/dev", "last-will")
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("the will came %v after the drop, before the resumption timeout", took)
	}

	// A will that is not one XML element is refused.
	r = o.iq("set", `<pubsub xmlns='`+nsOwner+`'><configure node='devices/dev'>`+
		nodeConfig("mote#last_will", "<unclosed>")+`</configure></pubsub>`)
	wantError(t, r, "modify", "not-acceptable", "", "")
}
