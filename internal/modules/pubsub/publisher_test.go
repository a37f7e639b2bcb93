package pubsub_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// TestPublish: publishing with and without an ItemID (XEP-0060 §7.1.1-2):
// every subscriber gets one notification with the payload, which survives
// storage unchanged (namespaces, attributes, escaped text); a node without
// payloads notifies the ItemID only (§7.1.2.2); republishing an ItemID
// replaces the item.
func TestPublish(t *testing.T) {
	s := start(t, "", "alice", "bob", "carol")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	c := login(t, s, "carol", "laptop")
	a.create("n")
	a.create("light", "pubsub#deliver_payloads", "false", "pubsub#notification_type", "normal")
	b.subscribe("n")
	c.subscribe("n")
	b.subscribe("light")

	const payload = `<entry xmlns='http://www.w3.org/2005/Atom' xml:lang='en'><title type='text'>a &lt; b &amp; "c"</title>` +
		`<geo:point xmlns:geo='urn:example:geo' geo:unit='deg'>45.4 12.3</geo:point><empty/></entry>`
	if id := a.publish("n", "e1", payload); id != "e1" {
		t.Fatalf("publish result item %q", id)
	}
	var bodies []string
	for _, cl := range []*client{b, c} {
		msg := cl.itemEvent("n", "e1")
		if msg.Attr("from") != service || msg.Attr("to") != cl.bare || msg.Attr("type") != "headline" {
			t.Fatalf("notification: %s", msg)
		}
		if msg.Child(nsShim, "headers") != nil {
			t.Fatalf("headers for a single subscription: %s", msg)
		}
		p := eventItem(msg, "n", "e1").FirstChild()
		if p == nil || p.Space != "http://www.w3.org/2005/Atom" || p.Local != "entry" || p.AttrNS(stanza.NSXML, "lang") != "en" {
			t.Fatalf("payload: %s", msg)
		}
		title := p.Child("http://www.w3.org/2005/Atom", "title")
		point := p.Child("urn:example:geo", "point")
		if title == nil || title.Text() != `a < b & "c"` || title.Attr("type") != "text" ||
			point == nil || point.AttrNS("urn:example:geo", "unit") != "deg" || point.Text() != "45.4 12.3" ||
			p.Child("http://www.w3.org/2005/Atom", "empty") == nil {
			t.Fatalf("payload changed: %s", p)
		}
		bodies = append(bodies, p.String())
	}
	// The same payload, read back from storage.
	r := b.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='n'><item id='e1'/></items></pubsub>`)
	stored := pubsubOf(t, r, nsPS).Child(nsPS, "items").FirstChild().FirstChild()
	if stored == nil || stored.String() != bodies[0] || bodies[0] != bodies[1] {
		t.Fatalf("stored payload %s, notified %v", stored, bodies)
	}

	// A generated ItemID.
	id := a.publish("n", "", `<v xmlns='urn:example'/>`)
	if id == "" {
		t.Fatal("no generated ItemID")
	}
	b.itemEvent("n", id)
	c.itemEvent("n", id)

	// Notification only, as a normal message.
	a.publish("light", "l1", `<v xmlns='urn:example'>secret</v>`)
	msg := b.itemEvent("light", "l1")
	if it := eventItem(msg, "light", "l1"); it.FirstChild() != nil || msg.Attr("type") != "normal" {
		t.Fatalf("notification without payload: %s", msg)
	}

	// Republishing replaces.
	a.publish("n", "e1", `<v xmlns='urn:example'>2</v>`)
	r = b.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`)
	items := pubsubOf(t, r, nsPS).Child(nsPS, "items")
	if got := itemIDs(items); !slices.Equal(got, []string{"e1", id}) || items.FirstChild().FirstChild().Text() != "2" {
		t.Fatalf("after republishing: %s", r)
	}
	a.quiet() // the publisher is not subscribed
}

// TestPublishErrors: the error cases of XEP-0060 §7.1.3.
func TestPublishErrors(t *testing.T) {
	s := start(t, "modules: {pubsub: {max_payload_bytes: 100}}", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	a.create("typed", "pubsub#type", "urn:example:t")
	a.create("coll", "pubsub#node_type", "collection")
	a.create("transient", "pubsub#persist_items", "false", "pubsub#deliver_payloads", "false")
	a.create("full", "pubsub#max_items", "1", "pubsub#publish_node_full", "reject")
	a.publish("full", "f1", `<v xmlns='urn:example'/>`)

	pub := func(node, item string) string {
		return `<pubsub xmlns='` + nsPS + `'><publish node='` + node + `'>` + item + `</publish></pubsub>`
	}
	big := `<item><v xmlns='urn:example'>` + strings.Repeat("x", 200) + `</v></item>`
	for _, tc := range []struct {
		name                     string
		who                      *client
		payload                  string
		errType, cond, app, feat string
	}{
		{"§7.1.3.1 insufficient privileges", b, pub("n", `<item><v xmlns='urn:example'/></item>`), "auth", "forbidden", "", ""},
		{"§7.1.3.2 publication not supported", a, pub("coll", `<item><v xmlns='urn:example'/></item>`), "cancel", "feature-not-implemented", "unsupported", "publish"},
		{"§7.1.3.3 node does not exist", a, pub("nope", `<item><v xmlns='urn:example'/></item>`), "cancel", "item-not-found", "", ""},
		{"§7.1.3.4 node full", a, pub("full", `<item id='f2'><v xmlns='urn:example'/></item>`), "cancel", "conflict", "node-full", ""},
		{"§7.1.3.5 payload too big", a, pub("n", big), "modify", "not-acceptable", "payload-too-big", ""},
		{"§7.1.3.6 two payload elements", a, pub("n", `<item><v xmlns='urn:example'/><w xmlns='urn:example'/></item>`), "modify", "bad-request", "invalid-payload", ""},
		{"§7.1.3.6 wrong namespace", a, pub("typed", `<item><v xmlns='urn:example:other'/></item>`), "modify", "bad-request", "invalid-payload", ""},
		{"§7.1.3.7 item required", a, pub("n", ``), "modify", "bad-request", "item-required", ""},
		{"§7.1.3.7 payload required", a, pub("n", `<item id='x'/>`), "modify", "bad-request", "payload-required", ""},
		{"§7.1.3.7 item forbidden", a, pub("transient", `<item id='x'/>`), "modify", "bad-request", "item-forbidden", ""},
		{"no node", a, `<pubsub xmlns='` + nsPS + `'><publish><item><v xmlns='urn:example'/></item></publish></pubsub>`, "modify", "bad-request", "nodeid-required", ""},
		{"two items", a, pub("n", `<item><v xmlns='urn:example'/></item><item><v xmlns='urn:example'/></item>`), "modify", "bad-request", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, tc.who.iq("set", tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
	// The right namespace passes, and a transient notification-only node
	// takes a publish without item.
	a.ok("set", pub("typed", `<item><v xmlns='urn:example:t'/></item>`))
	a.ok("set", pub("transient", ``))
}

// TestPublishNodeFull: with publish_node_full retract-oldest the items
// beyond max_items are retracted with a notification (§7.1.2.5).
func TestPublishNodeFull(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n", "pubsub#max_items", "2", "pubsub#publish_node_full", "retract-oldest")
	b.subscribe("n")
	for _, id := range []string{"i1", "i2", "i3"} {
		a.publish("n", id, `<v xmlns='urn:example'/>`)
		b.itemEvent("n", id)
	}
	msg := b.message("retraction", func(el *stanza.Element) bool {
		ev := el.Child(nsEvent, "event")
		return ev != nil && ev.Child(nsEvent, "items") != nil && ev.Child(nsEvent, "items").Child(nsEvent, "retract") != nil
	})
	if r := msg.Child(nsEvent, "event").Child(nsEvent, "items").Child(nsEvent, "retract"); r.Attr("id") != "i1" {
		t.Fatalf("retracted: %s", msg)
	}
	r := b.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`)
	if got := itemIDs(pubsubOf(t, r, nsPS).Child(nsPS, "items")); !slices.Equal(got, []string{"i3", "i2"}) {
		t.Fatalf("items: %v", got)
	}
}

// TestPublishOptions: publish-options are preconditions (XEP-0060
// §7.1.5): met, the publish succeeds; not met or unknown, it fails with
// conflict and <precondition-not-met/>; with auto-create a missing node is
// created with them.
func TestPublishOptions(t *testing.T) {
	s := start(t, "modules: {pubsub: {auto_create: true}}", "alice", "bob")
	a := login(t, s, "alice", "phone")
	a.create("n", "pubsub#access_model", "whitelist")
	pub := func(node string, fields ...string) string {
		return `<pubsub xmlns='` + nsPS + `'><publish node='` + node + `'><item><v xmlns='urn:example'/></item></publish>` +
			`<publish-options>` + form(nsPS+"#publish-options", fields...) + `</publish-options></pubsub>`
	}
	a.ok("set", pub("n", "pubsub#access_model", "whitelist", "pubsub#persist_items", "true"))
	wantError(t, a.iq("set", pub("n", "pubsub#access_model", "open")), "cancel", "conflict", "precondition-not-met", "")
	wantError(t, a.iq("set", pub("n", "pubsub#frobnication", "1")), "cancel", "conflict", "precondition-not-met", "")
	wantError(t, a.iq("set", `<pubsub xmlns='`+nsPS+`'><publish node='n'><item><v xmlns='urn:example'/></item></publish><publish-options>`+
		form("urn:other", "pubsub#access_model", "whitelist")+`</publish-options></pubsub>`), "modify", "bad-request", "", "")

	// Auto-create (§7.1.4) with the preconditions as configuration.
	a.ok("set", pub("auto", "pubsub#access_model", "whitelist", "pubsub#max_items", "5"))
	r := a.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='auto'/></pubsub>`)
	v := formValues(pubsubOf(t, r, nsOwner).Child(nsOwner, "configure").Child(nsX, "x"))
	if !slices.Equal(v["pubsub#access_model"], []string{"whitelist"}) || !slices.Equal(v["pubsub#max_items"], []string{"5"}) {
		t.Fatalf("auto-created configuration: %v", v)
	}
	r = a.ok("get", `<query xmlns='`+nsInfo+`'/>`)
	if !strings.Contains(r.String(), nsPS+"#auto-create") {
		t.Fatalf("auto-create not advertised: %s", r)
	}
}

// TestRetract: deleting an item (XEP-0060 §7.2) notifies the subscribers
// (pubsub#notify_retract, or notify='true'); the errors of §7.2.3.
func TestRetract(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n", "pubsub#notify_retract", "false")
	a.create("transient", "pubsub#persist_items", "false")
	b.subscribe("n")
	for _, id := range []string{"i1", "i2"} {
		a.publish("n", id, `<v xmlns='urn:example'/>`)
		b.itemEvent("n", id)
	}
	retract := func(node, item, notify string) string {
		return `<pubsub xmlns='` + nsPS + `'><retract node='` + node + `'` + notify + `>` + item + `</retract></pubsub>`
	}
	a.ok("set", retract("n", `<item id='i1'/>`, ""))
	b.quiet() // notify_retract is off
	a.ok("set", retract("n", `<item id='i2'/>`, ` notify='true'`))
	msg := b.event("n", "items")
	if r := msg.Child(nsEvent, "event").Child(nsEvent, "items").Child(nsEvent, "retract"); r == nil || r.Attr("id") != "i2" {
		t.Fatalf("retract notification: %s", msg)
	}
	a.publish("n", "i3", `<v xmlns='urn:example'/>`)
	for _, tc := range []struct {
		name                     string
		who                      *client
		payload                  string
		errType, cond, app, feat string
	}{
		{"§7.2.3.1 insufficient privileges", b, retract("n", `<item id='i3'/>`, ""), "auth", "forbidden", "", ""},
		{"§7.2.3.2 node does not exist", a, retract("nope", `<item id='i3'/>`, ""), "cancel", "item-not-found", "", ""},
		{"§7.2.3.2 item does not exist", a, retract("n", `<item id='i1'/>`, ""), "cancel", "item-not-found", "", ""},
		{"§7.2.3.3 NodeID required", a, `<pubsub xmlns='` + nsPS + `'><retract><item id='i3'/></retract></pubsub>`, "modify", "bad-request", "nodeid-required", ""},
		{"§7.2.3.4 item required", a, retract("n", ``, ""), "modify", "bad-request", "item-required", ""},
		{"§7.2.3.4 ItemID required", a, retract("n", `<item/>`, ""), "modify", "bad-request", "item-required", ""},
		{"§7.2.3.5 persistent items not supported", a, retract("transient", `<item id='x'/>`, ""), "cancel", "feature-not-implemented", "unsupported", "persistent-items"},
		{"bad notify", a, retract("n", `<item id='i3'/>`, ` notify='maybe'`), "modify", "bad-request", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, tc.who.iq("set", tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
}

// TestItemPublisher: with pubsub#itemreply "publisher" notifications and
// retrieved items carry the publisher's bare JID (XEP-0060 §7.1.2.3,
// §13.17); without it they do not.
func TestItemPublisher(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	b.subscribe("n")
	a.publish("n", "i1", `<v xmlns='urn:example'/>`)
	if it := eventItem(b.itemEvent("n", "i1"), "n", "i1"); it.HasAttr("publisher") {
		t.Fatalf("publisher without itemreply: %s", it)
	}
	a.ok("set", `<pubsub xmlns='`+nsOwner+`'><configure node='n'>`+nodeConfig("pubsub#itemreply", "publisher")+`</configure></pubsub>`)
	a.publish("n", "i2", `<v xmlns='urn:example'/>`)
	if it := eventItem(b.itemEvent("n", "i2"), "n", "i2"); it.Attr("publisher") != "alice@localhost" {
		t.Fatalf("notification without publisher: %s", it)
	}
	r := b.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`)
	for _, it := range pubsubOf(t, r, nsPS).Child(nsPS, "items").ChildElements() {
		if it.Attr("publisher") != "alice@localhost" {
			t.Fatalf("retrieved item without publisher: %s", r)
		}
	}
}

// TestPresenceBasedDelivery: with pubsub#presence_based_delivery a
// subscriber that is not available gets nothing (XEP-0060 §13.6).
func TestPresenceBasedDelivery(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := &client{Client: xmpptest.Login(t, s, "bob", "secret", "sensor"), t: t, bare: "bob@localhost"} // no presence
	a.create("n", "pubsub#presence_based_delivery", "1", "pubsub#send_last_published_item", "never")
	b.ok("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='n' jid='`+b.JID+`'/></pubsub>`)
	a.publish("n", "offline", `<v xmlns='urn:example'/>`)
	a.sync()
	b.quiet()
	b.Send(`<presence/>`)
	b.sync()
	a.publish("n", "online", `<v xmlns='urn:example'/>`)
	b.itemEvent("n", "online")
	b.dropPresence()
	for _, el := range b.inbox {
		if eventItem(el, "n", "offline") != nil {
			t.Fatalf("delivered while unavailable: %s", el)
		}
	}
}
