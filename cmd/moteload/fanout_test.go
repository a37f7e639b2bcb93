package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/internal/xmppclient"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const testHeader = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`

// parseStanzas decodes the top-level elements of s as a client stream's
// content.
func parseStanzas(t *testing.T, s string) []*stanza.Element {
	t.Helper()
	dec := xmlstream.NewDecoder(strings.NewReader(testHeader+s), xmlstream.DefaultLimits)
	var els []*stanza.Element
	for {
		ev, err := dec.Next()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return els
		}
		if err != nil {
			t.Fatalf("parsing %q: %v", s, err)
		}
		if ev.Kind == xmlstream.Element {
			els = append(els, ev.Elem)
		}
	}
}

func parseOne(t *testing.T, s string) *stanza.Element {
	t.Helper()
	els := parseStanzas(t, s)
	if len(els) != 1 {
		t.Fatalf("%q: %d elements, want 1", s, len(els))
	}
	return els[0]
}

// notification is a pubsub event notification (XEP-0060 §7.1.2.1) of node
// with items id=seq, payload sent.
func notification(node string, items ...[2]int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<message from='pubsub.localhost' to='user2@localhost' type='headline' id='n1'>`+
		`<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='%s'>`, node)
	for _, it := range items {
		fmt.Fprintf(&b, `<item id='%d' publisher='user1@localhost'><x xmlns='urn:mote:moteload'>%d</x></item>`, it[0], it[1])
	}
	b.WriteString(`</items></event></message>`)
	return b.String()
}

func TestEachItem(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want [][2]int64
	}{
		{"one", notification("moteload", [2]int64{7, 1234}), [][2]int64{{7, 1234}}},
		{"two", notification("moteload", [2]int64{7, 1234}, [2]int64{8, 1240}), [][2]int64{{7, 1234}, {8, 1240}}},
		{"other node", notification("other", [2]int64{7, 1234}), nil},
		{"no event", `<message from='pubsub.localhost'><body>7</body></message>`, nil},
		{"retract", `<message><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='moteload'><retract id='7'/></items></event></message>`, nil},
		{"no payload", `<message><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='moteload'><item id='7'/></items></event></message>`, nil},
		{"foreign payload", `<message><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='moteload'><item id='7'><x xmlns='urn:other'>5</x></item></items></event></message>`, nil},
		{"bad id", `<message><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='moteload'><item id='abc'><x xmlns='urn:mote:moteload'>5</x></item></items></event></message>`, nil},
		{"bad time", `<message><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='moteload'><item id='3'><x xmlns='urn:mote:moteload'>soon</x></item></items></event></message>`, nil},
		{"wrong namespace", `<message><event xmlns='http://jabber.org/protocol/pubsub'><items node='moteload'><item id='3'><x xmlns='urn:mote:moteload'>5</x></item></items></event></message>`, nil},
		{"delete", `<message><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='moteload'/></event></message>`, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][2]int64
			n := eachItem(parseOne(t, tt.xml), "moteload", func(seq, sent int64) { got = append(got, [2]int64{seq, sent}) })
			if n != len(got) || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%d: got %v (n %d), want %v", i, got, n, tt.want)
			}
		})
	}
}

func TestSlot(t *testing.T) {
	for _, seq := range []int64{1, 2, 1 << 38, 1<<39 - 1} {
		v := slotTag(seq)
		if !slotHolds(v, seq) || !slotHolds(v+5, seq) || !slotHolds(v|slotDone, seq) || slotHolds(v, seq+1) {
			t.Errorf("slot of %d", seq)
		}
	}
}

// TestFirst checks the duplicate detection: out of order is fine, a
// repeat within the window is not.
func TestFirst(t *testing.T) {
	s := &subscriber{}
	steps := []struct {
		seq  int64
		want bool
	}{
		{1, true}, {3, true}, {2, true}, {2, false}, {3, false}, {1, false},
		{70, true}, {10, true}, {10, false}, {3, true}, {70, false}, {69, true}, {200, true}, {70, true}, {200, false},
	}
	for i, c := range steps {
		if got := s.first(c.seq); got != c.want {
			t.Errorf("%d: first(%d) = %v, want %v", i, c.seq, got, c.want)
		}
	}
}

// testFanout returns a run in window mode (window 0: rate mode) with nsubs
// subscribers whose publisher writes to out.
func testFanout(nsubs, window int, out io.Writer) *fanoutRun {
	st := newStats(nil, false)
	r := &fanoutRun{st: st, service: "pubsub.localhost", node: "moteload", window: window, nsubs: int64(nsubs)}
	r.base = time.Now()
	r.baseUnix = r.base.UnixNano()
	r.measFirst.Store(math.MaxInt64)
	if window > 0 {
		r.ring = make([]atomic.Uint64, 64)
		r.mask = 63
	}
	r.prefix = []byte("<iq type='set' to='pubsub.localhost' id='p")
	r.middle = []byte("'><pubsub xmlns='" + NSPubSub + "'><publish node='moteload'><item id='")
	r.pub = &conn{st: st, w: bufio.NewWriter(out)}
	return r
}

// published returns the item ids and send times of the publish requests in
// out, checking each request's shape.
func publishedItems(t *testing.T, out *bytes.Buffer) [][2]int64 {
	t.Helper()
	var items [][2]int64
	for _, iq := range parseStanzas(t, out.String()) {
		item := iq.Child(NSPubSub, "pubsub").Child(NSPubSub, "publish").Child(NSPubSub, "item")
		if iq.Attr("type") != "set" || iq.Attr("to") != "pubsub.localhost" || iq.Attr("id") != "p"+item.Attr("id") ||
			iq.Child(NSPubSub, "pubsub").Child(NSPubSub, "publish").Attr("node") != "moteload" {
			t.Errorf("publish request %s", iq)
		}
		seq, _ := strconv.ParseInt(item.Attr("id"), 10, 64)
		sent, err := strconv.ParseInt(item.Child(NSMoteload, "x").Text(), 10, 64)
		if err != nil {
			t.Errorf("payload of %s: %v", iq, err)
		}
		items = append(items, [2]int64{seq, sent})
	}
	out.Reset()
	return items
}

func ids(items [][2]int64) []int64 {
	var s []int64
	for _, it := range items {
		s = append(s, it[0])
	}
	return s
}

// TestFanoutWindowAccounting drives the window accounting with synthetic
// notifications and publish replies: an item completes when every
// subscriber has it or when its publish fails, and only then is the next
// one published.
func TestFanoutWindowAccounting(t *testing.T) {
	var out bytes.Buffer
	r := testFanout(3, 2, &out)
	subs := []*subscriber{{run: r}, {run: r}, {run: r}}
	pub := &publisher{run: r}

	r.refill()
	r.flush()
	items := publishedItems(t, &out)
	if fmt.Sprint(ids(items)) != "[1 2]" {
		t.Fatalf("first window %v", ids(items))
	}
	deliver := func(s *subscriber, its ...[2]int64) {
		s.message(parseOne(t, notification("moteload", its...)))
		s.batchEnd()
	}
	// Item 1 reaches two of three subscribers: nothing new yet.
	deliver(subs[0], items[0])
	deliver(subs[1], items[0])
	deliver(subs[1], items[0]) // a duplicate does not count towards completion
	if out.Len() != 0 || r.completed.Load() != 0 {
		t.Fatalf("published %q before item 1 was complete", out.String())
	}
	deliver(subs[2], items[0])
	if got := ids(publishedItems(t, &out)); fmt.Sprint(got) != "[3]" || r.completed.Load() != 1 {
		t.Fatalf("after item 1: published %v, completed %d", got, r.completed.Load())
	}
	// Item 2's publish fails: it completes, item 4 goes out, and an error
	// is counted.
	pub.reply(parseOne(t, `<iq type='error' id='p2' from='pubsub.localhost'><error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`))
	pub.batchEnd()
	if got := ids(publishedItems(t, &out)); fmt.Sprint(got) != "[4]" {
		t.Fatalf("after the error: published %v", got)
	}
	pub.reply(parseOne(t, `<iq type='result' id='p1' from='pubsub.localhost'/>`))
	pub.reply(parseOne(t, `<iq type='result' id='other'/>`))
	if r.pubOK.Load() != 1 || r.pubErr.Load() != 1 || r.st.errors.Load() != 1 || r.measErr.Load() != 0 {
		t.Errorf("replies: ok %d err %d errors %d measErr %d", r.pubOK.Load(), r.pubErr.Load(), r.st.errors.Load(), r.measErr.Load())
	}
	// An item published before the run (a last published item) is not
	// counted.
	deliver(subs[0], [2]int64{1, r.baseUnix - 1})
	var recv, dups int64
	for _, s := range subs {
		recv += s.recv.Load()
		dups += s.dups.Load()
	}
	if recv != 3 || dups != 1 {
		t.Errorf("received %d, duplicates %d; want 3 and 1", recv, dups)
	}

	// The measurement: items 5 on are measured.
	r.phase.Store(phaseMeasure)
	for _, s := range subs {
		deliver(s, [2]int64{3, r.now()})
	}
	items = publishedItems(t, &out)
	if fmt.Sprint(ids(items)) != "[5]" || r.measFirst.Load() != 5 || r.measItems.Load() != 1 {
		t.Fatalf("measurement: published %v, first %d, items %d", ids(items), r.measFirst.Load(), r.measItems.Load())
	}
	for _, s := range subs {
		deliver(s, items[0])
	}
	var meas int64
	for _, s := range subs {
		meas += s.measRecv.Load()
	}
	if meas != 3 || r.hist.Count() != 3 {
		t.Errorf("measured %d deliveries, %d latencies; want 3", meas, r.hist.Count())
	}
	// After the stop nothing more is published.
	r.phase.Store(phaseStopped)
	items = publishedItems(t, &out) // item 6, published when item 5 completed
	for _, s := range subs {
		deliver(s, items[0])
	}
	if out.Len() != 0 || r.published.Load() != 6 {
		t.Errorf("published %d items, output %q after the stop", r.published.Load(), out.String())
	}
	pub.reply(parseOne(t, `<iq type='error' id='p6'><error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`))
	if r.measErr.Load() != 1 {
		t.Errorf("measured errors %d, want 1", r.measErr.Load())
	}
}

// TestFanoutRatePacing checks the rate mode's pacing and that deliveries count
// without a window.
func TestFanoutRatePacing(t *testing.T) {
	var out bytes.Buffer
	r := testFanout(2, 0, &out)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { r.pace(ctx, 100); close(done) }()
	time.Sleep(200 * time.Millisecond)
	r.phase.Store(phaseStopped)
	<-done
	items := publishedItems(t, &out)
	if len(items) < 10 || len(items) > 30 {
		t.Errorf("%d items in 0.2 s at 100/s", len(items))
	}
	for i, it := range items {
		if it[0] != int64(i+1) || it[1] < r.baseUnix {
			t.Errorf("item %d: %v", i, it)
		}
	}
	s := &subscriber{run: r}
	s.message(parseOne(t, notification("moteload", items[0], items[1])))
	s.message(parseOne(t, strings.Replace(notification("moteload", items[2]), "pubsub.localhost", "pubsub.elsewhere", 1)))
	if s.recv.Load() != 2 || s.measRecv.Load() != 0 || r.completed.Load() != 0 {
		t.Errorf("recv %d meas %d completed %d", s.recv.Load(), s.measRecv.Load(), r.completed.Load())
	}
}

// fakeService accepts one connection on a loopback listener and answers
// its IQ requests with answer(req) until the client goes away.
func fakeService(t *testing.T, answer func(req *stanza.Element) string) *conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(testHeader))
		dec := xmlstream.NewDecoder(c, xmlstream.DefaultLimits)
		for {
			ev, err := dec.Next()
			if err != nil {
				return
			}
			if ev.Kind == xmlstream.Element {
				// Something else first, which the client skips.
				c.Write([]byte(`<message from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='moteload'/></event></message>`))
				c.Write([]byte(answer(ev.Elem)))
			}
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	c := &conn{Conn: xmppclient.Conn{Raw: raw, NC: raw, JID: "user2@localhost/r1"}, st: newStats(nil, false)}
	c.Dec = xmlstream.NewDecoder(raw, xmlstream.DefaultLimits)
	if err := c.WriteString(testHeader); err != nil {
		t.Fatal(err)
	}
	return c
}

func iqError(req *stanza.Element, cond string) string {
	return `<iq type='error' id='` + req.Attr("id") + `' from='pubsub.localhost'><error type='cancel'><` + cond +
		` xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`
}

func iqResult(req *stanza.Element, payload string) string {
	return `<iq type='result' id='` + req.Attr("id") + `' from='pubsub.localhost'>` + payload + `</iq>`
}

// TestSetupNode runs node creation against scripted replies: create with
// the configuration form, reuse on conflict, delete first with fresh.
func TestSetupNode(t *testing.T) {
	tests := []struct {
		name    string
		fresh   bool
		deleted string // the delete reply's error condition, "" for a result
		created string // the create reply's error condition, "" for a result
		wantErr string
		want    []string // requests seen
	}{
		{"create", false, "", "", "", []string{"create"}},
		{"reuse", false, "", "conflict", "", []string{"create"}},
		{"refused", false, "", "forbidden", "iq error forbidden", []string{"create"}},
		{"fresh", true, "", "", "", []string{"delete", "create"}},
		{"fresh, no node", true, "item-not-found", "", "", []string{"delete", "create"}},
		{"fresh, not owner", true, "forbidden", "", "deleting", []string{"delete"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []string
			c := fakeService(t, func(req *stanza.Element) string {
				ps := req.FirstChild()
				op := ps.FirstChild()
				seen = append(seen, op.Local)
				if req.Attr("to") != "pubsub.localhost" || req.Attr("type") != "set" || op.Attr("node") != "moteload" {
					t.Errorf("%d: request %s", i, req)
				}
				switch op.Local {
				case "delete":
					if ps.Space != NSPubSubOwner {
						t.Errorf("%d: delete in %s", i, ps.Space)
					}
					if tt.deleted != "" {
						return iqError(req, tt.deleted)
					}
				case "create":
					checkConfigForm(t, ps)
					if tt.created != "" {
						return iqError(req, tt.created)
					}
				}
				return iqResult(req, "")
			})
			r := testFanout(1, 1, io.Discard)
			err := r.setupNode(testCtx(t), c, tt.fresh)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("%d: err = %v, want %q", i, err, tt.wantErr)
			}
			if fmt.Sprint(seen) != fmt.Sprint(tt.want) {
				t.Errorf("%d: requests %v, want %v", i, seen, tt.want)
			}
		})
	}
}

// checkConfigForm checks the node_config form of a create request.
func checkConfigForm(t *testing.T, ps *stanza.Element) {
	t.Helper()
	x := ps.Child(NSPubSub, "configure").Child(NSDataForms, "x")
	if x == nil || x.Attr("type") != "submit" {
		t.Fatalf("no submitted form in %s", ps)
	}
	got := map[string]string{}
	for _, f := range x.ChildElements() {
		got[f.Attr("var")] = f.Child(NSDataForms, "value").Text()
	}
	want := map[string]string{
		"FORM_TYPE":                       NSPubSub + "#node_config",
		"pubsub#max_items":                "1",
		"pubsub#deliver_payloads":         "1",
		"pubsub#access_model":             "open",
		"pubsub#notification_type":        "headline",
		"pubsub#send_last_published_item": "never",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("form %v, want %v", got, want)
	}
}

// TestSubscribe runs subscriptions against scripted replies: the bare JID
// subscribes; only an active subscription is success.
func TestSubscribe(t *testing.T) {
	tests := []struct {
		name    string
		reply   string // subscription state; "-" for an empty result, "!" for an error
		wantErr string
	}{
		{"subscribed", "subscribed", ""},
		{"empty result", "-", ""},
		{"pending", "pending", "subscription pending"},
		{"unconfigured", "unconfigured", "subscription unconfigured"},
		{"refused", "!", "iq error not-authorized"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeService(t, func(req *stanza.Element) string {
				sub := req.Child(NSPubSub, "pubsub").Child(NSPubSub, "subscribe")
				if sub == nil || sub.Attr("node") != "moteload" || sub.Attr("jid") != "user2@localhost" {
					t.Errorf("%d: request %s", i, req)
				}
				switch tt.reply {
				case "-":
					return iqResult(req, "")
				case "!":
					return iqError(req, "not-authorized")
				}
				return iqResult(req, `<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='moteload' jid='user2@localhost' subid='s1' subscription='`+tt.reply+`'/></pubsub>`)
			})
			r := testFanout(1, 1, io.Discard)
			err := r.subscribe(testCtx(t), c)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("%d: err = %v, want %q", i, err, tt.wantErr)
			}
		})
	}
}

// TestRequestTimeout checks that a request the service never answers ends
// with the run's context.
func TestRequestTimeout(t *testing.T) {
	c := fakeService(t, func(*stanza.Element) string { return "" })
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	r := testFanout(1, 1, io.Discard)
	start := time.Now()
	if err := r.subscribe(ctx, c); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestFanoutNoService checks the failure against a server without the
// pubsub service: the node cannot be created, and the result still
// comes back.
func TestFanoutNoService(t *testing.T) {
	s := startServer(t, 3)
	res, err := RunFanout(testCtx(t), FanoutConfig{
		Options:     Options{Addr: s.Addr, Progress: testWriter{t}},
		Service:     "nowhere.localhost",
		Subscribers: 2,
		Duration:    100 * time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), "creating node") {
		t.Fatalf("err = %v", err)
	}
	if res == nil || res.Scenario != "fanout" || res.Subscribers != 0 || res.Mode != "window" || res.Window != 4 {
		t.Errorf("result %+v", res)
	}
}

// TestFanout runs the scenario end to end against mote's pubsub service:
// 20 subscribers, window mode, every notification of every measured item
// arrives.
func TestFanout(t *testing.T) {
	s := startServer(t, 21)
	res, err := RunFanout(testCtx(t), FanoutConfig{
		Options:     Options{Addr: s.Addr, PID: os.Getpid(), Label: "mote", Concurrency: 10, Progress: testWriter{t}},
		Subscribers: 20,
		Window:      4,
		Warmup:      200 * time.Millisecond,
		Duration:    2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	logJSON(t, res)
	checkFanout(t, res, 20)
	if res.Mode != "window" || res.Window != 4 || res.Service != "pubsub.localhost" || res.Node != "moteload" || !res.Presence {
		t.Errorf("labels %+v", *res)
	}
	if res.ServerCPUS == nil || *res.ServerCPUS < 0 || res.DeliveriesPerCPUSec == nil || *res.DeliveriesPerCPUSec < 0 {
		t.Errorf("CPU figures missing or negative")
	}

	// A second run reuses the node and its subscriptions; -fresh makes it
	// anew. Both deliver everything exactly once.
	for _, fresh := range []bool{false, true} {
		res, err := RunFanout(testCtx(t), FanoutConfig{
			Options:     Options{Addr: s.TLSAddr, TLS: TLSDirect, Mech: MechPLAIN, Progress: testWriter{t}},
			Subscribers: 20,
			Fresh:       fresh,
			Rate:        200,
			Warmup:      100 * time.Millisecond,
			Duration:    500 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("fresh %v: %v", fresh, err)
		}
		logJSON(t, res)
		checkFanout(t, res, 20)
		if res.Mode != "rate" || res.Rate != 200 || res.Items < 60 || res.Items > 140 {
			t.Errorf("fresh %v: mode %s rate %v items %d in 0.5 s at 200/s", fresh, res.Mode, res.Rate, res.Items)
		}
	}
	xmpptest.WaitFor(t, "sessions to end", 5*time.Second, func() bool { return s.Sessions().Count() == 0 })
}

func checkFanout(t *testing.T, res *FanoutResult, subs int) {
	t.Helper()
	if res.Scenario != "fanout" || res.Subscribers != subs || res.Errors != 0 || res.PublishErrors != 0 || res.SubscribeErrors != 0 {
		t.Errorf("subscribers %d errors %d/%d/%d", res.Subscribers, res.Errors, res.PublishErrors, res.SubscribeErrors)
	}
	if res.Items <= 0 || res.Deliveries != res.Items*int64(subs) || res.Lost != 0 || res.Duplicates != 0 {
		t.Errorf("items %d deliveries %d lost %d duplicates %d", res.Items, res.Deliveries, res.Lost, res.Duplicates)
	}
	if res.Seconds <= 0 || res.ItemsPerSec <= 0 || res.DeliveriesPerSec <= 0 {
		t.Errorf("seconds %v items/s %v deliveries/s %v", res.Seconds, res.ItemsPerSec, res.DeliveriesPerSec)
	}
	if res.P50MS <= 0 || res.P99MS < res.P50MS || res.P999MS < res.P99MS {
		t.Errorf("latency p50 %v p99 %v p99.9 %v", res.P50MS, res.P99MS, res.P999MS)
	}
}

// TestFanoutCLI runs the scenario from the command line.
func TestFanoutCLI(t *testing.T) {
	s := startServer(t, 4)
	var stdout, stderr bytes.Buffer
	args := []string{"fanout", "-addr", s.Addr, "-n", "3", "-window", "2", "-warmup", "0", "-duration", "300ms",
		"-node", "cli", "-fresh", "-q", "-pid", strconv.Itoa(os.Getpid())}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res FanoutResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Scenario != "fanout" || res.Node != "cli" ||
		res.Subscribers != 3 || res.Items <= 0 || res.Deliveries != 3*res.Items || res.Lost != 0 {
		t.Errorf("result %s (%v)", stdout.String(), err)
	}
	for i, bad := range [][]string{{"fanout", "-window", "2", "-rate", "5"}, {"fanout", "-window", "-1"}} {
		if code := run(append(bad, "-addr", s.Addr), &stdout, &stderr); code == 0 {
			t.Errorf("%d: run(%q) succeeded", i, bad)
		}
	}
}
