package postgres

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/pubsub/pubsubtest"
	"github.com/mote-xmpp/mote/internal/storage/pgtest"
	"github.com/mote-xmpp/mote/internal/storage/storagetest"
	"github.com/mote-xmpp/mote/jid"
)

// openPubSub opens a Store on a fresh database, closed when tb ends.
func openPubSub(tb testing.TB) *Store {
	tb.Helper()
	return openTest(tb, pgtest.DSN(tb), Options{})
}

func TestPubSubConformance(t *testing.T) {
	pubsubtest.TestProvider(t, func(t *testing.T) pubsub.StoreProvider { return openPubSub(t) })
}

// BenchmarkPutItem measures publications with trimming; the SQLite
// backend runs the same benchmark.
func BenchmarkPutItem(b *testing.B) {
	pubsubtest.BenchmarkPutItem(b, func(b *testing.B) pubsub.Store {
		return openPubSub(b).PubSubStore("pubsub.example.com")
	})
}

// TestPubSubJSON checks that every field of Config and SubOptions survives
// the json columns, NUL included, and that a document without a field
// gives it its default.
func TestPubSubJSON(t *testing.T) {
	ctx := context.Background()
	s := openPubSub(t)
	st := s.PubSubStore("s")
	var c pubsub.Config
	pubsubtest.FillNonZero(t, reflect.ValueOf(&c))
	var o pubsub.SubOptions
	pubsubtest.FillNonZero(t, reflect.ValueOf(&o))
	alice := jid.MustParse("alice@example.com")
	err := st.CreateNode(ctx, pubsub.NodeState{
		Node:          pubsub.Node{ID: "n", Config: c},
		Subscriptions: []pubsub.Subscription{{JID: alice, SubID: "s", State: pubsub.SubSubscribed, Options: o}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "zero"}}); err != nil {
		t.Fatal(err)
	}
	states, err := st.LoadNodes(ctx)
	if err != nil || len(states) != 2 {
		t.Fatalf("LoadNodes: %+v, %v", states, err)
	}
	if got := states[0].Node.Config; !reflect.DeepEqual(got, c) {
		t.Errorf("config loaded as %+v, want %+v", got, c)
	}
	if got := states[0].Subscriptions; len(got) != 1 || !reflect.DeepEqual(got[0].Options, o) {
		t.Errorf("subscriptions loaded as %+v, want options %+v", got, o)
	}
	// Defaults do not leak into stored zero values.
	if got := states[1].Node.Config; !reflect.DeepEqual(got, pubsub.Config{}) {
		t.Errorf("zero config loaded as %+v", got)
	}

	// Options absent from a stored document take their default.
	if _, err := s.pool.Exec(ctx, `UPDATE pubsub_nodes SET config = '{"Title":"t"}' WHERE node = 'zero'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE pubsub_subscriptions SET options = '{}'`); err != nil {
		t.Fatal(err)
	}
	if states, err = st.LoadNodes(ctx); err != nil || len(states) != 2 {
		t.Fatalf("LoadNodes: %+v, %v", states, err)
	}
	if got := states[1].Node.Config; got.Title != "t" || got.MaxItems != pubsub.DefaultMaxItems || !got.PersistItems {
		t.Errorf("partial config loaded as %+v", got)
	}
	if got := states[0].Subscriptions[0].Options; !reflect.DeepEqual(got, pubsub.DefaultSubOptions()) {
		t.Errorf("empty options loaded as %+v", got)
	}
}

// TestPubSubInvalidEnum checks that values that could not be read back are
// refused when written, so that LoadNodes never fails on them.
func TestPubSubInvalidEnum(t *testing.T) {
	ctx := context.Background()
	st := openPubSub(t).PubSubStore("s")
	a := jid.MustParse("a@example.com")
	if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "bad", Type: 9}}); err == nil {
		t.Error("node type 9 stored")
	}
	if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "bad"},
		Affiliations: []pubsub.Affiliated{{JID: a, Affiliation: 42}}}); err == nil {
		t.Error("affiliation 42 stored")
	}
	if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetAffiliation(ctx, "n", a, 42); err == nil {
		t.Error("affiliation 42 stored")
	}
	if err := st.PutSubscription(ctx, "n", pubsub.Subscription{JID: a, SubID: "s", State: 42}); err == nil {
		t.Error("subscription state 42 stored")
	}
	if err := st.UpdateNode(ctx, pubsub.Node{ID: "n", Type: 9}); err == nil {
		t.Error("node type 9 stored")
	}
	states, err := st.LoadNodes(ctx)
	if err != nil || len(states) != 1 || len(states[0].Affiliations)+len(states[0].Subscriptions) != 0 {
		t.Errorf("LoadNodes: %+v, %v", states, err)
	}
}

// TestPubSubServiceKeys checks keys PostgreSQL text cannot hold: no
// service has them, and asking is no error.
func TestPubSubServiceKeys(t *testing.T) {
	s := openPubSub(t)
	for _, prefix := range []string{"\x00", "pep:\xff"} {
		if got, err := s.PubSubServices(context.Background(), prefix); err != nil || got != nil {
			t.Errorf("PubSubServices(%q) = %q, %v", prefix, got, err)
		}
	}
}

// TestPubSubConcurrentPublish publishes to one node from many goroutines
// at once, which the Service never does, and checks that the per-node
// sequence still orders every item: each goroutine's items stay in the
// order it published them, and every item is either kept or trimmed once.
func TestPubSubConcurrentPublish(t *testing.T) {
	const (
		writers  = 8
		each     = 40
		maxItems = 25
	)
	ctx := context.Background()
	s := openPubSub(t)
	st := s.PubSubStore("pubsub.example.com")
	for _, id := range []pubsub.NodeID{"shared", "other"} {
		if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: id, Config: pubsub.DefaultConfig()}}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu      sync.Mutex
		trimmed []string
		wg      sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				node, max := pubsub.NodeID("shared"), maxItems
				if i%4 == 3 {
					node, max = "other", -1 // no trimming
				}
				it := pubsub.Item{ID: fmt.Sprintf("w%d-%03d", w, i), Payload: []byte("<x/>"), Published: time.Now()}
				tr, err := st.PutItem(ctx, node, it, max)
				if err != nil {
					t.Errorf("PutItem(%s): %v", it.ID, err)
					return
				}
				if node == "shared" {
					mu.Lock()
					trimmed = append(trimmed, tr...)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()

	page, err := st.Items(ctx, "shared", pubsub.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != maxItems || page.Count != maxItems {
		t.Fatalf("%d items kept (count %d), want %d", len(page.Items), page.Count, maxItems)
	}
	seen := make(map[string]int)
	for _, id := range trimmed {
		seen[id]++
	}
	last := make(map[string]string) // writer → its newest item seen so far, newest first
	for _, it := range page.Items {
		seen[it.ID]++
		w := it.ID[:strings.IndexByte(it.ID, '-')]
		if prev, ok := last[w]; ok && it.ID > prev {
			t.Errorf("item %s is older than %s, published after it by the same writer", it.ID, prev)
		}
		last[w] = it.ID
	}
	if want := writers * each * 3 / 4; len(seen) != want {
		t.Errorf("%d items kept or trimmed, want %d", len(seen), want)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("item %s kept or trimmed %d times", id, n)
		}
	}
	if n, err := st.CountItems(ctx, "other"); err != nil || n != writers*each/4 {
		t.Errorf("node other: %d items, %v", n, err)
	}
	// The node's sequence counted every publication.
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT item_seq FROM pubsub_nodes WHERE node = 'shared'`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if seq != writers*each*3/4 {
		t.Errorf("item_seq %d", seq)
	}
}

// TestPubSubQueryPlans checks that the statements find their rows through
// the indexes, never by scanning a table: with sequential scans disabled,
// the planner still chooses one only when no index serves.
func TestPubSubQueryPlans(t *testing.T) {
	ctx := context.Background()
	s := openPubSub(t)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET enable_seqscan`)
	since := time.Unix(0, 0)
	ids := [][]byte{[]byte("a"), []byte("b")}
	n := []byte("n")
	tests := []struct {
		name string
		sql  string
		args []any
	}{
		{"LoadNodes", loadNodesSQL, []any{"s"}},
		{"PubSubServices", pubsubServicesSQL, []any{"pep:"}},
		{"PutItem", putItemSQL, []any{"s", n, []byte("i"), since, "", []byte("<x/>")}},
		{"TrimItems", trimItemsSQL, []any{"s", n, 10}},
		{"DeleteItemsBefore", deleteItemsBeforeSQL, []any{"s", n, since}},
		{"Items", itemsAll.first, []any{"s", n, since, 10}},
		{"Items after", itemsAll.after, []any{"s", n, since, 10, []byte("a")}},
		{"Items before", itemsAll.before, []any{"s", n, since, nil, []byte("a")}},
		{"Items IDs", itemsIDs.first, []any{"s", n, since, nil, ids}},
		{"Items IDs after", itemsIDs.after, []any{"s", n, since, 1, ids, []byte("a")}},
		{"Items IDs before", itemsIDs.before, []any{"s", n, since, 1, ids, []byte("a")}},
	}
	for _, table := range []string{"pubsub_subscriptions", "pubsub_affiliations"} {
		tests = append(tests, struct {
			name string
			sql  string
			args []any
		}{"DeleteUser " + table, stripPEPSQL(table), []any{"juliet"}})
	}
	for _, tt := range tests {
		rows, err := conn.Query(ctx, "EXPLAIN "+tt.sql, tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan") {
			t.Errorf("%s scans a table:\n%s", tt.name, text)
		}
	}
}

// TestPubSubRestart writes through a Service, closes the store, and checks
// that a Service over the reopened database has the same nodes,
// subscriptions and items, and that the item order goes on.
func TestPubSubRestart(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	now := time.Date(2025, 3, 4, 5, 6, 7, 8_000_000, time.UTC) // whole milliseconds
	var seq atomic.Int64
	opts := pubsub.Options{
		Now:   func() time.Time { return now },
		NewID: func() string { return "id" + strconv.FormatInt(seq.Add(1), 10) },
	}
	owner := pubsub.Actor{JID: jid.MustParse("owner@example.com/desk")}
	alice := pubsub.Actor{JID: jid.MustParse("alice@example.com/phone")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	items := func(svc *pubsub.Service) string {
		t.Helper()
		page, err := svc.Items(ctx, owner, "news", pubsub.ItemQuery{})
		must(err)
		var b strings.Builder
		for _, it := range page.Items {
			fmt.Fprintf(&b, "%s %s %s %s\n", it.ID, it.Publisher, it.Payload, it.Published.Format(time.RFC3339Nano))
		}
		return b.String()
	}
	publish := func(svc *pubsub.Service, id string) {
		t.Helper()
		now = now.Add(time.Second)
		_, err := svc.Publish(ctx, owner, "news", []pubsub.Item{{ID: id, Payload: []byte("<entry>" + id + "</entry>")}}, pubsub.PublishOptions{})
		must(err)
	}

	s := openTest(t, dsn, Options{})
	svc, err := pubsub.New(ctx, s.PubSubStore("pubsub.example.com"), opts)
	must(err)
	cfg := svc.DefaultNodeConfig()
	cfg.MaxItems = 3
	cfg.Title = "News"
	_, err = svc.CreateNode(ctx, owner, pubsub.NodeSpec{ID: "news", Config: &cfg})
	must(err)
	sub, err := svc.Subscribe(ctx, alice, "news", alice.JID, nil)
	must(err)
	for _, id := range []string{"i0", "i1", "i2", "i3", "i1"} {
		publish(svc, id)
	}
	before := items(svc)
	must(s.Close())

	s = openTest(t, dsn, Options{})
	svc, err = pubsub.New(ctx, s.PubSubStore("pubsub.example.com"), opts)
	must(err)
	if after := items(svc); after != before {
		t.Errorf("items after restart:\n%s\nbefore:\n%s", after, before)
	}
	if !strings.HasPrefix(before, "i1 owner@example.com/desk <entry>i1</entry> 2025-03-04T05:06:12.008Z\ni3 ") {
		t.Errorf("items before restart:\n%s", before)
	}
	if n, err := svc.Node(ctx, "news"); err != nil || !n.Config.Equal(cfg) || !n.Created.Equal(time.Date(2025, 3, 4, 5, 6, 7, 8_000_000, time.UTC)) {
		t.Errorf("node after restart: %+v, %v", n, err)
	}
	subs, err := svc.Subscriptions(ctx, owner, "news")
	must(err)
	if len(subs) != 1 || subs[0].JID != alice.JID || subs[0].SubID != sub.SubID || subs[0].State != pubsub.SubSubscribed {
		t.Errorf("subscriptions after restart: %+v", subs)
	}
	// A new item is the newest and trims the oldest.
	publish(svc, "i4")
	page, err := svc.Items(ctx, owner, "news", pubsub.ItemQuery{})
	must(err)
	var got []string
	for _, it := range page.Items {
		got = append(got, it.ID)
	}
	if !slices.Equal(got, []string{"i4", "i1", "i3"}) {
		t.Errorf("items after publishing again: %v", got)
	}
}

// TestPubSubDeleteUser checks the pubsub part of DeleteUser
// (storagetest.TestDeleteUserPubSub), and that no node of the account's
// PEP service, nor any row of a deleted node, is left.
func TestPubSubDeleteUser(t *testing.T) {
	s := openPubSub(t)
	storagetest.TestDeleteUserPubSub(t, s, func(t *testing.T) []string {
		ctx := context.Background()
		var left []string
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pubsub_nodes WHERE service = 'pep:juliet'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			left = append(left, fmt.Sprintf("%d nodes of pep:juliet left", n))
		}
		for _, table := range []string{"pubsub_parents", "pubsub_affiliations", "pubsub_subscriptions", "pubsub_items"} {
			// Rows whose node is gone would be garbage.
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` AS t
				WHERE NOT EXISTS (SELECT FROM pubsub_nodes AS n WHERE n.id = t.node_id)`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				left = append(left, fmt.Sprintf("%d %s rows without a node", n, table))
			}
		}
		return left
	})
}
