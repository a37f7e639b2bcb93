package pubsub

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// testStore checks the Store contract; a SQL backend can run it too.
func testStore(t *testing.T, st Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	o := jid.MustParse("o@example.com")
	n := Node{ID: "n", Config: DefaultConfig(), Created: t0, Creator: o}
	must(t, st.CreateNode(ctx, NodeState{Node: n, Affiliations: []Affiliated{{Node: "n", JID: o, Affiliation: AffOwner}}}))
	if err := st.CreateNode(ctx, NodeState{Node: n}); !errors.Is(err, storage.ErrExists) {
		t.Errorf("duplicate node: %v", err)
	}
	must(t, st.CreateNode(ctx, NodeState{Node: Node{ID: "c", Type: Collection, Config: DefaultConfig()}}))
	n.Parents = []NodeID{"c"}
	must(t, st.UpdateNode(ctx, n))
	if err := st.UpdateNode(ctx, Node{ID: "zz"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}

	// Items: order, overwrite, trimming.
	put := func(id string, at time.Duration, max int) []string {
		t.Helper()
		tr, err := st.PutItem(ctx, "n", Item{ID: id, Publisher: o, Payload: []byte(id), Published: t0.Add(at)}, max)
		must(t, err)
		return tr
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		put(id, time.Duration(i)*time.Second, -1)
	}
	put("b", 10*time.Second, -1) // b is now the newest
	if tr := put("e", 11*time.Second, 3); !slices.Equal(tr, []string{"a", "c"}) {
		t.Errorf("trimmed %v", tr)
	}
	page, err := st.Items(ctx, "n", ItemQuery{})
	must(t, err)
	if got := itemIDs(page.Items); !slices.Equal(got, []string{"e", "b", "d"}) || page.Count != 3 {
		t.Errorf("items %v count %d", got, page.Count)
	}
	if c, _ := st.CountItems(ctx, "n"); c != 3 {
		t.Errorf("count %d", c)
	}
	page, _ = st.Items(ctx, "n", ItemQuery{Since: t0.Add(5 * time.Second)})
	if got := itemIDs(page.Items); !slices.Equal(got, []string{"e", "b"}) {
		t.Errorf("since %v", got)
	}
	page, _ = st.Items(ctx, "n", ItemQuery{Max: 1, Before: "d"})
	if got := itemIDs(page.Items); !slices.Equal(got, []string{"b"}) || page.Index != 1 {
		t.Errorf("before %v %d", got, page.Index)
	}
	if _, err := st.Items(ctx, "n", ItemQuery{After: "a"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown cursor: %v", err)
	}
	if err := st.DeleteItem(ctx, "n", "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete missing item: %v", err)
	}
	must(t, st.DeleteItem(ctx, "n", "d"))
	if tr, _ := st.TrimItems(ctx, "n", 1); !slices.Equal(tr, []string{"b"}) {
		t.Errorf("TrimItems %v", tr)
	}
	put("f", 20*time.Second, -1)
	if ids, _ := st.DeleteItemsBefore(ctx, "n", t0.Add(15*time.Second)); !slices.Equal(ids, []string{"e"}) {
		t.Errorf("DeleteItemsBefore %v", ids)
	}
	// Returned payloads are copies.
	page, _ = st.Items(ctx, "n", ItemQuery{})
	page.Items[0].Payload[0] = 'X'
	page, _ = st.Items(ctx, "n", ItemQuery{})
	if string(page.Items[0].Payload) != "f" {
		t.Error("Items shares payloads")
	}
	must(t, st.PurgeItems(ctx, "n"))
	if c, _ := st.CountItems(ctx, "n"); c != 0 {
		t.Errorf("count after purge %d", c)
	}

	// Subscriptions and affiliations.
	a := jid.MustParse("a@example.com")
	sub := Subscription{Node: "n", JID: a, SubID: "s1", State: SubPending, Options: DefaultSubOptions()}
	must(t, st.PutSubscription(ctx, "n", sub))
	sub.State = SubSubscribed
	must(t, st.PutSubscription(ctx, "n", sub))
	must(t, st.PutSubscription(ctx, "n", Subscription{Node: "n", JID: a, SubID: "s2", State: SubSubscribed}))
	must(t, st.SetAffiliation(ctx, "n", a, AffPublisher))
	must(t, st.DeleteSubscription(ctx, "n", a, "s2"))
	if err := st.DeleteSubscription(ctx, "n", a, "s2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete missing subscription: %v", err)
	}
	states, err := st.LoadNodes(ctx)
	must(t, err)
	if len(states) != 2 {
		t.Fatalf("%d nodes", len(states))
	}
	got := states[1]
	if got.Node.ID != "n" || !slices.Equal(got.Node.Parents, []NodeID{"c"}) || len(got.Affiliations) != 2 ||
		len(got.Subscriptions) != 1 || got.Subscriptions[0].State != SubSubscribed {
		t.Errorf("loaded %+v", got)
	}
	must(t, st.SetAffiliation(ctx, "n", a, AffNone))

	// Deleting a collection removes it from its children's parents.
	must(t, st.DeleteNode(ctx, "c"))
	states, _ = st.LoadNodes(ctx)
	if len(states) != 1 || states[0].Node.Parents != nil || len(states[0].Affiliations) != 1 {
		t.Errorf("after delete %+v", states)
	}
	if err := st.DeleteNode(ctx, "c"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete missing node: %v", err)
	}
	for _, err := range []error{
		st.PurgeItems(ctx, "c"),
		st.PutSubscription(ctx, "c", sub),
		st.SetAffiliation(ctx, "c", a, AffMember),
	} {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("operation on a missing node: %v", err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.LoadNodes(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestMemStore(t *testing.T) {
	testStore(t, NewMemStore())
	var zero MemStore
	testStore(t, &zero)
}
