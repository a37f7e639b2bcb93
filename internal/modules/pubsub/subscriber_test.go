package pubsub_test

import (
	"slices"
	"testing"

	"github.com/mote-xmpp/mote/stanza"
)

// TestSubscribe: subscribing a bare or full JID (XEP-0060 §6.1.1-2), with
// options in the same request (§6.3.7), and the last published item sent
// to the new subscriber with a delay stamp (§6.1.7).
func TestSubscribe(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	a.publish("n", "last", `<v xmlns='urn:example'>1</v>`)

	r := b.subscribe("n")
	sub := pubsubOf(t, r, nsPS).Child(nsPS, "subscription")
	if sub == nil || sub.Attr("node") != "n" || sub.Attr("jid") != "bob@localhost" || sub.Attr("subscription") != "subscribed" || sub.Attr("subid") == "" {
		t.Fatalf("subscribe result: %s", r)
	}
	msg := b.itemEvent("n", "last")
	if msg.Attr("from") != service || msg.Attr("to") != "bob@localhost" || msg.Attr("type") != "headline" || msg.Attr("id") == "" {
		t.Fatalf("last item: %s", msg)
	}
	if d := msg.Child("urn:xmpp:delay", "delay"); d == nil || d.Attr("stamp") == "" {
		t.Fatalf("last item without delay: %s", msg)
	}

	// Subscribing again returns the same subscription (§6.1.6).
	r2 := b.subscribe("n")
	if got := pubsubOf(t, r2, nsPS).Child(nsPS, "subscription").Attr("subid"); got != sub.Attr("subid") {
		t.Fatalf("second subscription %s, first %s", r2, r)
	}

	// A full JID, with options.
	r = b.ok("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='n' jid='bob@localhost/phone'/><options>`+
		subOptions("pubsub#deliver", "true", "pubsub#digest", "0")+`</options></pubsub>`)
	p := pubsubOf(t, r, nsPS)
	if sub := p.Child(nsPS, "subscription"); sub.Attr("jid") != "bob@localhost/phone" || sub.Attr("subscription") != "subscribed" {
		t.Fatalf("full JID subscription: %s", r)
	}
	opts := formValues(p.Child(nsPS, "options").Child(nsX, "x"))
	if !slices.Equal(opts["pubsub#deliver"], []string{"1"}) || !slices.Equal(opts["FORM_TYPE"], []string{nsPS + "#subscribe_options"}) {
		t.Fatalf("resulting options: %s", r)
	}
	if msg := b.itemEvent("n", "last"); msg.Attr("to") != "bob@localhost/phone" {
		t.Fatalf("last item to the full JID: %s", msg)
	}
}

// TestSubscribeErrors: the error cases of XEP-0060 §6.1.3 and §6.3.7.
func TestSubscribeErrors(t *testing.T) {
	s := start(t, "modules: {pubsub: {max_subscriptions_per_node: 2}}", "alice", "bob", "carol", "dave")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("open")
	a.create("closed", "pubsub#access_model", "whitelist")
	a.create("nosub", "pubsub#subscribe", "false")
	a.create("full")
	a.ok("set", `<pubsub xmlns='`+nsOwner+`'><affiliations node='open'><affiliation jid='bob@localhost' affiliation='outcast'/></affiliations></pubsub>`)
	a.subscribe("full")
	login(t, s, "carol", "phone").subscribe("full")

	sub := func(node, j string) string {
		return `<pubsub xmlns='` + nsPS + `'><subscribe node='` + node + `' jid='` + j + `'/></pubsub>`
	}
	for _, tc := range []struct {
		name, payload            string
		errType, cond, app, feat string
	}{
		{"§6.1.3.1 JIDs do not match", sub("full", "carol@localhost"), "modify", "bad-request", "invalid-jid", ""},
		{"§6.1.3.1 malformed JID", sub("full", "@@"), "modify", "bad-request", "invalid-jid", ""},
		{"§6.1.3.4 not on whitelist", sub("closed", "bob@localhost"), "cancel", "not-allowed", "closed-node", ""},
		{"§6.1.3.8 blocked", sub("open", "bob@localhost"), "auth", "forbidden", "", ""},
		{"§6.1.3.9 too many subscriptions", sub("full", "bob@localhost"), "wait", "policy-violation", "too-many-subscriptions", ""},
		{"§6.1.3.10 subscriptions not supported", sub("nosub", "bob@localhost"), "cancel", "feature-not-implemented", "unsupported", "subscribe"},
		{"§6.1.3.12 node does not exist", sub("nope", "bob@localhost"), "cancel", "item-not-found", "", ""},
		{"no jid", `<pubsub xmlns='` + nsPS + `'><subscribe node='full'/></pubsub>`, "modify", "bad-request", "jid-required", ""},
		{"no node", `<pubsub xmlns='` + nsPS + `'><subscribe jid='bob@localhost'/></pubsub>`, "modify", "bad-request", "nodeid-required", ""},
		{"§6.3.7 options with node", `<pubsub xmlns='` + nsPS + `'><subscribe node='full' jid='bob@localhost'/><options node='full'>` + subOptions() + `</options></pubsub>`, "modify", "bad-request", "", ""},
		{"§6.3.6.2 invalid options", `<pubsub xmlns='` + nsPS + `'><subscribe node='closed' jid='bob@localhost'/><options>` + subOptions("pubsub#subscription_depth", "deep") + `</options></pubsub>`, "modify", "bad-request", "invalid-options", ""},
		{"§6.3.6.2 unknown option", `<pubsub xmlns='` + nsPS + `'><subscribe node='open' jid='bob@localhost'/><options>` + subOptions("pubsub#expire", "presence") + `</options></pubsub>`, "modify", "bad-request", "invalid-options", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, b.iq("set", tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
}

// TestUnsubscribe: XEP-0060 §6.2 and its errors (§6.2.3), with SubIDs
// when a JID holds several subscriptions (multi-subscribe, §6.1.6).
func TestUnsubscribe(t *testing.T) {
	s := start(t, "modules: {pubsub: {multi_subscribe: true}}", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	unsub := func(node, j, subid string) string {
		attr := ""
		if subid != "" {
			attr = ` subid='` + subid + `'`
		}
		return `<pubsub xmlns='` + nsPS + `'><unsubscribe node='` + node + `' jid='` + j + `'` + attr + `/></pubsub>`
	}
	wantError(t, b.iq("set", unsub("n", "bob@localhost", "")), "cancel", "unexpected-request", "not-subscribed", "")
	id1 := pubsubOf(t, b.subscribe("n"), nsPS).Child(nsPS, "subscription").Attr("subid")
	id2 := pubsubOf(t, b.subscribe("n"), nsPS).Child(nsPS, "subscription").Attr("subid")
	if id1 == id2 {
		t.Fatalf("multi-subscribe gave one SubID %s", id1)
	}
	for _, tc := range []struct {
		name, payload            string
		errType, cond, app, feat string
	}{
		{"§6.2.3.1 no SubID", unsub("n", "bob@localhost", ""), "modify", "bad-request", "subid-required", ""},
		{"§6.2.3.2 no such subscriber", unsub("n", "bob@localhost/other", ""), "cancel", "unexpected-request", "not-subscribed", ""},
		{"§6.2.3.3 insufficient privileges", unsub("n", "alice@localhost", ""), "auth", "forbidden", "", ""},
		{"§6.2.3.4 node does not exist", unsub("nope", "bob@localhost", id1), "cancel", "item-not-found", "", ""},
		{"§6.2.3.5 bad SubID", unsub("n", "bob@localhost", "bogus"), "modify", "not-acceptable", "invalid-subid", ""},
		{"no jid", `<pubsub xmlns='` + nsPS + `'><unsubscribe node='n'/></pubsub>`, "modify", "bad-request", "jid-required", ""},
		{"§6.3.4.4 options: SubID required", `<pubsub xmlns='` + nsPS + `'><options node='n' jid='bob@localhost'>` + subOptions("pubsub#deliver", "0") + `</options></pubsub>`, "modify", "bad-request", "subid-required", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, b.iq("set", tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
	r := b.ok("set", unsub("n", "bob@localhost", id1))
	if sub := pubsubOf(t, r, nsPS).Child(nsPS, "subscription"); sub.Attr("subscription") != "none" || sub.Attr("subid") != id1 {
		t.Fatalf("unsubscribe result: %s", r)
	}
	b.ok("set", unsub("n", "bob@localhost", "")) // only id2 is left
	wantError(t, b.iq("set", unsub("n", "bob@localhost", "")), "cancel", "unexpected-request", "not-subscribed", "")
}

// TestSubscriptionOptions: retrieving and submitting subscription options
// (XEP-0060 §6.3), their errors (§6.3.4, §6.3.6) and the default options
// (§6.4). A subscription with pubsub#deliver off gets no notifications.
func TestSubscriptionOptions(t *testing.T) {
	s := start(t, "", "alice", "bob", "carol")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n")
	a.create("coll", "pubsub#node_type", "collection")
	b.subscribe("n")

	opts := func(node, j string) string {
		return `<pubsub xmlns='` + nsPS + `'><options node='` + node + `' jid='` + j + `'/></pubsub>`
	}
	r := b.ok("get", opts("n", "bob@localhost"))
	o := pubsubOf(t, r, nsPS).Child(nsPS, "options")
	x := o.Child(nsX, "x")
	v := formValues(x)
	if o.Attr("node") != "n" || o.Attr("jid") != "bob@localhost" || x.Attr("type") != "form" ||
		!slices.Equal(v["FORM_TYPE"], []string{nsPS + "#subscribe_options"}) || !slices.Equal(v["pubsub#deliver"], []string{"1"}) {
		t.Fatalf("options form: %s", r)
	}

	b.ok("set", `<pubsub xmlns='`+nsPS+`'><options node='n' jid='bob@localhost'>`+subOptions("pubsub#deliver", "false")+`</options></pubsub>`)
	v = formValues(pubsubOf(t, b.ok("get", opts("n", "bob@localhost")), nsPS).Child(nsPS, "options").Child(nsX, "x"))
	if !slices.Equal(v["pubsub#deliver"], []string{"0"}) || !slices.Equal(v["pubsub#subscription_depth"], []string{"1"}) {
		t.Fatalf("options after submit: %v", v)
	}
	a.publish("n", "i1", `<v xmlns='urn:example'/>`)
	b.quiet()

	for _, tc := range []struct {
		name, typ, payload       string
		errType, cond, app, feat string
	}{
		{"§6.3.4.1 insufficient privileges", "get", opts("n", "alice@localhost"), "auth", "forbidden", "", ""},
		{"§6.3.4.2 no such subscriber", "get", opts("n", "bob@localhost/x"), "cancel", "unexpected-request", "not-subscribed", ""},
		{"§6.3.4.3 subscriber JID required", "get", `<pubsub xmlns='` + nsPS + `'><options node='n'/></pubsub>`, "modify", "bad-request", "jid-required", ""},
		{"§6.3.4.5 invalid SubID", "get", `<pubsub xmlns='` + nsPS + `'><options node='n' jid='bob@localhost' subid='bogus'/></pubsub>`, "modify", "not-acceptable", "invalid-subid", ""},
		{"§6.3.4.6 node does not exist", "get", opts("nope", "bob@localhost"), "cancel", "item-not-found", "", ""},
		{"§6.3.6.2 invalid options", "set", `<pubsub xmlns='` + nsPS + `'><options node='n' jid='bob@localhost'>` + subOptions("pubsub#show-values", "sleepy") + `</options></pubsub>`, "modify", "bad-request", "invalid-options", ""},
		{"set without form", "set", opts("n", "bob@localhost"), "modify", "bad-request", "", ""},
		{"set for another JID", "set", `<pubsub xmlns='` + nsPS + `'><options node='n' jid='carol@localhost'>` + subOptions() + `</options></pubsub>`, "auth", "forbidden", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, b.iq(tc.typ, tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}

	// Default options, of the service and of a collection (XEP-0248 §6.1).
	for _, node := range []string{"", "coll"} {
		attr := ""
		if node != "" {
			attr = ` node='` + node + `'`
		}
		r := b.ok("get", `<pubsub xmlns='`+nsPS+`'><default`+attr+`/></pubsub>`)
		d := pubsubOf(t, r, nsPS).Child(nsPS, "default")
		v := formValues(d.Child(nsX, "x"))
		if d.Attr("node") != node || !slices.Equal(v["pubsub#subscription_type"], []string{"nodes"}) || !slices.Equal(v["pubsub#subscription_depth"], []string{"1"}) {
			t.Fatalf("default options %q: %s", node, r)
		}
	}
	wantError(t, b.iq("get", `<pubsub xmlns='`+nsPS+`'><default node='nope'/></pubsub>`), "cancel", "item-not-found", "", "")
}

// TestRetrieveItems: all items, the most recent ones (max_items), items by
// ItemID, and pages of XEP-0059 (XEP-0060 §6.5.2-8), newest first.
func TestRetrieveItems(t *testing.T) {
	s := start(t, "modules: {pubsub: {max_items_per_request: 3}}", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n", "pubsub#max_items", "10")
	a.create("empty")
	for _, id := range []string{"i1", "i2", "i3", "i4", "i5"} {
		a.publish("n", id, `<v xmlns='urn:example'>`+id+`</v>`)
	}
	get := func(payload string) (*stanza.Element, *stanza.Element) {
		t.Helper()
		p := pubsubOf(t, b.ok("get", `<pubsub xmlns='`+nsPS+`'>`+payload+`</pubsub>`), nsPS)
		return p.Child(nsPS, "items"), p.Child(nsRSM, "set")
	}
	rsmOf := func(set *stanza.Element) (first, index, last, count string) {
		if set == nil {
			return "", "", "", ""
		}
		if f := set.Child(nsRSM, "first"); f != nil {
			first, index = f.Text(), f.Attr("index")
		}
		if l := set.Child(nsRSM, "last"); l != nil {
			last = l.Text()
		}
		if c := set.Child(nsRSM, "count"); c != nil {
			count = c.Text()
		}
		return
	}

	// All items: the first page of the service's page size, marked truncated.
	items, set := get(`<items node='n'/>`)
	if got := itemIDs(items); !slices.Equal(got, []string{"i5", "i4", "i3"}) || items.Attr("node") != "n" {
		t.Fatalf("all items: %v", got)
	}
	if f, i, l, c := rsmOf(set); f != "i5" || i != "0" || l != "i3" || c != "5" {
		t.Fatalf("truncation set: %s", set)
	}
	payload := items.ChildElements()[0].FirstChild()
	if payload == nil || payload.Space != "urn:example" || payload.Text() != "i5" {
		t.Fatalf("payload: %s", items)
	}
	// The most recent two (§6.5.7).
	if items, set = get(`<items node='n' max_items='2'/>`); !slices.Equal(itemIDs(items), []string{"i5", "i4"}) || set != nil {
		t.Fatalf("max_items: %s %v", items, set)
	}
	// By ItemID (§6.5.8), unknown ones skipped (§6.5.9.11).
	if items, _ = get(`<items node='n'><item id='i2'/><item id='i4'/><item id='zz'/></items>`); !slices.Equal(slices.Sorted(slices.Values(itemIDs(items))), []string{"i2", "i4"}) {
		t.Fatalf("by id: %s", items)
	}
	// XEP-0059 pages.
	items, set = get(`<items node='n'/><set xmlns='` + nsRSM + `'><max>2</max></set>`)
	if f, i, l, c := rsmOf(set); !slices.Equal(itemIDs(items), []string{"i5", "i4"}) || f != "i5" || i != "0" || l != "i4" || c != "5" {
		t.Fatalf("page 1: %s %s", items, set)
	}
	items, set = get(`<items node='n'/><set xmlns='` + nsRSM + `'><max>2</max><after>i4</after></set>`)
	if f, i, l, _ := rsmOf(set); !slices.Equal(itemIDs(items), []string{"i3", "i2"}) || f != "i3" || i != "2" || l != "i2" {
		t.Fatalf("page 2: %s %s", items, set)
	}
	items, set = get(`<items node='n'/><set xmlns='` + nsRSM + `'><max>2</max><before>i3</before></set>`)
	if !slices.Equal(itemIDs(items), []string{"i5", "i4"}) {
		t.Fatalf("previous page: %s %s", items, set)
	}
	items, set = get(`<items node='n'/><set xmlns='` + nsRSM + `'><max>0</max></set>`)
	if _, _, _, c := rsmOf(set); len(itemIDs(items)) != 0 || c != "5" || set.Child(nsRSM, "first") != nil {
		t.Fatalf("count only: %s %s", items, set)
	}
	// No items: an empty <items/> (§6.5.9.11).
	if items, set = get(`<items node='empty'/>`); len(items.ChildElements()) != 0 || set != nil {
		t.Fatalf("empty node: %s", items)
	}

	wantError(t, b.iq("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/><set xmlns='`+nsRSM+`'><after>zz</after></set></pubsub>`), "cancel", "item-not-found", "", "")
	wantError(t, b.iq("get", `<pubsub xmlns='`+nsPS+`'><items node='n'/><set xmlns='`+nsRSM+`'><max>x</max></set></pubsub>`), "modify", "bad-request", "", "")
	wantError(t, b.iq("get", `<pubsub xmlns='`+nsPS+`'><items node='n' max_items='-1'/></pubsub>`), "modify", "bad-request", "", "")
}

// TestRetrieveItemsErrors: the error cases of XEP-0060 §6.5.9.
func TestRetrieveItemsErrors(t *testing.T) {
	s := start(t, "modules: {pubsub: {multi_subscribe: true}}", "alice", "bob", "carol")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("open")
	a.create("multi")
	a.create("auth", "pubsub#access_model", "authorize")
	a.create("white", "pubsub#access_model", "whitelist")
	a.create("coll", "pubsub#node_type", "collection")
	a.create("transient", "pubsub#persist_items", "false")
	a.create("transient2", "pubsub#persist_items", "false")
	a.publish("transient", "t1", `<v xmlns='urn:example'/>`)
	a.ok("set", `<pubsub xmlns='`+nsOwner+`'><affiliations node='open'><affiliation jid='bob@localhost' affiliation='outcast'/></affiliations></pubsub>`)
	b.subscribe("multi")
	b.subscribe("multi")

	items := func(node, extra string) string {
		return `<pubsub xmlns='` + nsPS + `'><items node='` + node + `'` + extra + `/></pubsub>`
	}
	for _, tc := range []struct {
		name, payload            string
		errType, cond, app, feat string
	}{
		{"§6.5.9.1 SubID required", items("multi", ""), "modify", "bad-request", "subid-required", ""},
		{"§6.5.9.2 invalid SubID", items("multi", " subid='bogus'"), "modify", "not-acceptable", "invalid-subid", ""},
		{"§6.5.9.3 not subscribed", items("auth", ""), "auth", "not-authorized", "not-subscribed", ""},
		{"§6.5.9.4 persistent items not supported", items("transient2", ""), "cancel", "feature-not-implemented", "unsupported", "persistent-items"},
		{"§6.5.9.5 item retrieval not supported", items("coll", ""), "cancel", "feature-not-implemented", "unsupported", "retrieve-items"},
		{"§6.5.9.8 not on whitelist", items("white", ""), "cancel", "not-allowed", "closed-node", ""},
		{"§6.5.9.10 blocked", items("open", ""), "auth", "forbidden", "", ""},
		{"§6.5.9.11 node does not exist", items("nope", ""), "cancel", "item-not-found", "", ""},
		{"no node", `<pubsub xmlns='` + nsPS + `'><items/></pubsub>`, "modify", "bad-request", "nodeid-required", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, b.iq("get", tc.payload), tc.errType, tc.cond, tc.app, tc.feat)
		})
	}
	// §6.5.6: a node that does not persist items returns its last one.
	r := b.ok("get", items("transient", ""))
	if got := itemIDs(pubsubOf(t, r, nsPS).Child(nsPS, "items")); !slices.Equal(got, []string{"t1"}) {
		t.Fatalf("last item of a transient node: %s", r)
	}
	// With its SubID, a JID holding several subscriptions gets the items.
	r = b.ok("get", `<pubsub xmlns='`+nsPS+`'><subscriptions node='multi'/></pubsub>`)
	subid := pubsubOf(t, r, nsPS).Child(nsPS, "subscriptions").FirstChild().Attr("subid")
	b.ok("get", items("multi", " subid='"+subid+"'"))
}
