// Package pubsubtest is the conformance suite of pubsub.Store: every
// implementation (pubsub.MemStore, the SQL backends) runs it from its own
// _test.go file:
//
//	func TestPubSubStore(t *testing.T) {
//		pubsubtest.TestProvider(t, func(t *testing.T) pubsub.StoreProvider {
//			s := openFreshBackend(t)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Times are compared to the millisecond: the suite uses whole
// milliseconds, the precision a backend must at least keep for
// Node.Created and Item.Published.
package pubsubtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// Opener returns a fresh, empty Store for one test and registers its
// cleanup with t.Cleanup. The suite calls it once per subtest.
type Opener = func(t *testing.T) pubsub.Store

// ProviderOpener returns a fresh, empty backend for one test and registers
// its cleanup with t.Cleanup.
type ProviderOpener = func(t *testing.T) pubsub.StoreProvider

// TestProvider runs TestStore on one service of the backend, and checks
// that the services of one backend are isolated.
func TestProvider(t *testing.T, open ProviderOpener) {
	t.Run("Store", func(t *testing.T) {
		TestStore(t, func(t *testing.T) pubsub.Store { return open(t).PubSubStore("pubsub.example.com") })
	})
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open) })
}

// TestStore runs the Store conformance tests as subtests, each on a store
// returned by open.
func TestStore(t *testing.T, open Opener) {
	t.Run("Nodes", func(t *testing.T) { testNodes(t, open(t)) })
	t.Run("Affiliations", func(t *testing.T) { testAffiliations(t, open(t)) })
	t.Run("Subscriptions", func(t *testing.T) { testSubscriptions(t, open(t)) })
	t.Run("DeleteNode", func(t *testing.T) { testDeleteNode(t, open(t)) })
	t.Run("Items", func(t *testing.T) { testItems(t, open(t)) })
	t.Run("ItemQuery", func(t *testing.T) { testItemQuery(t, open(t)) })
	t.Run("Payloads", func(t *testing.T) { testPayloads(t, open(t)) })
	t.Run("MissingNode", func(t *testing.T) { testMissingNode(t, open(t)) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelled(t, open(t)) })
}

var (
	t0    = time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	owner = jid.MustParse("owner@example.com")
	alice = jid.MustParse("alice@example.com")
	bob   = jid.MustParse("bob@example.net")
	bobR  = jid.MustParse("bob@example.net/phone")
)

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// fullConfig returns a configuration in which every option differs from
// DefaultConfig.
func fullConfig() pubsub.Config {
	return pubsub.Config{
		AccessModel:           pubsub.AccessRoster,
		PublishModel:          pubsub.PublishSubscribers,
		RosterGroupsAllowed:   []string{"friends", "Família", ""},
		PersistItems:          false,
		MaxItems:              pubsub.MaxItemsMax,
		PublishNodeFull:       pubsub.FullRetractOldest,
		ItemExpire:            36*time.Hour + 7*time.Second,
		MaxPayloadSize:        4096,
		DeliverNotifications:  false,
		DeliverPayloads:       false,
		NotifyConfig:          true,
		NotifyDelete:          false,
		NotifyRetract:         false,
		NotifySub:             true,
		NotificationType:      pubsub.NotificationNormal,
		PresenceBasedDelivery: true,
		SendLastPublishedItem: pubsub.SendLastNever,
		Subscribe:             false,
		Title:                 "Title \"quoted\" 'and' <tagged> ☃",
		Description:           "line one\nline two\x00after NUL",
		Type:                  "urn:xmpp:avatar:metadata",
		Language:              "de-CH",
		Contact:               []jid.JID{alice, bobR},
		BodyXSLT:              "https://example.com/body.xsl",
		DataformXSLT:          "https://example.com/form.xsl",
		ItemReply:             pubsub.ItemReplyPublisher,
		PurgeOffline:          true,
		TempSub:               true,
		ChildrenMax:           7,
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// load returns the service's nodes in NodeID order, with affiliations and
// subscriptions sorted: LoadNodes promises no order.
func load(t *testing.T, st pubsub.Store) []pubsub.NodeState {
	t.Helper()
	states, err := st.LoadNodes(context.Background())
	if err != nil {
		t.Fatalf("LoadNodes: %v", err)
	}
	slices.SortFunc(states, func(a, b pubsub.NodeState) int { return cmp.Compare(a.Node.ID, b.Node.ID) })
	for i := range states {
		slices.SortFunc(states[i].Affiliations, func(a, b pubsub.Affiliated) int {
			return cmp.Compare(a.JID.String(), b.JID.String())
		})
		slices.SortFunc(states[i].Subscriptions, func(a, b pubsub.Subscription) int {
			return cmp.Or(cmp.Compare(a.JID.String(), b.JID.String()), cmp.Compare(a.SubID, b.SubID))
		})
	}
	return states
}

// loadNode returns the loaded state of one node.
func loadNode(t *testing.T, st pubsub.Store, id pubsub.NodeID) pubsub.NodeState {
	t.Helper()
	for _, s := range load(t, st) {
		if s.Node.ID == id {
			return s
		}
	}
	t.Fatalf("node %q not loaded", id)
	return pubsub.NodeState{}
}

func nodeIDs(states []pubsub.NodeState) []pubsub.NodeID {
	out := []pubsub.NodeID{}
	for _, s := range states {
		out = append(out, s.Node.ID)
	}
	return out
}

func itemIDs(items []pubsub.Item) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

// checkNode compares a loaded node with the one stored.
func checkNode(t *testing.T, got, want pubsub.Node) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || !slices.Equal(got.Parents, want.Parents) ||
		!got.Created.Equal(want.Created) || got.Creator != want.Creator {
		t.Errorf("node %q loaded as %+v, want %+v", want.ID, got, want)
	}
	if len(want.Parents) == 0 && got.Parents != nil {
		t.Errorf("node %q: Parents %#v, want nil", want.ID, got.Parents)
	}
	if !got.Config.Equal(want.Config) {
		t.Errorf("node %q: config loaded as\n%+v\nwant\n%+v", want.ID, got.Config, want.Config)
	}
}

func affString(as []pubsub.Affiliated) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%s:%s=%s ", a.Node, a.JID, a.Affiliation)
	}
	return b.String()
}

func subString(ss []pubsub.Subscription) string {
	var b strings.Builder
	for _, s := range ss {
		o := s.Options
		fmt.Fprintf(&b, "%s:%s#%s=%s{%t %t %d %t %q %s %d} ", s.Node, s.JID, s.SubID, s.State,
			o.Deliver, o.Digest, o.DigestFrequency, o.IncludeBody, o.ShowValues, o.Type, o.Depth)
	}
	return b.String()
}

func checkAffs(t *testing.T, st pubsub.Store, id pubsub.NodeID, want ...pubsub.Affiliated) {
	t.Helper()
	if got, w := affString(loadNode(t, st, id).Affiliations), affString(want); got != w {
		t.Errorf("affiliations of %q: %s, want %s", id, got, w)
	}
}

func checkSubs(t *testing.T, st pubsub.Store, id pubsub.NodeID, want ...pubsub.Subscription) {
	t.Helper()
	if got, w := subString(loadNode(t, st, id).Subscriptions), subString(want); got != w {
		t.Errorf("subscriptions of %q:\n%s\nwant\n%s", id, got, w)
	}
}

func testNodes(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	if got := load(t, st); len(got) != 0 {
		t.Fatalf("new store has nodes %v", nodeIDs(got))
	}
	c := pubsub.Node{ID: "c", Type: pubsub.Collection, Config: pubsub.DefaultConfig()} // zero Created and Creator
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: c}))
	n := pubsub.Node{ID: "n", Parents: []pubsub.NodeID{"c"}, Config: fullConfig(), Created: at(0), Creator: owner}
	sub := pubsub.Subscription{Node: "n", JID: bobR, SubID: "s1", State: pubsub.SubUnconfigured, Options: pubsub.DefaultSubOptions()}
	in := n
	in.Parents = slices.Clone(n.Parents)
	in.Config = n.Config.Clone()
	must(t, st.CreateNode(ctx, pubsub.NodeState{
		Node: in,
		Affiliations: []pubsub.Affiliated{
			{Node: "n", JID: owner, Affiliation: pubsub.AffOwner},
			{Node: "n", JID: alice, Affiliation: pubsub.AffNone}, // not stored
			{Node: "n", JID: bob, Affiliation: pubsub.AffPublishOnly},
		},
		Subscriptions: []pubsub.Subscription{sub},
	}))
	in.Parents[0] = "changed" // not retained
	in.Config.Contact[0] = bob
	states := load(t, st)
	if got := nodeIDs(states); !slices.Equal(got, []pubsub.NodeID{"c", "n"}) {
		t.Fatalf("nodes %v", got)
	}
	checkNode(t, states[0].Node, c)
	if !states[0].Node.Created.IsZero() || !states[0].Node.Creator.IsZero() {
		t.Errorf("zero Created/Creator loaded as %v %v", states[0].Node.Created, states[0].Node.Creator)
	}
	if len(states[0].Affiliations) != 0 || len(states[0].Subscriptions) != 0 {
		t.Errorf("node c loaded with %+v", states[0])
	}
	checkNode(t, states[1].Node, n)
	checkAffs(t, st, "n",
		pubsub.Affiliated{Node: "n", JID: bob, Affiliation: pubsub.AffPublishOnly},
		pubsub.Affiliated{Node: "n", JID: owner, Affiliation: pubsub.AffOwner})
	checkSubs(t, st, "n", sub)

	// A duplicate changes nothing.
	wantErr(t, "duplicate CreateNode", st.CreateNode(ctx, pubsub.NodeState{
		Node:         pubsub.Node{ID: "n", Type: pubsub.Collection, Config: pubsub.DefaultConfig()},
		Affiliations: []pubsub.Affiliated{{Node: "n", JID: alice, Affiliation: pubsub.AffOwner}},
	}), storage.ErrExists)
	checkNode(t, loadNode(t, st, "n").Node, n)
	checkAffs(t, st, "n",
		pubsub.Affiliated{Node: "n", JID: bob, Affiliation: pubsub.AffPublishOnly},
		pubsub.Affiliated{Node: "n", JID: owner, Affiliation: pubsub.AffOwner})

	// UpdateNode replaces type, parents and configuration, and keeps the
	// affiliations, subscriptions and items.
	_, err := st.PutItem(ctx, "n", pubsub.Item{ID: "i", Publisher: owner, Payload: []byte("<x/>"), Published: at(1)}, -1)
	must(t, err)
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "b", Type: pubsub.Collection, Config: pubsub.DefaultConfig()}}))
	n.Config = pubsub.DefaultConfig()
	n.Config.Title = "renamed"
	n.Parents = []pubsub.NodeID{"c", "b"} // order kept
	must(t, st.UpdateNode(ctx, n))
	checkNode(t, loadNode(t, st, "n").Node, n)
	n.Parents = []pubsub.NodeID{"b", "c"}
	n.Type = pubsub.Collection
	must(t, st.UpdateNode(ctx, n))
	checkNode(t, loadNode(t, st, "n").Node, n)
	n.Parents = nil
	n.Type = pubsub.Leaf
	must(t, st.UpdateNode(ctx, n))
	checkNode(t, loadNode(t, st, "n").Node, n)
	checkAffs(t, st, "n",
		pubsub.Affiliated{Node: "n", JID: bob, Affiliation: pubsub.AffPublishOnly},
		pubsub.Affiliated{Node: "n", JID: owner, Affiliation: pubsub.AffOwner})
	checkSubs(t, st, "n", sub)
	if c, err := st.CountItems(ctx, "n"); err != nil || c != 1 {
		t.Errorf("items after UpdateNode: %d, %v", c, err)
	}
	wantErr(t, "UpdateNode of a missing node", st.UpdateNode(ctx, pubsub.Node{ID: "zz", Config: pubsub.DefaultConfig()}), storage.ErrNotFound)
	if got := nodeIDs(load(t, st)); !slices.Equal(got, []pubsub.NodeID{"b", "c", "n"}) {
		t.Errorf("nodes %v", got)
	}

	// NodeIDs are opaque: no character is special.
	odd := []pubsub.NodeID{"", "a'b\"c", "%", "_", "a%", "N", "urn:xmpp:avatar:data", "ü/ü", "x\x00y", pubsub.NodeID(strings.Repeat("é", 511))}
	for i, id := range odd {
		must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: id, Parents: []pubsub.NodeID{odd[(i+1)%len(odd)]}, Config: pubsub.DefaultConfig(), Created: at(i)}}))
	}
	states = load(t, st)
	if len(states) != 3+len(odd) {
		t.Fatalf("%d nodes, want %d", len(states), 3+len(odd))
	}
	for i, id := range odd {
		got := loadNode(t, st, id)
		checkNode(t, got.Node, pubsub.Node{ID: id, Parents: []pubsub.NodeID{odd[(i+1)%len(odd)]}, Config: pubsub.DefaultConfig(), Created: at(i)})
	}
	must(t, st.DeleteNode(ctx, "%"))
	if got := loadNode(t, st, "a'b\"c").Node.Parents; got != nil {
		t.Errorf("parents after deleting %%: %q", got)
	}
	if got := loadNode(t, st, "_").Node.Parents; !slices.Equal(got, []pubsub.NodeID{"a%"}) {
		t.Errorf("parents of _: %q", got)
	}
}

func testAffiliations(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}))
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "m", Config: pubsub.DefaultConfig()}}))
	must(t, st.SetAffiliation(ctx, "n", owner, pubsub.AffOwner))
	must(t, st.SetAffiliation(ctx, "n", alice, pubsub.AffMember))
	must(t, st.SetAffiliation(ctx, "n", bob, pubsub.AffOutcast))
	must(t, st.SetAffiliation(ctx, "m", alice, pubsub.AffPublisher))
	checkAffs(t, st, "n",
		pubsub.Affiliated{Node: "n", JID: alice, Affiliation: pubsub.AffMember},
		pubsub.Affiliated{Node: "n", JID: bob, Affiliation: pubsub.AffOutcast},
		pubsub.Affiliated{Node: "n", JID: owner, Affiliation: pubsub.AffOwner})
	must(t, st.SetAffiliation(ctx, "n", alice, pubsub.AffPublisher)) // replaces
	must(t, st.SetAffiliation(ctx, "n", bob, pubsub.AffNone))        // removes
	must(t, st.SetAffiliation(ctx, "n", bob, pubsub.AffNone))        // nothing to remove
	checkAffs(t, st, "n",
		pubsub.Affiliated{Node: "n", JID: alice, Affiliation: pubsub.AffPublisher},
		pubsub.Affiliated{Node: "n", JID: owner, Affiliation: pubsub.AffOwner})
	checkAffs(t, st, "m", pubsub.Affiliated{Node: "m", JID: alice, Affiliation: pubsub.AffPublisher})
	for a := pubsub.AffOwner; a <= pubsub.AffOutcast; a++ {
		must(t, st.SetAffiliation(ctx, "m", bob, a))
		checkAffs(t, st, "m",
			pubsub.Affiliated{Node: "m", JID: alice, Affiliation: pubsub.AffPublisher},
			pubsub.Affiliated{Node: "m", JID: bob, Affiliation: a})
	}
}

func testSubscriptions(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}))
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "m", Config: pubsub.DefaultConfig()}}))
	opts := pubsub.SubOptions{
		Deliver: false, Digest: true, DigestFrequency: 86_400_000, IncludeBody: true,
		ShowValues: []string{"chat", "online"}, Type: pubsub.SubTypeItems, Depth: pubsub.DepthAll,
	}
	s1 := pubsub.Subscription{Node: "n", JID: alice, SubID: "s1", State: pubsub.SubPending, Options: opts}
	in := s1
	in.Options.ShowValues = slices.Clone(opts.ShowValues)
	must(t, st.PutSubscription(ctx, "n", in))
	in.Options.ShowValues[0] = "dnd" // not retained
	checkSubs(t, st, "n", s1)

	s1.State = pubsub.SubSubscribed // replaces
	s1.Options = pubsub.DefaultSubOptions()
	must(t, st.PutSubscription(ctx, "n", s1))
	s2 := pubsub.Subscription{Node: "n", JID: alice, SubID: "s2", State: pubsub.SubUnconfigured, Options: opts}
	s3 := pubsub.Subscription{Node: "n", JID: bobR, SubID: "s1", State: pubsub.SubSubscribed,
		Options: pubsub.SubOptions{Deliver: true, Type: pubsub.SubTypeAll, Depth: 3}}
	s4 := pubsub.Subscription{Node: "n", JID: bob, SubID: "s1", State: pubsub.SubNone, Options: pubsub.DefaultSubOptions()}
	must(t, st.PutSubscription(ctx, "n", s2))
	must(t, st.PutSubscription(ctx, "n", s3)) // a full JID and its bare JID are distinct
	must(t, st.PutSubscription(ctx, "n", s4))
	must(t, st.PutSubscription(ctx, "m", pubsub.Subscription{Node: "m", JID: alice, SubID: "s1", State: pubsub.SubSubscribed, Options: opts}))
	checkSubs(t, st, "n", s1, s2, s4, s3)

	must(t, st.DeleteSubscription(ctx, "n", alice, "s2"))
	wantErr(t, "DeleteSubscription again", st.DeleteSubscription(ctx, "n", alice, "s2"), storage.ErrNotFound)
	wantErr(t, "DeleteSubscription of another JID's SubID", st.DeleteSubscription(ctx, "n", alice.Domainpart(), "s1"), storage.ErrNotFound)
	must(t, st.DeleteSubscription(ctx, "n", bob, "s1"))
	checkSubs(t, st, "n", s1, s3)
	checkSubs(t, st, "m", pubsub.Subscription{Node: "m", JID: alice, SubID: "s1", State: pubsub.SubSubscribed, Options: opts})
	must(t, st.DeleteSubscription(ctx, "m", alice, "s1"))
	checkSubs(t, st, "m")
	checkSubs(t, st, "n", s1, s3)
}

func testDeleteNode(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	for _, id := range []pubsub.NodeID{"c", "d"} {
		must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: id, Type: pubsub.Collection, Config: pubsub.DefaultConfig()}}))
	}
	n := pubsub.Node{ID: "n", Parents: []pubsub.NodeID{"c", "d"}, Config: pubsub.DefaultConfig(), Created: at(0), Creator: owner}
	m := pubsub.Node{ID: "m", Parents: []pubsub.NodeID{"d"}, Config: pubsub.DefaultConfig()}
	for _, nd := range []pubsub.Node{n, m} {
		must(t, st.CreateNode(ctx, pubsub.NodeState{
			Node:          nd,
			Affiliations:  []pubsub.Affiliated{{Node: nd.ID, JID: owner, Affiliation: pubsub.AffOwner}},
			Subscriptions: []pubsub.Subscription{{Node: nd.ID, JID: alice, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()}},
		}))
		for i, id := range []string{"x", "y"} {
			_, err := st.PutItem(ctx, nd.ID, pubsub.Item{ID: id, Publisher: owner, Payload: []byte(id), Published: at(i)}, -1)
			must(t, err)
		}
	}

	must(t, st.DeleteNode(ctx, "c"))
	if got := loadNode(t, st, "n").Node.Parents; !slices.Equal(got, []pubsub.NodeID{"d"}) {
		t.Errorf("parents of n after deleting c: %q", got)
	}
	must(t, st.DeleteNode(ctx, "d"))
	if got := nodeIDs(load(t, st)); !slices.Equal(got, []pubsub.NodeID{"m", "n"}) {
		t.Errorf("nodes %v", got)
	}
	for _, id := range []pubsub.NodeID{"m", "n"} {
		if got := loadNode(t, st, id).Node.Parents; got != nil {
			t.Errorf("parents of %s after deleting its collections: %#v", id, got)
		}
	}
	wantErr(t, "DeleteNode again", st.DeleteNode(ctx, "d"), storage.ErrNotFound)

	// Deleting n takes its items, affiliations and subscriptions: a new
	// node with its NodeID starts empty. m keeps its own.
	must(t, st.DeleteNode(ctx, "n"))
	if got := nodeIDs(load(t, st)); !slices.Equal(got, []pubsub.NodeID{"m"}) {
		t.Errorf("nodes %v", got)
	}
	wantErr(t, "CountItems of a deleted node", func() error { _, err := st.CountItems(ctx, "n"); return err }(), storage.ErrNotFound)
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}))
	got := loadNode(t, st, "n")
	if got.Node.Parents != nil || len(got.Affiliations) != 0 || len(got.Subscriptions) != 0 {
		t.Errorf("recreated node loaded as %+v", got)
	}
	if c, err := st.CountItems(ctx, "n"); err != nil || c != 0 {
		t.Errorf("recreated node has %d items (%v)", c, err)
	}
	page, err := st.Items(ctx, "n", pubsub.ItemQuery{})
	if err != nil || len(page.Items) != 0 || page.Count != 0 {
		t.Errorf("recreated node has items %v (%v)", itemIDs(page.Items), err)
	}
	wantErr(t, "DeleteItem of a deleted node's item", st.DeleteItem(ctx, "n", "x"), storage.ErrNotFound)
	wantErr(t, "DeleteSubscription of a deleted node's subscription", st.DeleteSubscription(ctx, "n", alice, "s"), storage.ErrNotFound)

	mst := loadNode(t, st, "m")
	if len(mst.Affiliations) != 1 || len(mst.Subscriptions) != 1 {
		t.Errorf("m loaded as %+v", mst)
	}
	if c, err := st.CountItems(ctx, "m"); err != nil || c != 2 {
		t.Errorf("m has %d items (%v)", c, err)
	}
}

func testItems(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}))
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "o", Config: pubsub.DefaultConfig()}}))
	put := func(id string, sec, max int) []string {
		t.Helper()
		tr, err := st.PutItem(ctx, "n", pubsub.Item{ID: id, Publisher: owner, Payload: []byte(id), Published: at(sec)}, max)
		if err != nil {
			t.Fatalf("PutItem(%s): %v", id, err)
		}
		return tr
	}
	items := func(id pubsub.NodeID) []string {
		t.Helper()
		page, err := st.Items(ctx, id, pubsub.ItemQuery{})
		if err != nil {
			t.Fatalf("Items: %v", err)
		}
		if page.Count != len(page.Items) || page.Index != 0 {
			t.Errorf("Items: count %d index %d for %d items", page.Count, page.Index, len(page.Items))
		}
		if c, err := st.CountItems(ctx, id); err != nil || c != len(page.Items) {
			t.Errorf("CountItems %d (%v), want %d", c, err, len(page.Items))
		}
		return itemIDs(page.Items)
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}

	check("empty node", items("n"), nil)
	for i, id := range []string{"a", "b", "c", "d"} {
		check("trimmed", put(id, i, -1), nil)
	}
	// The same ItemID in another node is another item.
	_, err := st.PutItem(ctx, "o", pubsub.Item{ID: "a", Publisher: alice, Payload: []byte("other"), Published: at(0)}, -1)
	must(t, err)
	check("items", items("n"), []string{"d", "c", "b", "a"})
	check("trimmed", put("b", 10, -1), nil) // b is now the newest
	check("after re-publishing b", items("n"), []string{"b", "d", "c", "a"})
	page, err := st.Items(ctx, "n", pubsub.ItemQuery{IDs: []string{"b"}})
	must(t, err)
	if len(page.Items) != 1 || !page.Items[0].Published.Equal(at(10)) {
		t.Errorf("re-published item: %+v", page.Items)
	}
	check("trimmed to 3", put("e", 11, 3), []string{"a", "c"})
	check("items", items("n"), []string{"e", "b", "d"})
	check("trimmed to 3 with overwrite", put("d", 12, 3), nil)
	check("items", items("n"), []string{"d", "e", "b"})
	check("trimmed to 5", put("f", 13, 5), nil)
	check("TrimItems(-1)", mustIDs(t)(st.TrimItems(ctx, "n", -1)), nil)
	check("TrimItems(4)", mustIDs(t)(st.TrimItems(ctx, "n", 4)), nil)
	check("TrimItems(2)", mustIDs(t)(st.TrimItems(ctx, "n", 2)), []string{"b", "e"})
	check("items", items("n"), []string{"f", "d"})
	check("trimmed to 0", put("g", 14, 0), []string{"d", "f", "g"})
	check("items", items("n"), nil)
	check("items of o", items("o"), []string{"a"})

	for i, id := range []string{"a", "b", "c", "d", "e"} {
		put(id, 20+i, -1)
	}
	wantErr(t, "DeleteItem of a missing item", st.DeleteItem(ctx, "n", "zz"), storage.ErrNotFound)
	must(t, st.DeleteItem(ctx, "n", "c"))
	wantErr(t, "DeleteItem again", st.DeleteItem(ctx, "n", "c"), storage.ErrNotFound)
	check("after DeleteItem", items("n"), []string{"e", "d", "b", "a"})
	check("DeleteItemsBefore(20s)", mustIDs(t)(st.DeleteItemsBefore(ctx, "n", at(20))), nil)
	check("DeleteItemsBefore(23s)", mustIDs(t)(st.DeleteItemsBefore(ctx, "n", at(23))), []string{"a", "b"}) // d, published at 23s, stays
	check("after DeleteItemsBefore", items("n"), []string{"e", "d"})
	check("items of o", items("o"), []string{"a"})
	must(t, st.PurgeItems(ctx, "n"))
	check("after PurgeItems", items("n"), nil)
	must(t, st.PurgeItems(ctx, "n"))
	check("items of o", items("o"), []string{"a"})
	put("a", 30, 1)
	check("after purge", items("n"), []string{"a"})
}

// mustIDs checks the error of a call returning item IDs.
func mustIDs(t *testing.T) func([]string, error) []string {
	return func(ids []string, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
}

func testItemQuery(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}))
	// b is re-published last: the order is b f e d c a.
	for i, id := range []string{"a", "b", "c", "d", "e", "f", "b"} {
		_, err := st.PutItem(ctx, "n", pubsub.Item{ID: id, Publisher: alice, Payload: []byte("<p>" + id + "</p>"), Published: at(i)}, -1)
		must(t, err)
	}
	tests := []struct {
		q     pubsub.ItemQuery
		want  []string
		count int
		index int
	}{
		{pubsub.ItemQuery{}, []string{"b", "f", "e", "d", "c", "a"}, 6, 0},
		{pubsub.ItemQuery{Max: 2}, []string{"b", "f"}, 6, 0},
		{pubsub.ItemQuery{Max: 10}, []string{"b", "f", "e", "d", "c", "a"}, 6, 0},
		{pubsub.ItemQuery{Max: 2, After: "f"}, []string{"e", "d"}, 6, 2},
		{pubsub.ItemQuery{Max: 2, After: "c"}, []string{"a"}, 6, 5},
		{pubsub.ItemQuery{Max: 2, After: "a"}, nil, 6, 6},
		{pubsub.ItemQuery{After: "e"}, []string{"d", "c", "a"}, 6, 3},
		{pubsub.ItemQuery{Max: 2, Before: "d"}, []string{"f", "e"}, 6, 1},
		{pubsub.ItemQuery{Max: 3, Before: "e"}, []string{"b", "f"}, 6, 0},
		{pubsub.ItemQuery{Max: 2, Before: "b"}, nil, 6, 0},
		{pubsub.ItemQuery{Before: "c"}, []string{"b", "f", "e", "d"}, 6, 0},
		{pubsub.ItemQuery{IDs: []string{"a", "e", "zz", "b"}}, []string{"b", "e", "a"}, 3, 0},
		{pubsub.ItemQuery{IDs: []string{"a", "e", "a"}}, []string{"e", "a"}, 2, 0},
		{pubsub.ItemQuery{IDs: []string{"a", "e", "b"}, Max: 1}, []string{"b"}, 3, 0},
		{pubsub.ItemQuery{IDs: []string{"a", "e", "b"}, Max: 1, After: "e"}, []string{"a"}, 3, 2},
		{pubsub.ItemQuery{IDs: []string{"a", "e", "b"}, Max: 1, Before: "a"}, []string{"e"}, 3, 1},
		{pubsub.ItemQuery{IDs: []string{"zz"}}, nil, 0, 0},
		{pubsub.ItemQuery{Since: at(3)}, []string{"b", "f", "e", "d"}, 4, 0},
		{pubsub.ItemQuery{Since: at(3), Max: 1, After: "e"}, []string{"d"}, 4, 3},
		{pubsub.ItemQuery{Since: at(3), Max: 1, Before: "e"}, []string{"f"}, 4, 1},
		{pubsub.ItemQuery{Since: at(3), IDs: []string{"a", "d"}}, []string{"d"}, 1, 0},
		{pubsub.ItemQuery{Since: at(7)}, nil, 0, 0},
		{pubsub.ItemQuery{Max: 1, SubID: "ignored"}, []string{"b"}, 6, 0},
	}
	for i, tt := range tests {
		page, err := st.Items(ctx, "n", tt.q)
		if err != nil {
			t.Errorf("%d: Items(%+v): %v", i, tt.q, err)
			continue
		}
		if got := itemIDs(page.Items); !slices.Equal(got, append([]string{}, tt.want...)) || page.Count != tt.count || page.Index != tt.index {
			t.Errorf("%d: Items(%+v) = %q count %d index %d, want %q count %d index %d",
				i, tt.q, got, page.Count, page.Index, tt.want, tt.count, tt.index)
		}
	}
	for i, q := range []pubsub.ItemQuery{
		{After: "zz"},
		{Before: "zz"},
		{Max: 1, After: "zz"},
		{IDs: []string{"a", "b"}, After: "e"}, // e is not selected
		{IDs: []string{"a", "b"}, Before: "e"},
		{Since: at(3), After: "c"}, // c has expired
		{Since: at(3), Before: "a"},
	} {
		if _, err := st.Items(ctx, "n", q); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("cursor %d (%+v): %v, want ErrNotFound", i, q, err)
		}
	}

	// Every field comes back.
	page, err := st.Items(ctx, "n", pubsub.ItemQuery{Max: 2})
	must(t, err)
	if len(page.Items) != 2 {
		t.Fatalf("%d items", len(page.Items))
	}
	for j, want := range []pubsub.Item{
		{ID: "b", Publisher: alice, Payload: []byte("<p>b</p>"), Published: at(6)},
		{ID: "f", Publisher: alice, Payload: []byte("<p>f</p>"), Published: at(5)},
	} {
		got := page.Items[j]
		if got.ID != want.ID || got.Publisher != want.Publisher || !bytes.Equal(got.Payload, want.Payload) || !got.Published.Equal(want.Published) {
			t.Errorf("item %d: %+v, want %+v", j, got, want)
		}
	}
}

func testPayloads(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}))
	binary := make([]byte, 512)
	for i := range binary {
		binary[i] = byte(i)
	}
	large := make([]byte, 3<<20)
	for i := range large {
		large[i] = byte(i*7 + i>>11)
	}
	large[0], large[len(large)-1] = 0x00, 0xff
	tests := []struct {
		id      string
		pub     jid.JID
		payload []byte
	}{
		{"nil", owner, nil},
		{"empty", owner, []byte{}},
		{"binary", bobR, binary},
		{"nul", owner, []byte{0x00}},
		{"ff", owner, []byte{0xff, 0xfe, 0x00, 0xff}},
		{"large", owner, large},
		{"no publisher", jid.JID{}, []byte("<x/>")},
		{strings.Repeat("é", 511) + "x", owner, []byte("long id")},
		{"'; DROP TABLE x; --", owner, []byte("<y/>")},
		{"%_*", owner, []byte("<z/>")},
		{"", owner, []byte("empty id")},
	}
	for i, tt := range tests {
		in := bytes.Clone(tt.payload)
		_, err := st.PutItem(ctx, "n", pubsub.Item{ID: tt.id, Publisher: tt.pub, Payload: in, Published: at(i)}, -1)
		must(t, err)
		if len(in) > 0 {
			in[0] ^= 0x55 // not retained
		}
	}
	for i, tt := range tests {
		page, err := st.Items(ctx, "n", pubsub.ItemQuery{IDs: []string{tt.id}})
		must(t, err)
		if len(page.Items) != 1 {
			t.Errorf("item %q: %d found", tt.id, len(page.Items))
			continue
		}
		got := page.Items[0]
		if got.ID != tt.id || got.Publisher != tt.pub || !bytes.Equal(got.Payload, tt.payload) || !got.Published.Equal(at(i)) {
			t.Errorf("item %q: id %q publisher %q published %v, payload of %d bytes equal %t",
				tt.id, got.ID, got.Publisher, got.Published, len(got.Payload), bytes.Equal(got.Payload, tt.payload))
		}
		if tt.payload == nil && got.Payload != nil {
			t.Errorf("item %q: nil payload loaded as %#v", tt.id, got.Payload)
		}
	}
	// Returned payloads are not shared.
	page, err := st.Items(ctx, "n", pubsub.ItemQuery{IDs: []string{"binary"}})
	must(t, err)
	page.Items[0].Payload[1] = 'X'
	page, err = st.Items(ctx, "n", pubsub.ItemQuery{IDs: []string{"binary"}})
	must(t, err)
	if !bytes.Equal(page.Items[0].Payload, binary) {
		t.Error("Items shares payloads")
	}
	page, err = st.Items(ctx, "n", pubsub.ItemQuery{})
	must(t, err)
	if page.Count != len(tests) || page.Items[0].ID != "" {
		t.Errorf("%d items, newest %q", page.Count, page.Items[0].ID)
	}
}

func testMissingNode(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}))
	_, err := st.PutItem(ctx, "n", pubsub.Item{ID: "i", Payload: []byte("x"), Published: at(0)}, -1)
	must(t, err)
	const id = "zz"
	sub := pubsub.Subscription{Node: id, JID: alice, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()}
	for name, err := range map[string]error{
		"UpdateNode":         st.UpdateNode(ctx, pubsub.Node{ID: id, Config: pubsub.DefaultConfig()}),
		"DeleteNode":         st.DeleteNode(ctx, id),
		"SetAffiliation":     st.SetAffiliation(ctx, id, alice, pubsub.AffMember),
		"PutSubscription":    st.PutSubscription(ctx, id, sub),
		"DeleteSubscription": st.DeleteSubscription(ctx, id, alice, "s"),
		"PutItem":            second(st.PutItem(ctx, id, pubsub.Item{ID: "i", Published: at(0)}, -1)),
		"TrimItems":          second(st.TrimItems(ctx, id, 0)),
		"DeleteItem":         st.DeleteItem(ctx, id, "i"),
		"DeleteItemsBefore":  second(st.DeleteItemsBefore(ctx, id, at(1))),
		"PurgeItems":         st.PurgeItems(ctx, id),
		"CountItems":         second(st.CountItems(ctx, id)),
		"Items":              second(st.Items(ctx, id, pubsub.ItemQuery{})),
	} {
		wantErr(t, name, err, storage.ErrNotFound)
	}
	// Nothing was created on the way.
	if got := nodeIDs(load(t, st)); !slices.Equal(got, []pubsub.NodeID{"n"}) {
		t.Errorf("nodes %v", got)
	}
	if c, err := st.CountItems(ctx, "n"); err != nil || c != 1 {
		t.Errorf("CountItems %d, %v", c, err)
	}
}

func second[T any](_ T, err error) error { return err }

func testCancelled(t *testing.T, st pubsub.Store) {
	ctx := context.Background()
	must(t, st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}))
	_, err := st.PutItem(ctx, "n", pubsub.Item{ID: "i", Payload: []byte("x"), Published: at(0)}, -1)
	must(t, err)
	must(t, st.PutSubscription(ctx, "n", pubsub.Subscription{Node: "n", JID: alice, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()}))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	sub := pubsub.Subscription{Node: "n", JID: bob, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()}
	for name, err := range map[string]error{
		"LoadNodes":          second(st.LoadNodes(cancelled)),
		"CreateNode":         st.CreateNode(cancelled, pubsub.NodeState{Node: pubsub.Node{ID: "m", Config: pubsub.DefaultConfig()}}),
		"UpdateNode":         st.UpdateNode(cancelled, pubsub.Node{ID: "n", Type: pubsub.Collection, Config: pubsub.DefaultConfig()}),
		"DeleteNode":         st.DeleteNode(cancelled, "n"),
		"SetAffiliation":     st.SetAffiliation(cancelled, "n", alice, pubsub.AffMember),
		"PutSubscription":    st.PutSubscription(cancelled, "n", sub),
		"DeleteSubscription": st.DeleteSubscription(cancelled, "n", alice, "s"),
		"PutItem":            second(st.PutItem(cancelled, "n", pubsub.Item{ID: "j", Published: at(1)}, -1)),
		"TrimItems":          second(st.TrimItems(cancelled, "n", 0)),
		"DeleteItem":         st.DeleteItem(cancelled, "n", "i"),
		"DeleteItemsBefore":  second(st.DeleteItemsBefore(cancelled, "n", at(10))),
		"PurgeItems":         st.PurgeItems(cancelled, "n"),
		"CountItems":         second(st.CountItems(cancelled, "n")),
		"Items":              second(st.Items(cancelled, "n", pubsub.ItemQuery{})),
	} {
		wantErr(t, name+" with a cancelled context", err, context.Canceled)
	}
	// Nothing changed.
	states := load(t, st)
	if len(states) != 1 || states[0].Node.Type != pubsub.Leaf || len(states[0].Affiliations) != 0 ||
		subString(states[0].Subscriptions) != subString([]pubsub.Subscription{{Node: "n", JID: alice, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()}}) {
		t.Errorf("after cancelled calls: %+v", states)
	}
	page, err := st.Items(ctx, "n", pubsub.ItemQuery{})
	must(t, err)
	if got := itemIDs(page.Items); !slices.Equal(got, []string{"i"}) {
		t.Errorf("items after cancelled calls: %q", got)
	}
}

func testIsolation(t *testing.T, open ProviderOpener) {
	ctx := context.Background()
	p := open(t)
	a, b := p.PubSubStore("a"), p.PubSubStore("pep:alice")
	for _, st := range []pubsub.Store{a, b} {
		for _, id := range []pubsub.NodeID{"c", "n"} {
			typ := pubsub.Leaf
			if id == "c" {
				typ = pubsub.Collection
			}
			must(t, st.CreateNode(ctx, pubsub.NodeState{
				Node:          pubsub.Node{ID: id, Type: typ, Parents: parentsOf(id), Config: pubsub.DefaultConfig(), Created: at(0), Creator: owner},
				Affiliations:  []pubsub.Affiliated{{Node: id, JID: owner, Affiliation: pubsub.AffOwner}},
				Subscriptions: []pubsub.Subscription{{Node: id, JID: alice, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()}},
			}))
		}
		for i, id := range []string{"x", "y"} {
			_, err := st.PutItem(ctx, "n", pubsub.Item{ID: id, Publisher: owner, Payload: []byte(id), Published: at(i)}, -1)
			must(t, err)
		}
	}
	if got := nodeIDs(load(t, p.PubSubStore("b"))); len(got) != 0 {
		t.Errorf("service b has nodes %v", got)
	}
	if got := nodeIDs(load(t, p.PubSubStore("pep:"))); len(got) != 0 {
		t.Errorf("service pep: has nodes %v", got)
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{{"pep:", []string{"pep:alice"}}, {"", []string{"a", "pep:alice"}}, {"pep:b", nil}, {"a", []string{"a"}}, {"%", nil}, {"_", nil}} {
		got, err := p.PubSubServices(ctx, tc.prefix)
		must(t, err)
		if !slices.Equal(got, tc.want) {
			t.Errorf("PubSubServices(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}

	// Changes to b leave a alone.
	wantErr(t, "DeleteItem of a's item through b", b.DeleteItem(ctx, "n", "zz"), storage.ErrNotFound)
	_, err := b.PutItem(ctx, "n", pubsub.Item{ID: "x", Publisher: bob, Payload: []byte("b's x"), Published: at(5)}, 1)
	must(t, err)
	must(t, b.SetAffiliation(ctx, "n", owner, pubsub.AffNone))
	must(t, b.SetAffiliation(ctx, "n", bob, pubsub.AffMember))
	must(t, b.DeleteSubscription(ctx, "n", alice, "s"))
	must(t, b.UpdateNode(ctx, pubsub.Node{ID: "n", Config: fullConfig()}))
	must(t, b.DeleteNode(ctx, "c"))
	if got := nodeIDs(load(t, b)); !slices.Equal(got, []pubsub.NodeID{"n"}) {
		t.Errorf("nodes of b: %v", got)
	}

	a2 := p.PubSubStore("a") // another Store over the same service
	if got := nodeIDs(load(t, a2)); !slices.Equal(got, []pubsub.NodeID{"c", "n"}) {
		t.Fatalf("nodes of a: %v", got)
	}
	n := loadNode(t, a2, "n")
	checkNode(t, n.Node, pubsub.Node{ID: "n", Parents: []pubsub.NodeID{"c"}, Config: pubsub.DefaultConfig(), Created: at(0), Creator: owner})
	checkAffs(t, a2, "n", pubsub.Affiliated{Node: "n", JID: owner, Affiliation: pubsub.AffOwner})
	checkSubs(t, a2, "n", pubsub.Subscription{Node: "n", JID: alice, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()})
	page, err := a2.Items(ctx, "n", pubsub.ItemQuery{})
	must(t, err)
	if got := itemIDs(page.Items); !slices.Equal(got, []string{"y", "x"}) || string(page.Items[1].Payload) != "x" {
		t.Errorf("items of a: %q", got)
	}

	// And the other way round.
	must(t, a.PurgeItems(ctx, "n"))
	must(t, a.DeleteNode(ctx, "n"))
	page, err = b.Items(ctx, "n", pubsub.ItemQuery{})
	must(t, err)
	if got := itemIDs(page.Items); !slices.Equal(got, []string{"x"}) || string(page.Items[0].Payload) != "b's x" {
		t.Errorf("items of b: %q", got)
	}
	checkAffs(t, b, "n", pubsub.Affiliated{Node: "n", JID: bob, Affiliation: pubsub.AffMember})
	if got := loadNode(t, b, "n").Node.Config; !got.Equal(fullConfig()) {
		t.Errorf("config of b's node: %+v", got)
	}
}

func parentsOf(id pubsub.NodeID) []pubsub.NodeID {
	if id == "n" {
		return []pubsub.NodeID{"c"}
	}
	return nil
}
