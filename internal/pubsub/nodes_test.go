package pubsub

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mote-xmpp/mote/jid"
)

func TestCreateNode(t *testing.T) {
	f := newFx(t, func(o *Options) {
		o.Limits = Limits{MaxNodes: 5, MaxNodesPerOwner: 3, MaxItemsPerNode: 50}
	})
	ctx := f.ctx
	id, err := f.svc.CreateNode(ctx, owner, NodeSpec{ID: "sensors"})
	if err != nil || id != "sensors" {
		t.Fatalf("named node: %q %v", id, err)
	}
	n, err := f.svc.Node(ctx, "sensors")
	must(t, err)
	if n.Type != Leaf || n.Creator != owner.JID.Bare() || !n.Config.Equal(DefaultConfig()) || !n.Created.Equal(f.clk.now()) {
		t.Errorf("node %+v", n)
	}
	affs, err := f.svc.Affiliations(ctx, owner, "sensors")
	must(t, err)
	if len(affs) != 1 || affs[0].JID != owner.JID.Bare() || affs[0].Affiliation != AffOwner {
		t.Errorf("creator's affiliation: %+v", affs)
	}

	// A NodeID that exists (§8.1.1).
	_, err = f.svc.CreateNode(ctx, alice, NodeSpec{ID: "sensors"})
	wantErr(t, err, ErrConflict)

	// An instant node gets a generated NodeID (§8.1.1).
	id, err = f.svc.CreateNode(ctx, owner, NodeSpec{})
	if err != nil || id == "" {
		t.Fatalf("instant node: %q %v", id, err)
	}
	if _, err := f.svc.Node(ctx, id); err != nil {
		t.Errorf("instant node %q: %v", id, err)
	}

	// Invalid configurations (§8.1.2, §8.2.5.2).
	bad := DefaultConfig()
	bad.AccessModel = 42
	_, err = f.svc.CreateNode(ctx, owner, NodeSpec{ID: "bad", Config: &bad})
	wantErr(t, err, ErrUnsupportedAccessModel)
	bad = DefaultConfig()
	bad.MaxItems = 51 // above the service's cap
	_, err = f.svc.CreateNode(ctx, owner, NodeSpec{ID: "bad", Config: &bad})
	wantErr(t, err, ErrNotAcceptable)
	_, err = f.svc.CreateNode(ctx, owner, NodeSpec{ID: "bad", Type: 7})
	wantErr(t, err, ErrUnsupported)
	_, err = f.svc.CreateNode(ctx, Actor{}, NodeSpec{ID: "bad"})
	wantErr(t, err, ErrBadRequest)
	_, err = f.svc.CreateNode(ctx, owner, NodeSpec{ID: "\xff"})
	wantErr(t, err, ErrBadRequest)

	// Limits: three nodes per owner, five in all.
	_, err = f.svc.CreateNode(ctx, owner, NodeSpec{ID: "third"})
	must(t, err)
	_, err = f.svc.CreateNode(ctx, owner, NodeSpec{ID: "fourth"})
	wantErr(t, err, ErrMaxNodesExceeded)
	for _, id := range []NodeID{"a1", "a2"} {
		_, err = f.svc.CreateNode(ctx, alice, NodeSpec{ID: id})
		must(t, err)
	}
	_, err = f.svc.CreateNode(ctx, bob, NodeSpec{ID: "b1"})
	wantErr(t, err, ErrMaxNodesExceeded)
	// Deleting a node frees the owner's quota.
	must(t, f.svc.DeleteNode(ctx, owner, "third", ""))
	_, err = f.svc.CreateNode(ctx, owner, NodeSpec{ID: "fourth"})
	must(t, err)

	// Options.CanCreate (§8.1.1 insufficient privileges).
	g := newFx(t, func(o *Options) { o.CanCreate = func(a Actor) bool { return a.Self } })
	_, err = g.svc.CreateNode(ctx, alice, NodeSpec{ID: "x"})
	wantErr(t, err, ErrForbidden)
	_, err = g.svc.CreateNode(ctx, Actor{JID: alice.JID, Self: true}, NodeSpec{ID: "x"})
	must(t, err)
}

// TestNodeDoesNotExist checks item-not-found for every operation on a
// missing node, and nodeid-required where the NodeID is missing.
func TestNodeDoesNotExist(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	const x = NodeID("missing")
	j := alice.JID.Bare()
	ops := map[string]func(NodeID) error{
		"node":          func(id NodeID) error { _, err := s.Node(ctx, id); return err },
		"configuration": func(id NodeID) error { _, err := s.Configuration(ctx, owner, id); return err },
		"configure":     func(id NodeID) error { return s.Configure(ctx, owner, id, DefaultConfig()) },
		"set parents":   func(id NodeID) error { return s.SetParents(ctx, owner, id, nil) },
		"delete":        func(id NodeID) error { return s.DeleteNode(ctx, owner, id, "") },
		"purge":         func(id NodeID) error { return s.Purge(ctx, owner, id) },
		"subscribe":     func(id NodeID) error { _, err := s.Subscribe(ctx, alice, id, j, nil); return err },
		"unsubscribe":   func(id NodeID) error { return s.Unsubscribe(ctx, alice, id, j, "") },
		"options":       func(id NodeID) error { _, err := s.SubscriptionOptions(ctx, alice, id, j, ""); return err },
		"set options": func(id NodeID) error {
			return s.SetSubscriptionOptions(ctx, alice, id, j, "", DefaultSubOptions())
		},
		"publish": func(id NodeID) error {
			_, err := s.Publish(ctx, owner, id, []Item{{Payload: []byte("<x/>")}}, PublishOptions{})
			return err
		},
		"retract":          func(id NodeID) error { return s.Retract(ctx, owner, id, []string{"i"}, false) },
		"items":            func(id NodeID) error { _, err := s.Items(ctx, alice, id, ItemQuery{}); return err },
		"last":             func(id NodeID) error { _, _, err := s.LastPublished(ctx, alice, id); return err },
		"subscriptions":    func(id NodeID) error { _, err := s.Subscriptions(ctx, owner, id); return err },
		"pending":          func(id NodeID) error { _, err := s.Pending(ctx, owner, id); return err },
		"approve":          func(id NodeID) error { return s.Approve(ctx, owner, id, j, "", true) },
		"set subs":         func(id NodeID) error { return s.SetSubscriptions(ctx, owner, id, nil) },
		"affiliations":     func(id NodeID) error { _, err := s.Affiliations(ctx, owner, id); return err },
		"set affiliations": func(id NodeID) error { return s.SetAffiliations(ctx, owner, id, nil) },
	}
	for name, op := range ops {
		if err := op(x); !errors.Is(err, ErrNodeNotFound) {
			t.Errorf("%s: %v, want item-not-found", name, err)
		}
		if err := op(""); !errors.Is(err, ErrNodeIDRequired) {
			t.Errorf("%s without NodeID: %v, want nodeid-required", name, err)
		}
	}
	_, err := s.Children(ctx, x)
	wantErr(t, err, ErrNodeNotFound)
}

// TestNotOwner checks forbidden for the owner use cases (§8) requested by
// a publisher.
func TestNotOwner(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("n", nil)
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: alice.JID, Affiliation: AffPublisher}}))
	j := bob.JID.Bare()
	ops := map[string]func() error{
		"configuration":    func() error { _, err := s.Configuration(ctx, alice, "n"); return err },
		"configure":        func() error { return s.Configure(ctx, alice, "n", DefaultConfig()) },
		"set parents":      func() error { return s.SetParents(ctx, alice, "n", nil) },
		"delete":           func() error { return s.DeleteNode(ctx, alice, "n", "") },
		"subscriptions":    func() error { _, err := s.Subscriptions(ctx, alice, "n"); return err },
		"pending":          func() error { _, err := s.Pending(ctx, alice, "n"); return err },
		"approve":          func() error { return s.Approve(ctx, alice, "n", j, "", true) },
		"set subs":         func() error { return s.SetSubscriptions(ctx, alice, "n", nil) },
		"affiliations":     func() error { _, err := s.Affiliations(ctx, alice, "n"); return err },
		"set affiliations": func() error { return s.SetAffiliations(ctx, alice, "n", nil) },
		"purge by member": func() error {
			must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: carol.JID, Affiliation: AffMember}}))
			return s.Purge(ctx, carol, "n")
		},
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v, want forbidden", name, err)
		}
	}
	// A publisher may purge (§4.1).
	must(t, s.Purge(ctx, alice, "n"))
}

func TestConfigure(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.MaxItems = 5 })
	f.subscribe(alice, "n", nil)
	for i := range 5 {
		f.publish(owner, "n", "i"+string(rune('0'+i)), "<x/>")
	}
	f.rec.take()

	cfg, err := s.Configuration(ctx, owner, "n")
	must(t, err)
	if cfg.MaxItems != 5 {
		t.Fatalf("max_items %d", cfg.MaxItems)
	}
	// Invalid values (§8.2.5.2).
	bad := cfg.Clone()
	bad.NotificationType = 0
	wantErr(t, s.Configure(ctx, owner, "n", bad), ErrNotAcceptable)

	// Lowering max_items trims the oldest; notify_config notifies with the
	// form when payloads are delivered (§8.2.5.3).
	cfg.MaxItems = 2
	cfg.NotifyConfig = true
	cfg.Title = "Kitchen"
	must(t, s.Configure(ctx, owner, "n", cfg))
	if got := f.items(owner, "n"); !slices.Equal(got, []string{"i4", "i3"}) {
		t.Errorf("items after lowering max_items: %v", got)
	}
	ev := f.only(EventConfig)
	if ev.Config == nil || ev.Config.Title != "Kitchen" || !slices.Equal(to(ev.Recipients), bares(alice)) {
		t.Errorf("config event %+v", ev)
	}
	// Without payloads the notification carries no form.
	cfg.DeliverPayloads = false
	must(t, s.Configure(ctx, owner, "n", cfg))
	if ev := f.only(EventConfig); ev.Config != nil {
		t.Error("config form sent without deliver_payloads")
	}
	// notify_config off: no event.
	cfg.NotifyConfig = false
	must(t, s.Configure(ctx, owner, "n", cfg))
	if evs := f.events(EventConfig); len(evs) != 0 {
		t.Errorf("%d config events with notify_config off", len(evs))
	}
	// Turning persistence off purges the items.
	cfg.PersistItems = false
	must(t, s.Configure(ctx, owner, "n", cfg))
	if n, _ := f.store.CountItems(ctx, "n"); n != 0 {
		t.Errorf("%d items kept without persist_items", n)
	}
	got, _ := s.Configuration(ctx, owner, "n")
	if !got.Equal(cfg) {
		t.Errorf("configuration %+v, want %+v", got, cfg)
	}
}

func TestPurge(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("n", nil)
	f.subscribe(alice, "n", nil)
	f.publish(owner, "n", "a", "<x/>")
	f.publish(owner, "n", "b", "<x/>")
	f.rec.take()
	must(t, s.Purge(ctx, owner, "n"))
	if ev := f.only(EventPurge); !slices.Equal(to(ev.Recipients), bares(alice)) {
		t.Errorf("purge event %+v", ev)
	}
	if got := f.items(owner, "n"); len(got) != 0 {
		t.Errorf("items after purge %v", got)
	}
	f.subscribe(bob, "n", nil)
	if evs := f.events(EventPublish); len(evs) != 0 {
		t.Error("purged item sent as last item")
	}
	f.collection("c")
	wantErr(t, s.Purge(ctx, owner, "c"), ErrUnsupported)
}

// TestDeleteNode covers §8.4.
func TestDeleteNode(t *testing.T) {
	f := newFx(t, func(o *Options) { o.RequireSubscriptionConfig = true })
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.AccessModel = AccessAuthorize })
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: alice.JID, Affiliation: AffMember}}))
	if sub := f.subscribe(alice, "n", nil); sub.State != SubUnconfigured {
		t.Fatalf("alice %v", sub.State)
	}
	if sub := f.subscribe(bob, "n", nil); sub.State != SubPending {
		t.Fatalf("bob %v", sub.State)
	}
	o := DefaultSubOptions()
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: carol.JID, Affiliation: AffMember}}))
	f.subscribe(carol, "n", &o)
	f.publish(owner, "n", "i", "<x/>")
	f.rec.take()

	wantErr(t, s.DeleteNode(ctx, alice, "n", ""), ErrForbidden)
	must(t, s.DeleteNode(ctx, owner, "n", "xmpp:pubsub.example.com?;node=new"))
	ev := f.only(EventDelete)
	if ev.Redirect != "xmpp:pubsub.example.com?;node=new" || !slices.Equal(to(ev.Recipients), bares(alice, bob, carol)) {
		t.Errorf("delete event %+v", ev)
	}
	for _, a := range []Actor{alice, bob, carol} {
		if subs := s.UserSubscriptions(ctx, a.JID); len(subs) != 0 {
			t.Errorf("%v keeps %+v", a.JID, subs)
		}
	}
	_, err := s.Node(ctx, "n")
	wantErr(t, err, ErrNodeNotFound)
	wantErr(t, s.DeleteNode(ctx, owner, "n", ""), ErrNodeNotFound)
	// The same NodeID can be created again, empty.
	f.leaf("n", nil)
	if got := f.items(owner, "n"); len(got) != 0 {
		t.Errorf("items survived: %v", got)
	}
	if subs, _ := s.Subscriptions(ctx, owner, "n"); len(subs) != 0 {
		t.Errorf("subscriptions survived: %+v", subs)
	}
	// notify_delete off.
	f.leaf("q", func(c *Config) { c.NotifyDelete = false })
	f.subscribe(alice, "q", &o)
	f.rec.take()
	must(t, s.DeleteNode(ctx, owner, "q", ""))
	if evs := f.events(EventDelete); len(evs) != 0 {
		t.Error("notified with notify_delete off")
	}
}

// TestAffiliations covers §8.9 and the state chart of §4.1.
func TestAffiliations(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.AccessModel = AccessAuthorize })
	// A pending subscriber made publisher is approved (§8.7.4).
	f.subscribe(bob, "n", nil)
	f.subscribe(carol, "n", nil)
	f.rec.take()
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{
		{JID: alice.JID, Affiliation: AffPublisher},
		{JID: bob.JID, Affiliation: AffPublisher},
	}))
	if ev := f.events(EventSubscription); len(ev) != 1 || ev[0].Subscription.JID != bob.JID.Bare() || ev[0].Subscription.State != SubSubscribed {
		t.Errorf("approval on affiliation change: %+v", ev)
	}
	f.publish(alice, "n", "", "<x/>")
	affs, err := s.Affiliations(ctx, owner, "n")
	must(t, err)
	var got []string
	for _, a := range affs {
		got = append(got, a.JID.String()+"="+a.Affiliation.String())
	}
	if !slices.Equal(got, []string{"alice@example.com=publisher", "bob@example.com=publisher", "owner@example.com=owner"}) {
		t.Errorf("affiliations %v", got)
	}
	// Several entries for one JID.
	wantErr(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{
		{JID: carol.JID, Affiliation: AffMember}, {JID: carol.JID.Bare(), Affiliation: AffOutcast},
	}), ErrBadRequest)
	// The last owner cannot go; publisher to member is not in the chart;
	// the valid entry is applied (§8.9.2.4).
	err = s.SetAffiliations(ctx, owner, "n", []Affiliated{
		{JID: owner.JID, Affiliation: AffNone},
		{JID: alice.JID, Affiliation: AffMember},
		{JID: carol.JID, Affiliation: AffOutcast},
	})
	var pe *PartialError
	if !errors.As(err, &pe) || !errors.Is(err, ErrNotAcceptable) || len(pe.Affiliations) != 2 ||
		pe.Affiliations[0].Affiliation != AffOwner || pe.Affiliations[1].Affiliation != AffPublisher {
		t.Fatalf("partial error %v %+v", err, pe)
	}
	// carol is an outcast now: her pending subscription is gone, she is told.
	if ev := f.only(EventSubscription); ev.Subscription.JID != carol.JID.Bare() || ev.Subscription.State != SubNone {
		t.Errorf("outcast event %+v", ev)
	}
	if p, _ := s.Pending(ctx, owner, "n"); len(p) != 0 {
		t.Errorf("pending %+v", p)
	}
	// A second owner lets the first resign.
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: alice.JID, Affiliation: AffOwner}}))
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: owner.JID, Affiliation: AffNone}}))
	_, err = s.Affiliations(ctx, owner, "n")
	wantErr(t, err, ErrForbidden)
	ua := s.UserAffiliations(ctx, alice.JID)
	if len(ua) != 1 || ua[0].Node != "n" || ua[0].Affiliation != AffOwner {
		t.Errorf("alice's affiliations %+v", ua)
	}

	// Whitelist: members may subscribe; losing the affiliation ends the
	// subscription.
	f.leaf("w", func(c *Config) { c.AccessModel = AccessWhitelist })
	_, err = s.Subscribe(ctx, bob, "w", bob.JID.Bare(), nil)
	wantErr(t, err, ErrClosedNode)
	must(t, s.SetAffiliations(ctx, owner, "w", []Affiliated{{JID: bob.JID, Affiliation: AffMember}}))
	f.subscribe(bob, "w", nil)
	must(t, s.SetAffiliations(ctx, owner, "w", []Affiliated{{JID: bob.JID, Affiliation: AffNone}}))
	if subs := s.UserSubscriptions(ctx, bob.JID); len(subs) != 1 || subs[0].Node != "n" {
		t.Errorf("bob's subscriptions %+v", subs)
	}
}

// TestSetSubscriptions covers §8.8.2-8.8.3.
func TestSetSubscriptions(t *testing.T) {
	f := newFx(t, func(o *Options) { o.MultiSubscribe = true })
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.AccessModel = AccessAuthorize })
	pend := f.subscribe(alice, "n", nil)
	f.publish(owner, "n", "i", "<x/>")
	f.rec.take()
	err := s.SetSubscriptions(ctx, owner, "n", []Subscription{
		{JID: alice.JID.Bare(), State: SubSubscribed}, // approves the pending one
		{JID: bob.JID.Bare(), State: SubSubscribed},   // the owner subscribes bob
		{JID: carol.JID.Bare(), SubID: "x", State: SubSubscribed},
		{JID: jid.JID{}, State: SubSubscribed},
	})
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.Subscriptions) != 2 || pe.Subscriptions[0].JID != carol.JID.Bare() ||
		pe.Subscriptions[0].State != SubNone {
		t.Fatalf("partial error %v %+v", err, pe)
	}
	subs, _ := s.Subscriptions(ctx, owner, "n")
	if len(subs) != 2 || subs[0].SubID != pend.SubID || subs[0].State != SubSubscribed || subs[1].JID != bob.JID.Bare() {
		t.Fatalf("subscriptions %+v", subs)
	}
	evs := f.events(EventSubscription)
	if len(evs) != 2 {
		t.Errorf("%d subscription events", len(evs))
	}
	// Removing with "none" (§8.8.3).
	f.subscribe(bob, "n", nil) // a second, pending, subscription
	must(t, s.SetSubscriptions(ctx, owner, "n", []Subscription{{JID: bob.JID.Bare(), State: SubNone}}))
	if subs := s.UserSubscriptions(ctx, bob.JID); len(subs) != 0 {
		t.Errorf("bob keeps %+v", subs)
	}
	// A JID with several subscriptions needs a SubID to change state.
	if sub := f.subscribe(alice, "n", nil); sub.State != SubPending {
		t.Fatalf("second subscription %v", sub.State)
	}
	err = s.SetSubscriptions(ctx, owner, "n", []Subscription{{JID: alice.JID.Bare(), State: SubUnconfigured}})
	if !errors.As(err, &pe) || pe.Subscriptions[0].State != SubSubscribed {
		t.Errorf("ambiguous change: %v", err)
	}
	_, err = s.Pending(ctx, alice, "n")
	wantErr(t, err, ErrForbidden)
}

// TestPersistence reopens a Service over the same MemStore and finds
// everything again.
func TestPersistence(t *testing.T) {
	f := newFx(t, func(o *Options) { o.MultiSubscribe = true })
	ctx := f.ctx
	f.collection("home")
	f.leaf("temp", func(c *Config) { c.Title = "Temperature"; c.AccessModel = AccessAuthorize; c.MaxItems = 3 }, "home")
	must(t, f.svc.SetAffiliations(ctx, owner, "temp", []Affiliated{{JID: alice.JID, Affiliation: AffPublisher}}))
	opts := SubOptions{Deliver: true, Type: SubTypeItems, Depth: DepthAll, ShowValues: []string{"chat"}}
	f.subscribe(bob, "home", &opts)
	f.subscribe(carol, "temp", nil) // pending
	for _, id := range []string{"a", "b", "c", "d"} {
		f.publish(alice, "temp", id, "<t>"+id+"</t>")
	}
	before := snapshot(t, f.svc)

	f.reopen()
	after := snapshot(t, f.svc)
	if !equalSnapshots(before, after) {
		t.Fatalf("state after reopening:\n%+v\nwant\n%+v", after, before)
	}
	// The loaded subscriptions fan out, through the collection.
	f.rec.take()
	f.publish(alice, "temp", "e", "<t/>")
	if ev := f.only(EventPublish); !slices.Equal(to(ev.Recipients), []string{"bob@example.com@home"}) {
		t.Errorf("recipients after reopening %v", to(ev.Recipients))
	}
	must(t, f.svc.Approve(ctx, owner, "temp", carol.JID.Bare(), "", true))
	if got := f.items(carol, "temp"); !slices.Equal(got, []string{"e", "d", "c"}) {
		t.Errorf("items %v", got)
	}
}

type state struct {
	nodes []Node
	affs  map[NodeID][]Affiliated
	subs  []Subscription
	items map[NodeID][]Item
}

func snapshot(t *testing.T, s *Service) state {
	t.Helper()
	ctx := context.Background()
	st := state{affs: map[NodeID][]Affiliated{}, items: map[NodeID][]Item{}}
	for _, n := range s.nodesSnapshot() {
		nd, err := s.Node(ctx, n.id)
		must(t, err)
		st.nodes = append(st.nodes, nd)
		affs, err := s.Affiliations(ctx, owner, n.id)
		must(t, err)
		st.affs[n.id] = affs
		if nd.Type == Leaf {
			page, err := s.Items(ctx, owner, n.id, ItemQuery{})
			must(t, err)
			st.items[n.id] = page.Items
		}
	}
	for _, a := range []Actor{owner, alice, bob, carol} {
		st.subs = append(st.subs, s.UserSubscriptions(ctx, a.JID)...)
	}
	return st
}

func equalSnapshots(a, b state) bool {
	if len(a.nodes) != len(b.nodes) || len(a.subs) != len(b.subs) {
		return false
	}
	for i := range a.nodes {
		x, y := a.nodes[i], b.nodes[i]
		if x.ID != y.ID || x.Type != y.Type || !slices.Equal(x.Parents, y.Parents) || !x.Config.Equal(y.Config) ||
			!x.Created.Equal(y.Created) || x.Creator != y.Creator || !slices.Equal(a.affs[x.ID], b.affs[x.ID]) {
			return false
		}
		ia, ib := a.items[x.ID], b.items[x.ID]
		if len(ia) != len(ib) {
			return false
		}
		for k := range ia {
			if ia[k].ID != ib[k].ID || ia[k].Publisher != ib[k].Publisher || string(ia[k].Payload) != string(ib[k].Payload) ||
				!ia[k].Published.Equal(ib[k].Published) {
				return false
			}
		}
	}
	for i := range a.subs {
		x, y := a.subs[i], b.subs[i]
		if x.Node != y.Node || x.JID != y.JID || x.SubID != y.SubID || x.State != y.State ||
			x.Options.Type != y.Options.Type || x.Options.Depth != y.Options.Depth || !slices.Equal(x.Options.ShowValues, y.Options.ShowValues) {
			return false
		}
	}
	return true
}
