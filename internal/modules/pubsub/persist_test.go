package pubsub_test

import (
	"slices"
	"testing"
)

// TestPersistence: nodes with their configuration and collections,
// affiliations, subscriptions and items survive a restart of the server
// (they live in the SQLite backend's pubsub store).
func TestPersistence(t *testing.T) {
	yaml := "data_dir: " + t.TempDir()
	s := start(t, yaml, "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("home", "pubsub#node_type", "collection")
	a.create("n", "pubsub#title", "Kept", "pubsub#max_items", "5", "pubsub#collection", "home")
	a.ok("set", `<pubsub xmlns='`+nsOwner+`'><affiliations node='n'><affiliation jid='bob@localhost' affiliation='publisher'/></affiliations></pubsub>`)
	subid := pubsubOf(t, b.subscribe("n"), nsPS).Child(nsPS, "subscription").Attr("subid")
	a.publish("n", "i1", `<v xmlns='urn:example'>one</v>`)
	b.publish("n", "i2", `<v xmlns='urn:example'>two</v>`)
	b.itemEvent("n", "i2")
	s.Stop(t)

	s = start(t, yaml)
	a = login(t, s, "alice", "phone")
	b = login(t, s, "bob", "phone")
	r := b.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`)
	items := pubsubOf(t, r, nsPS).Child(nsPS, "items")
	if got := itemIDs(items); !slices.Equal(got, []string{"i2", "i1"}) || items.FirstChild().FirstChild().Text() != "two" {
		t.Fatalf("items after restart: %s", r)
	}
	r = b.ok("get", `<pubsub xmlns='`+nsPS+`'><subscriptions/></pubsub>`)
	if sub := pubsubOf(t, r, nsPS).Child(nsPS, "subscriptions").FirstChild(); sub == nil || sub.Attr("node") != "n" || sub.Attr("subid") != subid {
		t.Fatalf("subscription after restart: %s", r)
	}
	r = a.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='n'/></pubsub>`)
	v := formValues(pubsubOf(t, r, nsOwner).Child(nsOwner, "configure").Child(nsX, "x"))
	if !slices.Equal(v["pubsub#title"], []string{"Kept"}) || !slices.Equal(v["pubsub#max_items"], []string{"5"}) || !slices.Equal(v["pubsub#collection"], []string{"home"}) {
		t.Fatalf("configuration after restart: %v", v)
	}
	// Bob is still a publisher, and still subscribed.
	b.publish("n", "i3", `<v xmlns='urn:example'>three</v>`)
	b.itemEvent("n", "i3")
	r = b.ok("get", `<query xmlns='`+nsItems+`' node='home'/>`)
	if c := r.Child(nsItems, "query").FirstChild(); c == nil || c.Attr("node") != "n" {
		t.Fatalf("collection after restart: %s", r)
	}
}

// TestLastPublishedOnPresence: a subscriber that sends available presence
// to the service gets the last published item of the nodes that send it
// "on_sub_and_presence" (XEP-0060 §4.3, §6.1.7), and not of the others.
func TestLastPublishedOnPresence(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	a.create("quiet", "pubsub#send_last_published_item", "on_sub")
	a.publish("n", "i1", `<v xmlns='urn:example'/>`)
	a.publish("quiet", "q1", `<v xmlns='urn:example'/>`)
	b.subscribe("n")
	b.subscribe("quiet")
	b.itemEvent("n", "i1")
	b.itemEvent("quiet", "q1")
	b.quiet()

	b.Send(`<presence to='` + service + `'/>`)
	msg := b.itemEvent("n", "i1")
	if msg.Child("urn:xmpp:delay", "delay") == nil || msg.Attr("to") != b.JID {
		t.Fatalf("last item on presence: %s", msg)
	}
	b.quiet()
}
