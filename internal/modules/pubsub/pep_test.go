package pubsub_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/caps"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const (
	nodeTune   = "http://jabber.org/protocol/tune"
	nodeGeoloc = "http://jabber.org/protocol/geoloc"
	capsNode   = "https://example.org/client"
)

// capsClient is a client that advertises entity capabilities (XEP-0115)
// and answers the server's disco#info requests about them.
type capsClient struct {
	*client
	features []string
	asked    int // disco#info requests answered
}

// info is the client's disco#info result payload.
func (c *capsClient) info(node string) *stanza.Element {
	q := stanza.NewElement(nsInfo, "query")
	if node != "" {
		q.SetAttr("node", node)
	}
	q.Append(stanza.NewElement(nsInfo, "identity", "category", "client", "type", "pc", "name", "test"))
	for _, f := range c.features {
		q.Append(stanza.NewElement(nsInfo, "feature", "var", f))
	}
	return q
}

// presence is an available presence with the client's caps.
func (c *capsClient) presence() string {
	ver, err := caps.VerString(c.info(""))
	if err != nil {
		c.t.Fatal(err)
	}
	h, _ := caps.Hash("sha-1", ver)
	return `<presence><c xmlns='` + caps.NS + `' hash='sha-1' node='` + capsNode + `' ver='` + h + `'/></presence>`
}

// serve reads stanzas until the server's disco#info request about the
// client's caps arrives, answers it, and keeps the rest in the inbox.
func (c *capsClient) serve() {
	c.t.Helper()
	for {
		el := c.read()
		if el.Local == "iq" && el.Attr("type") == "get" {
			if q := el.Child(nsInfo, "query"); q != nil {
				r := stanza.NewElement(stanza.NSClient, "iq", "type", "result", "id", el.Attr("id"), "to", el.Attr("from"))
				r.Append(c.info(q.Attr("node")))
				c.Send(string(r.AppendXML(nil, stanza.NSClient)))
				c.asked++
				return
			}
		}
		c.inbox = append(c.inbox, el)
	}
}

// loginCaps logs user in and sends initial presence with caps for the
// features (answering the server's question when ask is set: a ver the
// server already knows is not asked).
func loginCaps(t testing.TB, s *xmpptest.Server, user, resource string, ask bool, features ...string) *capsClient {
	t.Helper()
	c := &capsClient{client: &client{Client: xmpptest.Login(t, s, user, "secret", resource), t: t, bare: user + "@localhost"}, features: features}
	c.Send(c.presence())
	if ask {
		c.serve()
	}
	c.sync()
	c.dropPresence()
	return c
}

// befriend gives two accounts a mutual presence subscription before
// either logs in.
func befriend(t testing.TB, s *xmpptest.Server, a, b string, groups ...string) {
	t.Helper()
	ctx := context.Background()
	for _, p := range [][2]string{{a, b}, {b, a}} {
		it := storage.RosterItem{Contact: p[1] + "@localhost", Subscription: storage.SubBoth, Groups: groups}
		if _, err := s.Store().Rosters().PutRosterItem(ctx, p[0], it); err != nil {
			t.Fatal(err)
		}
	}
}

// pep sends a pubsub request to the account's own PEP service (no 'to').
func (c *client) pep(typ, payload string) *stanza.Element {
	c.t.Helper()
	id := nextID()
	c.Send(`<iq type='` + typ + `' id='` + id + `'>` + payload + `</iq>`)
	for {
		el := c.read()
		if el.Local == "iq" && el.Attr("id") == id {
			return el
		}
		c.inbox = append(c.inbox, el)
	}
}

func tune(title string) string {
	return `<tune xmlns='` + nodeTune + `'><title>` + title + `</title></tune>`
}

func publishTune(c *client, id, title string) *stanza.Element {
	c.t.Helper()
	r := c.pep("set", `<pubsub xmlns='`+nsPS+`'><publish node='`+nodeTune+`'><item id='`+id+`'>`+tune(title)+`</item></publish></pubsub>`)
	if r.Attr("type") != "result" {
		c.t.Fatalf("publish: %s", r)
	}
	return r
}

// pepEvent waits for the notification of item id of node from the
// account bare, addressed to the client's full JID.
func (c *client) pepEvent(from, node, id string) *stanza.Element {
	c.t.Helper()
	msg := c.message("PEP item "+id+" from "+from, func(el *stanza.Element) bool {
		return el.Attr("from") == from && eventItem(el, node, id) != nil
	})
	if to := msg.Attr("to"); !strings.Contains(to, "/") {
		c.t.Errorf("notification addressed to %q, want a full JID", to)
	}
	return msg
}

// TestPEPNotifications: a publish with no 'to' auto-creates the node
// (XEP-0163 §3) and notifies the account's own resources and its
// contacts with a presence subscription, only where their caps ask for
// the node (+notify, §4.3), from the account's bare JID.
func TestPEPNotifications(t *testing.T) {
	s := start(t, "", "juliet", "romeo", "nurse", "benvolio")
	befriend(t, s, "juliet", "romeo")
	befriend(t, s, "juliet", "nurse")
	balcony := loginCaps(t, s, "juliet", "balcony", true, nodeTune+"+notify", nodeGeoloc+"+notify")
	chamber := login(t, s, "juliet", "chamber") // no caps: no notifications
	romeo := loginCaps(t, s, "romeo", "orchard", true, nodeTune+"+notify")
	nurse := loginCaps(t, s, "nurse", "kitchen", true, nodeGeoloc+"+notify")
	benvolio := loginCaps(t, s, "benvolio", "street", false, nodeTune+"+notify") // romeo's caps: known
	if balcony.asked != 1 || romeo.asked != 1 {
		t.Fatalf("disco#info requests: balcony %d, romeo %d", balcony.asked, romeo.asked)
	}

	r := publishTune(chamber, "song1", "Finzi")
	if got := itemIDs(pubsubOf(t, r, nsPS).Child(nsPS, "publish")); len(got) != 1 || got[0] != "song1" {
		t.Fatalf("publish result %s", r)
	}
	for _, c := range []*client{balcony.client, romeo.client} {
		msg := c.pepEvent("juliet@localhost", nodeTune, "song1")
		if msg.Attr("type") != "headline" {
			t.Errorf("%s: notification type %q", c.bare, msg.Attr("type"))
		}
		if it := eventItem(msg, nodeTune, "song1"); it.Child(nodeTune, "tune") == nil {
			t.Errorf("%s: no payload in %s", c.bare, msg)
		}
	}
	chamber.quiet()
	nurse.quiet()
	benvolio.quiet()

	// The node has the PEP defaults: presence access (§5), one item.
	cfg := formValues(pubsubOf(t, chamber.pep("get", `<pubsub xmlns='`+nsOwner+`'><configure node='`+nodeTune+`'/></pubsub>`), nsOwner).
		Child(nsOwner, "configure").Child(nsX, "x"))
	if v := cfg["pubsub#access_model"]; len(v) != 1 || v[0] != "presence" {
		t.Errorf("access_model %q", v)
	}
	if v := cfg["pubsub#send_last_published_item"]; len(v) != 1 || v[0] != "on_sub_and_presence" {
		t.Errorf("send_last_published_item %q", v)
	}

	// A contact retrieves the items; a stranger may not (XEP-0060 §6.5.9.7).
	items := romeo.iqTo("juliet@localhost", "get", `<pubsub xmlns='`+nsPS+`'><items node='`+nodeTune+`'/></pubsub>`)
	if got := itemIDs(pubsubOf(t, items, nsPS).Child(nsPS, "items")); len(got) != 1 || got[0] != "song1" {
		t.Errorf("romeo's items: %s", items)
	}
	wantError(t, benvolio.iqTo("juliet@localhost", "get", `<pubsub xmlns='`+nsPS+`'><items node='`+nodeTune+`'/></pubsub>`),
		"auth", "not-authorized", "presence-subscription-required", "")
	// Only the account publishes to its PEP service.
	wantError(t, romeo.iqTo("juliet@localhost", "set", `<pubsub xmlns='`+nsPS+`'><publish node='`+nodeTune+`'><item>`+tune("x")+`</item></publish></pubsub>`),
		"auth", "forbidden", "", "")
	wantError(t, romeo.iqTo("juliet@localhost", "set", `<pubsub xmlns='`+nsPS+`'><create node='other'/></pubsub>`),
		"auth", "forbidden", "", "")

	// A retraction notifies the same resources.
	r = chamber.pep("set", `<pubsub xmlns='`+nsPS+`'><retract node='`+nodeTune+`' notify='true'><item id='song1'/></retract></pubsub>`)
	if r.Attr("type") != "result" {
		t.Fatalf("retract: %s", r)
	}
	for _, c := range []*client{balcony.client, romeo.client} {
		c.message("retraction", func(el *stanza.Element) bool {
			ev := el.Child(nsEvent, "event")
			return el.Attr("from") == "juliet@localhost" && ev != nil && ev.Child(nsEvent, "items") != nil &&
				ev.Child(nsEvent, "items").Child(nsEvent, "retract") != nil
		})
	}
	nurse.quiet()
}

// TestPEPLastItem: a resource that becomes available with +notify for a
// node receives its last item with a delay stamp (XEP-0163 §4.3.2),
// once: presence again with the same caps sends nothing, and a second
// session with a ver the server knows is not asked about it (XEP-0115
// caching).
func TestPEPLastItem(t *testing.T) {
	s := start(t, "", "juliet", "romeo")
	befriend(t, s, "juliet", "romeo")
	juliet := loginCaps(t, s, "juliet", "balcony", true, nodeTune+"+notify")
	publishTune(juliet.client, "song1", "Finzi")
	publishTune(juliet.client, "song2", "Holst")
	// Notifications are delivered asynchronously, in order per node: once
	// juliet has hers, nobody else gets these publications live.
	juliet.pepEvent("juliet@localhost", nodeTune, "song1")
	juliet.pepEvent("juliet@localhost", nodeTune, "song2")

	romeo := loginCaps(t, s, "romeo", "orchard", false, nodeTune+"+notify")
	msg := romeo.pepEvent("juliet@localhost", nodeTune, "song2")
	if msg.Child("urn:xmpp:delay", "delay") == nil {
		t.Errorf("last item without delay: %s", msg)
	}
	romeo.Send(romeo.presence())
	romeo.quiet()

	// Same caps on a second resource: the last item comes to that resource
	// only.
	phone := loginCaps(t, s, "romeo", "phone", false, nodeTune+"+notify")
	if phone.asked != 0 || romeo.asked != 0 {
		t.Errorf("known caps asked again")
	}
	m := phone.pepEvent("juliet@localhost", nodeTune, "song2")
	if m.Attr("to") != "romeo@localhost/phone" {
		t.Errorf("last item to %q", m.Attr("to"))
	}
	romeo.quiet()

	// The account's own new resource gets its own last item too (the
	// caps are known from juliet's first resource: not asked).
	own := loginCaps(t, s, "juliet", "chamber", false, nodeTune+"+notify")
	own.pepEvent("juliet@localhost", nodeTune, "song2")
}

// TestPEPDisco: the account's bare JID is a pubsub/pep service (XEP-0163
// §8.1) whose nodes are listed to those allowed to see them (§6.1).
func TestPEPDisco(t *testing.T) {
	s := start(t, "", "juliet", "romeo", "benvolio")
	befriend(t, s, "juliet", "romeo")
	juliet := login(t, s, "juliet", "balcony")
	romeo := login(t, s, "romeo", "orchard")
	benvolio := login(t, s, "benvolio", "street")

	info := juliet.iqTo("juliet@localhost", "get", `<query xmlns='`+nsInfo+`'/>`)
	q := info.Child(nsInfo, "query")
	if q == nil {
		t.Fatalf("disco#info: %s", info)
	}
	pep := false
	feats := map[string]bool{}
	for _, el := range q.ChildElements() {
		if el.Local == "identity" && el.Attr("category") == "pubsub" && el.Attr("type") == "pep" {
			pep = true
		}
		if el.Local == "feature" {
			feats[el.Attr("var")] = true
		}
	}
	if !pep {
		t.Errorf("no pubsub/pep identity: %s", info)
	}
	for _, f := range []string{"auto-create", "auto-subscribe", "filtered-notifications", "publish-options", "access-presence"} {
		if !feats[nsPS+"#"+f] {
			t.Errorf("no feature %s", f)
		}
	}

	publishTune(juliet, "song1", "Finzi")
	r := juliet.pep("set", `<pubsub xmlns='`+nsPS+`'><publish node='open-node'><item id='x'><x xmlns='urn:example'/></item></publish>`+
		`<publish-options>`+form(nsPS+"#publish-options", "pubsub#access_model", "open")+`</publish-options></pubsub>`)
	if r.Attr("type") != "result" {
		t.Fatalf("publish with options: %s", r)
	}
	nodes := func(c *client) []string {
		t.Helper()
		r := c.iqTo("juliet@localhost", "get", `<query xmlns='`+nsItems+`'/>`)
		if r.Attr("type") != "result" {
			t.Fatalf("disco#items: %s", r)
		}
		var out []string
		for _, it := range r.Child(nsItems, "query").ChildElements() {
			if it.Attr("jid") != "juliet@localhost" {
				t.Errorf("item jid %q", it.Attr("jid"))
			}
			out = append(out, it.Attr("node"))
		}
		return out
	}
	for _, tc := range []struct {
		c    *client
		want string
	}{{juliet, nodeTune + " open-node"}, {romeo, nodeTune + " open-node"}, {benvolio, "open-node"}} {
		if got := strings.Join(nodes(tc.c), " "); got != tc.want {
			t.Errorf("%s sees nodes %q, want %q", tc.c.bare, got, tc.want)
		}
	}
	// Node meta-data for those who may see it; item-not-found otherwise.
	r = romeo.iqTo("juliet@localhost", "get", `<query xmlns='`+nsInfo+`' node='`+nodeTune+`'/>`)
	if r.Attr("type") != "result" || r.Child(nsInfo, "query").Child(nsInfo, "identity").Attr("type") != "leaf" {
		t.Errorf("node info: %s", r)
	}
	wantError(t, benvolio.iqTo("juliet@localhost", "get", `<query xmlns='`+nsInfo+`' node='`+nodeTune+`'/>`), "cancel", "item-not-found", "", "")
}

// TestPEPRosterChange: when a contact loses the presence subscription a
// presence-access node requires, its explicit subscription is cancelled
// (XEP-0163 §7.1), and the contact is told.
func TestPEPRosterChange(t *testing.T) {
	s := start(t, "", "juliet", "romeo")
	befriend(t, s, "juliet", "romeo")
	juliet := login(t, s, "juliet", "balcony")
	romeo := login(t, s, "romeo", "orchard")
	publishTune(juliet, "song1", "Finzi")
	r := romeo.iqTo("juliet@localhost", "set", `<pubsub xmlns='`+nsPS+`'><subscribe node='`+nodeTune+`' jid='romeo@localhost'/></pubsub>`)
	if r.Attr("type") != "result" {
		t.Fatalf("subscribe: %s", r)
	}
	romeo.itemEvent(nodeTune, "song1") // the last item, on subscription
	// Explicit subscribers without caps get notifications at their bare JID.
	publishTune(juliet, "song2", "Holst")
	romeo.itemEvent(nodeTune, "song2")

	// Juliet cancels Romeo's presence subscription (RFC 6121 §3.2).
	juliet.Send(`<presence to='romeo@localhost' type='unsubscribed'/>`)
	romeo.message("cancellation", func(el *stanza.Element) bool {
		ev := el.Child(nsEvent, "event")
		if ev == nil || el.Attr("from") != "juliet@localhost" {
			return false
		}
		sub := ev.Child(nsEvent, "subscription")
		return sub != nil && sub.Attr("subscription") == "none" && sub.Attr("node") == nodeTune
	})
	subs := juliet.pep("get", `<pubsub xmlns='`+nsOwner+`'><subscriptions node='`+nodeTune+`'/></pubsub>`)
	if n := len(pubsubOf(t, subs, nsOwner).Child(nsOwner, "subscriptions").ChildElements()); n != 0 {
		t.Errorf("subscriptions left: %s", subs)
	}
	publishTune(juliet, "song3", "Elgar")
	romeo.quiet()
}

// TestPEPPersistsAndAccountRemoval: PEP nodes survive a restart (a
// contact coming online afterwards gets the last item), and go with the
// account: one registered again under the name has none.
func TestPEPPersistsAndAccountRemoval(t *testing.T) {
	yaml := "data_dir: " + t.TempDir()
	s := start(t, yaml, "juliet", "romeo")
	befriend(t, s, "juliet", "romeo")
	juliet := login(t, s, "juliet", "balcony")
	publishTune(juliet, "song1", "Finzi")
	s.Stop(t)

	s = start(t, yaml)
	romeo := loginCaps(t, s, "romeo", "orchard", true, nodeTune+"+notify")
	romeo.pepEvent("juliet@localhost", nodeTune, "song1")
	juliet = login(t, s, "juliet", "balcony")
	juliet.Send(`<iq type='set' id='unreg'><query xmlns='jabber:iq:register'><remove/></query></iq>`)
	for {
		el := juliet.read()
		if el.Local == "iq" && el.Attr("id") == "unreg" {
			if el.Attr("type") != "result" {
				t.Fatalf("remove: %s", el)
			}
			break
		}
	}
	xmpptest.WaitFor(t, "juliet removed", 5*time.Second, func() bool {
		_, err := s.Store().Users().GetUser(context.Background(), "juliet")
		return errors.Is(err, storage.ErrNotFound)
	})
	s.AddUser(t, "juliet", "secret")
	again := login(t, s, "juliet", "balcony")
	wantError(t, again.pep("get", `<pubsub xmlns='`+nsPS+`'><items node='`+nodeTune+`'/></pubsub>`), "cancel", "item-not-found", "", "")
	wantError(t, romeo.iqTo("juliet@localhost", "get", `<pubsub xmlns='`+nsPS+`'><items node='`+nodeTune+`'/></pubsub>`), "cancel", "item-not-found", "", "")
}
