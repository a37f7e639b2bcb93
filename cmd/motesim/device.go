package main

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/mote-xmpp/mote/internal/toolrun"
	"github.com/mote-xmpp/mote/stanza"
)

// A device runs on two goroutines: its loop (run), which owns the
// lifecycle (readings on a timer, logins, tunnels, reconnections, the
// final close), and the reader of its current connection (read.go), which
// answers the server. Logins run on a third, short-lived one so that the
// loop keeps measuring meanwhile.
//
// Readings are published to the device's node (XEP-0060 §7.1) as items
// numbered from 1; an alarm goes to the same node just before its reading,
// as item "alarm-N" where N is the reading's number. A publish stays
// pending until its IQ result or error; while the device is offline its
// publishes wait and go out when it is back: after a resumption the
// pending ones not yet written, after a new session every pending one (the
// replies of the old session are lost with it; an item published twice
// under the same id is replaced, not duplicated).

// NSPubSub is the XEP-0060 namespace.
const NSPubSub = "http://jabber.org/protocol/pubsub"

// Limits and pacing of a device.
const (
	maxPending     = 1000             // publishes waiting for a reply or a connection; beyond, the oldest is dropped
	publishTimeout = time.Minute      // a publish without a reply for this long is an error
	housekeeping   = 2 * time.Second  // how often a device asks for acks and expires publishes
	minBackoff     = time.Second      // the first wait before logging in again
	maxBackoff     = 30 * time.Second // the longest
	maxStagger     = 5 * time.Second  // devices start at random within min(rate, maxStagger)
	jitter         = 0.1              // readings come every rate ±10 %
	// shutdownTimeout bounds the resumption of a device offline at the
	// end, to close its session.
	shutdownTimeout = 5 * time.Second
)

// device is one simulated device.
type device struct {
	sim    *Sim
	name   string      // the JID's localpart and the XEP-0323 nodeId
	bare   string      // name@domain
	node   string      // devices/<name>
	tls    *tls.Config // the device's TLS client configuration
	rng    *rand.Rand  // the device's randomness; used by the loop goroutine (and the sensor, under mu)
	tunnel chan time.Duration
	// everOnline is set by the loop after the first login: later
	// sessions are reconnections.
	everOnline bool

	// mu guards the fields below, and every write to c after login, so
	// that stream management counts stanzas in the order of the wire.
	// Lock order: mu before the lock of stats.Progress (errors are
	// described under mu).
	// Nothing waits for the loop or a reader while holding mu.
	mu      sync.Mutex
	c       *conn // the connection the device writes to; nil while offline
	sm      smState
	sensor  sensor
	last    reading // the latest reading: what a read-out reports
	seq     uint64  // readings taken
	pending []*pendingPub
	queued  map[readKey]*scheduledRead // XEP-0323 read-outs waiting for their time
}

// pendingPub is a publish without a reply yet.
type pendingPub struct {
	id     string // the IQ id: "pub-" and the item id
	data   []byte // the IQ as written
	alarm  bool   // an alarm item, not a reading
	sent   bool   // written on the current session
	sentAt time.Time
}

// newDevice returns device number i of s.
func newDevice(s *Sim, i int, dev Device, seed uint64) *device {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	d := &device{
		sim:    s,
		name:   dev.Name,
		bare:   dev.Name + "@" + s.cfg.Domain,
		node:   "devices/" + dev.Name,
		rng:    rng,
		tunnel: make(chan time.Duration, 1),
	}
	d.sensor = s.preset.newSensor(i, rng, &s.cfg)
	d.tls = &tls.Config{
		ServerName: s.cfg.Domain,
		MinVersion: tls.VersionTLS12,
		// XEP-0198 §5 recommends TLS session resumption for stream
		// resumption.
		ClientSessionCache: tls.NewLRUClientSessionCache(1),
	}
	if dev.Cert != nil {
		// Presented whatever CAs the server's request names: the server
		// decides.
		cert := dev.Cert
		d.tls.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	if s.cfg.ServerCA != nil {
		d.tls.RootCAs = s.cfg.ServerCA
	} else {
		d.tls.InsecureSkipVerify = true // see -server-ca
	}
	if s.cfg.DirectTLS {
		d.tls.NextProtos = []string{"xmpp-client"} // XEP-0368 §4
	}
	return d
}

func (d *device) stats() *stats { return d.sim.st }

// interval returns the time to the next reading: the rate ±10 %.
func (d *device) interval() time.Duration {
	r := d.sim.cfg.Rate
	return time.Duration(float64(r) * (1 - jitter + 2*jitter*d.rng.Float64()))
}

// run is the device's loop: after start it takes a reading at once and
// then every interval, logs in, and keeps its session up until ctx ends,
// when it closes its stream.
func (d *device) run(ctx context.Context, start time.Duration) {
	if !toolrun.Sleep(ctx, start) {
		return
	}
	var (
		cur     *conn            // the connection online, nil offline
		lost    <-chan struct{}  // cur's reader ended
		logins  chan loginResult // the login in flight, nil if none
		retry   <-chan time.Time // when to log in again
		backoff = minBackoff     // the next wait after a failure
		pub     = time.NewTimer(d.interval())
		tick    = time.NewTicker(housekeeping)
	)
	defer pub.Stop()
	defer tick.Stop()
	startLogin := func() {
		logins = make(chan loginResult, 1)
		prev := d.resumable()
		go func() {
			s, err := d.sim.loginLimited(ctx, d, prev)
			logins <- loginResult{s, err}
		}()
	}
	wait := func(delay time.Duration) {
		retry = time.After(delay)
	}
	failed := func() {
		wait(time.Duration(float64(backoff) * (0.8 + 0.4*d.rng.Float64())))
		backoff = min(2*backoff, maxBackoff)
	}
	goTunnel := func(dur time.Duration) {
		d.dropConn(cur)
		cur, lost = nil, nil
		d.stats().tunnels.Add(1)
		wait(dur)
	}

	d.takeReading(time.Now())
	startLogin()
	for {
		select {
		case <-ctx.Done():
			if cur != nil {
				d.sim.onlineAtEnd.Add(1)
			}
			if logins != nil {
				if r := <-logins; r.err == nil && d.online(r.s) == nil {
					cur = r.s.c
				}
			}
			if cur == nil {
				cur = d.resumeToClose()
			}
			if cur != nil {
				d.closeStream(cur)
			}
			d.mu.Lock()
			d.stopScheduledLocked()
			d.mu.Unlock()
			return
		case <-pub.C:
			d.takeReading(time.Now())
			pub.Reset(d.interval())
			if cur != nil && d.sim.preset.tunnels && d.sim.cfg.TunnelRate > 0 && d.rng.Float64() < d.sim.cfg.TunnelRate {
				cfg := &d.sim.cfg
				goTunnel(cfg.TunnelMin + time.Duration(d.rng.Float64()*float64(cfg.TunnelMax-cfg.TunnelMin)))
			}
		case dur := <-d.tunnel:
			if cur != nil {
				goTunnel(dur)
			}
		case <-lost:
			d.lostConn(cur)
			cur, lost = nil, nil
			failed()
		case <-retry:
			retry = nil
			startLogin()
		case r := <-logins:
			logins = nil
			if r.err != nil {
				if ctx.Err() == nil {
					d.stats().fail(d.name, "login", r.err)
				}
				failed()
				continue
			}
			if err := d.online(r.s); err != nil {
				d.stats().fail(d.name, "resume", err)
				failed()
				continue
			}
			cur, lost = r.s.c, r.s.c.done
			backoff = minBackoff
		case <-tick.C:
			if cur != nil {
				d.housekeep(time.Now())
			}
		}
	}
}

// loginResult is what a login goroutine reports.
type loginResult struct {
	s   *session
	err error
}

// resumable returns the session to resume, or nil.
func (d *device) resumable() *resumeFrom {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sm.id == "" {
		return nil
	}
	return &resumeFrom{id: d.sm.id, h: d.sm.handled}
}

// takeReading measures at now and publishes the reading, after its
// alarms.
func (d *device) takeReading(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.sensor.next(now)
	d.last = r
	d.seq++
	n := strconv.FormatUint(d.seq, 10)
	for _, a := range r.alarms {
		d.publishLocked("alarm-"+n, a.element(r.at), true, now)
	}
	d.publishLocked(n, fieldsElement(0, d.name, r, nil), false, now)
}

// publishLocked publishes payload to the device's node as item itemID
// (XEP-0060 §7.1.1), or keeps it for when the device is online. d.mu is
// held.
func (d *device) publishLocked(itemID string, payload *stanza.Element, alarm bool, now time.Time) {
	id := "pub-" + itemID
	iq := stanza.NewElement(stanza.NSClient, "iq", "type", stanza.TypeSet, "to", d.sim.cfg.Service, "id", id).Append(
		stanza.NewElement(NSPubSub, "pubsub").Append(
			stanza.NewElement(NSPubSub, "publish", "node", d.node).Append(
				stanza.NewElement(NSPubSub, "item", "id", itemID).Append(payload))))
	p := &pendingPub{id: id, data: iq.AppendXML(nil, stanza.NSClient), alarm: alarm}
	if len(d.pending) >= maxPending {
		d.pending[0] = nil
		d.pending = d.pending[1:]
		d.stats().dropped.Add(1)
	}
	d.pending = append(d.pending, p)
	if d.c != nil {
		d.sendPubLocked(p, now)
	}
}

// sendPubLocked writes a pending publish. d.mu is held; the device is
// online.
func (d *device) sendPubLocked(p *pendingPub, now time.Time) {
	p.sent, p.sentAt = true, now
	d.sendRawLocked(p.data)
}

// publishReplyLocked takes the reply to the publish with IQ id id. A late
// reply to a publish given up on is ignored. d.mu is held.
func (d *device) publishReplyLocked(id string, el *stanza.Element) {
	for i, p := range d.pending {
		if p.id != id {
			continue
		}
		d.pending = append(d.pending[:i], d.pending[i+1:]...)
		switch {
		case el.Attr("type") == stanza.TypeError:
			d.stats().publishErrors.Add(1)
			d.stats().fail(d.name, "publish to "+d.node, stanzaErr(el))
		case p.alarm:
			d.stats().alarms.Add(1)
		default:
			d.stats().readings.Add(1)
		}
		return
	}
}

// sendLocked writes a stanza if the device is online. d.mu is held.
func (d *device) sendLocked(el *stanza.Element) {
	d.sendRawLocked(el.AppendXML(nil, stanza.NSClient))
}

// sendRawLocked writes a serialised stanza if the device is online,
// counts it for stream management, and asks for an ack every ackEvery
// stanzas. A write error closes the socket, which the reader reports. d.mu
// is held.
func (d *device) sendRawLocked(b []byte) {
	c := d.c
	if c == nil || c.closing.Load() {
		return
	}
	c.Write(b)
	// Counted even when the write failed: the server's h on resumption
	// says whether it arrived.
	d.sm.sentStanza(b)
	if now := time.Now(); d.sm.needsRequest(now, false) {
		c.Write(smRequestXML)
		d.sm.requestSent(now)
	}
}

// presenceXML is the initial presence (RFC 6121 §4.2).
var presenceXML = []byte("<presence/>")

// online makes the new session s the device's: after a resumption it
// sends again what the server did not handle; after a new session it
// sends initial presence and every pending publish. Then the publishes
// that waited go out, the stanzas that came early are handled, and the
// reader starts. An error (the server acknowledged more than was sent)
// ends the connection.
func (d *device) online(s *session) error {
	c := s.c
	now := time.Now()
	d.mu.Lock()
	d.c = c
	if s.resumed {
		again, err := d.sm.resumed(s.h)
		if err != nil {
			if se, ok := err.(*stanza.StreamError); ok {
				c.Write(append(se.AppendStreamXML(nil), "</stream:stream>"...))
			}
			d.c = nil
			d.mu.Unlock()
			c.Raw.Close()
			return err
		}
		for _, b := range again {
			c.Write(b) // the same stanzas under the same numbers: not counted again
		}
		for _, p := range d.pending {
			if p.sent {
				p.sentAt = now // retransmitted above, or its reply is on its way
			}
		}
		d.stats().resumes.Add(1)
	} else {
		if s.failed {
			d.stats().resumeFailures.Add(1)
		}
		d.sm = smState{enabled: s.sm, id: s.smID}
		d.sendRawLocked(presenceXML)
		for _, p := range d.pending {
			p.sent = false
		}
		d.stats().logins.Add(1)
	}
	for _, p := range d.pending {
		if !p.sent {
			d.sendPubLocked(p, now)
		}
	}
	d.sendDueLocked()
	if d.sm.needsRequest(now, true) && len(d.sm.unacked) > 0 {
		c.Write(smRequestXML)
		d.sm.requestSent(now)
	}
	d.mu.Unlock()

	if d.everOnline {
		d.stats().reconnects.Add(1)
	}
	d.everOnline = true
	d.stats().online.Add(1)
	for _, el := range s.early {
		d.handle(c, el, false)
	}
	go d.read(c)
	return nil
}

// housekeep asks for an ack when one is due, takes an ack that does not
// come for a dead connection, and gives up on publishes without a reply.
func (d *device) housekeep(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.c
	if c == nil {
		return
	}
	if d.sm.overdue(now) {
		d.stats().fail(d.name, "stream management", errNoAck)
		c.Raw.Close() // the reader ends, and the loop reconnects
		return
	}
	if d.sm.needsRequest(now, true) {
		c.Write(smRequestXML)
		d.sm.requestSent(now)
	}
	kept := d.pending[:0]
	for _, p := range d.pending {
		if p.sent && now.Sub(p.sentAt) > publishTimeout {
			d.stats().publishErrors.Add(1)
			d.stats().fail(d.name, "publish to "+d.node, errPublishTimeout)
			continue
		}
		kept = append(kept, p)
	}
	clear(d.pending[len(kept):])
	d.pending = kept
}

// dropConn drops c on purpose, as a tunnel does: the socket closes
// without the closing tag (the server keeps the session for resumption,
// XEP-0198 §6). It returns when c's reader has ended.
func (d *device) dropConn(c *conn) {
	d.mu.Lock()
	d.c = nil
	d.sm.requested = false // the request went down with the connection
	d.mu.Unlock()
	c.closing.Store(true)
	c.Raw.Close()
	<-c.done
	d.stats().online.Add(-1)
}

// lostConn takes note that c ended unasked.
func (d *device) lostConn(c *conn) {
	d.mu.Lock()
	if d.c == c {
		d.c = nil
	}
	d.sm.requested = false
	d.mu.Unlock()
	c.Raw.Close()
	d.stats().online.Add(-1)
	d.stats().fail(d.name, "connection lost", c.err)
}

// closeStream closes the session of c at the end of the run (RFC 6120
// §4.4): a last ack (XEP-0198 §4 recommends one before closing), the
// closing tag, and then the reader takes the server's remaining replies
// until its closing tag, for at most closeWait.
func (d *device) closeStream(c *conn) {
	d.mu.Lock()
	if d.sm.enabled {
		c.Write(smAckXML(d.sm.handled))
	}
	c.Write([]byte("</stream:stream>"))
	c.closing.Store(true)
	d.mu.Unlock()
	c.Raw.SetReadDeadline(time.Now().Add(closeWait))
	<-c.done
	c.NC.Close()
	d.mu.Lock()
	d.c = nil
	d.mu.Unlock()
	d.stats().online.Add(-1)
}

// resumeToClose resumes the session of a device that is offline when the
// run ends (in a tunnel, or waiting to log in again), so that it can close
// it cleanly rather than leave it to the server's resumption timeout and
// the device's last will; what it measured meanwhile is published on the
// way. It gives up after shutdownTimeout, and returns the connection, or
// nil when there is nothing to close.
func (d *device) resumeToClose() *conn {
	prev := d.resumable()
	if prev == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	s, err := d.sim.loginLimited(ctx, d, prev)
	if err != nil {
		d.stats().fail(d.name, "resuming to close the session", err)
		return nil
	}
	if !s.resumed {
		d.closeFresh(s) // the server ended the session already
		return nil
	}
	if d.online(s) != nil {
		return nil
	}
	return s.c
}

// closeFresh closes a new session unused.
func (d *device) closeFresh(s *session) {
	c := s.c
	c.closing.Store(true)
	c.Write([]byte("</stream:stream>"))
	c.NC.Close()
}
