package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// PubSubBackend is a storage backend that also stores publish-subscribe
// services.
type PubSubBackend interface {
	storage.Store
	pubsub.StoreProvider
}

// TestDeleteUserPubSub checks the publish-subscribe part of
// storage.Users.DeleteUser: the account's PEP service goes, with its
// nodes and items; its subscriptions and affiliations at other accounts'
// PEP services go; nothing else changes (other accounts' subscriptions,
// services that are not PEP services, even one keyed by the username); an
// account registered again under the name starts with an empty PEP
// service. leftovers, when not nil, is called after the deletion to
// report rows the backend kept that it should not have (it knows its
// tables); any text it returns fails the test.
func TestDeleteUserPubSub(t *testing.T, s PubSubBackend, leftovers func(t *testing.T) []string) {
	ctx := context.Background()
	if err := s.Users().CreateUser(ctx, storage.User{Username: "juliet"}); err != nil {
		t.Fatal(err)
	}
	juliet := jid.MustParse("juliet@example.com")
	julietta := jid.MustParse("julietta@example.com/balcony")
	fill := func(service string) {
		t.Helper()
		st := s.PubSubStore(service)
		for _, id := range []pubsub.NodeID{"c", "n"} {
			node := pubsub.Node{ID: id, Config: pubsub.DefaultConfig(), Creator: juliet}
			if id == "n" {
				node.Parents = []pubsub.NodeID{"c"}
			} else {
				node.Type = pubsub.Collection
			}
			err := st.CreateNode(ctx, pubsub.NodeState{
				Node:         node,
				Affiliations: []pubsub.Affiliated{{JID: juliet, Affiliation: pubsub.AffOwner}, {JID: julietta.Bare(), Affiliation: pubsub.AffMember}},
				Subscriptions: []pubsub.Subscription{
					{JID: juliet, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()},
					{JID: jid.MustParse("juliet@example.com/chamber"), SubID: "t", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()},
					{JID: julietta, SubID: "s", State: pubsub.SubSubscribed, Options: pubsub.DefaultSubOptions()},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.PutItem(ctx, "n", pubsub.Item{ID: "i", Payload: []byte("<x/>")}, -1); err != nil {
			t.Fatal(err)
		}
	}
	others := []string{"pep:julietta", "pep:", "juliet", "pubsub.example.com"}
	for _, service := range append([]string{"pep:juliet"}, others...) {
		fill(service)
	}
	if err := s.Users().DeleteUser(ctx, "juliet"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if leftovers != nil {
		for _, l := range leftovers(t) {
			t.Errorf("after DeleteUser: %s", l)
		}
	}
	if states, err := s.PubSubStore("pep:juliet").LoadNodes(ctx); err != nil || len(states) != 0 {
		t.Errorf("pep:juliet after DeleteUser: %+v %v", states, err)
	}
	for _, service := range others {
		st := s.PubSubStore(service)
		states, err := st.LoadNodes(ctx)
		// At other PEP services juliet's subscriptions and affiliations
		// go; julietta's stay, as does everything at the component.
		affs, subs := 2, 3
		if strings.HasPrefix(service, "pep:") {
			affs, subs = 1, 1
		}
		if err != nil || len(states) != 2 || len(states[1].Node.Parents) != 1 || len(states[1].Affiliations) != affs || len(states[1].Subscriptions) != subs {
			t.Errorf("%s after DeleteUser: %+v %v", service, states, err)
			continue
		}
		if affs == 1 && (states[1].Affiliations[0].JID != julietta.Bare() || states[1].Subscriptions[0].JID != julietta) {
			t.Errorf("%s after DeleteUser: %+v", service, states[1])
		}
		if n, err := st.CountItems(ctx, "n"); err != nil || n != 1 {
			t.Errorf("%s: %d items, %v", service, n, err)
		}
	}
	// The PEP service of an account registered again starts empty.
	if err := s.Users().CreateUser(ctx, storage.User{Username: "juliet"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PubSubStore("pep:juliet").CreateNode(ctx, pubsub.NodeState{Node: pubsub.Node{ID: "n", Config: pubsub.DefaultConfig()}}); err != nil {
		t.Errorf("CreateNode after DeleteUser: %v", err)
	}
	if n, err := s.PubSubStore("pep:juliet").CountItems(ctx, "n"); err != nil || n != 0 {
		t.Errorf("%d items, %v", n, err)
	}
	if err := s.Users().DeleteUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteUser(nobody) = %v", err)
	}
}
