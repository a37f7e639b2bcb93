package pubsub

import (
	"slices"
	"testing"
)

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
