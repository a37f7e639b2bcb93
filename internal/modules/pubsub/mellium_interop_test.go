package pubsub_test

// Publish-subscribe interoperability with mellium.im/xmpp, an independent
// client implementation: node creation with a configuration form, item
// publication, retrieval and retraction with mellium's pubsub package;
// subscription and node deletion (which that package lacks) as IQs built
// with mellium's xmlstream helpers over the same session.

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	mform "mellium.im/xmpp/form"
	mjid "mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	mpubsub "mellium.im/xmpp/pubsub"
	mstanza "mellium.im/xmpp/stanza"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

const nsMelliumTest = "urn:example:mellium-pubsub"

// psEntry is the payload the test publishes.
type psEntry struct {
	XMLName xml.Name `xml:"urn:example:mellium-pubsub entry"`
	Text    string   `xml:",chardata"`
}

// psEventMessage is a notification (XEP-0060 §7.1.2, §7.2.2, §8.4.2).
type psEventMessage struct {
	mstanza.Message
	Event struct {
		Items *struct {
			Node    string        `xml:"node,attr"`
			Item    []psEventItem `xml:"item"`
			Retract []struct {
				ID string `xml:"id,attr"`
			} `xml:"retract"`
		} `xml:"items"`
		Delete *struct {
			Node string `xml:"node,attr"`
		} `xml:"delete"`
	} `xml:"http://jabber.org/protocol/pubsub#event event"`
}

type psEventItem struct {
	ID    string   `xml:"id,attr"`
	Entry *psEntry `xml:"urn:example:mellium-pubsub entry"`
}

// psClient is a mellium session whose Serve loop collects pubsub
// notifications.
type psClient struct {
	*xmpp.Session
	name   string
	mu     sync.Mutex
	events []psEventMessage
	notify chan struct{}
	done   chan struct{} // closed when Serve returned, with err set
	err    error
}

// psLogin logs user in over STARTTLS (self-signed certificate accepted)
// and starts serving the session. Every read and write on the connection
// fails after ctx's deadline, so a misbehaving server cannot hang the test.
func psLogin(ctx context.Context, t *testing.T, addr, user, pw string) *psClient {
	t.Helper()
	s, err := xmpptest.MelliumSession(ctx, t, addr, user, pw, sasl.ScramSha256)
	if err != nil {
		t.Fatalf("%s: login: %v", user, err)
	}
	c := &psClient{Session: s, name: user, notify: make(chan struct{}, 1), done: make(chan struct{})}
	event := xml.Name{Space: nsEvent, Local: "event"}
	m := mux.New(mstanza.NSClient,
		mux.MessageFunc(mstanza.HeadlineMessage, event, c.handleEvent),
		mux.MessageFunc(mstanza.NormalMessage, event, c.handleEvent),
	)
	go func() {
		c.err = s.Serve(m)
		close(c.done)
	}()
	t.Cleanup(func() { s.Close() })
	return c
}

// handleEvent runs on the Serve goroutine; the token reader starts at the
// message's start element.
func (c *psClient) handleEvent(_ mstanza.Message, t xmlstream.TokenReadEncoder) error {
	var m psEventMessage
	if err := xml.NewTokenDecoder(t).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	c.mu.Lock()
	c.events = append(c.events, m)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return nil
}

// await waits for (and consumes) a notification that satisfies ok.
func (c *psClient) await(ctx context.Context, t *testing.T, desc string, ok func(psEventMessage) bool) psEventMessage {
	t.Helper()
	for {
		c.mu.Lock()
		for i, m := range c.events {
			if ok(m) {
				c.events = append(c.events[:i], c.events[i+1:]...)
				c.mu.Unlock()
				return m
			}
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-c.done:
			t.Fatalf("%s: session ended (%v) while waiting for %s", c.name, c.err, desc)
		case <-ctx.Done():
			t.Fatalf("%s: timed out waiting for %s", c.name, desc)
		}
	}
}

// fetch retrieves the node's items with mellium's pubsub package: item ID
// to payload text.
func (c *psClient) fetch(ctx context.Context, t *testing.T, to mjid.JID, node string) map[string]string {
	t.Helper()
	it := mpubsub.FetchIQ(ctx, mstanza.IQ{To: to}, c.Session, mpubsub.Query{Node: node})
	items := map[string]string{}
	for it.Next() {
		id, r := it.Item()
		var e psEntry
		if r != nil {
			if err := xml.NewTokenDecoder(r).Decode(&e); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("%s: item %s: %v", c.name, id, err)
			}
		}
		items[id] = e.Text
	}
	if err := it.Err(); err != nil {
		t.Fatalf("%s: items of %s: %v", c.name, node, err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("%s: items of %s: %v", c.name, node, err)
	}
	return items
}

func entry(text string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(text)),
		xml.StartElement{Name: xml.Name{Space: nsMelliumTest, Local: "entry"}})
}

func TestMelliumPubsubInterop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "wonderland")
	s.AddUser(t, "bob", "builder")
	svc := mjid.MustParse(service)
	const node = "mellium"

	alice := psLogin(ctx, t, s.Addr, "alice", "wonderland")
	bob := psLogin(ctx, t, s.Addr, "bob", "builder")
	bobBare := bob.LocalAddr().Bare()
	// Available, so that notifications to bob's bare JID reach him (§13.3);
	// the session's stanzas are handled in order, so the presence is in
	// effect once the subscription is answered.
	if err := bob.Send(ctx, mstanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatalf("bob: initial presence: %v", err)
	}

	// Create with a configuration form (§8.1.3).
	cfg := mform.New(
		mform.Hidden("FORM_TYPE", mform.Value(nsPS+"#node_config")),
		mform.Text("pubsub#max_items", mform.Value("5")),
		mform.List("pubsub#access_model", mform.Value("open")),
	)
	if err := mpubsub.CreateNodeIQ(ctx, alice.Session, mstanza.IQ{To: svc}, node, cfg); err != nil {
		t.Fatalf("alice: create %s: %v", node, err)
	}
	got, err := mpubsub.GetConfigIQ(ctx, alice.Session, mstanza.IQ{To: svc}, node)
	if err != nil {
		t.Fatalf("alice: configuration of %s: %v", node, err)
	}
	if v, _ := got.GetString("pubsub#max_items"); v != "5" {
		t.Errorf("pubsub#max_items = %q, want 5", v)
	}
	if v, _ := got.GetString("pubsub#access_model"); v != "open" {
		t.Errorf("pubsub#access_model = %q, want open", v)
	}

	// Subscribe the bare JID (§6.1.1).
	var sub struct {
		Subscription struct {
			Node  string `xml:"node,attr"`
			JID   string `xml:"jid,attr"`
			State string `xml:"subscription,attr"`
		} `xml:"http://jabber.org/protocol/pubsub subscription"`
	}
	err = bob.UnmarshalIQElement(ctx, xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "subscribe"}, Attr: []xml.Attr{
			{Name: xml.Name{Local: "node"}, Value: node},
			{Name: xml.Name{Local: "jid"}, Value: bobBare.String()},
		}}),
		xml.StartElement{Name: xml.Name{Space: nsPS, Local: "pubsub"}},
	), mstanza.IQ{To: svc, Type: mstanza.SetIQ}, &sub)
	if err != nil {
		t.Fatalf("bob: subscribe: %v", err)
	}
	if sub.Subscription.State != "subscribed" || sub.Subscription.JID != bobBare.String() || sub.Subscription.Node != node {
		t.Fatalf("bob: subscription %+v", sub.Subscription)
	}

	// Publish two items; bob is notified of each with its payload.
	items := map[string]string{"one": "first entry", "two": "second entry"}
	for _, id := range []string{"one", "two"} {
		gotID, err := mpubsub.PublishIQ(ctx, alice.Session, mstanza.IQ{To: svc}, node, id, entry(items[id]))
		if err != nil {
			t.Fatalf("alice: publish %s: %v", id, err)
		}
		if gotID != id {
			t.Errorf("alice: publish %s answered with item id %q", id, gotID)
		}
	}
	for _, id := range []string{"one", "two"} {
		m := bob.await(ctx, t, "the notification of item "+id, func(m psEventMessage) bool {
			return m.Event.Items != nil && m.Event.Items.Node == node &&
				len(m.Event.Items.Item) == 1 && m.Event.Items.Item[0].ID == id
		})
		if !m.From.Equal(svc) {
			t.Errorf("notification of %s from %v, want %v", id, m.From, svc)
		}
		if e := m.Event.Items.Item[0].Entry; e == nil || e.Text != items[id] {
			t.Errorf("notification of %s carries %+v, want %q", id, e, items[id])
		}
	}

	// Retrieve (§6.5.2).
	if got := bob.fetch(ctx, t, svc, node); len(got) != 2 || got["one"] != items["one"] || got["two"] != items["two"] {
		t.Fatalf("bob: items %v, want %v", got, items)
	}

	// Retract with notify (§7.2.2).
	if err := mpubsub.DeleteIQ(ctx, alice.Session, mstanza.IQ{To: svc}, node, "one", true); err != nil {
		t.Fatalf("alice: retract one: %v", err)
	}
	bob.await(ctx, t, "the retraction of item one", func(m psEventMessage) bool {
		return m.Event.Items != nil && m.Event.Items.Node == node &&
			len(m.Event.Items.Retract) == 1 && m.Event.Items.Retract[0].ID == "one"
	})
	if got := bob.fetch(ctx, t, svc, node); len(got) != 1 || got["two"] != items["two"] {
		t.Fatalf("bob: items after the retraction %v, want only two", got)
	}

	// Delete the node (§8.4); the subscriber is told.
	err = alice.UnmarshalIQElement(ctx, xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "delete"}, Attr: []xml.Attr{
			{Name: xml.Name{Local: "node"}, Value: node},
		}}),
		xml.StartElement{Name: xml.Name{Space: nsOwner, Local: "pubsub"}},
	), mstanza.IQ{To: svc, Type: mstanza.SetIQ}, nil)
	if err != nil {
		t.Fatalf("alice: delete %s: %v", node, err)
	}
	bob.await(ctx, t, "the deletion of the node", func(m psEventMessage) bool {
		return m.Event.Delete != nil && m.Event.Delete.Node == node
	})
	_, err = mpubsub.GetConfigIQ(ctx, alice.Session, mstanza.IQ{To: svc}, node)
	var se mstanza.Error
	if !errors.As(err, &se) || se.Condition != mstanza.ItemNotFound {
		t.Fatalf("alice: configuration of the deleted node: %v, want item-not-found", err)
	}
}
