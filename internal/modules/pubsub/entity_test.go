package pubsub_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/server"
	"github.com/mote-xmpp/mote/stanza"
)

// TestDiscoService: the service is listed by the server (XEP-0030 §4.1)
// and answers disco#info with pubsub/service and its features (XEP-0060
// §5.1, XEP-0248 §5.1).
func TestDiscoService(t *testing.T) {
	s := start(t, "", "alice")
	a := login(t, s, "alice", "phone")
	r := a.iqTo("localhost", "get", `<query xmlns='`+nsItems+`'/>`)
	found := false
	for _, it := range r.Child(nsItems, "query").ChildElements() {
		found = found || it.Attr("jid") == service
	}
	if !found {
		t.Fatalf("server disco#items does not list %s: %s", service, r)
	}
	r = a.ok("get", `<query xmlns='`+nsInfo+`'/>`)
	q := r.Child(nsInfo, "query")
	id := q.Child(nsInfo, "identity")
	if id == nil || id.Attr("category") != "pubsub" || id.Attr("type") != "service" {
		t.Fatalf("identity: %s", r)
	}
	var feats []string
	for _, f := range q.ChildElements() {
		if f.Local == "feature" {
			feats = append(feats, f.Attr("var"))
		}
	}
	for _, f := range []string{nsPS, nsPS + "#publish", nsPS + "#subscribe", nsPS + "#collections", nsPS + "#rsm",
		nsPS + "#create-and-configure", nsPS + "#publish-options", nsPS + "#retrieve-items", nsPS + "#subscription-options",
		nsPS + "#manage-subscriptions", nsPS + "#modify-affiliations", nsPS + "#purge-nodes", nsPS + "#delete-nodes"} {
		if !slices.Contains(feats, f) {
			t.Errorf("feature %s missing", f)
		}
	}
	if slices.Contains(feats, nsPS+"#auto-create") || slices.Contains(feats, nsPS+"#multi-subscribe") {
		t.Errorf("optional features advertised while off: %v", feats)
	}
}

// TestDiscoNodes: disco#items lists the top-level nodes (XEP-0060 §5.2),
// a collection's children (XEP-0248 §5.2) and a leaf's items (§5.5);
// disco#info on a node gives its identity and meta-data (§5.3, §5.4).
func TestDiscoNodes(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("weather", "pubsub#title", "Weather")
	a.create("sensors", "pubsub#node_type", "collection")
	a.create("temp", "pubsub#collection", "sensors")
	a.publish("weather", "w1", `<w xmlns='urn:example:w'/>`)

	items := func(node string) []string {
		t.Helper()
		attr := ""
		if node != "" {
			attr = ` node='` + node + `'`
		}
		r := b.ok("get", `<query xmlns='`+nsItems+`'`+attr+`/>`)
		var out []string
		for _, it := range r.Child(nsItems, "query").ChildElements() {
			if it.Attr("jid") != service {
				t.Fatalf("item jid: %s", r)
			}
			if n := it.Attr("node"); n != "" {
				out = append(out, n)
			} else {
				out = append(out, "item:"+it.Attr("name"))
			}
		}
		return out
	}
	if got := items(""); !slices.Equal(got, []string{"sensors", "weather"}) {
		t.Errorf("top-level nodes: %v", got)
	}
	if got := items("sensors"); !slices.Equal(got, []string{"temp"}) {
		t.Errorf("children: %v", got)
	}
	if got := items("weather"); !slices.Equal(got, []string{"item:w1"}) {
		t.Errorf("leaf items: %v", got)
	}
	wantError(t, b.iq("get", `<query xmlns='`+nsItems+`' node='nope'/>`), "cancel", "item-not-found", "", "")

	r := b.ok("get", `<query xmlns='`+nsInfo+`' node='weather'/>`)
	q := r.Child(nsInfo, "query")
	if id := q.Child(nsInfo, "identity"); id == nil || id.Attr("type") != "leaf" || id.Attr("category") != "pubsub" || q.Attr("node") != "weather" {
		t.Fatalf("leaf info: %s", r)
	}
	md := formValues(q.Child(nsX, "x"))
	if v := md["FORM_TYPE"]; len(v) != 1 || v[0] != nsPS+"#meta-data" {
		t.Errorf("meta-data FORM_TYPE: %v", v)
	}
	if v := md["pubsub#owner"]; !slices.Equal(v, []string{"alice@localhost"}) {
		t.Errorf("owners: %v", v)
	}
	if v := md["pubsub#creator"]; !slices.Equal(v, []string{"alice@localhost"}) {
		t.Errorf("creator: %v", v)
	}
	if v := md["pubsub#title"]; !slices.Equal(v, []string{"Weather"}) {
		t.Errorf("title: %v", v)
	}
	if len(md["pubsub#creation_date"]) != 1 || len(md["pubsub#access_model"]) != 1 {
		t.Errorf("meta-data: %v", md)
	}
	r = b.ok("get", `<query xmlns='`+nsInfo+`' node='sensors'/>`)
	if id := r.Child(nsInfo, "query").Child(nsInfo, "identity"); id == nil || id.Attr("type") != "collection" {
		t.Fatalf("collection info: %s", r)
	}
	wantError(t, b.iq("get", `<query xmlns='`+nsInfo+`' node='nope'/>`), "cancel", "item-not-found", "", "")
}

// TestUserSubscriptionsAndAffiliations: an entity lists its subscriptions
// (XEP-0060 §5.6) and affiliations (§5.7), at the service or one node.
func TestUserSubscriptionsAndAffiliations(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := login(t, s, "alice", "phone")
	b := login(t, s, "bob", "phone")
	a.create("n1")
	a.create("n2")
	b.subscribe("n1")
	b.ok("set", `<pubsub xmlns='`+nsPS+`'><subscribe node='n2' jid='bob@localhost/phone'/></pubsub>`)

	r := b.ok("get", `<pubsub xmlns='`+nsPS+`'><subscriptions/></pubsub>`)
	subs := pubsubOf(t, r, nsPS).Child(nsPS, "subscriptions").ChildElements()
	if len(subs) != 2 || subs[0].Attr("node") != "n1" || subs[0].Attr("jid") != "bob@localhost" ||
		subs[1].Attr("node") != "n2" || subs[1].Attr("jid") != "bob@localhost/phone" ||
		subs[0].Attr("subscription") != "subscribed" || subs[0].Attr("subid") == "" {
		t.Fatalf("subscriptions: %s", r)
	}
	r = b.ok("get", `<pubsub xmlns='`+nsPS+`'><subscriptions node='n2'/></pubsub>`)
	list := pubsubOf(t, r, nsPS).Child(nsPS, "subscriptions")
	if list.Attr("node") != "n2" || len(list.ChildElements()) != 1 {
		t.Fatalf("subscriptions at n2: %s", r)
	}
	r = a.ok("get", `<pubsub xmlns='`+nsPS+`'><subscriptions/></pubsub>`)
	if n := len(pubsubOf(t, r, nsPS).Child(nsPS, "subscriptions").ChildElements()); n != 0 {
		t.Fatalf("alice has no subscriptions: %s", r)
	}

	r = a.ok("get", `<pubsub xmlns='`+nsPS+`'><affiliations/></pubsub>`)
	affs := pubsubOf(t, r, nsPS).Child(nsPS, "affiliations").ChildElements()
	if len(affs) != 2 || affs[0].Attr("node") != "n1" || affs[0].Attr("affiliation") != "owner" || affs[1].Attr("node") != "n2" {
		t.Fatalf("affiliations: %s", r)
	}
	r = a.ok("get", `<pubsub xmlns='`+nsPS+`'><affiliations node='n2'/></pubsub>`)
	if affs := pubsubOf(t, r, nsPS).Child(nsPS, "affiliations").ChildElements(); len(affs) != 1 || affs[0].Attr("node") != "n2" {
		t.Fatalf("affiliations at n2: %s", r)
	}
	r = b.ok("get", `<pubsub xmlns='`+nsPS+`'><affiliations/></pubsub>`)
	if n := len(pubsubOf(t, r, nsPS).Child(nsPS, "affiliations").ChildElements()); n != 0 {
		t.Fatalf("bob has no affiliations: %s", r)
	}
}

// TestBadRequests: what is not a pubsub request of this service.
func TestBadRequests(t *testing.T) {
	s := start(t, "", "alice")
	a := login(t, s, "alice", "phone")
	a.create("n")
	for _, tc := range []struct {
		name, to, typ, payload string
		errType, cond          string
	}{
		{"unknown namespace", service, "get", `<query xmlns='urn:example'/>`, "cancel", "service-unavailable"},
		{"node JID", "n@" + service, "get", `<query xmlns='` + nsInfo + `'/>`, "cancel", "service-unavailable"},
		{"empty pubsub", service, "get", `<pubsub xmlns='` + nsPS + `'/>`, "modify", "bad-request"},
		{"unknown action", service, "set", `<pubsub xmlns='` + nsPS + `'><frobnicate node='n'/></pubsub>`, "cancel", "feature-not-implemented"},
		{"two actions", service, "set", `<pubsub xmlns='` + nsPS + `'><purge node='n'/><purge node='n'/></pubsub>`, "modify", "bad-request"},
		{"items set", service, "set", `<pubsub xmlns='` + nsPS + `'><items node='n'/></pubsub>`, "cancel", "feature-not-implemented"},
		{"configure with node", service, "set", `<pubsub xmlns='` + nsPS + `'><create node='m'/><configure node='m'/></pubsub>`, "modify", "bad-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, a.iqTo(tc.to, tc.typ, tc.payload), tc.errType, tc.cond, "", "")
		})
	}
	// A message that is not an approval form is refused.
	a.Send(`<message to='` + service + `' id='m1'><body>hi</body></message>`)
	el := a.message("error", func(el *stanza.Element) bool { return el.Attr("id") == "m1" })
	wantError(t, el, "cancel", "service-unavailable", "", "")
}

// TestConfig: an invalid modules.pubsub section stops the server from
// starting.
func TestConfig(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"modules: {pubsub: {create: everyone}}", "create"},
		{"modules: {pubsub: {admins: [localhost]}}", "admins"},
		{"modules: {pubsub: {domain: localhost}}", "domain"},
		{"modules: {pubsub: {max_payload_bytes: 0}}", "max_payload_bytes"},
		{"modules: {pubsub: {colour: blue}}", "colour"},
	} {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		if err := cfg.Decode(strings.NewReader(tc.yaml)); err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err == nil {
			srv.Shutdown(context.Background())
			t.Fatalf("%s: the server started", tc.yaml)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.yaml, err)
		}
	}
	// A service at another domain.
	s := start(t, "modules: {pubsub: {domain: things.localhost, name: Things}}", "alice")
	a := login(t, s, "alice", "phone")
	r := a.iqTo("things.localhost", "get", `<query xmlns='`+nsInfo+`'/>`)
	if id := r.Child(nsInfo, "query").Child(nsInfo, "identity"); id == nil || id.Attr("name") != "Things" {
		t.Fatalf("service at things.localhost: %s", r)
	}
	wantError(t, a.iq("get", `<query xmlns='`+nsInfo+`'/>`), "cancel", "remote-server-not-found", "", "")
}
