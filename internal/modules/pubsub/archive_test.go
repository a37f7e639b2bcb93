package pubsub_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const nsMAM = "urn:xmpp:mam:2"

// archiveQuery queries the archive of node at the service with an RSM
// <set/> (may be ""), and returns the items' ids of the results in order
// and the <fin/>.
func (c *client) archiveQuery(node, set string) ([]string, *stanza.Element) {
	c.t.Helper()
	qid := nextID()
	r := c.iq("set", `<query xmlns='`+nsMAM+`' queryid='`+qid+`' node='`+node+`'>`+set+`</query>`)
	if r.Attr("type") != "result" {
		c.t.Fatalf("archive query: %s", r)
	}
	var ids []string
	for _, el := range c.inbox {
		res := el.Child(nsMAM, "result")
		if el.Local != "message" || res == nil || res.Attr("queryid") != qid {
			continue
		}
		if el.Attr("from") != service {
			c.t.Errorf("result from %q", el.Attr("from"))
		}
		fwd := res.Child("urn:xmpp:forward:0", "forwarded")
		msg := fwd.Child(stanza.NSClient, "message")
		if fwd.Child("urn:xmpp:delay", "delay") == nil || msg == nil {
			c.t.Fatalf("result %s", el)
		}
		items := msg.Child(nsEvent, "event").Child(nsEvent, "items")
		if items == nil || items.Attr("node") != node || items.FirstChild() == nil {
			c.t.Fatalf("archived notification %s", msg)
		}
		ids = append(ids, items.FirstChild().Attr("id"))
	}
	c.inbox = slices.DeleteFunc(c.inbox, func(el *stanza.Element) bool { return el.Child(nsMAM, "result") != nil })
	return ids, r.Child(nsMAM, "fin")
}

// TestNodeArchive: every item published to a node is in the node's
// archive (XEP-0313 on a pubsub node) beyond pubsub#max_items, in order,
// with result set paging; only those who may retrieve the node's items
// may query it; the archive goes with the node.
func TestNodeArchive(t *testing.T) {
	s := start(t, "", "sensor", "dashboard", "stranger")
	sensor := login(t, s, "sensor", "dev")
	dash := login(t, s, "dashboard", "web")
	stranger := login(t, s, "stranger", "x")
	sensor.create("temp", "pubsub#max_items", "1", "pubsub#access_model", "whitelist")
	sensor.ok("set", `<pubsub xmlns='`+nsOwner+`'><affiliations node='temp'><affiliation jid='dashboard@localhost' affiliation='member'/></affiliations></pubsub>`)
	var want []string
	for i := range 5 {
		want = append(want, sensor.publish("temp", fmt.Sprint("r", i), fmt.Sprintf(`<reading xmlns='urn:example'>%d</reading>`, 20+i)))
	}
	// Archiving is asynchronous: wait until all five are there.
	var ids []string
	xmpptest.WaitFor(t, "five archived items", 10*time.Second, func() bool {
		ids, _ = dash.archiveQuery("temp", "")
		return len(ids) == 5
	})
	if !slices.Equal(ids, want) {
		t.Fatalf("archive %v, want %v", ids, want)
	}
	// Paging: two at a time.
	page, fin := dash.archiveQuery("temp", `<set xmlns='`+nsRSM+`'><max>2</max></set>`)
	if !slices.Equal(page, want[:2]) || fin.Attr("complete") == "true" {
		t.Fatalf("first page %v %s", page, fin)
	}
	last := fin.Child(nsRSM, "set").Child(nsRSM, "last").Text()
	page, fin = dash.archiveQuery("temp", `<set xmlns='`+nsRSM+`'><max>10</max><after>`+last+`</after></set>`)
	if !slices.Equal(page, want[2:]) || fin.Attr("complete") != "true" {
		t.Fatalf("second page %v %s", page, fin)
	}
	// The node keeps one item; the archive all five.
	r := dash.ok("get", `<pubsub xmlns='`+nsPS+`'><items node='temp'/></pubsub>`)
	if got := itemIDs(pubsubOf(t, r, nsPS).Child(nsPS, "items")); len(got) != 1 {
		t.Fatalf("node items %v", got)
	}
	// A whitelist node's archive is closed to strangers.
	wantError(t, stranger.iq("set", `<query xmlns='`+nsMAM+`' node='temp'/>`), "cancel", "not-allowed", "closed-node", "")
	wantError(t, dash.iq("set", `<query xmlns='`+nsMAM+`' node='nope'/>`), "cancel", "item-not-found", "", "")
	// Deleting the node deletes its archive: a new node of that name
	// starts with an empty one.
	sensor.ok("set", `<pubsub xmlns='`+nsOwner+`'><delete node='temp'/></pubsub>`)
	sensor.create("temp")
	xmpptest.WaitFor(t, "the archive to be deleted", 10*time.Second, func() bool {
		ids, _ := sensor.archiveQuery("temp", "")
		return len(ids) == 0
	})
}

// TestNodeArchiveRetention: archive_max_per_node keeps the newest.
func TestNodeArchiveRetention(t *testing.T) {
	s := start(t, "modules:\n  pubsub: {archive_max_per_node: 3, expire_interval: 50ms}\n", "sensor")
	sensor := login(t, s, "sensor", "dev")
	sensor.create("temp")
	var want []string
	for i := range 6 {
		want = append(want, sensor.publish("temp", fmt.Sprint("r", i), `<v xmlns='urn:example'/>`))
	}
	var ids []string
	xmpptest.WaitFor(t, "the archive trimmed to three", 10*time.Second, func() bool {
		ids, _ = sensor.archiveQuery("temp", "")
		return slices.Equal(ids, want[3:])
	})
}
