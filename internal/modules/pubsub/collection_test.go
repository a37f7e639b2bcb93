package pubsub_test

import (
	"fmt"
	"slices"
	"testing"
)

// TestCollectionSubscribers: 20 clients subscribe to a collection with
// subscription type "items" and depth "all" (XEP-0248 §6.1) and each
// receives the items published to every leaf below it, at any depth, with
// the SHIM header naming the collection (XEP-0248 §5.3.1). A subscriber
// with the default options (type "nodes", depth 1) hears of nodes created
// in the collection instead (§5.3.2), and not of the items.
func TestCollectionSubscribers(t *testing.T) {
	const n = 20
	users := []string{"alice", "watcher"}
	for i := range n {
		users = append(users, fmt.Sprintf("dev%02d", i))
	}
	s := start(t, "", users...)
	a := login(t, s, "alice", "phone")
	w := login(t, s, "watcher", "phone")
	a.create("home", "pubsub#node_type", "collection")
	a.create("floor1", "pubsub#node_type", "collection", "pubsub#collection", "home")
	a.create("hall", "pubsub#collection", "home")
	a.create("kitchen", "pubsub#collection", "floor1")
	a.create("bath", "pubsub#collection", "floor1")
	w.subscribe("home")

	clients := make([]*client, n)
	for i := range n {
		clients[i] = login(t, s, users[i+2], "dev")
	}
	for _, c := range clients {
		r := c.ok("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='home' jid='`+c.bare+`'/><options>`+
			subOptions("pubsub#subscription_type", "items", "pubsub#subscription_depth", "all")+`</options></pubsub>`)
		opts := formValues(pubsubOf(t, r, nsPS).Child(nsPS, "options").Child(nsX, "x"))
		if !slices.Equal(opts["pubsub#subscription_type"], []string{"items"}) || !slices.Equal(opts["pubsub#subscription_depth"], []string{"all"}) {
			t.Fatalf("options: %s", r)
		}
	}

	leaves := []string{"hall", "kitchen", "bath"}
	for _, leaf := range leaves {
		a.publish(leaf, "reading-"+leaf, `<temp xmlns='urn:example:sensor'>21.5</temp>`)
	}
	for _, c := range clients {
		for _, leaf := range leaves {
			msg := c.itemEvent(leaf, "reading-"+leaf)
			if msg.Attr("to") != c.bare || !slices.Equal(shimHeaders(msg)["Collection"], []string{"home"}) {
				t.Fatalf("%s: notification %s", c.bare, msg)
			}
			if p := eventItem(msg, leaf, "reading-"+leaf).FirstChild(); p == nil || p.Text() != "21.5" {
				t.Fatalf("%s: payload %s", c.bare, msg)
			}
		}
	}

	// The default subscription hears of a new child, not of items.
	a.create("porch", "pubsub#collection", "home")
	msg := w.event("porch", "create")
	if !slices.Equal(shimHeaders(msg)["Collection"], []string{"home"}) {
		t.Fatalf("create notification: %s", msg)
	}
	w.quiet()
	for _, c := range clients {
		c.dropPresence()
		for _, el := range c.inbox {
			if el.Local == "message" {
				if ev := el.Child(nsEvent, "event"); ev != nil && ev.Child(nsEvent, "create") != nil {
					t.Fatalf("%s: items subscription got %s", c.bare, el)
				}
			}
		}
	}
}

// TestSubIDHeaders: a JID subscribed twice gets one notification per
// event with both SubIDs as SHIM headers (XEP-0060 §7.1.2.4, §13.16); a
// purge notification carries none.
func TestSubIDHeaders(t *testing.T) {
	s := start(t, "modules: {pubsub: {multi_subscribe: true}}", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	id1 := pubsubOf(t, b.subscribe("n"), nsPS).Child(nsPS, "subscription").Attr("subid")
	id2 := pubsubOf(t, b.subscribe("n"), nsPS).Child(nsPS, "subscription").Attr("subid")
	a.publish("n", "i1", `<v xmlns='urn:example'/>`)
	msg := b.itemEvent("n", "i1")
	if got := slices.Sorted(slices.Values(shimHeaders(msg)["SubID"])); !slices.Equal(got, slices.Sorted(slices.Values([]string{id1, id2}))) {
		t.Fatalf("SubID headers: %s", msg)
	}
	a.ok("set", `<pubsub xmlns='`+nsOwner+`'><purge node='n'/></pubsub>`)
	if msg := b.event("n", "purge"); msg.Child(nsShim, "headers") != nil {
		t.Fatalf("purge with headers: %s", msg)
	}
	// Exactly one notification per event.
	a.publish("n", "i2", `<v xmlns='urn:example'/>`)
	b.itemEvent("n", "i2")
	b.quiet()
	r := a.ok("get", `<query xmlns='`+nsInfo+`'/>`)
	found := false
	for _, f := range r.Child(nsInfo, "query").ChildElements() {
		found = found || f.Attr("var") == nsPS+"#multi-subscribe"
	}
	if !found {
		t.Fatalf("multi-subscribe not advertised: %s", r)
	}
}
