package c2s_test

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const (
	nsCSI        = "urn:xmpp:csi:0"
	nsEvent      = "http://jabber.org/protocol/pubsub#event"
	nsChatStates = "http://jabber.org/protocol/chatstates"

	inactive = `<inactive xmlns='urn:xmpp:csi:0'/>`
	active   = `<active xmlns='urn:xmpp:csi:0'/>`
)

// presenceTo is a directed presence with a status.
func presenceTo(to, status string) string {
	return `<presence to='` + to + `'><status>` + status + `</status></presence>`
}

// event is a pubsub notification of item id on node, as a service or a
// PEP account sends it (XEP-0060 §7.1.2).
func event(to, node, id string) string {
	return `<message to='` + to + `'><event xmlns='` + nsEvent + `'><items node='` + node + `'><item id='` + id +
		`'><v xmlns='urn:example'/></item></items></event></message>`
}

// chatState is a message with only a chat state (XEP-0085).
func chatState(to, state string) string {
	return `<message type='chat' to='` + to + `'><` + state + ` xmlns='` + nsChatStates + `'/></message>`
}

// describe renders a stanza as one transcript line.
func describe(el *stanza.Element) string {
	switch el.Local {
	case "presence":
		typ := el.Attr("type")
		if typ == "" {
			typ = "available"
		}
		s := "presence " + typ
		if st := el.Child(stanza.NSClient, "status"); st != nil {
			s += " " + st.Text()
		}
		return s
	case "message":
		if b := el.Child(stanza.NSClient, "body"); b != nil {
			return "message " + b.Text()
		}
		if ev := el.Child(nsEvent, "event"); ev != nil {
			items := ev.Child(nsEvent, "items")
			return "event " + items.Attr("node") + " " + items.Child(nsEvent, "item").Attr("id")
		}
		if cs := el.FirstChild(); cs != nil && cs.Space == nsChatStates {
			return "chatstate " + cs.Local
		}
	case "iq":
		return "iq " + el.Attr("type") + " " + el.Attr("id")
	}
	return el.String()
}

// next returns the description of the next stanza, skipping stream
// management requests.
func next(t *testing.T, c *xmpptest.Client) string {
	t.Helper()
	for {
		el := c.NextElement()
		if el.Space == nsSM && el.Local == "r" {
			continue
		}
		return describe(el)
	}
}

// expect reads the stanzas want describes, in order.
func expect(t *testing.T, c *xmpptest.Client, want ...string) {
	t.Helper()
	var got []string
	for range want {
		got = append(got, next(t, c))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n\t%q\nwant\n\t%q", got, want)
	}
}

var pings atomic.Int64

// pingThrough sends xml followed by a ping to the server and returns what
// arrived before the pong (stream management requests left out). In-order
// processing (XEP-0352 §5.1) makes the pong come after whatever xml
// caused.
func pingThrough(t *testing.T, c *xmpptest.Client, xml string) []string {
	t.Helper()
	id := fmt.Sprint("csi-ping-", pings.Add(1))
	c.Send(xml + `<iq type='get' id='` + id + `' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	var got []string
	for {
		s := next(t, c)
		if s == "iq result "+id {
			return got
		}
		got = append(got, s)
	}
}

// goInactive sends <inactive/> and waits until it is processed.
func goInactive(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	if got := pingThrough(t, c, inactive); len(got) > 0 {
		t.Fatalf("before going inactive: %q", got)
	}
}

// TestCSIFeature: <csi/> is offered after authentication (XEP-0352 §4.1),
// not before.
func TestCSIFeature(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "bob", "secret")
	c := xmpptest.Dial(t, s)
	if f := c.OpenStream(); f.Child(nsCSI, "csi") != nil {
		t.Fatalf("<csi/> before authentication: %s", f)
	}
	_, f := xmpptest.Authenticate(t, s, "bob", "secret")
	if f.Child(nsCSI, "csi") == nil {
		t.Fatalf("no <csi/> in %s", f)
	}
}

// TestCSIPresenceHeld: while the client is inactive, presence updates
// are held and only the latest of each sender is sent when it becomes
// active (§3.2), before anything it asks for next (§5.1).
func TestCSIPresenceHeld(t *testing.T) {
	s, a, b := twoUsers(t, "")
	s.AddUser(t, "carol", "secret")
	c := xmpptest.Login(t, s, "carol", "secret", "tablet")
	goInactive(t, b)
	// Each sender's pong comes after its presence was sent to Bob.
	for i := 1; i <= 3; i++ {
		a.Send(presenceTo("bob@localhost/sensor", fmt.Sprint("alice ", i)))
	}
	ping(t, a, "localhost")
	for i := 1; i <= 3; i++ {
		c.Send(presenceTo("bob@localhost/sensor", fmt.Sprint("carol ", i)))
	}
	c.Send(`<presence type='unavailable' to='bob@localhost/sensor'/>`)
	ping(t, c, "localhost")
	got := pingThrough(t, b, active)
	want := []string{"presence available alice 3", "presence unavailable"}
	if !slices.Equal(got, want) {
		t.Fatalf("after <active/>: %q, want %q", got, want)
	}
	// Active again: sent at once.
	a.Send(presenceTo("bob@localhost/sensor", "alice 4"))
	expect(t, b, "presence available alice 4")
}

// TestCSIUrgent: a message with a body, an IQ and a subscription request
// are sent at once, each after everything held before it, so the client
// sees stanzas in the order they were sent to it.
func TestCSIUrgent(t *testing.T) {
	_, a, b := twoUsers(t, "")
	b.Send(`<presence/>`)
	expect(t, b, "presence available") // its own
	goInactive(t, b)

	a.Send(presenceTo("bob@localhost/sensor", "away"))
	a.Send(chatState("bob@localhost/sensor", "composing"))
	a.Send(chatState("bob@localhost/sensor", "paused"))
	a.Send(chat("bob@localhost/sensor", "hello"))
	expect(t, b, "presence available away", "chatstate paused", "message hello")

	a.Send(presenceTo("bob@localhost/sensor", "back"))
	a.Send(`<iq type='get' id='q1' to='bob@localhost/sensor'><query xmlns='urn:example:sensor'/></iq>`)
	expect(t, b, "presence available back", "iq get q1")

	// RFC 6121 §3.1.3: a subscription request must not be lost.
	a.Send(chatState("bob@localhost/sensor", "gone"))
	a.Send(`<presence type='subscribe' to='bob@localhost'/>`)
	expect(t, b, "chatstate gone", "presence subscribe")

	// Still inactive: held again.
	a.Send(presenceTo("bob@localhost/sensor", "later"))
	ping(t, a, "localhost")
	if got := pingThrough(t, b, ""); !slices.Equal(got, []string{"presence available later"}) {
		t.Fatalf("before the pong: %q", got)
	}
}

// TestCSIPubSubCollapse: pubsub notifications of one node collapse to the
// latest, which keeps the place of the first.
func TestCSIPubSubCollapse(t *testing.T) {
	_, a, b := twoUsers(t, "")
	goInactive(t, b)
	for _, n := range []struct{ node, id string }{{"temp", "1"}, {"hum", "1"}, {"temp", "2"}, {"temp", "3"}} {
		a.Send(event("bob@localhost/sensor", n.node, n.id))
	}
	ping(t, a, "localhost")
	got := pingThrough(t, b, active)
	if want := []string{"event temp 3", "event hum 1"}; !slices.Equal(got, want) {
		t.Fatalf("after <active/>: %q, want %q", got, want)
	}
}

// TestCSIBound: an inactive session holds a bounded set; reaching the
// bound sends everything held (here half of c2s.outbound_queue).
func TestCSIBound(t *testing.T) {
	_, a, b := twoUsers(t, "c2s: {outbound_queue: 8}")
	goInactive(t, b)
	for i := range 5 {
		a.Send(event("bob@localhost/sensor", fmt.Sprint("n", i), "x"))
	}
	expect(t, b, "event n0 x", "event n1 x", "event n2 x", "event n3 x", "event n4 x")
}

// TestCSIStreamManagement: a held stanza is not sent yet, so stream
// management does not count it (XEP-0198 §4) until it is flushed.
func TestCSIStreamManagement(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	b, _ := smLogin(t, s, "bob", "sensor", false)
	goInactive(t, b) // sent: the pong (1)
	for i := 1; i <= 3; i++ {
		a.Send(presenceTo("bob@localhost/sensor", fmt.Sprint(i)))
	}
	ping(t, a, "localhost")
	b.Send(`<a xmlns='urn:xmpp:sm:3' h='1'/>`)
	got := pingThrough(t, b, active) // sent: presence 3 and the pong (3)
	if want := []string{"presence available 3"}; !slices.Equal(got, want) {
		t.Fatalf("after <active/>: %q, want %q", got, want)
	}
	b.Send(`<a xmlns='urn:xmpp:sm:3' h='3'/>`)
	smPing(t, b) // the ack was accepted (4)

	goInactive(t, b) // (5)
	a.Send(presenceTo("bob@localhost/sensor", "held"))
	ping(t, a, "localhost")
	b.Send(`<a xmlns='urn:xmpp:sm:3' h='6'/>`)
	for {
		el := b.NextElement()
		if el.Space != stanza.NSStream || el.Local != "error" {
			continue
		}
		if hc := el.Child(nsSM, "handled-count-too-high"); hc == nil || hc.Attr("send-count") != "5" {
			t.Fatalf("acknowledging a held stanza: %s", el)
		}
		break
	}
}

// TestCSIResume: what an inactive session held when its connection was
// lost is resent on resumption, in order, and the resumed stream starts
// active (§5.2).
func TestCSIResume(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(*xmpptest.Client)
	}{
		{"dropped", func(b *xmpptest.Client) { b.Drop() }},
		// The server has not noticed yet that the device is gone.
		{"still open", func(*xmpptest.Client) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := xmpptest.Start(t, "")
			s.AddUser(t, "alice", "secret")
			s.AddUser(t, "bob", "secret")
			a := xmpptest.Login(t, s, "alice", "secret", "phone")
			b, en := smLogin(t, s, "bob", "sensor", true)
			goInactive(t, b) // the pong: 1
			a.Send(presenceTo("bob@localhost/sensor", "1"))
			a.Send(chatState("bob@localhost/sensor", "composing"))
			a.Send(presenceTo("bob@localhost/sensor", "2"))
			ping(t, a, "localhost")
			tc.lose(b)

			b2 := resume(t, s, "bob", en.Attr("id"), 1)
			if r := b2.Expect(nsSM, "resumed"); r.Attr("h") != "1" {
				t.Fatalf("resumed: %s", r)
			}
			// Sent to the session now, it comes after what was held
			// before, and at once: the resumed stream is active.
			a.Send(presenceTo("bob@localhost/sensor", "3"))
			expect(t, b2, "presence available 2", "chatstate composing", "presence available 3")
			b2.Send(`<a xmlns='urn:xmpp:sm:3' h='4'/>`)
			smPing(t, b2)
		})
	}
}

// TestCSIOrderUnderLoad: two contacts send presence updates and messages
// while the client switches between inactive and active as fast as it
// can. Whatever is held, collapsed and flushed, each contact's stanzas
// arrive in the order they were sent, every message arrives, and the
// last presence is the latest.
func TestCSIOrderUnderLoad(t *testing.T) {
	s := xmpptest.Start(t, "")
	for _, u := range []string{"alice", "carol", "bob"} {
		s.AddUser(t, u, "secret")
	}
	senders := []*xmpptest.Client{
		xmpptest.Login(t, s, "alice", "secret", "phone"),
		xmpptest.Login(t, s, "carol", "secret", "tablet"),
	}
	b, _ := smLogin(t, s, "bob", "sensor", false)
	const rounds = 300
	const to = "bob@localhost/sensor"
	var sending, toggling sync.WaitGroup
	errs := make(chan error, len(senders)+1)
	// Raw writes: only the test goroutine may fail the test.
	for _, c := range senders {
		sending.Go(func() {
			for i := range rounds {
				x := presenceTo(to, strconv.Itoa(i))
				if i%10 == 9 {
					x = chat(to, strconv.Itoa(i))
				}
				if _, err := io.WriteString(c.Conn, x); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Bob's own pings, answered while inactive, flush what is held too.
	toggle := inactive + strings.Repeat(`<presence type='probe' to='alice@localhost'/>`, 3) +
		`<iq type='get' id='t' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>` +
		strings.Repeat(`<presence type='probe' to='alice@localhost'/>`, 3) + active
	toggling.Go(func() {
		for range rounds {
			if _, err := io.WriteString(b.Conn, toggle); err != nil {
				errs <- err
				return
			}
		}
	})
	go func() {
		sending.Wait()
		for _, c := range senders {
			// Their pongs come after their stanzas were sent to Bob.
			io.WriteString(c.Conn, `<iq type='get' id='end' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
		}
	}()
	for _, c := range senders {
		if el := c.Expect(stanza.NSClient, "iq"); el.Attr("id") != "end" {
			t.Fatalf("sender: %s", el)
		}
	}
	toggling.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	b.Send(inactive + active + `<iq type='get' id='end' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)

	last := map[string]int{}
	bodies, presences, lastPresence := map[string]int{}, map[string]int{}, map[string]int{}
	for {
		el := b.NextElement()
		if el.Space == nsSM {
			continue
		}
		if el.Local == "iq" && el.Attr("id") == "end" {
			break
		}
		if el.Local == "iq" && el.Attr("id") == "t" {
			continue
		}
		from := el.Attr("from")
		var n int
		switch d := describe(el); {
		case strings.HasPrefix(d, "presence available "):
			n, _ = strconv.Atoi(strings.TrimPrefix(d, "presence available "))
			presences[from]++
			lastPresence[from] = n
		case strings.HasPrefix(d, "message "):
			n, _ = strconv.Atoi(strings.TrimPrefix(d, "message "))
			bodies[from]++
		default:
			t.Fatalf("unexpected %s", el)
		}
		if l, ok := last[from]; ok && n <= l {
			t.Fatalf("from %s: %d after %d", from, n, l)
		}
		last[from] = n
	}
	for _, from := range []string{"alice@localhost/phone", "carol@localhost/tablet"} {
		if bodies[from] != rounds/10 || last[from] != rounds-1 || lastPresence[from] != rounds-2 {
			t.Fatalf("from %s: %d messages, last %d, last presence %d", from, bodies[from], last[from], lastPresence[from])
		}
		t.Logf("from %s: %d of %d presence updates sent", from, presences[from], rounds-rounds/10)
	}
}

// TestCSIUnknownElement: any other element in the namespace is
// unsupported-stanza-type (RFC 6120 §4.9.3.24).
func TestCSIUnknownElement(t *testing.T) {
	_, _, b := twoUsers(t, "")
	b.Send(`<busy xmlns='urn:xmpp:csi:0'/>`)
	b.ExpectStreamError(stanza.StreamUnsupportedStanzaType)
}
