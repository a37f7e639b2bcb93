package pubsub

import (
	"errors"
	"slices"
	"testing"

	"github.com/mote-xmpp/mote/jid"
)

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
