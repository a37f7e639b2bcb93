package pubsub_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// BenchmarkFanout measures a publish to a node with 1,000 and 10,000
// subscribers: the publisher's round trip (ns/op) and the rate at which
// the service turns publications into routed notifications
// (deliveries/s, measured until the notifications of every publish were
// routed). The subscribers are local accounts' bare JIDs without a
// session, so the router finds nobody to hand a notification to: what is
// measured is the service's cost (store the item, build the payload once,
// one message copy and one Route per subscriber), not socket writes.
// The publisher is subscribed too and receives every notification.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) { benchFanout(b, subs) })
	}
}

func benchFanout(b *testing.B, subs int) {
	s := xmpptest.Start(b, "log: {level: error}")
	s.AddUser(b, "owner", "secret")
	ctx := context.Background()
	for i := range subs {
		if err := s.Store().Users().CreateUser(ctx, storage.User{Username: fmt.Sprintf("s%05d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	o := login(b, s, "owner", "bench")
	o.create("bench")
	o.subscribe("bench")
	const batch = 1000
	for i := 0; i < subs; i += batch {
		var e strings.Builder
		for j := i; j < min(i+batch, subs); j++ {
			fmt.Fprintf(&e, "<subscription jid='s%05d@localhost' subscription='subscribed'/>", j)
		}
		o.ok("set", `<pubsub xmlns='`+nsOwner+`'><subscriptions node='bench'>`+e.String()+`</subscriptions></pubsub>`)
	}
	r := o.ok("get", `<pubsub xmlns='`+nsOwner+`'><subscriptions node='bench'/></pubsub>`)
	if n := len(pubsubOf(b, r, nsOwner).Child(nsOwner, "subscriptions").ChildElements()); n != subs+1 {
		b.Fatalf("%d subscriptions", n)
	}
	o.inbox = nil

	// publish sends one publish and reads until its result, counting the
	// publisher's own notifications that arrive meanwhile.
	seen := 0
	read := func() {
		el := o.read()
		if el.Local == "message" && el.Child(nsEvent, "event") != nil {
			seen++
		} else if el.Local == "iq" && el.Attr("type") != stanza.TypeResult {
			b.Fatalf("publish: %s", el)
		}
	}
	publish := func(id string) {
		o.Send(`<iq type='set' to='` + service + `' id='` + id + `'><pubsub xmlns='` + nsPS + `'><publish node='bench'><item id='` + id +
			`'><reading xmlns='urn:example:sensor' unit='C'>21.5</reading></item></publish></pubsub></iq>`)
		for {
			el := o.read()
			if el.Local == "iq" && el.Attr("id") == id {
				if el.Attr("type") != stanza.TypeResult {
					b.Fatalf("publish: %s", el)
				}
				return
			}
			if el.Local == "message" && el.Child(nsEvent, "event") != nil {
				seen++
			}
		}
	}
	// The notifications of a node are routed in order, so when the
	// publisher has its notification of publish k, every publish before k
	// was fanned out completely. At most window publications are in
	// flight: the loop runs at the rate the service fans out.
	const window = 4
	begin := time.Now()
	n := 0
	for b.Loop() {
		n++
		publish(fmt.Sprintf("p%d", n))
		for n-seen > window {
			read()
		}
	}
	// Wait for the last notifications; the last one the publisher gets
	// may be routed before the other subscribers', so one more publish
	// (not counted) marks the end of the fan-out of all of them.
	for seen < n {
		read()
	}
	publish("end")
	for seen < n+1 {
		read()
	}
	elapsed := time.Since(begin)
	b.ReportMetric(float64(n*(subs+1))/elapsed.Seconds(), "deliveries/s")
}
