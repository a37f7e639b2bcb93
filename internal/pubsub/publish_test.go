package pubsub

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/jid"
)

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
	cancelled, err := s.RecheckAccess(ctx, romeo.JID, func(*Node, []jid.JID) Actor { return romeo })
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
