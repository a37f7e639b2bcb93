package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/pubsub/pubsubtest"
	"github.com/mote-xmpp/mote/internal/storage/storagetest"
	"github.com/mote-xmpp/mote/jid"
)

func TestPubSubConformance(t *testing.T) {
	pubsubtest.TestProvider(t, func(t *testing.T) pubsub.StoreProvider {
		return openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	})
}

// TestPubSubInvalidEnum checks that values that could not be read back are
// refused when written, so that LoadNodes never fails on them.
func TestPubSubInvalidEnum(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, filepath.Join(t.TempDir(), "mote.db")).PubSubStore("s")
	if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "bad", Type: 9}}); err == nil {
		t.Error("node type 9 stored")
	}
	if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetAffiliation(ctx, "n", jid.MustParse("a@example.com"), 42); err == nil {
		t.Error("affiliation 42 stored")
	}
	if err := st.PutSubscription(ctx, "n", pubsub.Subscription{JID: jid.MustParse("a@example.com"), SubID: "s", State: 42}); err == nil {
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

// TestPubSubQueryPlans checks that item pages, counts and cursors are read
// through the indexes, never by scanning the table.
func TestPubSubQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	for _, set := range []itemsSQL{itemsAll, itemsIDs} {
		for _, q := range []string{countItemsSQL, set.count, set.cursor, set.newer, set.first, set.after, set.before} {
			// The driver binds by position and ignores extra arguments.
			rows, err := s.r.Query("EXPLAIN QUERY PLAN "+q, "s", "n", 0, `["a"]`, 1, 1)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			for _, d := range plan {
				if strings.HasPrefix(d, "SCAN pubsub_items") && !strings.Contains(d, "INDEX") || strings.Contains(d, "TEMP B-TREE") {
					t.Errorf("%s\nplan: %q", q, plan)
				}
			}
		}
	}
}

// TestPubSubRestart writes through a Service, closes the database, and
// checks that a Service over the reopened file has the same nodes,
// affiliations, subscriptions and items.
func TestPubSubRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mote.db")
	now := time.Date(2025, 3, 4, 5, 6, 7, 8_000_000, time.UTC) // whole milliseconds
	var seq atomic.Int64
	opts := pubsub.Options{
		Now:   func() time.Time { return now },
		NewID: func() string { return "id" + strconv.FormatInt(seq.Add(1), 10) },
	}
	act := func(s string) pubsub.Actor { return pubsub.Actor{JID: jid.MustParse(s)} }
	owner, alice, bob := act("owner@example.com/desk"), act("alice@example.com/phone"), act("bob@example.com/tv")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	s, err := Open(ctx, path)
	must(err)
	svc, err := pubsub.New(ctx, s.PubSubStore("pubsub.example.com"), opts)
	must(err)
	_, err = svc.CreateNode(ctx, owner, pubsub.NodeSpec{ID: "news", Type: pubsub.Collection})
	must(err)
	cfg := svc.DefaultNodeConfig()
	cfg.MaxItems = 3
	cfg.Title = "Tech news"
	cfg.ItemExpire = 48 * time.Hour
	cfg.Contact = []jid.JID{owner.JID.Bare()}
	_, err = svc.CreateNode(ctx, owner, pubsub.NodeSpec{ID: "news/tech", Parents: []pubsub.NodeID{"news"}, Config: &cfg})
	must(err)
	sub, err := svc.Subscribe(ctx, alice, "news/tech", alice.JID, nil)
	must(err)
	_, err = svc.Subscribe(ctx, bob, "news", bob.JID, &pubsub.SubOptions{Deliver: true, Type: pubsub.SubTypeItems, Depth: pubsub.DepthAll})
	must(err)
	must(svc.SetAffiliations(ctx, owner, "news/tech", []pubsub.Affiliated{{JID: bob.JID, Affiliation: pubsub.AffPublisher}}))
	for i := range 4 {
		now = now.Add(time.Second)
		_, err := svc.Publish(ctx, owner, "news/tech", []pubsub.Item{{ID: "i" + strconv.Itoa(i), Payload: []byte("<entry>" + strconv.Itoa(i) + "</entry>")}}, pubsub.PublishOptions{})
		must(err)
	}
	_, err = svc.Publish(ctx, owner, "news/tech", []pubsub.Item{{ID: "i1", Payload: []byte("<entry>1 again</entry>")}}, pubsub.PublishOptions{})
	must(err)
	before := snapshot(t, svc, owner)
	pep, err := pubsub.New(ctx, s.PubSubStore("pep:owner"), pubsub.Options{AutoCreate: true})
	must(err)
	_, err = pep.Publish(ctx, pubsub.Actor{JID: owner.JID, Self: true}, "urn:xmpp:avatar:metadata", []pubsub.Item{{ID: "a", Payload: []byte("<metadata/>")}}, pubsub.PublishOptions{})
	must(err)
	must(s.Close())

	s = openTest(t, path)
	svc, err = pubsub.New(ctx, s.PubSubStore("pubsub.example.com"), opts)
	must(err)
	after := snapshot(t, svc, owner)
	if before != after {
		t.Errorf("after restart:\n%s\nbefore:\n%s", after, before)
	}
	for _, want := range []string{
		"node news/tech leaf parents [news] creator owner@example.com created 2025-03-04 05:06:07.008",
		"items i1 i3 i2",
		"sub alice@example.com/phone " + sub.SubID + " subscribed",
		"sub bob@example.com/tv ",
		"aff bob@example.com publisher",
		"children of news: [news/tech]",
		"last i1 <entry>1 again</entry> 2025-03-04 05:06:11",
	} {
		if !strings.Contains(after, want) {
			t.Errorf("after restart, no %q in\n%s", want, after)
		}
	}
	if n, err := svc.Node(ctx, "news/tech"); err != nil || !n.Config.Equal(cfg) {
		t.Errorf("config after restart: %+v (%v), want %+v", n.Config, err, cfg)
	}

	// The item order goes on: a new item is the newest and trims the oldest.
	now = now.Add(time.Second)
	_, err = svc.Publish(ctx, owner, "news/tech", []pubsub.Item{{ID: "i4", Payload: []byte("<entry>4</entry>")}}, pubsub.PublishOptions{})
	must(err)
	page, err := svc.Items(ctx, alice, "news/tech", pubsub.ItemQuery{})
	must(err)
	if got := itemIDsOf(page.Items); !slices.Equal(got, []string{"i4", "i1", "i3"}) {
		t.Errorf("items after publishing again: %v", got)
	}

	// The PEP service is separate and survived too.
	pep, err = pubsub.New(ctx, s.PubSubStore("pep:owner"), pubsub.Options{})
	must(err)
	if ids, err := pep.Children(ctx, ""); err != nil || !slices.Equal(ids, []pubsub.NodeID{"urn:xmpp:avatar:metadata"}) {
		t.Errorf("PEP nodes: %v %v", ids, err)
	}
	it, ok, err := pep.LastPublished(ctx, pubsub.Actor{JID: owner.JID, Self: true}, "urn:xmpp:avatar:metadata")
	if err != nil || !ok || it.ID != "a" || string(it.Payload) != "<metadata/>" {
		t.Errorf("PEP item: %+v %t %v", it, ok, err)
	}
}

func itemIDsOf(items []pubsub.Item) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

// snapshot renders what a Service holds, as seen by the owner.
func snapshot(t *testing.T, svc *pubsub.Service, owner pubsub.Actor) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	roots, err := svc.Children(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("roots " + strings.Join(func() []string {
		var s []string
		for _, r := range roots {
			s = append(s, string(r))
		}
		return s
	}(), " ") + "\n")
	for _, id := range []pubsub.NodeID{"news", "news/tech"} {
		n, err := svc.Node(ctx, id)
		if err != nil {
			t.Fatalf("Node(%s): %v", id, err)
		}
		b.WriteString("node " + string(n.ID) + " " + n.Type.String())
		b.WriteString(" parents [" + strings.Join(nodeStrings(n.Parents), " ") + "]")
		b.WriteString(" creator " + n.Creator.String() + " created " + n.Created.Format("2006-01-02 15:04:05.000") + "\n")
		for _, f := range n.Config.Form() {
			b.WriteString("  " + f.Var + "=" + strings.Join(f.Values, ",") + "\n")
		}
		children, err := svc.Children(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("children of " + string(id) + ": [" + strings.Join(nodeStrings(children), " ") + "]\n")
		subs, err := svc.Subscriptions(ctx, owner, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			o := s.Options
			b.WriteString("sub " + s.JID.String() + " " + s.SubID + " " + s.State.String() + " " +
				strconv.FormatBool(o.Deliver) + " " + o.Type.String() + " " + strconv.Itoa(o.Depth) + "\n")
		}
		affs, err := svc.Affiliations(ctx, owner, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range affs {
			b.WriteString("aff " + a.JID.String() + " " + a.Affiliation.String() + "\n")
		}
		if n.Type != pubsub.Leaf {
			continue
		}
		page, err := svc.Items(ctx, owner, id, pubsub.ItemQuery{})
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("items " + strings.Join(itemIDsOf(page.Items), " ") + "\n")
		for _, it := range page.Items {
			b.WriteString("item " + it.ID + " " + it.Publisher.String() + " " + string(it.Payload) + " " + it.Published.Format(time.RFC3339Nano) + "\n")
		}
		last, ok, err := svc.LastPublished(ctx, owner, id)
		if err != nil || !ok {
			t.Fatalf("LastPublished: %v %v", ok, err)
		}
		b.WriteString("last " + last.ID + " " + string(last.Payload) + " " + last.Published.Format("2006-01-02 15:04:05") + "\n")
	}
	return b.String()
}

func nodeStrings(ids []pubsub.NodeID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// TestDeleteUserPEP checks the pubsub part of DeleteUser
// (storagetest.TestDeleteUserPubSub), and that no row of the account's PEP
// service is left in any pubsub table.
func TestDeleteUserPEP(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "mote.db"))
	storagetest.TestDeleteUserPubSub(t, s, func(t *testing.T) []string {
		var left []string
		for _, table := range pubsubTables {
			var n int
			if err := s.r.QueryRow("SELECT count(*) FROM " + table + " WHERE service = 'pep:juliet'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				left = append(left, fmt.Sprintf("%d %s rows of pep:juliet left", n, table))
			}
		}
		return left
	})
}

// TestPubSubMigration upgrades a database of schema version 2, with an
// account in it, to the pubsub tables.
func TestPubSubMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mote.db")
	w, err := openWriter(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := migrateStep(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Exec(`INSERT INTO users (username, created) VALUES ('juliet', 1700000000)`); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path)
	if v := schemaVersion(t, s); v != len(migrations) || v < 3 {
		t.Fatalf("schema version %d", v)
	}
	if _, err := s.Users().GetUser(ctx, "juliet"); err != nil {
		t.Fatalf("GetUser after upgrade: %v", err)
	}
	st := s.PubSubStore("pep:juliet")
	if err := st.CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Users().DeleteUser(ctx, "juliet"); err != nil {
		t.Fatal(err)
	}
	if states, err := st.LoadNodes(ctx); err != nil || len(states) != 0 {
		t.Errorf("PEP nodes after DeleteUser: %+v %v", states, err)
	}
}

// BenchmarkPutItem measures publications with trimming; the PostgreSQL
// backend runs the same benchmark.
func BenchmarkPutItem(b *testing.B) {
	pubsubtest.BenchmarkPutItem(b, func(b *testing.B) pubsub.Store {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "mote.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s.PubSubStore("pubsub.example.com")
	})
}
