package pubsub

import (
	"context"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/dataform"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// deliverer queues the Events of every service: a service's Notify only
// appends the Event to a queue; workers turn Events into messages and
// route them. Each node's events go to one queue, served by one worker,
// so they are delivered in the order of the operations (XEP-0060 §7.1.2).
//
// The queues are bounded by back-pressure rather than by dropping: a
// request that may notify first waits (Module.room) until fewer than max
// recipients are queued. Notify itself never blocks or drops (it runs
// with the node locked); the queues can exceed max only by what the
// requests in flight at the moment add.
type deliverer struct {
	m      *Module
	queues []*queue
	seed   maphash.Seed
	max    int64        // recipients that may wait
	queued atomic.Int64 // recipients waiting
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	closed atomic.Bool

	waiting atomic.Bool   // someone waits in room
	mu      sync.Mutex    // guards roomCh
	roomCh  chan struct{} // closed when the queues fall below max
}

// job is an Event of a service.
type job struct {
	sv *service
	ev *ps.Event
}

// queue is the events of a share of the nodes, waiting for their worker.
type queue struct {
	mu    sync.Mutex
	jobs  []job
	spare []job
	wake  chan struct{}
}

func newDeliverer(m *Module, workers, maxQueued int) *deliverer {
	workers = min(max(workers, 1), 64)
	d := &deliverer{m: m, seed: maphash.MakeSeed(), max: int64(maxQueued), done: make(chan struct{})}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for range workers {
		d.queues = append(d.queues, &queue{wake: make(chan struct{}, 1)})
	}
	return d
}

// start starts the workers.
func (d *deliverer) start() {
	for _, q := range d.queues {
		d.wg.Add(1)
		go d.work(q)
	}
}

// close delivers what is queued, then stops the workers; when ctx ends
// first, what is left is dropped.
func (d *deliverer) close(ctx context.Context) error {
	if !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(d.done)
	stopped := make(chan struct{})
	go func() { d.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-stopped
		return ctx.Err()
	}
}

// weight is what an event counts in the queue: its explicit recipients,
// and one for the implicit recipients of a PEP service (computed when
// it is delivered) or for the node archive (archive.go), so that a
// publication nobody is subscribed to is still archived.
func weight(sv *service, ev *ps.Event) int64 {
	n := int64(len(ev.Recipients))
	if sv.isPEP() || sv.archiving() && (ev.Kind == ps.EventPublish && !ev.Replay || ev.Kind == ps.EventDelete) {
		n++
	}
	return n
}

// enqueue appends ev to its node's queue. It is called with the node
// locked, and never blocks.
func (d *deliverer) enqueue(sv *service, ev *ps.Event) {
	n := weight(sv, ev)
	if n == 0 || d.closed.Load() {
		return // nobody to tell, or shutting down: the sessions are gone
	}
	d.queued.Add(n)
	h := sv.hash ^ maphash.String(d.seed, string(ev.Node))
	q := d.queues[h%uint64(len(d.queues))]
	q.mu.Lock()
	q.jobs = append(q.jobs, job{sv, ev})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// room waits until the queues hold fewer than max recipients, for at most
// wait. It returns a wait/resource-constraint error when they stay full,
// so that the request is refused rather than its notifications lost.
func (d *deliverer) room(ctx context.Context, wait time.Duration) error {
	if d.queued.Load() < d.max {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		d.mu.Lock()
		if d.roomCh == nil {
			d.roomCh = make(chan struct{})
		}
		ch := d.roomCh
		d.waiting.Store(true)
		d.mu.Unlock()
		if d.queued.Load() < d.max { // freed before waiting was seen
			return nil
		}
		select {
		case <-ch:
			if d.queued.Load() < d.max {
				return nil
			}
		case <-t.C:
			d.m.log.Warn("notification queue full: request refused", "queued", d.queued.Load())
			return stanza.NewError(stanza.ResourceConstraint, "too many notifications waiting for delivery")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// freed wakes the requests waiting in room once the queues fall below
// max.
func (d *deliverer) freed() {
	if !d.waiting.Load() || d.queued.Load() >= d.max {
		return
	}
	d.mu.Lock()
	if d.roomCh != nil {
		close(d.roomCh)
		d.roomCh = nil
	}
	d.waiting.Store(false)
	d.mu.Unlock()
}

// work delivers the events of q until close.
func (d *deliverer) work(q *queue) {
	defer d.wg.Done()
	for {
		select {
		case <-q.wake:
		case <-d.done:
			d.drain(q)
			return
		}
		d.drain(q)
	}
}

// drain delivers every event queued in q.
func (d *deliverer) drain(q *queue) {
	for {
		q.mu.Lock()
		jobs := q.jobs
		q.jobs, q.spare = q.spare[:0], nil
		q.mu.Unlock()
		if len(jobs) == 0 {
			return
		}
		for i, j := range jobs {
			if d.ctx.Err() == nil { // else: stopping, out of time
				j.sv.deliver(d.ctx, j.ev)
			}
			d.queued.Add(-weight(j.sv, j.ev))
			d.freed()
			jobs[i] = job{}
		}
		q.mu.Lock()
		if q.spare == nil {
			q.spare = jobs[:0]
		}
		q.mu.Unlock()
	}
}

// message is one recipient's notification: the element, its attributes
// and its children in one allocation.
type message struct {
	el    stanza.Element
	attrs [4]stanza.Attr
	kids  [3]stanza.Node // the payload (one or two elements) and the headers
}

// deliver routes one message per recipient of ev. The payload is built
// once and shared: each recipient's message is a shallow copy of one
// template (from, type and the shared children) with its own 'to' and
// 'id', plus SHIM headers when the recipient needs them.
func (sv *service) deliver(ctx context.Context, ev *ps.Event) {
	children := sv.eventPayload(ctx, ev)
	if children == nil {
		return
	}
	sv.archiveEvent(ev, children)
	typ := stanza.TypeHeadline
	if ev.NotificationType == ps.NotificationNormal {
		typ = stanza.TypeNormal
	}
	recipients := ev.Recipients
	if sv.isPEP() {
		recipients = sv.pepRecipients(ctx, ev)
	}
	ids := sv.newIDs(len(recipients))
	for i := range recipients {
		r := &recipients[i]
		msg := &message{attrs: [4]stanza.Attr{
			{Local: "from", Value: sv.from}, {Local: "to", Value: r.JID.String()}, {Local: "id", Value: ids.next()}, {Local: "type", Value: typ},
		}}
		msg.el = stanza.Element{Space: stanza.NSClient, Local: "message", Attrs: msg.attrs[:]}
		k := 0
		for _, c := range children {
			msg.kids[k] = stanza.Node{Elem: c}
			k++
		}
		if len(r.SubIDs) > 0 || r.Collection != "" {
			msg.kids[k] = stanza.Node{Elem: shimHeaders(r)}
			k++
		}
		msg.el.Children = msg.kids[:k:k]
		sv.h.RouteParsed(ctx, &msg.el, sv.jid, r.JID)
	}
	sv.delivered[sv.counterIndex()].Add(uint64(len(recipients)))
}

// idBlock hands out the message ids of one event, cut from one string.
type idBlock struct {
	s    string
	ends []int32
	i    int
}

// newIDs returns n message ids unique within the service (§13.4): the
// service's random prefix and a counter.
func (m *Module) newIDs(n int) *idBlock {
	last := m.nextID.Add(uint64(n))
	buf := make([]byte, 0, n*(len(m.idPrefix)+6))
	ends := make([]int32, n)
	for i := range n {
		buf = append(buf, m.idPrefix...)
		buf = strconv.AppendUint(buf, last-uint64(n-i)+1, 36)
		ends[i] = int32(len(buf))
	}
	return &idBlock{s: string(buf), ends: ends}
}

// next returns the next id.
func (b *idBlock) next() string {
	start := int32(0)
	if b.i > 0 {
		start = b.ends[b.i-1]
	}
	end := b.ends[b.i]
	b.i++
	return b.s[start:end]
}

// shimHeaders are a recipient's SHIM headers (XEP-0131): the SubIDs that
// generated the notification (XEP-0060 §7.1.2.4, §13.16) and the
// collection it came through (XEP-0248 §5.3).
func shimHeaders(r *ps.Recipient) *stanza.Element {
	h := stanza.NewElement(NSSHIM, "headers")
	for _, id := range r.SubIDs {
		h.Append(stanza.NewElement(NSSHIM, "header", "name", "SubID").AppendText(id))
	}
	if r.Collection != "" {
		h.Append(stanza.NewElement(NSSHIM, "header", "name", "Collection").AppendText(string(r.Collection)))
	}
	return h
}

// eventPayload builds the children of the notification messages of ev:
// the <event/> element (XEP-0060 §7.1.2, §7.2.2.1, §8.2.5.3, §8.4.2,
// §8.5.2, §13.14; XEP-0248 §5.3), with a delay stamp for a replayed last
// item (§6.1.7), or the approval form of a pending subscription (§8.6).
// It returns nil when there is nothing to send.
func (sv *service) eventPayload(ctx context.Context, ev *ps.Event) []*stanza.Element {
	node := string(ev.Node)
	event := stanza.NewElement(NSEvent, "event")
	switch ev.Kind {
	case ps.EventPublish:
		items := stanza.NewElement(NSEvent, "items", "node", node)
		withPublisher := sv.includesPublisher(ctx, ev.Node)
		for i := range ev.Items {
			items.Append(sv.itemElement(NSEvent, &ev.Items[i], withPublisher))
		}
		event.Append(items)
		if ev.Replay && len(ev.Items) > 0 {
			stamp := ev.Items[len(ev.Items)-1].Published.UTC().Format("2006-01-02T15:04:05.000Z")
			return []*stanza.Element{event, stanza.NewElement(NSDelay, "delay", "from", sv.from, "stamp", stamp)}
		}
	case ps.EventRetract:
		items := stanza.NewElement(NSEvent, "items", "node", node)
		for _, id := range ev.ItemIDs {
			items.Append(stanza.NewElement(NSEvent, "retract", "id", id))
		}
		event.Append(items)
	case ps.EventPurge:
		event.Append(stanza.NewElement(NSEvent, "purge", "node", node))
	case ps.EventDelete:
		del := stanza.NewElement(NSEvent, "delete", "node", node)
		if ev.Redirect != "" {
			del.Append(stanza.NewElement(NSEvent, "redirect", "uri", ev.Redirect))
		}
		event.Append(del)
		sv.nodeChanged(ev.Node)
	case ps.EventConfig:
		c := stanza.NewElement(NSEvent, "configuration", "node", node)
		if ev.Config != nil {
			c.Append(nodeConfigForm(dataform.TypeResult, *ev.Config, nil, nil))
		}
		event.Append(c)
	case ps.EventCreate:
		event.Append(stanza.NewElement(NSEvent, "create", "node", node))
	case ps.EventSubscription:
		s := ev.Subscription
		if s == nil {
			return nil
		}
		el := stanza.NewElement(NSEvent, "subscription", "node", node, "jid", s.JID.String(), "subscription", s.State.String())
		if s.SubID != "" {
			el.SetAttr("subid", s.SubID)
		}
		event.Append(el)
	case ps.EventAuthorization:
		if ev.Subscription == nil {
			return nil
		}
		return []*stanza.Element{authorizationForm(ev.Subscription)}
	default:
		return nil
	}
	return []*stanza.Element{event}
}

// itemElement renders an item in namespace space (pubsub or pubsub#event):
// its id, its publisher's bare JID when the node says so, and its payload
// parsed back from storage.
func (sv *service) itemElement(space string, it *ps.Item, withPublisher bool) *stanza.Element {
	el := stanza.NewElement(space, "item", "id", it.ID)
	if withPublisher && !it.Publisher.IsZero() {
		el.SetAttr("publisher", it.Publisher.Bare().String())
	}
	if len(it.Payload) > 0 {
		p, err := xmlstream.ParseStanza(it.Payload)
		if err != nil {
			sv.log.Error("unreadable item payload", "item", it.ID, "err", err)
		} else {
			el.Append(p)
		}
	}
	return el
}

// includesPublisher reports whether a node's items carry the 'publisher'
// attribute: pubsub#itemreply is "publisher" (XEP-0060 §7.1.2.3, §13.17).
func (sv *service) includesPublisher(ctx context.Context, id ps.NodeID) bool {
	if v, ok := sv.itemReply.Load(id); ok {
		return v.(bool)
	}
	sv.irMu.Lock()
	gen := sv.irGen
	sv.irMu.Unlock()
	n, err := sv.svc.Node(ctx, id)
	if err != nil {
		return false
	}
	v := n.Config.ItemReply == ps.ItemReplyPublisher
	sv.irMu.Lock()
	if sv.irGen == gen { // no change since the read: v is current
		sv.itemReply.Store(id, v)
	}
	sv.irMu.Unlock()
	return v
}

// nodeChanged drops what is cached about a node after its configuration
// changed or it was created or deleted.
func (sv *service) nodeChanged(id ps.NodeID) {
	sv.wills.invalidate()
	sv.irMu.Lock()
	sv.itemReply.Delete(id)
	sv.irGen++
	sv.irMu.Unlock()
}

// serialisePayload stores a payload element as the core keeps it: its
// serialisation inside a jabber:client stream, which
// xmlstream.ParseStanza reads back.
func serialisePayload(p *stanza.Element) []byte {
	return p.AppendXML(nil, stanza.NSClient)
}
