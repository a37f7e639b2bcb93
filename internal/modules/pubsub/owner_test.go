package pubsub_test

import (
	"slices"
	"testing"

	"github.com/mote-xmpp/mote/stanza"
)

// TestCreate: named and instant nodes (XEP-0060 §8.1.1-2), create and
// configure (§8.1.3), collections (XEP-0248 §7.1) and the errors of §8.1.
func TestCreate(t *testing.T) {
	s := start(t, "modules: {pubsub: {max_nodes_per_owner: 4}}", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")

	r := a.ok("set", `<pubsub xmlns='`+nsPS+`'><create node='named'/></pubsub>`)
	if c := pubsubOf(t, r, nsPS).Child(nsPS, "create"); c == nil || c.Attr("node") != "named" {
		t.Fatalf("named: %s", r)
	}
	r = a.ok("set", `<pubsub xmlns='`+nsPS+`'><create/></pubsub>`)
	instant := pubsubOf(t, r, nsPS).Child(nsPS, "create").Attr("node")
	if instant == "" {
		t.Fatalf("instant: %s", r)
	}
	r = a.ok("get", `<pubsub xmlns='`+nsPS+`'><affiliations node='`+instant+`'/></pubsub>`)
	if af := pubsubOf(t, r, nsPS).Child(nsPS, "affiliations").FirstChild(); af == nil || af.Attr("affiliation") != "owner" {
		t.Fatalf("the creator owns the instant node: %s", r)
	}
	a.create("configured", "pubsub#access_model", "whitelist", "pubsub#title", "Configured", "pubsub#max_items", "3")
	r = a.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='configured'/></pubsub>`)
	v := formValues(pubsubOf(t, r, nsOwner).Child(nsOwner, "configure").Child(nsX, "x"))
	if !slices.Equal(v["pubsub#access_model"], []string{"whitelist"}) || !slices.Equal(v["pubsub#title"], []string{"Configured"}) ||
		!slices.Equal(v["pubsub#max_items"], []string{"3"}) || !slices.Equal(v["pubsub#node_type"], []string{"leaf"}) {
		t.Fatalf("create-and-configure: %v", v)
	}

	a.create("coll", "pubsub#node_type", "collection") // alice's fourth and last node

	pc := func(node string, fields ...string) string {
		return `<pubsub xmlns='` + nsPS + `'><create node='` + node + `'/><configure>` + nodeConfig(fields...) + `</configure></pubsub>`
	}
	for _, tc := range []struct {
		name                     string
		who                      *client
		payload                  string
		errType, cond, app, feat string
	}{
		{"§8.1.1 NodeID exists", b, `<pubsub xmlns='` + nsPS + `'><create node='named'/></pubsub>`, "cancel", "conflict", "", ""},
		{"§8.1.2 unsupported access model", b, pc("x", "pubsub#access_model", "bogus"), "modify", "not-acceptable", "unsupported-access-model", ""},
		{"§8.2.5.2 invalid option", b, pc("x", "pubsub#max_items", "many"), "modify", "not-acceptable", "", ""},
		{"§8.2.5.2 above the service's limit", b, pc("x", "pubsub#max_items", "5000"), "modify", "not-acceptable", "", ""},
		{"XEP-0248 unknown node type", b, pc("x", "pubsub#node_type", "tree"), "modify", "not-acceptable", "", ""},
		{"XEP-0248 §7.2.3.1 leaf as parent", b, pc("x", "pubsub#collection", "named"), "cancel", "not-allowed", "invalid-options", ""},
		{"XEP-0248 §7.2.3.2 not an owner of the parent", b, pc("x", "pubsub#collection", "coll"), "auth", "forbidden", "", ""},
		{"XEP-0248 parent does not exist", b, pc("x", "pubsub#collection", "nope"), "cancel", "item-not-found", "", ""},
		{"max nodes per owner", a, `<pubsub xmlns='` + nsPS + `'><create node='fifth'/></pubsub>`, "cancel", "not-allowed", "max-nodes-exceeded", ""},
		{"wrong FORM_TYPE", b, `<pubsub xmlns='` + nsPS + `'><create node='x'/><configure>` + form("urn:other") + `</configure></pubsub>`, "modify", "bad-request", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, tc.who.iq("set", tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
	// Unknown fields of a configuration form are ignored.
	b.create("lenient", "pubsub#frobnication", "1", "pubsub#title", "L")
}

// TestCreateAdminsOnly: with create: admins only the administrators
// create nodes (XEP-0060 §8.1.1 forbidden); they are owners of every node.
func TestCreateAdminsOnly(t *testing.T) {
	s := start(t, "modules: {pubsub: {create: admins, admins: [root@localhost]}}", "root", "bob")
	root := login(t, s, "root", "console")
	b := login(t, s, "bob", "phone")
	wantError(t, b.iq("set", `<pubsub xmlns='`+nsPS+`'><create node='n'/></pubsub>`), "auth", "forbidden", "", "")
	root.create("n")
	root.ok("set", `<pubsub xmlns='`+nsOwner+`'><affiliations node='n'><affiliation jid='bob@localhost' affiliation='owner'/></affiliations></pubsub>`)
	b.ok("set", `<pubsub xmlns='`+nsOwner+`'><affiliations node='n'><affiliation jid='root@localhost' affiliation='none'/></affiliations></pubsub>`)
	// Still an owner as the administrator; and may subscribe others
	// (§6.1.3.1).
	root.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='n'/></pubsub>`)
	root.ok("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='n' jid='bob@localhost'/></pubsub>`)
	root.publish("n", "i1", `<v xmlns='urn:example'/>`)
	b.itemEvent("n", "i1")
}

// TestConfigure: the configuration form (XEP-0060 §8.2.1-2), its
// submission (§8.2.4) with notification (§8.2.5.3), cancellation, and the
// errors of §8.2.3 and §8.2.5.2; moving a node between collections
// (XEP-0248 §7.2).
func TestConfigure(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	a.create("c1", "pubsub#node_type", "collection")
	a.create("c2", "pubsub#node_type", "collection")
	b.subscribe("n")

	r := a.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='n'/></pubsub>`)
	c := pubsubOf(t, r, nsOwner).Child(nsOwner, "configure")
	x := c.Child(nsX, "x")
	v := formValues(x)
	if c.Attr("node") != "n" || x.Attr("type") != "form" || !slices.Equal(v["FORM_TYPE"], []string{nsPS + "#node_config"}) ||
		!slices.Equal(v["pubsub#access_model"], []string{"open"}) || !slices.Equal(v["pubsub#deliver_payloads"], []string{"1"}) ||
		!slices.Equal(v["pubsub#max_items"], []string{"10"}) {
		t.Fatalf("configuration form: %s", r)
	}
	for _, f := range x.ChildElements() {
		if f.Attr("var") == "pubsub#access_model" && (f.Attr("type") != "list-single" || f.Child(nsX, "option") == nil) {
			t.Fatalf("access model field: %s", f)
		}
	}

	set := func(node, x string) string {
		return `<pubsub xmlns='` + nsOwner + `'><configure node='` + node + `'>` + x + `</configure></pubsub>`
	}
	a.ok("set", set("n", nodeConfig("pubsub#title", "Renamed", "pubsub#notify_config", "1", "pubsub#collection", "c1")))
	msg := b.event("n", "configuration")
	cv := formValues(msg.Child(nsEvent, "event").Child(nsEvent, "configuration").Child(nsX, "x"))
	if !slices.Equal(cv["pubsub#title"], []string{"Renamed"}) {
		t.Fatalf("configuration notification: %s", msg)
	}
	v = formValues(pubsubOf(t, a.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='n'/></pubsub>`), nsOwner).Child(nsOwner, "configure").Child(nsX, "x"))
	if !slices.Equal(v["pubsub#title"], []string{"Renamed"}) || !slices.Equal(v["pubsub#max_items"], []string{"10"}) || !slices.Equal(v["pubsub#collection"], []string{"c1"}) {
		t.Fatalf("after submission: %v", v)
	}
	// Cancel changes nothing.
	a.ok("set", set("n", `<x xmlns='jabber:x:data' type='cancel'/>`))
	// Children through the collection's form, and back.
	a.ok("set", set("c2", nodeConfig("pubsub#children", "n")))
	v = formValues(pubsubOf(t, a.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='n'/></pubsub>`), nsOwner).Child(nsOwner, "configure").Child(nsX, "x"))
	if got := slices.Sorted(slices.Values(v["pubsub#collection"])); !slices.Equal(got, []string{"c1", "c2"}) {
		t.Fatalf("parents: %v", v["pubsub#collection"])
	}
	v = formValues(pubsubOf(t, a.ok("get", `<pubsub xmlns='`+nsOwner+`'><configure node='c2'/></pubsub>`), nsOwner).Child(nsOwner, "configure").Child(nsX, "x"))
	if !slices.Equal(v["pubsub#children"], []string{"n"}) || !slices.Equal(v["pubsub#node_type"], []string{"collection"}) {
		t.Fatalf("collection form: %v", v)
	}
	a.ok("set", set("n", nodeConfig("pubsub#collection", "")))

	for _, tc := range []struct {
		name                     string
		who                      *client
		typ, payload             string
		errType, cond, app, feat string
	}{
		{"§8.2.3.2 insufficient privileges", b, "get", `<pubsub xmlns='` + nsOwner + `'><configure node='n'/></pubsub>`, "auth", "forbidden", "", ""},
		{"§8.2.3.2 insufficient privileges (set)", b, "set", set("n", nodeConfig("pubsub#title", "x")), "auth", "forbidden", "", ""},
		{"§8.2.3.3 NodeID required", a, "get", `<pubsub xmlns='` + nsOwner + `'><configure/></pubsub>`, "modify", "bad-request", "nodeid-required", ""},
		{"§8.2.3.5 node does not exist", a, "get", `<pubsub xmlns='` + nsOwner + `'><configure node='nope'/></pubsub>`, "cancel", "item-not-found", "", ""},
		{"§8.2.5.2 invalid value", a, "set", set("n", nodeConfig("pubsub#deliver_payloads", "perhaps")), "modify", "not-acceptable", "", ""},
		{"§8.2.5.2 unsupported access model", a, "set", set("n", nodeConfig("pubsub#access_model", "secret")), "modify", "not-acceptable", "unsupported-access-model", ""},
		{"XEP-0248 §7.2.3.4 node type change", a, "set", set("c1", nodeConfig("pubsub#node_type", "leaf")), "cancel", "not-allowed", "invalid-options", ""},
		{"XEP-0248 §7.2.3.1 children of a leaf", a, "set", set("n", nodeConfig("pubsub#children", "c1")), "cancel", "not-allowed", "invalid-options", ""},
		{"XEP-0248 §7.2.3.5 cycle", a, "set", set("c1", nodeConfig("pubsub#collection", "c2")+""), "", "", "", ""},
		{"no form", a, "set", `<pubsub xmlns='` + nsOwner + `'><configure node='n'/></pubsub>`, "modify", "bad-request", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.who.iq(tc.typ, tc.payload)
			if tc.cond == "" {
				if r.Attr("type") != "result" {
					t.Fatalf("want result, got %s", r)
				}
				return
			}
			wantError(t, r, tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
	// c1 is now in c2: c2 in c1 would be a cycle.
	wantError(t, a.iq("set", set("c2", nodeConfig("pubsub#collection", "c1"))), "cancel", "not-allowed", "invalid-options", "")
}

// TestDefaultConfig: the default node configuration (XEP-0060 §8.3), for
// leaves and collections (XEP-0248 §7.3).
func TestDefaultConfig(t *testing.T) {
	s := start(t, "", "alice")
	a := login(t, s, "alice", "phone")
	for _, tc := range []struct{ attr, typ string }{{"", "leaf"}, {" type='collection'", "collection"}} {
		r := a.ok("get", `<pubsub xmlns='`+nsOwner+`'><default`+tc.attr+`/></pubsub>`)
		x := pubsubOf(t, r, nsOwner).Child(nsOwner, "default").Child(nsX, "x")
		v := formValues(x)
		if x.Attr("type") != "form" || !slices.Equal(v["FORM_TYPE"], []string{nsPS + "#node_config"}) ||
			!slices.Equal(v["pubsub#node_type"], []string{tc.typ}) || !slices.Equal(v["pubsub#access_model"], []string{"open"}) ||
			!slices.Equal(v["pubsub#send_last_published_item"], []string{"on_sub_and_presence"}) {
			t.Fatalf("default %s: %s", tc.typ, r)
		}
	}
	wantError(t, a.iq("get", `<pubsub xmlns='`+nsOwner+`'><default type='tree'/></pubsub>`), "modify", "bad-request", "", "")
}

// TestDeleteNode: deleting a node notifies its subscribers, with the
// redirect URI (XEP-0060 §8.4.1-2); the errors of §8.4.3.
func TestDeleteNode(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	a.create("m")
	b.subscribe("n")
	wantError(t, b.iq("set", `<pubsub xmlns='`+nsOwner+`'><delete node='n'/></pubsub>`), "auth", "forbidden", "", "")
	wantError(t, a.iq("set", `<pubsub xmlns='`+nsOwner+`'><delete node='nope'/></pubsub>`), "cancel", "item-not-found", "", "")
	a.ok("set", `<pubsub xmlns='`+nsOwner+`'><delete node='n'><redirect uri='xmpp:`+service+`?;node=m'/></delete></pubsub>`)
	msg := b.event("n", "delete")
	if rd := msg.Child(nsEvent, "event").Child(nsEvent, "delete").Child(nsEvent, "redirect"); rd == nil || rd.Attr("uri") != "xmpp:"+service+"?;node=m" {
		t.Fatalf("delete notification: %s", msg)
	}
	wantError(t, b.iq("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='n' jid='bob@localhost'/></pubsub>`), "cancel", "item-not-found", "", "")
	r := b.ok("get", `<pubsub xmlns='`+nsPS+`'><subscriptions/></pubsub>`)
	if n := len(pubsubOf(t, r, nsPS).Child(nsPS, "subscriptions").ChildElements()); n != 0 {
		t.Fatalf("subscriptions survive the node: %s", r)
	}
}

// TestPurge: purging a node deletes its items and sends one <purge/>
// notification (XEP-0060 §8.5.1-2); the errors of §8.5.3.
func TestPurge(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	a.create("transient", "pubsub#persist_items", "false")
	b.subscribe("n")
	a.publish("n", "i1", `<v xmlns='urn:example'/>`)
	a.publish("n", "i2", `<v xmlns='urn:example'/>`)
	purge := func(node string) string {
		return `<pubsub xmlns='` + nsOwner + `'><purge node='` + node + `'/></pubsub>`
	}
	wantError(t, b.iq("set", purge("n")), "auth", "forbidden", "", "")
	wantError(t, a.iq("set", purge("nope")), "cancel", "item-not-found", "", "")
	wantError(t, a.iq("set", purge("transient")), "cancel", "feature-not-implemented", "unsupported", "persistent-items")
	a.ok("set", purge("n"))
	b.event("n", "purge")
	r := b.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`)
	if n := len(pubsubOf(t, r, nsPS).Child(nsPS, "items").ChildElements()); n != 0 {
		t.Fatalf("items after purge: %s", r)
	}
}

// TestManageSubscriptions: the owner lists (XEP-0060 §8.8.1) and changes
// (§8.8.2) subscriptions, removes a subscriber (§8.8.3), and the
// subscribers are told (§8.8.4); invalid entries come back with their
// current state in a not-acceptable error (§8.8.2.4).
func TestManageSubscriptions(t *testing.T) {
	s := start(t, "", "alice", "bob", "carol")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	c := login(t, s, "carol", "phone")
	a.create("n")
	b.subscribe("n")

	list := func() map[string]string {
		t.Helper()
		r := a.ok("get", `<pubsub xmlns='`+nsOwner+`'><subscriptions node='n'/></pubsub>`)
		l := pubsubOf(t, r, nsOwner).Child(nsOwner, "subscriptions")
		if l.Attr("node") != "n" {
			t.Fatalf("list: %s", r)
		}
		out := map[string]string{}
		for _, e := range l.ChildElements() {
			out[e.Attr("jid")] = e.Attr("subscription")
		}
		return out
	}
	if got := list(); len(got) != 1 || got["bob@localhost"] != "subscribed" {
		t.Fatalf("subscriptions: %v", got)
	}
	mod := func(entries string) string {
		return `<pubsub xmlns='` + nsOwner + `'><subscriptions node='n'>` + entries + `</subscriptions></pubsub>`
	}
	a.ok("set", mod(`<subscription jid='carol@localhost' subscription='subscribed'/><subscription jid='bob@localhost' subscription='none'/><subscription jid='nobody@localhost'/>`))
	msg := c.event("n", "subscription")
	if sub := msg.Child(nsEvent, "event").Child(nsEvent, "subscription"); sub.Attr("jid") != "carol@localhost" || sub.Attr("subscription") != "subscribed" {
		t.Fatalf("carol told: %s", msg)
	}
	msg = b.event("n", "subscription")
	if sub := msg.Child(nsEvent, "event").Child(nsEvent, "subscription"); sub.Attr("subscription") != "none" {
		t.Fatalf("bob told: %s", msg)
	}
	if got := list(); len(got) != 1 || got["carol@localhost"] != "subscribed" {
		t.Fatalf("subscriptions after change: %v", got)
	}
	a.publish("n", "i1", `<v xmlns='urn:example'/>`)
	c.itemEvent("n", "i1")

	// An unknown SubID fails, the other entry is applied.
	r := a.iq("set", mod(`<subscription jid='carol@localhost' subid='bogus' subscription='none'/><subscription jid='bob@localhost' subscription='subscribed'/>`))
	wantError(t, r, "modify", "not-acceptable", "", "")
	failed := pubsubOf(t, r, nsOwner).Child(nsOwner, "subscriptions").ChildElements()
	if len(failed) != 1 || failed[0].Attr("jid") != "carol@localhost" || failed[0].Attr("subid") != "bogus" || failed[0].Attr("subscription") != "none" {
		t.Fatalf("failed entries: %s", r)
	}
	if got := list(); got["bob@localhost"] != "subscribed" {
		t.Fatalf("the valid entry was not applied: %v", got)
	}

	for _, tc := range []struct {
		name, typ, payload       string
		errType, cond, app, feat string
	}{
		{"§8.8.1.3 insufficient privileges", "get", `<pubsub xmlns='` + nsOwner + `'><subscriptions node='n'/></pubsub>`, "auth", "forbidden", "", ""},
		{"§8.8.2.3 insufficient privileges", "set", mod(`<subscription jid='bob@localhost' subscription='none'/>`), "auth", "forbidden", "", ""},
		{"§8.8.1.4 node does not exist", "get", `<pubsub xmlns='` + nsOwner + `'><subscriptions node='nope'/></pubsub>`, "cancel", "item-not-found", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, b.iq(tc.typ, tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
	wantError(t, a.iq("set", mod(`<subscription jid='bob@localhost' subscription='maybe'/>`)), "modify", "bad-request", "", "")
}

// TestManageAffiliations: the owner lists (XEP-0060 §8.9.1) and changes
// (§8.9.2) affiliations; a publisher may publish, an outcast loses its
// subscription and may not subscribe; removing the last owner is refused
// with the entry (§8.9.2.4); two entries for one JID are bad-request.
func TestManageAffiliations(t *testing.T) {
	s := start(t, "", "alice", "bob", "carol")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	c := login(t, s, "carol", "phone")
	a.create("n")
	c.subscribe("n")
	mod := func(entries string) string {
		return `<pubsub xmlns='` + nsOwner + `'><affiliations node='n'>` + entries + `</affiliations></pubsub>`
	}
	wantError(t, b.iq("set", `<pubsub xmlns='`+nsPS+`'><publish node='n'><item><v xmlns='urn:example'/></item></publish></pubsub>`), "auth", "forbidden", "", "")
	a.ok("set", mod(`<affiliation jid='bob@localhost' affiliation='publisher'/><affiliation jid='carol@localhost' affiliation='outcast'/>`))
	b.publish("n", "by-bob", `<v xmlns='urn:example'/>`)
	msg := c.event("n", "subscription")
	if sub := msg.Child(nsEvent, "event").Child(nsEvent, "subscription"); sub.Attr("subscription") != "none" {
		t.Fatalf("outcast told: %s", msg)
	}
	wantError(t, c.iq("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='n' jid='carol@localhost'/></pubsub>`), "auth", "forbidden", "", "")

	r := a.ok("get", `<pubsub xmlns='`+nsOwner+`'><affiliations node='n'/></pubsub>`)
	got := map[string]string{}
	for _, e := range pubsubOf(t, r, nsOwner).Child(nsOwner, "affiliations").ChildElements() {
		got[e.Attr("jid")] = e.Attr("affiliation")
	}
	if len(got) != 3 || got["alice@localhost"] != "owner" || got["bob@localhost"] != "publisher" || got["carol@localhost"] != "outcast" {
		t.Fatalf("affiliations: %s", r)
	}

	r = a.iq("set", mod(`<affiliation jid='alice@localhost' affiliation='none'/><affiliation jid='carol@localhost' affiliation='none'/>`))
	wantError(t, r, "modify", "not-acceptable", "", "")
	failed := pubsubOf(t, r, nsOwner).Child(nsOwner, "affiliations").ChildElements()
	if len(failed) != 1 || failed[0].Attr("jid") != "alice@localhost" || failed[0].Attr("affiliation") != "owner" {
		t.Fatalf("failed entries: %s", r)
	}
	c.subscribe("n") // carol is no outcast anymore

	for _, tc := range []struct {
		name                     string
		who                      *client
		typ, payload             string
		errType, cond, app, feat string
	}{
		{"§8.9.1.3 insufficient privileges", b, "get", `<pubsub xmlns='` + nsOwner + `'><affiliations node='n'/></pubsub>`, "auth", "forbidden", "", ""},
		{"§8.9.2.3 insufficient privileges", b, "set", mod(`<affiliation jid='bob@localhost' affiliation='owner'/>`), "auth", "forbidden", "", ""},
		{"§8.9.1.4 node does not exist", a, "get", `<pubsub xmlns='` + nsOwner + `'><affiliations node='nope'/></pubsub>`, "cancel", "item-not-found", "", ""},
		{"§8.9.2.4 one JID twice", a, "set", mod(`<affiliation jid='bob@localhost' affiliation='member'/><affiliation jid='bob@localhost' affiliation='none'/>`), "modify", "bad-request", "", ""},
		{"unknown affiliation", a, "set", mod(`<affiliation jid='bob@localhost' affiliation='king'/>`), "modify", "bad-request", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, tc.who.iq(tc.typ, tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
}

// TestAuthorizeApproval: on a node with the authorize access model a
// subscription is pending (XEP-0060 §6.1.4), the owner gets the
// approval form (§8.6) and answers it: approval makes the subscriber
// subscribed and tells it, denial removes the request and tells it, a
// cancelled form leaves it pending. A pending subscriber may not
// subscribe again (§6.1.3.7) nor retrieve items (§6.5.9.3).
func TestAuthorizeApproval(t *testing.T) {
	s := start(t, "", "alice", "bob", "carol")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	c := login(t, s, "carol", "phone")
	a.create("n", "pubsub#access_model", "authorize")
	a.publish("n", "i1", `<v xmlns='urn:example'>first</v>`)

	r := b.subscribe("n")
	if sub := pubsubOf(t, r, nsPS).Child(nsPS, "subscription"); sub.Attr("subscription") != "pending" {
		t.Fatalf("want pending: %s", r)
	}
	approval := func(subscriber string) *stanza.Element {
		t.Helper()
		return a.message("approval form for "+subscriber, func(el *stanza.Element) bool {
			x := el.Child(nsX, "x")
			if x == nil {
				return false
			}
			v := formValues(x)
			return slices.Equal(v["FORM_TYPE"], []string{nsPS + "#subscribe_authorization"}) && slices.Equal(v["pubsub#subscriber_jid"], []string{subscriber})
		})
	}
	msg := approval("bob@localhost")
	v := formValues(msg.Child(nsX, "x"))
	if msg.Attr("from") != service || msg.Attr("to") != "alice@localhost" || !slices.Equal(v["pubsub#node"], []string{"n"}) ||
		len(v["pubsub#subid"]) != 1 || !slices.Equal(v["pubsub#allow"], []string{"false"}) || msg.Child(nsX, "x").Attr("type") != "form" {
		t.Fatalf("approval form: %s", msg)
	}
	wantError(t, b.iq("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='n' jid='bob@localhost'/></pubsub>`), "auth", "not-authorized", "pending-subscription", "")
	wantError(t, b.iq("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`), "auth", "not-authorized", "not-subscribed", "")

	answer := func(id, typ, subscriber, subid, allow string) {
		x := `<x xmlns='jabber:x:data' type='` + typ + `'><field var='FORM_TYPE' type='hidden'><value>` + nsPS + `#subscribe_authorization</value></field>` +
			`<field var='pubsub#subid'><value>` + subid + `</value></field><field var='pubsub#node'><value>n</value></field>` +
			`<field var='pubsub#subscriber_jid'><value>` + subscriber + `</value></field><field var='pubsub#allow'><value>` + allow + `</value></field></x>`
		a.Send(`<message to='` + service + `' id='` + id + `'>` + x + `</message>`)
	}
	subid := v["pubsub#subid"][0]
	answer(msg.Attr("id"), "cancel", "bob@localhost", subid, "true")
	a.sync()
	wantError(t, b.iq("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`), "auth", "not-authorized", "not-subscribed", "")

	answer(msg.Attr("id"), "submit", "bob@localhost", subid, "true")
	ev := b.event("n", "subscription")
	if sub := ev.Child(nsEvent, "event").Child(nsEvent, "subscription"); sub.Attr("subscription") != "subscribed" || sub.Attr("jid") != "bob@localhost" {
		t.Fatalf("approval notification: %s", ev)
	}
	b.itemEvent("n", "i1") // the last published item follows the approval
	b.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`)
	a.publish("n", "i2", `<v xmlns='urn:example'/>`)
	b.itemEvent("n", "i2")

	// Carol is denied.
	c.subscribe("n")
	msg = approval("carol@localhost")
	answer(msg.Attr("id"), "submit", "carol@localhost", formValues(msg.Child(nsX, "x"))["pubsub#subid"][0], "0")
	ev = c.event("n", "subscription")
	if sub := ev.Child(nsEvent, "event").Child(nsEvent, "subscription"); sub.Attr("subscription") != "none" {
		t.Fatalf("denial notification: %s", ev)
	}
	r = c.ok("get", `<pubsub xmlns='`+nsPS+`'><subscriptions/></pubsub>`)
	if n := len(pubsubOf(t, r, nsPS).Child(nsPS, "subscriptions").ChildElements()); n != 0 {
		t.Fatalf("denied subscription survives: %s", r)
	}

	// Answers that cannot be processed come back as message errors.
	answer("bad1", "submit", "carol@localhost", "", "1")
	el := a.message("error", func(el *stanza.Element) bool { return el.Attr("id") == "bad1" })
	wantError(t, el, "cancel", "unexpected-request", "not-subscribed", "")
	b.Send(`<message to='` + service + `' id='bad2'>` + form(nsPS+"#subscribe_authorization", "pubsub#node", "n", "pubsub#subscriber_jid", "carol@localhost", "pubsub#allow", "1") + `</message>`)
	el = b.message("error", func(el *stanza.Element) bool { return el.Attr("id") == "bad2" })
	wantError(t, el, "auth", "forbidden", "", "")
}

// TestPresenceAccess: on a node with the presence access model only the
// entities that receive an owner's presence may subscribe and retrieve
// items (XEP-0060 §4.5, §6.1.3.2, §6.5.9.6).
func TestPresenceAccess(t *testing.T) {
	s := start(t, "", "alice", "bob", "carol")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	c := login(t, s, "carol", "phone")
	// Bob asks for alice's presence; alice approves: her roster has bob
	// with subscription "from".
	b.Send(`<presence to='alice@localhost' type='subscribe'/>`)
	a.presence("subscribe", "bob@localhost")
	a.Send(`<presence to='bob@localhost' type='subscribed'/>`)
	b.presence("subscribed", "alice@localhost")
	// Carol only asks; alice does not answer.
	c.Send(`<presence to='alice@localhost' type='subscribe'/>`)
	a.presence("subscribe", "carol@localhost")

	a.create("n", "pubsub#access_model", "presence")
	a.publish("n", "i1", `<v xmlns='urn:example'/>`)
	r := b.subscribe("n")
	if sub := pubsubOf(t, r, nsPS).Child(nsPS, "subscription"); sub.Attr("subscription") != "subscribed" {
		t.Fatalf("contact subscribes: %s", r)
	}
	b.itemEvent("n", "i1")
	b.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`)
	wantError(t, c.iq("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='n' jid='carol@localhost'/></pubsub>`), "auth", "not-authorized", "presence-subscription-required", "")
	wantError(t, c.iq("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/></pubsub>`), "auth", "not-authorized", "presence-subscription-required", "")
	// The roster access model: bob is in no allowed group.
	a.create("r", "pubsub#access_model", "roster", "pubsub#roster_groups_allowed", "family")
	wantError(t, b.iq("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='r' jid='bob@localhost'/></pubsub>`), "auth", "not-authorized", "not-in-roster-group", "")
	if r := a.iqTo("alice@localhost", "set", `<query xmlns='jabber:iq:roster'><item jid='bob@localhost'><group>family</group></item></query>`); r.Attr("type") != "result" {
		t.Fatalf("roster set: %s", r)
	}
	b.subscribe("r")
}
