package roster_test

// Instant messaging and presence interoperability with mellium.im/xmpp, an
// independent client implementation: subscriptions both ways, roster
// pushes and gets (mellium's roster package), presence, messages and
// offline delivery.

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/delay"
	mjid "mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	mping "mellium.im/xmpp/ping"
	mroster "mellium.im/xmpp/roster"
	mstanza "mellium.im/xmpp/stanza"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// imMessage is a received message with what the test looks at.
type imMessage struct {
	mstanza.Message
	Body  string       `xml:"body"`
	Delay *delay.Delay `xml:"urn:xmpp:delay delay"`
}

// imInbox collects what a session's Serve loop received, for imAwait.
type imInbox[T any] struct {
	mu     sync.Mutex
	items  []T
	used   []bool
	notify chan struct{}
}

func newIMInbox[T any]() *imInbox[T] { return &imInbox[T]{notify: make(chan struct{}, 1)} }

func (b *imInbox[T]) add(v T) {
	b.mu.Lock()
	b.items = append(b.items, v)
	b.used = append(b.used, false)
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// take marks and returns the first unused value that satisfies ok.
func (b *imInbox[T]) take(ok func(T) bool) (T, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, v := range b.items {
		if !b.used[i] && ok(v) {
			b.used[i] = true
			return v, true
		}
	}
	var zero T
	return zero, false
}

// imClient is a mellium session whose Serve loop collects roster pushes,
// presence and chat messages.
type imClient struct {
	*xmpp.Session
	name     string
	pushes   *imInbox[mroster.Item]
	presence *imInbox[mstanza.Presence]
	messages *imInbox[imMessage]
	done     chan struct{} // closed when Serve returned, with err set
	err      error
}

// imLogin logs user in over STARTTLS (self-signed certificate accepted)
// and starts serving the session. Every read and write on the connection
// fails after ctx's deadline, so a misbehaving server cannot hang the test.
func imLogin(ctx context.Context, t *testing.T, addr, user, pw string) *imClient {
	t.Helper()
	s, err := xmpptest.MelliumSession(ctx, t, addr, user, pw, sasl.ScramSha256)
	if err != nil {
		t.Fatalf("%s: login: %v", user, err)
	}
	c := &imClient{
		Session:  s,
		name:     user,
		pushes:   newIMInbox[mroster.Item](),
		presence: newIMInbox[mstanza.Presence](),
		messages: newIMInbox[imMessage](),
		done:     make(chan struct{}),
	}
	var opts []mux.Option
	for _, typ := range []mstanza.PresenceType{mstanza.AvailablePresence, mstanza.UnavailablePresence,
		mstanza.SubscribePresence, mstanza.SubscribedPresence, mstanza.UnsubscribePresence,
		mstanza.UnsubscribedPresence, mstanza.ErrorPresence} {
		opts = append(opts, mux.PresenceFunc(typ, xml.Name{}, c.handlePresence))
	}
	m := mux.New(mstanza.NSClient, append(opts,
		mroster.Handle(mroster.Handler{Push: c.handlePush}),
		mux.MessageFunc(mstanza.ChatMessage, xml.Name{Local: "body"}, c.handleMessage),
		// Any payload: called once per child element.
		mux.MessageFunc(mstanza.ErrorMessage, xml.Name{}, c.handleMessage),
	)...)
	go func() {
		c.err = s.Serve(m)
		close(c.done)
	}()
	t.Cleanup(func() { s.Close() })
	return c
}

// The handlers run on the Serve goroutine.
func (c *imClient) handlePush(_ string, item mroster.Item) error {
	c.pushes.add(item)
	return nil
}

// handlePresence is called once per child element of a presence (once
// for one without children); the duplicates do no harm.
func (c *imClient) handlePresence(p mstanza.Presence, _ xmlstream.TokenReadEncoder) error {
	c.presence.add(p)
	return nil
}

// handleMessage decodes the whole message (the token reader starts at the
// message's start element).
func (c *imClient) handleMessage(_ mstanza.Message, t xmlstream.TokenReadEncoder) error {
	var m imMessage
	if err := xml.NewTokenDecoder(t).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	c.messages.add(m)
	return nil
}

type imMatch[T any] struct {
	desc string
	ok   func(T) bool
}

// imAwait waits until each of wants matched a distinct value received in b,
// in any order (a step's pushes, presence and answers race with each other
// by design); values no want takes stay for later awaits.
func imAwait[T any](ctx context.Context, t *testing.T, c *imClient, b *imInbox[T], wants ...imMatch[T]) []T {
	t.Helper()
	got := make([]T, len(wants))
	done := make([]bool, len(wants))
	for left := len(wants); ; {
		for i, w := range wants {
			if !done[i] {
				if v, ok := b.take(w.ok); ok {
					got[i], done[i] = v, true
					left--
				}
			}
		}
		if left == 0 {
			return got
		}
		select {
		case <-b.notify:
		case <-c.done:
			t.Fatalf("%s: session ended (%v) while waiting for %s", c.name, c.err, imPending(wants, done))
		case <-ctx.Done():
			t.Fatalf("%s: timed out waiting for %s", c.name, imPending(wants, done))
		}
	}
}

func imPending[T any](wants []imMatch[T], done []bool) string {
	var s []string
	for i, w := range wants {
		if !done[i] {
			s = append(s, w.desc)
		}
	}
	return strings.Join(s, "; ")
}

func imPush(contact mjid.JID, sub string) imMatch[mroster.Item] {
	return imMatch[mroster.Item]{
		desc: fmt.Sprintf("roster push of %v with subscription %s", contact, sub),
		ok:   func(it mroster.Item) bool { return it.JID.Equal(contact) && it.Subscription == sub },
	}
}

func imPresence(from mjid.JID, typ mstanza.PresenceType) imMatch[mstanza.Presence] {
	return imMatch[mstanza.Presence]{
		desc: fmt.Sprintf("presence type %q from %v", typ, from),
		ok:   func(p mstanza.Presence) bool { return p.Type == typ && p.From.Equal(from) },
	}
}

func imMessageFrom(from mjid.JID, body string) imMatch[imMessage] {
	return imMatch[imMessage]{
		desc: fmt.Sprintf("message %q from %v", body, from),
		ok:   func(m imMessage) bool { return m.Body == body },
	}
}

// sendPresence writes a presence stanza.
func (c *imClient) sendPresence(ctx context.Context, t *testing.T, to mjid.JID, typ mstanza.PresenceType) {
	t.Helper()
	if err := c.Send(ctx, mstanza.Presence{To: to, Type: typ}.Wrap(nil)); err != nil {
		t.Fatalf("%s: send presence %q to %v: %v", c.name, typ, to, err)
	}
}

func (c *imClient) sendChat(ctx context.Context, t *testing.T, to mjid.JID, body string) {
	t.Helper()
	msg := imMessage{Message: mstanza.Message{To: to, Type: mstanza.ChatMessage}, Body: body}
	if err := c.Encode(ctx, msg); err != nil {
		t.Fatalf("%s: send message: %v", c.name, err)
	}
}

// fetchRoster gets the roster with mellium's roster package.
func (c *imClient) fetchRoster(ctx context.Context, t *testing.T) []mroster.Item {
	t.Helper()
	it := mroster.Fetch(ctx, c.Session)
	var items []mroster.Item
	for it.Next() {
		items = append(items, it.Item())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("%s: roster get: %v", c.name, err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("%s: roster get: %v", c.name, err)
	}
	return items
}

// wantRoster checks that c's roster is exactly contact with subscription
// sub.
func (c *imClient) wantRoster(ctx context.Context, t *testing.T, contact mjid.JID, sub string) {
	t.Helper()
	items := c.fetchRoster(ctx, t)
	if len(items) != 1 || !items[0].JID.Equal(contact) || items[0].Subscription != sub {
		t.Fatalf("%s: roster %+v, want only %v with subscription %s", c.name, items, contact, sub)
	}
}

// online fetches the roster (which makes the session an interested
// resource, RFC 6121 §2.1.6) and sends initial presence, which the server
// reflects to the session itself (§4.2.2).
func (c *imClient) online(ctx context.Context, t *testing.T) []mroster.Item {
	t.Helper()
	items := c.fetchRoster(ctx, t)
	c.sendPresence(ctx, t, mjid.JID{}, mstanza.AvailablePresence)
	imAwait(ctx, t, c, c.presence, imPresence(c.LocalAddr(), mstanza.AvailablePresence))
	return items
}

func TestMelliumInterop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "wonderland")
	s.AddUser(t, "bob", "builder")

	alice := imLogin(ctx, t, s.Addr, "alice", "wonderland")
	bob := imLogin(ctx, t, s.Addr, "bob", "builder")
	aliceBare, bobBare := alice.LocalAddr().Bare(), bob.LocalAddr().Bare()
	for _, c := range []*imClient{alice, bob} {
		if items := c.online(ctx, t); len(items) != 0 {
			t.Fatalf("%s: new account's roster %+v", c.name, items)
		}
	}

	// RFC 6121 §3.1: alice asks; bob approves and asks back; alice
	// approves. The pushes (Item has no 'ask': "none" is the pending
	// request), the request and the approvals, each approval followed by
	// the approver's available presence (§3.1.5).
	alice.sendPresence(ctx, t, bobBare, mstanza.SubscribePresence)
	imAwait(ctx, t, alice, alice.pushes, imPush(bobBare, "none"))
	imAwait(ctx, t, bob, bob.presence, imPresence(aliceBare, mstanza.SubscribePresence))

	bob.sendPresence(ctx, t, aliceBare, mstanza.SubscribedPresence)
	imAwait(ctx, t, bob, bob.pushes, imPush(aliceBare, "from"))
	imAwait(ctx, t, alice, alice.pushes, imPush(bobBare, "to"))
	imAwait(ctx, t, alice, alice.presence,
		imPresence(bobBare, mstanza.SubscribedPresence),
		imPresence(bob.LocalAddr(), mstanza.AvailablePresence))

	bob.sendPresence(ctx, t, aliceBare, mstanza.SubscribePresence)
	imAwait(ctx, t, bob, bob.pushes, imPush(aliceBare, "from")) // with ask='subscribe'
	imAwait(ctx, t, alice, alice.presence, imPresence(bobBare, mstanza.SubscribePresence))

	alice.sendPresence(ctx, t, bobBare, mstanza.SubscribedPresence)
	imAwait(ctx, t, alice, alice.pushes, imPush(bobBare, "both"))
	imAwait(ctx, t, bob, bob.pushes, imPush(aliceBare, "both"))
	imAwait(ctx, t, bob, bob.presence,
		imPresence(aliceBare, mstanza.SubscribedPresence),
		imPresence(alice.LocalAddr(), mstanza.AvailablePresence))

	alice.wantRoster(ctx, t, bobBare, "both")
	bob.wantRoster(ctx, t, aliceBare, "both")

	// Chat both ways: to bob's bare JID, and back to alice's full JID.
	alice.sendChat(ctx, t, bobBare, "hello bob")
	m := imAwait(ctx, t, bob, bob.messages, imMessageFrom(alice.LocalAddr(), "hello bob"))[0]
	if !m.From.Equal(alice.LocalAddr()) || m.Delay != nil {
		t.Fatalf("bob got %+v", m)
	}
	bob.sendChat(ctx, t, alice.LocalAddr(), "hello alice")
	m = imAwait(ctx, t, alice, alice.messages, imMessageFrom(bob.LocalAddr(), "hello alice"))[0]
	if !m.From.Equal(bob.LocalAddr()) {
		t.Fatalf("alice got %+v", m)
	}

	// Offline delivery (XEP-0160): bob leaves, and alice, subscribed to
	// his presence, hears of it (RFC 6121 §4.5.2).
	oldBob := bob.LocalAddr()
	if err := bob.Close(); err != nil {
		t.Fatalf("bob: close: %v", err)
	}
	select {
	case <-bob.done:
	case <-ctx.Done():
		t.Fatal("bob's session did not end")
	}
	imAwait(ctx, t, alice, alice.presence, imPresence(oldBob, mstanza.UnavailablePresence))
	alice.sendChat(ctx, t, bobBare, "while you were away")
	// One session's stanzas are handled in order: once the ping is
	// answered the message is stored.
	if err := mping.Send(ctx, alice.Session, mjid.MustParse("localhost")); err != nil {
		t.Fatalf("alice: ping: %v", err)
	}
	if m, ok := alice.messages.take(func(imMessage) bool { return true }); ok {
		t.Fatalf("alice got %+v (an error for the offline message?)", m)
	}

	bob = imLogin(ctx, t, s.Addr, "bob", "builder")
	if items := bob.online(ctx, t); len(items) != 1 || items[0].Subscription != "both" {
		t.Fatalf("bob's roster after reconnecting: %+v", items)
	}
	m = imAwait(ctx, t, bob, bob.messages, imMessageFrom(alice.LocalAddr(), "while you were away"))[0]
	if !m.From.Equal(alice.LocalAddr()) || m.Type != mstanza.ChatMessage {
		t.Fatalf("offline message %+v", m)
	}
	if m.Delay == nil || m.Delay.Time.IsZero() || !m.Delay.From.Equal(mjid.MustParse("localhost")) {
		t.Fatalf("offline message without a proper delay element (XEP-0203): %+v", m.Delay)
	}
	if d := time.Since(m.Delay.Time); d < 0 || d > 30*time.Second {
		t.Errorf("delay stamp %v is %v off", m.Delay.Time, d)
	}
	// Both see each other available again (§4.2.2, §4.2.3).
	imAwait(ctx, t, bob, bob.presence, imPresence(alice.LocalAddr(), mstanza.AvailablePresence))
	imAwait(ctx, t, alice, alice.presence, imPresence(bob.LocalAddr(), mstanza.AvailablePresence))

	// Nothing along the way bounced.
	for _, c := range []*imClient{alice, bob} {
		if p, ok := c.presence.take(func(p mstanza.Presence) bool { return p.Type == mstanza.ErrorPresence }); ok {
			t.Errorf("%s got an error presence from %v", c.name, p.From)
		}
		if m, ok := c.messages.take(func(m imMessage) bool { return m.Type == mstanza.ErrorMessage }); ok {
			t.Errorf("%s got an error message from %v", c.name, m.From)
		}
	}
}
