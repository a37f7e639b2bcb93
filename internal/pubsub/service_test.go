package pubsub

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

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

func TestSubscribeOpen(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("n", nil)
	sub := f.subscribe(alice, "n", nil)
	if sub.State != SubSubscribed || sub.SubID == "" || sub.JID != alice.JID.Bare() || sub.Node != "n" {
		t.Fatalf("subscription %+v", sub)
	}
	// Subscribing again returns the subscription (§6.1.6, no multi-subscribe).
	again := f.subscribe(alice, "n", nil)
	if again.SubID != sub.SubID {
		t.Errorf("second subscription %+v", again)
	}
	// JIDs do not match (§6.1.3.1); missing JID.
	_, err := s.Subscribe(ctx, alice, "n", bob.JID, nil)
	wantErr(t, err, ErrInvalidJID)
	_, err = s.Subscribe(ctx, alice, "n", jid.JID{}, nil)
	wantErr(t, err, ErrJIDRequired)
	// A full JID may be subscribed; an administrator may subscribe others.
	full, err := s.Subscribe(ctx, bob, "n", bob.JID, nil)
	must(t, err)
	if full.JID != bob.JID {
		t.Errorf("full JID subscription %+v", full)
	}
	_, err = s.Subscribe(ctx, Actor{JID: jid.MustParse("admin@example.com"), Admin: true}, "n", carol.JID.Bare(), nil)
	must(t, err)
	// An outcast is blocked (§6.1.3.8).
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: bob.JID, Affiliation: AffOutcast}}))
	_, err = s.Subscribe(ctx, bob, "n", bob.JID, nil)
	wantErr(t, err, ErrForbidden)
	// Subscriptions disabled (§6.1.3.10).
	f.leaf("nosub", func(c *Config) { c.Subscribe = false })
	_, err = s.Subscribe(ctx, alice, "nosub", alice.JID.Bare(), nil)
	wantErr(t, err, ErrUnsupported)
	// Invalid options (§6.3.6.2).
	_, err = s.Subscribe(ctx, alice, "nosub", alice.JID.Bare(), &SubOptions{Type: 9})
	wantErr(t, err, ErrInvalidSubOptions)

	subs, err := s.Subscriptions(ctx, owner, "n")
	must(t, err)
	var got []string
	for _, s := range subs {
		got = append(got, s.JID.String())
	}
	if !slices.Equal(got, []string{"alice@example.com", "carol@example.com"}) {
		t.Errorf("subscriptions %v (the outcast's are gone)", got)
	}
}

// TestSubscribeAuthorize covers the authorize access model: pending
// subscriptions, their approval and denial (§6.1.4, §8.6, §8.7).
func TestSubscribeAuthorize(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.AccessModel = AccessAuthorize })
	f.publish(owner, "n", "first", "<x/>")
	f.rec.take()

	sub := f.subscribe(alice, "n", nil)
	if sub.State != SubPending {
		t.Fatalf("state %v, want pending", sub.State)
	}
	ev := f.only(EventAuthorization)
	if ev.Subscription == nil || ev.Subscription.JID != alice.JID.Bare() || ev.Subscription.SubID != sub.SubID ||
		!slices.Equal(to(ev.Recipients), bares(owner)) {
		t.Fatalf("authorization request %+v", ev)
	}
	// While pending: no second request, no items, no notifications.
	_, err := s.Subscribe(ctx, alice, "n", alice.JID.Bare(), nil)
	wantErr(t, err, ErrPendingSubscription)
	_, err = s.Items(ctx, alice, "n", ItemQuery{})
	wantErr(t, err, ErrNotSubscribed)
	f.publish(owner, "n", "second", "<x/>")
	if ev := f.only(EventPublish); len(ev.Recipients) != 0 {
		t.Errorf("pending subscriber notified: %v", to(ev.Recipients))
	}
	pending, err := s.Pending(ctx, owner, "n")
	must(t, err)
	if len(pending) != 1 || pending[0].SubID != sub.SubID {
		t.Fatalf("pending %+v", pending)
	}
	if subs, _ := s.Subscriptions(ctx, owner, "n"); len(subs) != 0 {
		t.Errorf("pending listed as subscription: %+v", subs)
	}
	// Approval: the subscriber is told and gets the last item.
	wantErr(t, s.Approve(ctx, alice, "n", alice.JID.Bare(), "", true), ErrForbidden)
	wantErr(t, s.Approve(ctx, owner, "n", bob.JID.Bare(), "", true), ErrNoSuchSubscriber)
	must(t, s.Approve(ctx, owner, "n", alice.JID.Bare(), sub.SubID, true))
	evs := f.rec.take()
	if len(evs) != 2 || evs[0].Kind != EventSubscription || evs[0].Subscription.State != SubSubscribed ||
		evs[1].Kind != EventPublish || !evs[1].Replay || itemIDs(evs[1].Items)[0] != "second" {
		t.Fatalf("events after approval: %+v", evs)
	}
	if got := f.items(alice, "n"); !slices.Equal(got, []string{"second", "first"}) {
		t.Errorf("items %v", got)
	}
	f.publish(owner, "n", "third", "<x/>")
	if ev := f.only(EventPublish); !slices.Equal(to(ev.Recipients), bares(alice)) {
		t.Errorf("recipients %v", to(ev.Recipients))
	}
	wantErr(t, s.Approve(ctx, owner, "n", alice.JID.Bare(), "", true), ErrNoSuchSubscriber)

	// Denial: the request is dropped and the subscriber told.
	f.subscribe(bob, "n", nil)
	f.rec.take()
	must(t, s.Approve(ctx, owner, "n", bob.JID.Bare(), "", false))
	ev = f.only(EventSubscription)
	if ev.Subscription.State != SubNone || !slices.Equal(to(ev.Recipients), bares(bob)) {
		t.Errorf("denial event %+v", ev)
	}
	if p, _ := s.Pending(ctx, owner, "n"); len(p) != 0 {
		t.Errorf("still pending: %+v", p)
	}
	// Members and publishers subscribe without approval (§6.1.4).
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{{JID: carol.JID, Affiliation: AffMember}}))
	if sub := f.subscribe(carol, "n", nil); sub.State != SubSubscribed {
		t.Errorf("member's subscription is %v", sub.State)
	}
}

// TestSubscriptionOptions covers configuration required (§6.1.5) and the
// options use cases (§6.3).
func TestSubscriptionOptions(t *testing.T) {
	f := newFx(t, func(o *Options) { o.RequireSubscriptionConfig = true })
	ctx, s := f.ctx, f.svc
	f.leaf("n", nil)
	f.publish(owner, "n", "last", "<x/>")
	sub := f.subscribe(alice, "n", nil)
	if sub.State != SubUnconfigured {
		t.Fatalf("state %v, want unconfigured", sub.State)
	}
	f.rec.take()
	f.publish(owner, "n", "i2", "<x/>")
	if ev := f.only(EventPublish); len(ev.Recipients) != 0 {
		t.Errorf("unconfigured subscriber notified")
	}
	aj := alice.JID.Bare()
	opts, err := s.SubscriptionOptions(ctx, alice, "n", aj, "")
	must(t, err)
	if !opts.Deliver {
		t.Errorf("options %+v", opts)
	}
	_, err = s.SubscriptionOptions(ctx, bob, "n", aj, "")
	wantErr(t, err, ErrForbidden)
	_, err = s.SubscriptionOptions(ctx, bob, "n", bob.JID.Bare(), "")
	wantErr(t, err, ErrNoSuchSubscriber)
	_, err = s.SubscriptionOptions(ctx, alice, "n", aj, "nope")
	wantErr(t, err, ErrInvalidSubID)
	wantErr(t, s.SetSubscriptionOptions(ctx, alice, "n", aj, "", SubOptions{Deliver: true}), ErrInvalidSubOptions)

	opts.IncludeBody = true
	opts.ShowValues = []string{"chat"}
	must(t, s.SetSubscriptionOptions(ctx, alice, "n", aj, "", opts))
	// Now subscribed; the last item comes at once.
	if ev := f.only(EventPublish); !ev.Replay || ev.Items[0].ID != "i2" {
		t.Errorf("last item %+v", ev)
	}
	got, _ := s.SubscriptionOptions(ctx, alice, "n", aj, "")
	if !got.IncludeBody || !slices.Equal(got.ShowValues, []string{"chat"}) {
		t.Errorf("options %+v", got)
	}
	f.publish(owner, "n", "i3", "<x/>")
	if ev := f.only(EventPublish); !slices.Equal(to(ev.Recipients), bares(alice)) {
		t.Errorf("recipients %v", to(ev.Recipients))
	}
	// deliver=false silences the subscription.
	got.Deliver = false
	must(t, s.SetSubscriptionOptions(ctx, alice, "n", aj, "", got))
	f.publish(owner, "n", "i4", "<x/>")
	if ev := f.only(EventPublish); len(ev.Recipients) != 0 {
		t.Errorf("deliver=false notified")
	}
	// Options given with the subscription skip the unconfigured state.
	o := DefaultSubOptions()
	if sub := f.subscribe(bob, "n", &o); sub.State != SubSubscribed {
		t.Errorf("subscribe with options: %v", sub.State)
	}
}

// TestUnsubscribe covers §6.2 with one and several subscriptions.
func TestUnsubscribe(t *testing.T) {
	f := newFx(t, func(o *Options) { o.MultiSubscribe = true })
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.NotifySub = true })
	aj := alice.JID.Bare()
	s1 := f.subscribe(alice, "n", nil)
	s2 := f.subscribe(alice, "n", nil)
	if s1.SubID == s2.SubID {
		t.Fatal("same SubID twice")
	}
	f.rec.take()

	wantErr(t, s.Unsubscribe(ctx, alice, "n", aj, ""), ErrSubIDRequired)
	wantErr(t, s.Unsubscribe(ctx, alice, "n", aj, "bogus"), ErrInvalidSubID)
	wantErr(t, s.Unsubscribe(ctx, bob, "n", aj, s1.SubID), ErrForbidden)
	wantErr(t, s.Unsubscribe(ctx, bob, "n", bob.JID.Bare(), ""), ErrNoSuchSubscriber)
	wantErr(t, s.Unsubscribe(ctx, alice, "n", jid.JID{}, ""), ErrJIDRequired)
	must(t, s.Unsubscribe(ctx, alice, "n", aj, s1.SubID))
	// notify_sub tells the owner.
	ev := f.only(EventSubscription)
	if ev.Subscription.State != SubNone || ev.Subscription.SubID != s1.SubID || !slices.Equal(to(ev.Recipients), bares(owner)) {
		t.Errorf("notify_sub event %+v", ev)
	}
	// One left: no SubID needed.
	must(t, s.Unsubscribe(ctx, alice, "n", aj, ""))
	wantErr(t, s.Unsubscribe(ctx, alice, "n", aj, ""), ErrNoSuchSubscriber)
	if subs := s.UserSubscriptions(ctx, aj); len(subs) != 0 {
		t.Errorf("subscriptions left: %+v", subs)
	}
}

// TestMultiSubscribe checks the SubIDs of notifications (§7.1.2.4) and the
// subscription limits (§6.1.3.9).
func TestMultiSubscribe(t *testing.T) {
	f := newFx(t, func(o *Options) {
		o.MultiSubscribe = true
		o.Limits = Limits{MaxSubscriptionsPerJID: 2, MaxSubscriptionsPerNode: 4}
	})
	ctx, s := f.ctx, f.svc
	f.leaf("n", nil)
	a1 := f.subscribe(alice, "n", nil)
	a2 := f.subscribe(alice, "n", nil)
	_, err := s.Subscribe(ctx, alice, "n", alice.JID.Bare(), nil)
	wantErr(t, err, ErrTooManySubscriptions)
	f.subscribe(bob, "n", nil)
	// alice's phone, as a full JID, is a separate subscriber.
	_, err = s.Subscribe(ctx, alice, "n", alice.JID, nil)
	must(t, err)
	_, err = s.Subscribe(ctx, carol, "n", carol.JID.Bare(), nil)
	wantErr(t, err, ErrTooManySubscriptions)

	f.rec.take()
	f.publish(owner, "n", "", "<x/>")
	ev := f.only(EventPublish)
	want := []string{
		"alice@example.com/phone",
		"alice@example.com[" + a1.SubID + "," + a2.SubID + "]",
		"bob@example.com",
	}
	slices.Sort(want)
	if got := to(ev.Recipients); !slices.Equal(got, want) {
		t.Errorf("recipients %v, want %v", got, want)
	}
	// With several subscriptions, retrieval needs a SubID (§6.5.9.1-2).
	_, err = s.Items(ctx, alice, "n", ItemQuery{})
	wantErr(t, err, ErrSubIDRequired)
	_, err = s.Items(ctx, alice, "n", ItemQuery{SubID: "bogus"})
	wantErr(t, err, ErrInvalidSubID)
	_, err = s.Items(ctx, alice, "n", ItemQuery{SubID: a1.SubID})
	must(t, err)
	// Purge notifications carry no SubIDs (§13.16).
	must(t, s.Purge(ctx, owner, "n"))
	if ev := f.only(EventPurge); !slices.Equal(to(ev.Recipients), []string{"alice@example.com", "alice@example.com/phone", "bob@example.com"}) {
		t.Errorf("purge recipients %v", to(ev.Recipients))
	}
}

func TestPublish(t *testing.T) {
	f := newFx(t, func(o *Options) { o.Limits = Limits{MaxPayloadSize: 16} })
	ctx, s := f.ctx, f.svc
	f.leaf("n", nil)
	f.subscribe(alice, "n", nil)
	f.rec.take()

	// The ItemID is generated when absent (§7.1.1); the publisher and time
	// are the service's (§7.1.2.3).
	ids, err := s.Publish(ctx, owner, "n", []Item{{Payload: []byte("<a/>"), Publisher: bob.JID}}, PublishOptions{})
	must(t, err)
	if len(ids) != 1 || ids[0] == "" {
		t.Fatalf("ids %v", ids)
	}
	ev := f.only(EventPublish)
	it := ev.Items[0]
	if it.ID != ids[0] || it.Publisher != owner.JID || string(it.Payload) != "<a/>" || !it.Published.Equal(f.clk.now()) ||
		ev.NotificationType != NotificationHeadline || ev.Replay || !slices.Equal(to(ev.Recipients), bares(alice)) {
		t.Errorf("event %+v", ev)
	}
	// Re-publishing an ItemID overwrites it and makes it the newest (§13.1).
	f.publish(owner, "n", "b", "<b/>")
	f.clk.advance(time.Second)
	f.publish(owner, "n", ids[0], "<a2/>")
	page, err := s.Items(ctx, owner, "n", ItemQuery{})
	must(t, err)
	if got := itemIDs(page.Items); !slices.Equal(got, []string{ids[0], "b"}) || string(page.Items[0].Payload) != "<a2/>" {
		t.Errorf("items after overwrite %v", got)
	}
	// The caller's buffer is not kept.
	buf := []byte("<c/>")
	_, err = s.Publish(ctx, owner, "n", []Item{{ID: "c", Payload: buf}}, PublishOptions{})
	must(t, err)
	copy(buf, "XXXX")
	page, _ = s.Items(ctx, owner, "n", ItemQuery{IDs: []string{"c"}})
	if string(page.Items[0].Payload) != "<c/>" {
		t.Errorf("payload aliased the caller's buffer")
	}

	// Errors (§7.1.3).
	_, err = s.Publish(ctx, alice, "n", []Item{{Payload: []byte("<x/>")}}, PublishOptions{})
	wantErr(t, err, ErrForbidden)
	_, err = s.Publish(ctx, owner, "n", nil, PublishOptions{})
	wantErr(t, err, ErrItemRequired)
	_, err = s.Publish(ctx, owner, "n", []Item{{ID: "empty"}}, PublishOptions{})
	wantErr(t, err, ErrPayloadRequired)
	_, err = s.Publish(ctx, owner, "n", []Item{{Payload: make([]byte, 17)}}, PublishOptions{})
	wantErr(t, err, ErrPayloadTooBig)
	_, err = s.Publish(ctx, owner, "n", []Item{{ID: "\xff", Payload: []byte("x")}}, PublishOptions{})
	wantErr(t, err, ErrBadRequest)
	f.collection("c")
	_, err = s.Publish(ctx, owner, "c", []Item{{Payload: []byte("x")}}, PublishOptions{})
	wantErr(t, err, ErrUnsupported)

	// Publish models.
	f.leaf("open", func(c *Config) { c.PublishModel = PublishOpen })
	_, err = s.Publish(ctx, carol, "open", []Item{{Payload: []byte("x")}}, PublishOptions{})
	must(t, err)
	f.leaf("subs", func(c *Config) { c.PublishModel = PublishSubscribers })
	_, err = s.Publish(ctx, carol, "subs", []Item{{Payload: []byte("x")}}, PublishOptions{})
	wantErr(t, err, ErrForbidden)
	f.subscribe(carol, "subs", nil)
	_, err = s.Publish(ctx, carol, "subs", []Item{{Payload: []byte("x")}}, PublishOptions{})
	must(t, err)

	// A batch is one event.
	f.rec.take()
	ids, err = s.Publish(ctx, owner, "n", []Item{{ID: "x1", Payload: []byte("1")}, {ID: "x2", Payload: []byte("2")}}, PublishOptions{})
	must(t, err)
	if ev := f.only(EventPublish); !slices.Equal(itemIDs(ev.Items), []string{"x1", "x2"}) || !slices.Equal(ids, []string{"x1", "x2"}) {
		t.Errorf("batch %v", itemIDs(ev.Items))
	}

	// Notification-only nodes send no payload (§4.3).
	f.leaf("bare", func(c *Config) { c.DeliverPayloads = false })
	f.subscribe(alice, "bare", nil)
	f.rec.take()
	f.publish(owner, "bare", "i", "<secret/>")
	if ev := f.only(EventPublish); ev.Items[0].Payload != nil || ev.Items[0].ID != "i" {
		t.Errorf("notification-only item %+v", ev.Items[0])
	}
	if got := f.items(alice, "bare"); !slices.Equal(got, []string{"i"}) {
		t.Errorf("persistent notification-only node items %v", got)
	}
	// deliver_notifications off: nothing.
	f.leaf("quiet", func(c *Config) { c.DeliverNotifications = false })
	f.publish(owner, "quiet", "", "<x/>")
	if evs := f.rec.take(); len(evs) != 0 {
		t.Errorf("%d events with deliver_notifications off", len(evs))
	}
}

// TestTransientNodes covers persist_items=false (§4.3): nothing is kept,
// subscribers are still notified, the last item is cached (§13.10).
func TestTransientNodes(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("t", func(c *Config) { c.PersistItems = false })
	f.subscribe(alice, "t", nil)
	f.rec.take()
	f.publish(owner, "t", "", "<temp>21</temp>")
	if ev := f.only(EventPublish); string(ev.Items[0].Payload) != "<temp>21</temp>" || !slices.Equal(to(ev.Recipients), bares(alice)) {
		t.Errorf("event %+v", ev)
	}
	if n, _ := f.store.CountItems(ctx, "t"); n != 0 {
		t.Errorf("%d items stored", n)
	}
	_, err := s.Items(ctx, alice, "t", ItemQuery{})
	wantErr(t, err, ErrUnsupported)
	wantErr(t, s.Purge(ctx, owner, "t"), ErrUnsupported)
	wantErr(t, s.Retract(ctx, owner, "t", []string{"x"}, true), ErrUnsupported)
	it, ok, err := s.LastPublished(ctx, alice, "t")
	if err != nil || !ok || string(it.Payload) != "<temp>21</temp>" {
		t.Errorf("last published %+v %t %v", it, ok, err)
	}
	// A new subscriber gets it (send_last_published_item on_sub_and_presence).
	f.subscribe(bob, "t", nil)
	if ev := f.only(EventPublish); !ev.Replay || !slices.Equal(to(ev.Recipients), bares(bob)) {
		t.Errorf("replay %+v", ev)
	}

	// Transient notification-only: no item at all (§7.1.3.7).
	f.leaf("ping", func(c *Config) { c.PersistItems, c.DeliverPayloads = false, false })
	f.subscribe(alice, "ping", nil)
	f.rec.take()
	_, err = s.Publish(ctx, owner, "ping", []Item{{Payload: []byte("x")}}, PublishOptions{})
	wantErr(t, err, ErrItemForbidden)
	ids, err := s.Publish(ctx, owner, "ping", nil, PublishOptions{})
	must(t, err)
	if ev := f.only(EventPublish); len(ids) != 0 || len(ev.Items) != 0 || !slices.Equal(to(ev.Recipients), bares(alice)) {
		t.Errorf("empty notification %+v", ev)
	}
}

// TestPublishOptions covers publish-options preconditions and auto-create
// (§7.1.4, §7.1.5).
func TestPublishOptions(t *testing.T) {
	f := newFx(t, func(o *Options) { o.AutoCreate = true })
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.AccessModel = AccessPresence; c.MaxItems = MaxItemsMax })
	pub := func(id NodeID, pre map[string][]string) error {
		_, err := s.Publish(ctx, owner, id, []Item{{Payload: []byte("<x/>")}}, PublishOptions{Preconditions: pre})
		return err
	}
	must(t, pub("n", map[string][]string{"pubsub#access_model": {"presence"}, "pubsub#persist_items": {"true"},
		"pubsub#max_items": {"max"}, "pubsub#node_type": {"leaf"}}))
	must(t, pub("n", map[string][]string{"pubsub#persist_items": {"1"}}))
	for _, pre := range []map[string][]string{
		{"pubsub#access_model": {"open"}},
		{"pubsub#max_items": {"1"}},
		{"pubsub#persist_items": {"0"}},
		{"pubsub#node_type": {"collection"}},
		{"pubsub#frobnicate": {"1"}},
		{"pubsub#access_model": {"nonsense"}},
	} {
		wantErr(t, pub("n", pre), ErrPreconditionNotMet)
	}
	// Auto-create applies the preconditions to the defaults.
	must(t, pub("auto", map[string][]string{"pubsub#access_model": {"whitelist"}, "pubsub#max_items": {"1"}}))
	n, err := s.Node(ctx, "auto")
	must(t, err)
	want := DefaultConfig()
	want.AccessModel, want.MaxItems = AccessWhitelist, 1
	if !n.Config.Equal(want) || n.Creator != owner.JID.Bare() {
		t.Errorf("auto-created %+v", n)
	}
	wantErr(t, pub("auto2", map[string][]string{"pubsub#bogus": {"1"}}), ErrPreconditionNotMet)
	if _, err := s.Node(ctx, "auto2"); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("node created despite a bad precondition")
	}
	// Without auto-create a missing node is item-not-found (§7.1.3.3).
	g := newFx(t, nil)
	_, err = g.svc.Publish(ctx, owner, "missing", []Item{{Payload: []byte("x")}}, PublishOptions{})
	wantErr(t, err, ErrNodeNotFound)
}

// TestPEP runs the service as a PEP account would (XEP-0163): auto-create
// by the account only, presence access model, the account as owner.
func TestPEP(t *testing.T) {
	pepDefaults := DefaultConfig()
	pepDefaults.AccessModel, pepDefaults.MaxItems = AccessPresence, 1
	f := newFx(t, func(o *Options) {
		o.AutoCreate = true
		o.Defaults = &pepDefaults
		o.CanCreate = func(a Actor) bool { return a.Self }
	})
	ctx, s := f.ctx, f.svc
	juliet := Actor{JID: jid.MustParse("juliet@capulet.lit/balcony"), Self: true}
	romeo := Actor{JID: jid.MustParse("romeo@montague.lit/orchard"), PresenceSubscribed: true}
	benvolio := Actor{JID: jid.MustParse("benvolio@montague.lit/home")}
	const tune = NodeID("http://jabber.org/protocol/tune")

	_, err := s.Publish(ctx, benvolio, tune, []Item{{Payload: []byte("<tune/>")}}, PublishOptions{})
	wantErr(t, err, ErrForbidden)
	f.publish(juliet, tune, "current", "<tune>1</tune>")
	f.publish(juliet, tune, "current", "<tune>2</tune>")
	n, err := s.Node(ctx, tune)
	must(t, err)
	if n.Config.AccessModel != AccessPresence || n.Creator.String() != "juliet@capulet.lit" {
		t.Errorf("PEP node %+v", n)
	}
	page, err := s.Items(ctx, romeo, tune, ItemQuery{})
	must(t, err)
	if len(page.Items) != 1 || string(page.Items[0].Payload) != "<tune>2</tune>" {
		t.Errorf("romeo sees %+v", page.Items)
	}
	_, err = s.Items(ctx, benvolio, tune, ItemQuery{})
	wantErr(t, err, ErrPresenceSubscriptionRequired)
	_, err = s.Subscribe(ctx, benvolio, tune, benvolio.JID.Bare(), nil)
	wantErr(t, err, ErrPresenceSubscriptionRequired)
	f.subscribe(romeo, tune, nil)
	// The account always has access.
	if _, err := s.Items(ctx, Actor{JID: jid.MustParse("juliet@capulet.lit/chamber"), Self: true}, tune, ItemQuery{}); err != nil {
		t.Error(err)
	}
	// Romeo's presence subscription ends: his node subscription goes
	// (XEP-0163 §7.1).
	f.rec.take()
	romeo.PresenceSubscribed = false
	cancelled, err := s.RecheckAccess(ctx, romeo)
	must(t, err)
	if len(cancelled) != 1 || cancelled[0].Node != tune {
		t.Errorf("cancelled %+v", cancelled)
	}
	if ev := f.only(EventSubscription); ev.Subscription.State != SubNone || !slices.Equal(to(ev.Recipients), []string{"romeo@montague.lit"}) {
		t.Errorf("cancellation event %+v", ev)
	}
	if subs := s.UserSubscriptions(ctx, romeo.JID); len(subs) != 0 {
		t.Errorf("still subscribed %+v", subs)
	}
}

// TestMaxItems covers max_items trimming, "max", publish_node_full and
// batches (§7.1.2.5, §7.1.3.4, §13.11).
func TestMaxItems(t *testing.T) {
	f := newFx(t, func(o *Options) { o.Limits = Limits{MaxItemsPerNode: 4} })
	ctx, s := f.ctx, f.svc
	f.leaf("three", func(c *Config) { c.MaxItems = 3 })
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		f.publish(owner, "three", id, "<x/>")
	}
	if got := f.items(owner, "three"); !slices.Equal(got, []string{"e", "d", "c"}) {
		t.Errorf("max_items 3: %v", got)
	}
	// "max" is the service's cap.
	f.leaf("max", func(c *Config) { c.MaxItems = MaxItemsMax })
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		f.publish(owner, "max", id, "<x/>")
	}
	if got := f.items(owner, "max"); !slices.Equal(got, []string{"f", "e", "d", "c"}) {
		t.Errorf("max_items max: %v", got)
	}
	// max_items 0 keeps nothing but notifies.
	f.leaf("zero", func(c *Config) { c.MaxItems = 0 })
	f.subscribe(alice, "zero", nil)
	f.rec.take()
	f.publish(owner, "zero", "a", "<x/>")
	if n, _ := f.store.CountItems(ctx, "zero"); n != 0 || len(f.events(EventPublish)) != 1 {
		t.Errorf("max_items 0 kept %d items", n)
	}
	// A batch larger than max_items (§13.11).
	_, err := s.Publish(ctx, owner, "three", []Item{{Payload: []byte("1")}, {Payload: []byte("2")}, {Payload: []byte("3")}, {Payload: []byte("4")}}, PublishOptions{})
	wantErr(t, err, ErrMaxItemsExceeded)
	// Reject (§7.1.3.4): a full node refuses new items but accepts an
	// overwrite.
	f.leaf("reject", func(c *Config) { c.MaxItems = 2; c.PublishNodeFull = FullReject })
	f.publish(owner, "reject", "a", "<x/>")
	f.publish(owner, "reject", "b", "<x/>")
	_, err = s.Publish(ctx, owner, "reject", []Item{{ID: "c", Payload: []byte("x")}}, PublishOptions{})
	wantErr(t, err, ErrNodeFull)
	f.publish(owner, "reject", "a", "<y/>")
	// Retract-oldest notifies the dropped items.
	f.leaf("retract", func(c *Config) { c.MaxItems = 1; c.PublishNodeFull = FullRetractOldest })
	f.subscribe(alice, "retract", nil)
	f.publish(owner, "retract", "a", "<x/>")
	f.rec.take()
	f.publish(owner, "retract", "b", "<x/>")
	evs := f.rec.take()
	if len(evs) != 2 || evs[0].Kind != EventPublish || evs[1].Kind != EventRetract || !slices.Equal(evs[1].ItemIDs, []string{"a"}) {
		t.Errorf("retract-oldest events %+v", evs)
	}
	// Configuring above the cap is refused.
	cfg := DefaultConfig()
	cfg.MaxItems = 5
	var ce *ConfigError
	if err := s.Configure(ctx, owner, "three", cfg); !errors.As(err, &ce) || ce.Field != "pubsub#max_items" {
		t.Errorf("max_items above the cap: %v", err)
	}
}

func TestItemExpire(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.ItemExpire = time.Minute })
	f.publish(owner, "n", "old", "<x/>")
	f.clk.advance(30 * time.Second)
	f.publish(owner, "n", "new", "<x/>")
	f.clk.advance(40 * time.Second) // old is 70 s old, new 40 s
	if got := f.items(owner, "n"); !slices.Equal(got, []string{"new"}) {
		t.Errorf("items %v", got)
	}
	wantErr(t, s.Retract(ctx, owner, "n", []string{"old"}, false), ErrItemNotFound)
	n, err := s.ExpireItems(ctx)
	if err != nil || n != 1 {
		t.Errorf("ExpireItems: %d %v", n, err)
	}
	if c, _ := f.store.CountItems(ctx, "n"); c != 1 {
		t.Errorf("%d items stored", c)
	}
	f.clk.advance(time.Minute)
	if _, ok, err := s.LastPublished(ctx, owner, "n"); ok || err != nil {
		t.Errorf("an expired item is the last published: %t %v", ok, err)
	}
	f.rec.take()
	f.subscribe(alice, "n", nil)
	if evs := f.events(EventPublish); len(evs) != 0 {
		t.Error("expired item sent to a new subscriber")
	}
}

// TestRetract covers §7.2.
func TestRetract(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.NotifyRetract = false })
	must(t, s.SetAffiliations(ctx, owner, "n", []Affiliated{
		{JID: alice.JID, Affiliation: AffPublishOnly}, {JID: bob.JID, Affiliation: AffPublisher},
	}))
	f.subscribe(carol, "n", nil)
	f.publish(alice, "n", "by-alice", "<x/>")
	f.publish(owner, "n", "by-owner", "<x/>")
	f.publish(bob, "n", "by-bob", "<x/>")
	f.rec.take()

	wantErr(t, s.Retract(ctx, alice, "n", nil, true), ErrItemRequired)
	wantErr(t, s.Retract(ctx, alice, "n", []string{""}, true), ErrItemRequired)
	wantErr(t, s.Retract(ctx, alice, "n", []string{"nope"}, true), ErrItemNotFound)
	wantErr(t, s.Retract(ctx, carol, "n", []string{"by-alice"}, true), ErrForbidden)
	// Publish-only deletes only its own items; the batch fails as a whole.
	wantErr(t, s.Retract(ctx, alice, "n", []string{"by-alice", "by-owner"}, true), ErrForbidden)
	must(t, s.Retract(ctx, alice, "n", []string{"by-alice"}, false))
	if evs := f.rec.take(); len(evs) != 0 {
		t.Errorf("notified without notify and notify_retract: %+v", evs)
	}
	// A publisher deletes any item; notify=true notifies (§7.2.2.1).
	must(t, s.Retract(ctx, bob, "n", []string{"by-owner"}, true))
	ev := f.only(EventRetract)
	if !slices.Equal(ev.ItemIDs, []string{"by-owner"}) || !slices.Equal(to(ev.Recipients), bares(carol)) {
		t.Errorf("retract event %+v", ev)
	}
	if got := f.items(owner, "n"); !slices.Equal(got, []string{"by-bob"}) {
		t.Errorf("items %v", got)
	}
	// The cached last item follows the retraction.
	must(t, s.Retract(ctx, owner, "n", []string{"by-bob"}, false))
	if _, ok, _ := s.LastPublished(ctx, owner, "n"); ok {
		t.Error("retracted item is the last published")
	}
	// notify_retract notifies without the flag.
	f.leaf("m", nil)
	f.subscribe(carol, "m", nil)
	f.publish(owner, "m", "i", "<x/>")
	f.rec.take()
	must(t, s.Retract(ctx, owner, "m", []string{"i"}, false))
	f.only(EventRetract)
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

// TestItemsPaging covers §6.5 with XEP-0059 paging.
func TestItemsPaging(t *testing.T) {
	f := newFx(t, func(o *Options) { o.Limits = Limits{MaxItemsPerRequest: 4, MaxItemsPerNode: 100} })
	ctx, s := f.ctx, f.svc
	f.leaf("n", func(c *Config) { c.MaxItems = 20 })
	for i := range 10 {
		f.publish(owner, "n", "i"+string(rune('0'+i)), "<x/>")
	}
	q := func(q ItemQuery) ItemPage {
		t.Helper()
		p, err := s.Items(ctx, alice, "n", q)
		must(t, err)
		return p
	}
	p := q(ItemQuery{Max: 3})
	if got := itemIDs(p.Items); !slices.Equal(got, []string{"i9", "i8", "i7"}) || p.Count != 10 || p.Index != 0 {
		t.Errorf("first page %v %+v", got, p)
	}
	p = q(ItemQuery{Max: 3, After: "i7"})
	if got := itemIDs(p.Items); !slices.Equal(got, []string{"i6", "i5", "i4"}) || p.Index != 3 {
		t.Errorf("next page %v index %d", got, p.Index)
	}
	p = q(ItemQuery{Max: 2, Before: "i6"})
	if got := itemIDs(p.Items); !slices.Equal(got, []string{"i8", "i7"}) || p.Index != 1 {
		t.Errorf("previous page %v index %d", got, p.Index)
	}
	p = q(ItemQuery{After: "i1"})
	if got := itemIDs(p.Items); !slices.Equal(got, []string{"i0"}) {
		t.Errorf("last page %v", got)
	}
	// No Max: the service's cap applies (§6.5.4).
	if got := itemIDs(q(ItemQuery{}).Items); len(got) != 4 {
		t.Errorf("uncapped page %v", got)
	}
	p = q(ItemQuery{IDs: []string{"i2", "i5", "zz"}})
	if got := itemIDs(p.Items); !slices.Equal(got, []string{"i5", "i2"}) {
		t.Errorf("by id %v", got)
	}
	_, err := s.Items(ctx, alice, "n", ItemQuery{After: "zz"})
	wantErr(t, err, ErrItemNotFound)
	_, err = s.Items(ctx, alice, "n", ItemQuery{After: "i1", Before: "i5"})
	wantErr(t, err, ErrBadRequest)
	_, err = s.Items(ctx, alice, "n", ItemQuery{Max: -1})
	wantErr(t, err, ErrBadRequest)
	// Access: a whitelist node is closed to strangers (§6.5.9.8).
	f.leaf("w", func(c *Config) { c.AccessModel = AccessWhitelist })
	_, err = s.Items(ctx, alice, "w", ItemQuery{})
	wantErr(t, err, ErrClosedNode)
	f.collection("c")
	_, err = s.Items(ctx, owner, "c", ItemQuery{})
	wantErr(t, err, ErrUnsupported)
}

// TestCollectionFanout: devices subscribed to a collection get the items
// of every leaf beneath it (XEP-0248 §6.1), as far as their depth reaches.
func TestCollectionFanout(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.collection("building")
	f.collection("floor1", "building")
	f.leaf("lobby", nil, "building")
	f.leaf("room101", nil, "floor1")
	f.leaf("room102", nil, "floor1")

	all := SubOptions{Deliver: true, Type: SubTypeItems, Depth: DepthAll}
	var devices []Actor
	var want []string
	for i := range 20 {
		d := act("device" + string(rune('a'+i)) + "@example.com/sensor")
		devices = append(devices, d)
		f.subscribe(d, "building", &all)
		want = append(want, d.JID.Bare().String()+"@building")
	}
	slices.Sort(want)
	// Depth 1 reaches the lobby only; "nodes" subscriptions get no items.
	one := SubOptions{Deliver: true, Type: SubTypeItems, Depth: 1}
	f.subscribe(alice, "building", &one)
	nodes := SubOptions{Deliver: true, Type: SubTypeNodes, Depth: DepthAll}
	f.subscribe(bob, "building", &nodes)
	// carol is subscribed to room101 and to floor1: one notification, both
	// SubIDs, no Collection.
	c1 := f.subscribe(carol, "room101", nil)
	c2 := f.subscribe(carol, "floor1", &all)
	f.rec.take()

	f.publish(owner, "room101", "t1", "<temp>21</temp>")
	ev := f.only(EventPublish)
	wantRoom := append(slices.Clone(want), "carol@example.com["+min(c1.SubID, c2.SubID)+","+max(c1.SubID, c2.SubID)+"]")
	slices.Sort(wantRoom)
	if got := to(ev.Recipients); !slices.Equal(got, wantRoom) {
		t.Errorf("room101 recipients\n got %v\nwant %v", got, wantRoom)
	}
	f.publish(owner, "room102", "t2", "<temp>19</temp>")
	ev = f.only(EventPublish)
	wantRoom = append(slices.Clone(want), "carol@example.com@floor1")
	slices.Sort(wantRoom)
	if got := to(ev.Recipients); !slices.Equal(got, wantRoom) {
		t.Errorf("room102 recipients\n got %v\nwant %v", got, wantRoom)
	}
	f.publish(owner, "lobby", "t3", "<temp>17</temp>")
	ev = f.only(EventPublish)
	wantLobby := append(slices.Clone(want), "alice@example.com@building")
	slices.Sort(wantLobby)
	if got := to(ev.Recipients); !slices.Equal(got, wantLobby) {
		t.Errorf("lobby recipients\n got %v\nwant %v", got, wantLobby)
	}
	// A device unsubscribes: the cached lists follow.
	must(t, s.Unsubscribe(ctx, devices[0], "building", devices[0].JID.Bare(), ""))
	f.publish(owner, "room101", "t4", "<temp>22</temp>")
	ev = f.only(EventPublish)
	if slices.Contains(to(ev.Recipients), devices[0].JID.Bare().String()+"@building") || len(ev.Recipients) != 20 {
		t.Errorf("after unsubscribe: %d recipients", len(ev.Recipients))
	}
	// room102 leaves floor1: no collection subscription covers it now.
	must(t, s.SetParents(ctx, owner, "room102", nil))
	f.publish(owner, "room102", "t5", "<x/>")
	if ev := f.only(EventPublish); len(ev.Recipients) != 0 {
		t.Errorf("detached leaf notified %v", to(ev.Recipients))
	}
}

// TestCollectionSubIDs: a JID with several subscriptions to a collection
// gets one notification naming those that match (§7.1.2.4).
func TestCollectionSubIDs(t *testing.T) {
	f := newFx(t, func(o *Options) { o.MultiSubscribe = true })
	f.collection("c")
	f.leaf("l", nil, "c")
	items := SubOptions{Deliver: true, Type: SubTypeItems, Depth: 1}
	nodes := SubOptions{Deliver: true, Type: SubTypeNodes, Depth: 1}
	a1 := f.subscribe(alice, "c", &items)
	a2 := f.subscribe(alice, "c", &items)
	b1 := f.subscribe(bob, "c", &items)
	f.subscribe(bob, "c", &nodes)
	f.subscribe(carol, "c", &items)
	f.rec.take()
	f.publish(owner, "l", "", "<x/>")
	want := []string{
		"alice@example.com[" + min(a1.SubID, a2.SubID) + "," + max(a1.SubID, a2.SubID) + "]@c",
		"bob@example.com[" + b1.SubID + "]@c",
		"carol@example.com@c",
	}
	if got := to(f.only(EventPublish).Recipients); !slices.Equal(got, want) {
		t.Errorf("recipients\n got %v\nwant %v", got, want)
	}
}

// TestCollectionNodeEvents: "nodes" subscriptions get node creation and
// deletion (XEP-0248 §6.1).
func TestCollectionNodeEvents(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.collection("root")
	f.collection("sub", "root")
	nodes := SubOptions{Deliver: true, Type: SubTypeNodes, Depth: 1}
	f.subscribe(alice, "root", &nodes)
	deep := SubOptions{Deliver: true, Type: SubTypeAll, Depth: DepthAll}
	f.subscribe(bob, "root", &deep)
	items := SubOptions{Deliver: true, Type: SubTypeItems, Depth: DepthAll}
	f.subscribe(carol, "root", &items)
	f.rec.take()

	f.leaf("direct", nil, "root")
	if ev := f.only(EventCreate); !slices.Equal(to(ev.Recipients), []string{"alice@example.com@root", "bob@example.com@root"}) {
		t.Errorf("create recipients %v", to(ev.Recipients))
	}
	f.leaf("nested", nil, "sub")
	if ev := f.only(EventCreate); !slices.Equal(to(ev.Recipients), []string{"bob@example.com@root"}) {
		t.Errorf("nested create recipients %v", to(ev.Recipients))
	}
	must(t, s.DeleteNode(ctx, owner, "nested", ""))
	if ev := f.only(EventDelete); !slices.Equal(to(ev.Recipients), []string{"bob@example.com@root"}) {
		t.Errorf("delete recipients %v", to(ev.Recipients))
	}
}

// TestCollectionGraph covers the graph rules of XEP-0248 §7.2.3.
func TestCollectionGraph(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.collection("a")
	f.collection("b", "a")
	f.collection("c", "b")
	f.leaf("l", nil, "c")
	wantErr(t, s.SetParents(ctx, owner, "a", []NodeID{"c"}), ErrInvalidOptions) // cycle
	wantErr(t, s.SetParents(ctx, owner, "a", []NodeID{"a"}), ErrInvalidOptions) // self
	wantErr(t, s.SetParents(ctx, owner, "c", []NodeID{"l"}), ErrInvalidOptions) // leaf parent
	wantErr(t, s.SetParents(ctx, owner, "c", []NodeID{"zz"}), ErrNodeNotFound)
	_, err := s.CreateNode(ctx, owner, NodeSpec{ID: "x", Parents: []NodeID{"l"}})
	wantErr(t, err, ErrInvalidOptions)
	// Only an owner of the collection may add children to it.
	_, err = s.CreateNode(ctx, alice, NodeSpec{ID: "x", Parents: []NodeID{"a"}})
	wantErr(t, err, ErrForbidden)
	// children_max.
	limited := DefaultConfig()
	limited.ChildrenMax = 1
	_, err = s.CreateNode(ctx, owner, NodeSpec{ID: "lim", Type: Collection, Config: &limited})
	must(t, err)
	f.leaf("one", nil, "lim")
	_, err = s.CreateNode(ctx, owner, NodeSpec{ID: "two", Parents: []NodeID{"lim"}})
	wantErr(t, err, ErrMaxNodesExceeded)

	// Several parents.
	must(t, s.SetParents(ctx, owner, "l", []NodeID{"c", "a", "c"}))
	n, _ := s.Node(ctx, "l")
	if !slices.Equal(n.Parents, []NodeID{"c", "a"}) {
		t.Errorf("parents %v", n.Parents)
	}
	kids, _ := s.Children(ctx, "a")
	if !slices.Equal(kids, []NodeID{"b", "l"}) {
		t.Errorf("children of a %v", kids)
	}
	top, _ := s.Children(ctx, "")
	if !slices.Equal(top, []NodeID{"a", "lim"}) {
		t.Errorf("top-level %v", top)
	}
	// Deleting a collection orphans its children (XEP-0248 §8.2).
	must(t, s.DeleteNode(ctx, owner, "c", ""))
	n, _ = s.Node(ctx, "l")
	if !slices.Equal(n.Parents, []NodeID{"a"}) {
		t.Errorf("parents after delete %v", n.Parents)
	}
	must(t, s.DeleteNode(ctx, owner, "a", ""))
	n, _ = s.Node(ctx, "l")
	b, _ := s.Node(ctx, "b")
	if n.Parents != nil || b.Parents != nil {
		t.Errorf("orphans keep parents: %v %v", n.Parents, b.Parents)
	}
	top, _ = s.Children(ctx, "")
	if !slices.Equal(top, []NodeID{"b", "l", "lim"}) {
		t.Errorf("top-level %v", top)
	}
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

func TestPresenceBasedDelivery(t *testing.T) {
	online := map[string]bool{"alice@example.com": true}
	f := newFx(t, func(o *Options) { o.Available = func(j jid.JID) bool { return online[j.String()] } })
	f.leaf("n", func(c *Config) { c.PresenceBasedDelivery = true })
	f.leaf("m", nil)
	for _, a := range []Actor{alice, bob} {
		f.subscribe(a, "n", nil)
		f.subscribe(a, "m", nil)
	}
	f.rec.take()
	f.publish(owner, "n", "", "<x/>")
	if ev := f.only(EventPublish); !slices.Equal(to(ev.Recipients), bares(alice)) {
		t.Errorf("presence-based recipients %v", to(ev.Recipients))
	}
	f.publish(owner, "m", "", "<x/>")
	if ev := f.only(EventPublish); !slices.Equal(to(ev.Recipients), bares(alice, bob)) {
		t.Errorf("recipients %v", to(ev.Recipients))
	}
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

// TestLastPublished checks who may fetch the last item (§6.1.7, §13.10).
func TestLastPublished(t *testing.T) {
	f := newFx(t, nil)
	ctx, s := f.ctx, f.svc
	f.leaf("w", func(c *Config) { c.AccessModel = AccessWhitelist })
	if _, ok, err := s.LastPublished(ctx, owner, "w"); ok || err != nil {
		t.Errorf("empty node: %t %v", ok, err)
	}
	f.publish(owner, "w", "i", "<x/>")
	must(t, s.SetAffiliations(ctx, owner, "w", []Affiliated{
		{JID: alice.JID, Affiliation: AffMember}, {JID: bob.JID, Affiliation: AffPublishOnly},
		{JID: carol.JID, Affiliation: AffOutcast},
	}))
	stranger := act("eve@example.com/x")
	for _, c := range []struct {
		a    Actor
		want error
	}{{owner, nil}, {alice, nil}, {bob, ErrForbidden}, {carol, ErrForbidden}, {stranger, ErrClosedNode}} {
		it, ok, err := s.LastPublished(ctx, c.a, "w")
		if c.want == nil && (err != nil || !ok || it.ID != "i") || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%v: %+v %t %v", c.a.JID, it, ok, err)
		}
	}
	f.collection("c")
	_, _, err := s.LastPublished(ctx, owner, "c")
	wantErr(t, err, ErrUnsupported)
	pe := &PartialError{Affiliations: []Affiliated{{}}, Err: ErrNotAcceptable}
	if pe.Error() != "pubsub: not-acceptable (1 entries failed)" {
		t.Errorf("PartialError: %q", pe.Error())
	}
}
