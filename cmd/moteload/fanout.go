package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/toolrun"
	"github.com/mote-xmpp/mote/stanza"
)

// Namespaces of the fanout scenario.
const (
	NSPubSub      = "http://jabber.org/protocol/pubsub"       // XEP-0060
	NSPubSubEvent = "http://jabber.org/protocol/pubsub#event" // XEP-0060 §8 notifications
	NSPubSubOwner = "http://jabber.org/protocol/pubsub#owner" // XEP-0060 §8 owner use cases
	NSDataForms   = "jabber:x:data"                           // XEP-0004
	NSMoteload    = "urn:mote:moteload"                       // the payload of published items
)

// FanoutConfig configures the fanout scenario: one publisher (account 1)
// publishes to a pubsub node (XEP-0060) that N subscribers (accounts
// 2..N+1) are subscribed to with their bare JIDs.
//
// Every connection sends initial presence unless Options.NoPresence: a
// notification addressed to a bare JID reaches only available resources
// (RFC 6121 §8.5.2.1.1; a headline to an account without one is dropped,
// §8.5.2.2.1), so without presence most servers deliver nothing.
type FanoutConfig struct {
	Options
	Subscribers int    // N
	Service     string // pubsub service JID (default "pubsub." + Domain)
	Node        string // node name (default "moteload")
	// Fresh deletes the node first, so that it is created with the
	// scenario's configuration and without earlier subscriptions. Without
	// it an existing node is reused as it is.
	Fresh    bool
	Warmup   time.Duration // publishing before the measurement starts
	Duration time.Duration // the measurement
	Drain    time.Duration // longest wait for notifications in flight after it (default 2 s)
	// Window > 0 saturates: at most Window items are in flight, an item
	// completing when every subscriber has its notification (or when its
	// publish fails). Rate > 0 publishes Rate items per second, whatever
	// the server does (open loop). One of them is set; with neither,
	// Window is 4.
	Window int
	Rate   float64
}

// maxSubscribers bounds N: an item's delivery count lives in the low bits
// of its window slot.
const maxSubscribers = slotDone - 1

// Window slots. In window mode each item in flight has a slot in a ring,
// one atomic word holding the item's sequence number (high bits), whether
// it is complete (bit slotCountBits) and how many subscribers have its
// notification (low bits). Deliveries and publish errors update it with
// compare-and-swap, so exactly one of them completes the item; a late
// duplicate, or a delivery of an item whose slot was reused, finds another
// sequence number and changes nothing.
const (
	slotCountBits = 24
	slotDone      = 1 << slotCountBits
	slotSeqShift  = slotCountBits + 1
)

// slotTag is the empty slot of item seq.
func slotTag(seq int64) uint64 { return uint64(seq) << slotSeqShift }

// slotHolds reports whether slot value v belongs to item seq.
func slotHolds(v uint64, seq int64) bool { return v>>slotSeqShift == slotTag(seq)>>slotSeqShift }

// fanoutRun is the state of one fanout run.
type fanoutRun struct {
	st       *stats
	service  string
	node     string
	window   int
	nsubs    int64 // subscribers that subscribed: notifications per item
	phase    atomic.Int32
	base     time.Time // monotonic origin of the timestamps
	baseUnix int64     // base as Unix nanoseconds
	hist     Histogram // latencies of notifications of measured items

	pub    *conn
	prefix []byte // <iq type='set' to='SERVICE' id='p
	middle []byte // '><pubsub ...><publish node='NODE'><item id='

	// The publisher's side: seq is guarded by pub.wmu, the counters are
	// written under it.
	seq       int64
	published atomic.Int64 // items written
	measFirst atomic.Int64 // the first item of the measurement; MaxInt64 before it
	measItems atomic.Int64 // items published during the measurement

	// Publish replies, counted by the publisher's reader.
	pubOK, pubErr atomic.Int64
	measErr       atomic.Int64 // items of the measurement whose publish failed

	// Window mode.
	ring      []atomic.Uint64
	mask      int64
	completed atomic.Int64

	subscribeErrors atomic.Int64
	subscribed      atomic.Int64 // progress during the subscriptions
}

// now returns the time as Unix nanoseconds, read from the monotonic clock
// so that publisher and subscribers agree even if the wall clock steps.
func (r *fanoutRun) now() int64 { return r.baseUnix + int64(time.Since(r.base)) }

// subscriber is one subscribed connection. Its counters are written by its
// reader only; they are atomic so that progress and results can read them.
type subscriber struct {
	run            *fanoutRun
	c              *conn
	recv, measRecv atomic.Int64
	dups           atomic.Int64 // notifications of an item already received
	dirty          bool         // the reader wrote to the publisher without flushing
	last           int64        // the highest item received
	seen           uint64       // bit i: item last-i received
}

// dupWindow is how far back a subscriber recognises duplicates.
const dupWindow = 64

// first reports whether this is the subscriber's first notification of
// item seq, recognising duplicates among the last dupWindow items (a
// service that allows several subscriptions of one JID may deliver an item
// more than once).
func (s *subscriber) first(seq int64) bool {
	switch {
	case seq > s.last:
		if d := seq - s.last; d >= dupWindow {
			s.seen = 1
		} else {
			s.seen = s.seen<<d | 1
		}
		s.last = seq
		return true
	case s.last-seq >= dupWindow:
		return true // too old to tell
	default:
		bit := uint64(1) << (s.last - seq)
		if s.seen&bit != 0 {
			return false
		}
		s.seen |= bit
		return true
	}
}

// publisher is the handler of the publisher's connection: it takes the
// replies to its publish requests.
type publisher struct {
	run   *fanoutRun
	dirty bool // the reader wrote to the publisher without flushing
}

var (
	_ handler      = (*subscriber)(nil)
	_ replyHandler = (*publisher)(nil)
)

// eachItem calls fn for every item of node that a pubsub event
// notification (XEP-0060 §7.1.2.1) carries with a moteload payload: the
// item id as a sequence number and the publisher's send time in Unix
// nanoseconds. It returns the number of such items.
func eachItem(el *stanza.Element, node string, fn func(seq, sent int64)) int {
	ev := el.Child(NSPubSubEvent, "event")
	if ev == nil {
		return 0
	}
	n := 0
	for _, items := range ev.ChildElements() {
		if items.Space != NSPubSubEvent || items.Local != "items" || items.Attr("node") != node {
			continue
		}
		for _, it := range items.ChildElements() {
			if it.Space != NSPubSubEvent || it.Local != "item" {
				continue
			}
			seq, err := strconv.ParseInt(it.Attr("id"), 10, 64)
			if err != nil || seq <= 0 {
				continue
			}
			x := it.Child(NSMoteload, "x")
			if x == nil {
				continue
			}
			sent, err := strconv.ParseInt(x.Text(), 10, 64)
			if err != nil {
				continue
			}
			fn(seq, sent)
			n++
		}
	}
	return n
}

// message counts the notifications a subscriber receives, records the
// latency of those of measured items and, in window mode, lets the
// publisher publish when an item is complete.
func (s *subscriber) message(el *stanza.Element) {
	r := s.run
	if from := el.Attr("from"); from != "" && from != r.service {
		return
	}
	now := r.now()
	refill := false
	eachItem(el, r.node, func(seq, sent int64) {
		if sent < r.baseUnix {
			return // published before this run: a last published item
		}
		if !s.first(seq) {
			s.dups.Add(1)
			return
		}
		s.recv.Add(1)
		if seq >= r.measFirst.Load() {
			s.measRecv.Add(1)
			r.hist.Record(time.Duration(now - sent))
		}
		if r.window > 0 && r.delivered(seq) {
			refill = true
		}
	})
	if refill {
		r.refill()
		s.dirty = true
	}
}

// batchEnd flushes what the batch of notifications made the publisher
// send.
func (s *subscriber) batchEnd() {
	if s.dirty {
		s.dirty = false
		s.run.flush()
	}
}

// message ignores messages to the publisher (it subscribes to nothing).
func (p *publisher) message(*stanza.Element) {}

// reply counts the reply to a publish request (id "p" + sequence number).
// A failed publish is an error, and in window mode it completes its item:
// no notification of it will come.
func (p *publisher) reply(el *stanza.Element) {
	r := p.run
	id := el.Attr("id")
	if len(id) < 2 || id[0] != 'p' {
		return
	}
	seq, err := strconv.ParseInt(id[1:], 10, 64)
	if err != nil {
		return
	}
	if el.Attr("type") == stanza.TypeResult {
		r.pubOK.Add(1)
		return
	}
	r.pubErr.Add(1)
	r.st.fail("publish", stanzaErr(el))
	if seq >= r.measFirst.Load() {
		r.measErr.Add(1)
	}
	if r.window > 0 && r.fail(seq) {
		r.refill()
		p.dirty = true
	}
}

func (p *publisher) batchEnd() {
	if p.dirty {
		p.dirty = false
		p.run.flush()
	}
}

// delivered counts one notification of item seq and reports whether it
// completed the item.
func (r *fanoutRun) delivered(seq int64) bool {
	s := &r.ring[seq&r.mask]
	for {
		v := s.Load()
		if !slotHolds(v, seq) || v&slotDone != 0 {
			return false
		}
		nv := v + 1
		done := int64(nv&(slotDone-1)) >= r.nsubs
		if done {
			nv |= slotDone
		}
		if s.CompareAndSwap(v, nv) {
			if done {
				r.completed.Add(1)
			}
			return done
		}
	}
}

// fail completes item seq, whose publish failed, and reports whether it
// was still in flight.
func (r *fanoutRun) fail(seq int64) bool {
	s := &r.ring[seq&r.mask]
	for {
		v := s.Load()
		if !slotHolds(v, seq) || v&slotDone != 0 {
			return false
		}
		if s.CompareAndSwap(v, v|slotDone) {
			r.completed.Add(1)
			return true
		}
	}
}

// writeLocked appends one publish request (XEP-0060 §7.1.1) to the
// publisher's buffer: item id N, the send time in Unix nanoseconds as
// payload. pub.wmu is held.
func (r *fanoutRun) writeLocked(phase int32) {
	w := r.pub.w
	if w.Available() < len(r.prefix)+len(r.middle)+128 {
		r.pub.flushLocked()
	}
	r.seq++
	seq := r.seq
	if r.ring != nil {
		r.ring[seq&r.mask].Store(slotTag(seq))
	}
	if phase == phaseMeasure {
		if r.measFirst.Load() == math.MaxInt64 {
			r.measFirst.Store(seq)
		}
		r.measItems.Add(1)
	}
	b := w.AvailableBuffer()
	b = append(b, r.prefix...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, r.middle...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, "'><x xmlns='"+NSMoteload+"'>"...)
	b = strconv.AppendInt(b, r.now(), 10)
	b = append(b, "</x></item></publish></pubsub></iq>"...)
	if _, err := w.Write(b); err != nil && r.pub.werr == nil {
		r.pub.werr = err
	}
	r.published.Add(1)
}

// refillLocked tops the items in flight up to the window. pub.wmu is held.
func (r *fanoutRun) refillLocked() {
	phase := r.phase.Load()
	if phase == phaseStopped || r.pub.werr != nil {
		return
	}
	for r.published.Load()-r.completed.Load() < int64(r.window) {
		r.writeLocked(phase)
	}
}

func (r *fanoutRun) refill() {
	r.pub.wmu.Lock()
	r.refillLocked()
	r.pub.wmu.Unlock()
}

func (r *fanoutRun) flush() {
	r.pub.wmu.Lock()
	r.pub.flushLocked()
	r.pub.wmu.Unlock()
}

// pace publishes rate items per second until the run stops. Each item is
// timestamped when it is written, so client-side delays show as lower
// throughput, not as server latency.
func (r *fanoutRun) pace(ctx context.Context, rate float64) {
	interval := float64(time.Second) / rate
	start := time.Now()
	var i int64
	for r.phase.Load() != phaseStopped && ctxErr(ctx) == nil {
		due := int64(float64(time.Since(start))/interval) + 1
		r.pub.wmu.Lock()
		for ; i < due; i++ {
			if phase := r.phase.Load(); phase != phaseStopped && r.pub.werr == nil {
				r.writeLocked(phase)
			}
		}
		r.pub.flushLocked()
		r.pub.wmu.Unlock()
		if wait := time.Duration(float64(i)*interval) - time.Since(start); wait > 0 {
			time.Sleep(wait) // pacing the open loop, not synchronising
		}
	}
}

// request sends an IQ request on a logged-in connection whose reader has
// not started and returns the reply (a result or an error IQ), bounded by
// loginTimeout and ctx.
func request(ctx context.Context, c *conn, req, id string) (*stanza.Element, error) {
	end := c.Bound(ctx, loginTimeout)
	el, err := c.Exchange(req, id)
	if cerr := end(); cerr != nil {
		return nil, cerr // the run has ended
	}
	return el, err
}

// iqStart returns the start of an IQ set to the service.
func (r *fanoutRun) iqStart(id string) []byte {
	b := append([]byte(nil), "<iq type='set' to='"...)
	b = appendEscaped(b, r.service)
	b = append(b, "' id='"...)
	b = appendEscaped(b, id)
	return append(b, "'>"...)
}

// nodeConfig is the configuration of a node the scenario creates
// (XEP-0060 §8.1.3, the pubsub#node_config form of §16.4.4): one item
// kept, payloads in the notifications, anyone may subscribe, headline
// notifications, nothing sent on subscription.
var nodeConfig = [][2]string{
	{"pubsub#max_items", "1"},
	{"pubsub#deliver_payloads", "1"},
	{"pubsub#access_model", "open"},
	{"pubsub#notification_type", "headline"},
	{"pubsub#send_last_published_item", "never"},
}

// createRequest is the create-and-configure request (XEP-0060 §8.1.3).
func (r *fanoutRun) createRequest() string {
	b := r.iqStart("create1")
	b = append(b, "<pubsub xmlns='"+NSPubSub+"'><create node='"...)
	b = appendEscaped(b, r.node)
	b = append(b, "'/><configure><x xmlns='"+NSDataForms+"' type='submit'>"+
		"<field var='FORM_TYPE' type='hidden'><value>"+NSPubSub+"#node_config</value></field>"...)
	for _, f := range nodeConfig {
		b = append(b, "<field var='"+f[0]+"'><value>"+f[1]+"</value></field>"...)
	}
	return string(append(b, "</x></configure></pubsub></iq>"...))
}

// deleteRequest is the owner's delete request (XEP-0060 §8.4.1).
func (r *fanoutRun) deleteRequest() string {
	b := r.iqStart("delete1")
	b = append(b, "<pubsub xmlns='"+NSPubSubOwner+"'><delete node='"...)
	b = appendEscaped(b, r.node)
	return string(append(b, "'/></pubsub></iq>"...))
}

// subscribeRequest is the subscribe request of bare JID bare (XEP-0060
// §6.1.1).
func (r *fanoutRun) subscribeRequest(bare string) string {
	b := r.iqStart("sub1")
	b = append(b, "<pubsub xmlns='"+NSPubSub+"'><subscribe node='"...)
	b = appendEscaped(b, r.node)
	b = append(b, "' jid='"...)
	b = appendEscaped(b, bare)
	return string(append(b, "'/></pubsub></iq>"...))
}

// setupNode creates the node on the publisher's connection, deleting it
// first when fresh. A node that exists already is reused.
func (r *fanoutRun) setupNode(ctx context.Context, c *conn, fresh bool) error {
	what := fmt.Sprintf("node %q on %s", r.node, r.service)
	if fresh {
		el, err := request(ctx, c, r.deleteRequest(), "delete1")
		if err != nil {
			return fmt.Errorf("deleting %s: %w", what, err)
		}
		if el.Attr("type") == stanza.TypeError && stanzaCondition(el) != string(stanza.ItemNotFound) {
			return fmt.Errorf("deleting %s: %w", what, stanzaErr(el))
		}
	}
	el, err := request(ctx, c, r.createRequest(), "create1")
	if err != nil {
		return fmt.Errorf("creating %s: %w", what, err)
	}
	if el.Attr("type") == stanza.TypeError {
		if stanzaCondition(el) != string(stanza.Conflict) {
			return fmt.Errorf("creating %s: %w", what, stanzaErr(el))
		}
		r.st.Printf("moteload: %s exists; reusing it with its configuration and subscriptions\n", what)
	}
	return nil
}

// subscribe subscribes the bare JID of c to the node (XEP-0060 §6.1) and
// waits for the result. A subscription that is not active at once
// (pending or unconfigured, §6.1.4) is an error.
func (r *fanoutRun) subscribe(ctx context.Context, c *conn) error {
	bare, _, _ := strings.Cut(c.JID, "/")
	el, err := request(ctx, c, r.subscribeRequest(bare), "sub1")
	if err != nil {
		return err
	}
	if el.Attr("type") == stanza.TypeError {
		return stanzaErr(el)
	}
	if ps := el.Child(NSPubSub, "pubsub"); ps != nil {
		if sub := ps.Child(NSPubSub, "subscription"); sub != nil {
			switch state := sub.Attr("subscription"); state {
			case "", "subscribed":
			default:
				return fmt.Errorf("subscription %s", state)
			}
		}
	}
	return nil
}

// Errors that end a fanout run without a useful measurement.
var (
	errNoSubscribers = errors.New("moteload: no subscriber subscribed")
	errNoDeliveries  = errors.New("moteload: no notification arrived (notifications to bare JIDs reach only available resources: was -presence=false given?)")
)

// RunFanout runs the fanout scenario: the publisher logs in and creates
// the node, N subscribers log in and subscribe (Concurrency at a time),
// the publisher publishes for Warmup, then during Duration the
// measurement takes throughput, latency (publisher's buffer to the
// subscriber's parser, per notification) and server CPU; publishing stops
// and the run waits up to Drain for the notifications in flight and counts
// those of measured items that did not arrive.
//
// The result is returned even when err is not nil (a cancelled run).
func RunFanout(ctx context.Context, cfg FanoutConfig) (*FanoutResult, error) {
	cfg.Options = cfg.Options.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Subscribers <= 0 {
		cfg.Subscribers = 100
	}
	if cfg.Subscribers > maxSubscribers {
		return nil, fmt.Errorf("moteload: fanout takes at most %d subscribers", maxSubscribers)
	}
	if cfg.Service == "" {
		cfg.Service = "pubsub." + cfg.Domain
	}
	if cfg.Node == "" {
		cfg.Node = "moteload"
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 2 * time.Second
	}
	switch {
	case cfg.Window > 0 && cfg.Rate > 0:
		return nil, errors.New("moteload: fanout takes -window or -rate, not both")
	case cfg.Window < 0 || cfg.Rate < 0:
		return nil, errors.New("moteload: -window and -rate must be positive")
	case cfg.Window == 0 && cfg.Rate == 0:
		cfg.Window = 4
	}
	res := &FanoutResult{Scenario: "fanout", Label: cfg.Label, Service: cfg.Service, Node: cfg.Node,
		Presence: !cfg.NoPresence, Mode: "window", Window: cfg.Window, Rate: cfg.Rate}
	if cfg.Rate > 0 {
		res.Mode = "rate"
	}
	st := newStats(cfg.Progress, cfg.Quiet)
	run := &fanoutRun{st: st, service: cfg.Service, node: cfg.Node, window: cfg.Window}
	run.base = time.Now()
	run.baseUnix = run.base.UnixNano()
	run.measFirst.Store(math.MaxInt64)
	if cfg.Window > 0 {
		size := 64
		for size < 2*cfg.Window {
			size *= 2
		}
		run.ring = make([]atomic.Uint64, size)
		run.mask = int64(size - 1)
	}
	run.prefix = append(run.prefix, "<iq type='set' to='"...)
	run.prefix = appendEscaped(run.prefix, cfg.Service)
	run.prefix = append(run.prefix, "' id='p"...)
	run.middle = append(run.middle, "'><pubsub xmlns='"+NSPubSub+"'><publish node='"...)
	run.middle = appendEscaped(run.middle, cfg.Node)
	run.middle = append(run.middle, "'><item id='"...)

	subs, err := loginFanout(ctx, &cfg, run)
	res.Subscribers = len(subs)
	finish := func() {
		res.SubscribeErrors = run.subscribeErrors.Load()
		res.PublishErrors = run.pubErr.Load()
		res.Errors = st.errors.Load()
	}
	if err != nil {
		finish()
		return res, err
	}
	all := make([]*conn, 0, 1+len(subs))
	all = append(all, run.pub)
	for _, s := range subs {
		all = append(all, s.c)
	}
	arrived := func() (n int64) {
		for _, s := range subs {
			n += s.recv.Load()
		}
		return n
	}
	received := func() (n int64) {
		for _, s := range subs {
			n += s.measRecv.Load()
		}
		return n
	}
	stop := st.Ticker(func(el time.Duration) string {
		return fmt.Sprintf("fanout %v: %s published=%d deliveries=%d errors=%d", el,
			[...]string{"warmup", "measure", "drain"}[run.phase.Load()],
			run.published.Load(), arrived(), st.errors.Load())
	})
	defer stop()

	var pacer sync.WaitGroup
	if cfg.Rate > 0 {
		pacer.Go(func() { run.pace(ctx, cfg.Rate) })
	} else {
		run.pub.wmu.Lock()
		run.refillLocked()
		run.pub.flushLocked()
		run.pub.wmu.Unlock()
	}
	srv := newProc(cfg.PID)

	toolrun.Sleep(ctx, cfg.Warmup)
	run.phase.Store(phaseMeasure)
	t0, cpu0, arrived0, items0 := time.Now(), srv.read(false, st), arrived(), run.published.Load()
	toolrun.Sleep(ctx, cfg.Duration)
	run.phase.Store(phaseStopped)
	t1, cpu1, arrived1, items1 := time.Now(), srv.read(false, st), arrived(), run.published.Load()
	pacer.Wait()
	// A write that saw the measurement phase finishes before we get the
	// lock: after this the published counts are final.
	run.flush()
	published := run.published.Load()
	nsubs := int64(len(subs))
	expected := func() int64 { return (run.measItems.Load() - run.measErr.Load()) * nsubs }
	for deadline := time.Now().Add(cfg.Drain); (received() < expected() || run.pubOK.Load()+run.pubErr.Load() < published) &&
		time.Now().Before(deadline) && ctxErr(ctx) == nil; {
		time.Sleep(10 * time.Millisecond) // polling for arrivals, bounded by the drain
	}

	for _, s := range subs {
		res.Duplicates += s.dups.Load()
	}
	res.Items = run.measItems.Load()
	res.Deliveries = received()
	res.Lost = expected() - res.Deliveries
	secs := t1.Sub(t0).Seconds()
	res.Seconds = toolrun.Round3(secs)
	res.ItemsPerSec = toolrun.Ratio(float64(items1-items0), secs)
	res.DeliveriesPerSec = toolrun.Ratio(float64(arrived1-arrived0), secs)
	res.ServerCPUS, res.DeliveriesPerCPUSec = perServerCPU(cpu0, cpu1, float64(arrived1-arrived0))
	res.P50MS, res.P99MS, res.P999MS = quantilesMS(&run.hist)

	if err := ctxErr(ctx); err != nil {
		for _, c := range all {
			c.abort()
		}
		finish()
		return res, err
	}
	closeAll(all, cfg.Concurrency)
	finish()
	if arrived() == 0 {
		return res, errNoDeliveries
	}
	return res, nil
}

// loginFanout logs in the publisher and creates the node, then logs in
// and subscribes the subscribers, Concurrency at a time, and starts every
// reader. A subscriber whose login or subscription failed is left out
// (the failure is counted).
func loginFanout(ctx context.Context, cfg *FanoutConfig, run *fanoutRun) ([]*subscriber, error) {
	st := run.st
	pub, err := cfg.login(ctx, 0, cfg.user(1), st)
	if err != nil {
		if ctxErr(ctx) == nil {
			st.fail("login", err)
		}
		return nil, fmt.Errorf("publisher: %w", err)
	}
	if err := run.setupNode(ctx, pub, cfg.Fresh); err != nil {
		pub.abort()
		return nil, err
	}
	run.pub = pub

	stop := st.Ticker(func(el time.Duration) string {
		return fmt.Sprintf("fanout %v: %d/%d subscribed, %d errors", el,
			run.subscribed.Load(), cfg.Subscribers, st.errors.Load())
	})
	conns := make([]*conn, cfg.Subscribers)
	forEach(cfg.Subscribers, cfg.Concurrency, func(i int) {
		if ctxErr(ctx) != nil {
			return
		}
		c, err := cfg.login(ctx, i+1, cfg.user(i+2), st)
		if err != nil {
			if ctxErr(ctx) == nil {
				st.fail("login", err)
			}
			return
		}
		if err := run.subscribe(ctx, c); err != nil {
			c.abort()
			if ctxErr(ctx) == nil {
				run.subscribeErrors.Add(1)
				st.fail("subscribe "+cfg.user(i+2), err)
			}
			return
		}
		conns[i] = c
		run.subscribed.Add(1)
	})
	stop()
	var subs []*subscriber
	for _, c := range conns {
		if c != nil {
			subs = append(subs, &subscriber{run: run, c: c})
		}
	}
	if err := ctxErr(ctx); err != nil || len(subs) == 0 {
		pub.abort()
		for _, s := range subs {
			s.c.abort()
		}
		if err == nil {
			err = errNoSubscribers
		}
		return nil, err
	}
	run.nsubs = int64(len(subs))
	pub.w = bufio.NewWriterSize(pub.NC, senderBuffer)
	pub.startReader(&publisher{run: run})
	for _, s := range subs {
		s.c.startReader(s)
	}
	return subs, nil
}
