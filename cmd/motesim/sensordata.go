package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/mote-xmpp/mote/stanza"
)

// XEP-0323 (Internet of Things - Sensor Data, version 0.6): the payload of
// the published readings, and the read-out a client requests from a device
// with an IQ get.
//
// A device here has one node (its nodeId is the device's name) and
// momentary values only, the values of its latest reading. It implements
// the read-out of momentary values (§3.1), read-out rejection (§3.3) and
// scheduled read-outs with their cancellation (§3.4, §3.7):
//
//	client: <iq type='get' id='S1'><req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'/></iq>
//	device: <iq type='result' id='S1'><accepted xmlns='urn:xmpp:iot:sensordata' seqnr='1'/></iq>
//	device: <message><fields xmlns='urn:xmpp:iot:sensordata' seqnr='1' done='true'>
//	          <node nodeId='bed1'><timestamp value='2026-11-24T15:00:00Z'>
//	            <numeric name='heartRate' momentary='true' automaticReadout='true' value='72' unit='bpm'/>
//	        ...</fields></message>
//
// A request whose 'when' lies ahead is accepted as queued; at that time
// the device sends <started/> and then the fields. A request that asks only
// for field types the device does not have (peak, historical, ...) is
// rejected with item-not-found, as is one naming only nodes the device does
// not have; a malformed one with bad-request (§3.3's table).

// NSSensorData is the XEP-0323 namespace.
const NSSensorData = "urn:xmpp:iot:sensordata"

// fieldTypes is a set of XEP-0323 field types (§5.6).
type fieldTypes uint16

// Field types.
const (
	ftMomentary fieldTypes = 1 << iota
	ftPeak
	ftStatus
	ftComputed
	ftIdentity
	ftHistoricalSecond
	ftHistoricalMinute
	ftHistoricalHour
	ftHistoricalDay
	ftHistoricalWeek
	ftHistoricalMonth
	ftHistoricalQuarter
	ftHistoricalYear
	ftHistoricalOther

	ftHistorical = ftHistoricalSecond | ftHistoricalMinute | ftHistoricalHour | ftHistoricalDay |
		ftHistoricalWeek | ftHistoricalMonth | ftHistoricalQuarter | ftHistoricalYear | ftHistoricalOther
	ftAll = ftMomentary | ftPeak | ftStatus | ftComputed | ftIdentity | ftHistorical
)

// fieldTypeAttrs are the boolean attributes of <req/> that name field
// types (the fieldTypes attribute group of the schema, §10, and the two special ones of
// §5.6: all, historical). The schema calls the identity type "identity";
// the examples of §3.4 write "identification", which is accepted too.
var fieldTypeAttrs = []struct {
	name string
	t    fieldTypes
}{
	{"momentary", ftMomentary},
	{"peak", ftPeak},
	{"status", ftStatus},
	{"computed", ftComputed},
	{"identity", ftIdentity},
	{"identification", ftIdentity},
	{"historicalSecond", ftHistoricalSecond},
	{"historicalMinute", ftHistoricalMinute},
	{"historicalHour", ftHistoricalHour},
	{"historicalDay", ftHistoricalDay},
	{"historicalWeek", ftHistoricalWeek},
	{"historicalMonth", ftHistoricalMonth},
	{"historicalQuarter", ftHistoricalQuarter},
	{"historicalYear", ftHistoricalYear},
	{"historicalOther", ftHistoricalOther},
	{"all", ftAll},
	{"historical", ftHistorical},
}

// readRequest is a parsed <req/> (§3.1, §10).
type readRequest struct {
	seqnr  int32
	types  fieldTypes // the union of the field types asked for; 0 when none is named
	nodes  []string   // nodeIds to read; empty: every node
	fields []string   // field names to read; empty: every field
	when   time.Time  // when to read; zero: now
}

// parseReadRequest parses a <req/> element. A malformed request (seqnr
// missing or not an xs:int, a field type or 'when' that is not an
// xs:boolean or xs:dateTime, a node without nodeId, a field without name)
// is a bad-request stanza.Error. The hints the device does not use
// (from, to, the tokens, sourceId, cacheType) are not checked.
func parseReadRequest(req *stanza.Element) (readRequest, error) {
	var r readRequest
	seqnr, err := parseSeqnr(req)
	if err != nil {
		return r, err
	}
	r.seqnr = seqnr
	for _, a := range fieldTypeAttrs {
		if !req.HasAttr(a.name) {
			continue
		}
		on, ok := parseBool(req.Attr(a.name))
		if !ok {
			return r, badRequest(a.name + " is not an xs:boolean")
		}
		if on {
			r.types |= a.t
		}
	}
	if req.HasAttr("when") {
		t, ok := parseDateTime(req.Attr("when"))
		if !ok {
			return r, badRequest("when is not an xs:dateTime")
		}
		r.when = t
	}
	for _, c := range req.ChildElements() {
		if c.Space != NSSensorData {
			continue
		}
		switch c.Local {
		case "node":
			id := c.Attr("nodeId")
			if id == "" {
				return r, badRequest("a node without nodeId")
			}
			r.nodes = append(r.nodes, id)
		case "field":
			name := c.Attr("name")
			if name == "" {
				return r, badRequest("a field without name")
			}
			r.fields = append(r.fields, name)
		}
	}
	return r, nil
}

// check returns the error that rejects r on the device whose only node is
// nodeID (§3.3), or nil when the device can answer it: r asks for momentary
// values (a request naming no field type is taken as one for the values
// the device has) and includes nodeID when it names nodes.
func (r *readRequest) check(nodeID string) error {
	if r.types != 0 && r.types&ftMomentary == 0 {
		return stanza.NewError(stanza.ItemNotFound, "this device has momentary values only")
	}
	if len(r.nodes) > 0 {
		for _, n := range r.nodes {
			if n == nodeID {
				return nil
			}
		}
		return stanza.NewError(stanza.ItemNotFound, "no such node; this device's node is "+nodeID)
	}
	return nil
}

// wants reports whether the request asks for the field called name (a
// request naming no field asks for all, §3.6).
func (r *readRequest) wants(name string) bool {
	if len(r.fields) == 0 {
		return true
	}
	for _, f := range r.fields {
		if f == name {
			return true
		}
	}
	return false
}

// parseSeqnr parses the required seqnr attribute, an xs:int.
func parseSeqnr(el *stanza.Element) (int32, error) {
	if !el.HasAttr("seqnr") {
		return 0, badRequest("seqnr is missing")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(el.Attr("seqnr")), 10, 32)
	if err != nil {
		return 0, badRequest("seqnr is not an xs:int")
	}
	return int32(n), nil
}

func badRequest(text string) error { return stanza.NewError(stanza.BadRequest, text) }

// errorReply returns the error reply to iq for err, a stanza.Error (any
// other error is an internal-server-error).
func errorReply(iq *stanza.Element, err error) *stanza.Element {
	var se stanza.Error
	if !errors.As(err, &se) {
		se = stanza.NewError(stanza.InternalServerError, "")
	}
	return stanza.ErrorReply(iq, se)
}

// parseBool parses an xs:boolean.
func parseBool(s string) (v, ok bool) {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// parseDateTime parses an xs:dateTime. One without a time zone is in the
// device's local time (§6.1: the reader assumes its own zone).
func parseDateTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// seqnrElement returns the element {NSSensorData}local with a seqnr
// attribute and the given further attribute pairs.
func seqnrElement(local string, seqnr int32, attrs ...string) *stanza.Element {
	return stanza.NewElement(NSSensorData, local, append([]string{"seqnr", strconv.FormatInt(int64(seqnr), 10)}, attrs...)...)
}

// acceptedElement is the payload of the result accepting a read-out
// (§3.1), queued when it is to be done later (§3.4).
func acceptedElement(seqnr int32, queued bool) *stanza.Element {
	if queued {
		return seqnrElement("accepted", seqnr, "queued", "true")
	}
	return seqnrElement("accepted", seqnr)
}

// fieldsElement returns the <fields/> of reading r of node nodeID: every
// field that want accepts (nil accepts all) as a momentary, automatically
// read numeric value (§3.1, §5.4, §5.7), marked done (§5.3: the read-out
// is complete in one message). Without any field there is no node either.
func fieldsElement(seqnr int32, nodeID string, r reading, want func(name string) bool) *stanza.Element {
	el := seqnrElement("fields", seqnr, "done", "true")
	ts := stanza.NewElement(NSSensorData, "timestamp", "value", formatTime(r.at))
	for _, f := range r.fields {
		if want != nil && !want(f.name) {
			continue
		}
		ts.Append(stanza.NewElement(NSSensorData, "numeric", "name", f.name, "momentary", "true",
			"automaticReadout", "true", "value", f.formatted(), "unit", f.unit))
	}
	if len(ts.Children) > 0 {
		el.Append(stanza.NewElement(NSSensorData, "node", "nodeId", nodeID).Append(ts))
	}
	return el
}

// readKey identifies a read-out: seqnr is unique only per client (§3).
type readKey struct {
	from  string
	seqnr int32
}

// scheduledRead is a queued read-out (§3.4).
type scheduledRead struct {
	req   readRequest
	timer *time.Timer
	due   bool // its time came while the device was offline
}

// maxScheduled bounds the queued read-outs of one device.
const maxScheduled = 16

// readLocked answers the read request iq (an IQ get with <req/>) at now
// and returns the stanzas to send: an error, or the result accepting it
// followed, unless it is queued, by the message with the fields. d.mu is
// held.
func (d *device) readLocked(iq, req *stanza.Element, now time.Time) []*stanza.Element {
	r, err := parseReadRequest(req)
	if err == nil {
		err = r.check(d.name)
	}
	key := readKey{from: iq.Attr("from"), seqnr: r.seqnr}
	queue := err == nil && r.when.After(now)
	if queue {
		switch {
		case d.queued[key] != nil:
			err = badRequest("a read-out with this seqnr is queued already")
		case len(d.queued) >= maxScheduled:
			err = stanza.NewError(stanza.ResourceConstraint, "too many queued read-outs")
		}
	}
	if err != nil {
		d.stats().readsRejected.Add(1)
		return []*stanza.Element{errorReply(iq, err)}
	}
	accepted := stanza.IQResult(iq, acceptedElement(r.seqnr, queue))
	if queue {
		if d.queued == nil {
			d.queued = make(map[readKey]*scheduledRead)
		}
		d.queued[key] = &scheduledRead{req: r, timer: time.AfterFunc(r.when.Sub(now), func() { d.fireScheduled(key) })}
		return []*stanza.Element{accepted}
	}
	d.stats().reads.Add(1)
	return []*stanza.Element{accepted, d.fieldsMessage(key.from, &r)}
}

// fieldsMessage returns the message carrying the latest reading to the
// client at to, for request r.
func (d *device) fieldsMessage(to string, r *readRequest) *stanza.Element {
	m := stanza.NewElement(stanza.NSClient, "message")
	if to != "" {
		m.SetAttr("to", to)
	}
	return m.Append(fieldsElement(r.seqnr, d.name, d.last, r.wants))
}

// fireScheduled runs the queued read-out key when its time comes: it sends
// <started/> (§3.4) and the fields, or, while the device is offline, marks
// the read-out due for when it is back.
func (d *device) fireScheduled(key readKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.queued[key]
	if s == nil {
		return // cancelled meanwhile
	}
	if d.c == nil {
		s.due = true
		return
	}
	delete(d.queued, key)
	d.sendScheduledLocked(key, s)
}

// sendScheduledLocked sends a queued read-out's messages. d.mu is held.
func (d *device) sendScheduledLocked(key readKey, s *scheduledRead) {
	started := stanza.NewElement(stanza.NSClient, "message", "to", key.from).Append(seqnrElement("started", key.seqnr))
	d.sendLocked(started)
	d.sendLocked(d.fieldsMessage(key.from, &s.req))
	d.stats().reads.Add(1)
}

// sendDueLocked sends the queued read-outs whose time came while the
// device was offline. d.mu is held.
func (d *device) sendDueLocked() {
	for key, s := range d.queued {
		if s.due {
			delete(d.queued, key)
			d.sendScheduledLocked(key, s)
		}
	}
}

// cancelLocked answers a <cancel/> request (§3.7): a queued read-out of
// the same client and seqnr is dropped and the result carries <cancelled/>;
// an unknown one is item-not-found. d.mu is held.
func (d *device) cancelLocked(iq, cancel *stanza.Element) *stanza.Element {
	seqnr, err := parseSeqnr(cancel)
	if err != nil {
		return errorReply(iq, err)
	}
	key := readKey{from: iq.Attr("from"), seqnr: seqnr}
	s := d.queued[key]
	if s == nil {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, "no queued read-out with this seqnr"))
	}
	s.timer.Stop()
	delete(d.queued, key)
	return stanza.IQResult(iq, seqnrElement("cancelled", seqnr))
}

// stopScheduledLocked stops the timers of the queued read-outs, at the
// end of the run. d.mu is held.
func (d *device) stopScheduledLocked() {
	for key, s := range d.queued {
		s.timer.Stop()
		delete(d.queued, key)
	}
}
