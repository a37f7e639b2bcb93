package main

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/stanza"
)

func TestSMAck(t *testing.T) {
	s := smState{enabled: true}
	for i := range 5 {
		s.sentStanza([]byte{byte('a' + i)})
	}
	if s.sent != 5 || len(s.unacked) != 5 {
		t.Fatalf("sent %d, unacked %d", s.sent, len(s.unacked))
	}
	s.requestSent(t0)
	if err := s.ack(3); err != nil || s.acked != 3 || string(s.unacked[0]) != "d" || len(s.unacked) != 2 || s.requested {
		t.Fatalf("ack 3: %v, acked %d, unacked %q, requested %v", err, s.acked, s.unacked, s.requested)
	}
	if err := s.ack(3); err != nil || len(s.unacked) != 2 {
		t.Fatalf("ack 3 again: %v, %d unacked", err, len(s.unacked))
	}
	// §7: more than was sent.
	err := s.ack(6)
	se, ok := err.(*stanza.StreamError)
	if !ok || se.Condition != stanza.StreamUndefinedCondition || se.Extra == nil ||
		se.Extra.Local != "handled-count-too-high" || se.Extra.Attr("h") != "6" || se.Extra.Attr("send-count") != "5" {
		t.Fatalf("ack 6: %v", err)
	}
	// §5: the rest is sent again, under the same numbers.
	again, err := s.resumed(4)
	if err != nil || len(again) != 1 || string(again[0]) != "e" || s.sent != 5 {
		t.Fatalf("resumed 4: %q, %v, sent %d", again, err, s.sent)
	}
	if again, err := s.resumed(5); err != nil || len(again) != 0 || s.unacked != nil {
		t.Fatalf("resumed 5: %q, %v", again, err)
	}
}

// TestSMWrap checks the counters modulo 2^32 (XEP-0198 §4).
func TestSMWrap(t *testing.T) {
	s := smState{enabled: true, sent: math.MaxUint32 - 1, acked: math.MaxUint32 - 1, handled: math.MaxUint32}
	for range 4 {
		s.sentStanza([]byte("x"))
	}
	s.receivedStanza()
	if s.sent != 2 || s.handled != 0 {
		t.Fatalf("sent %d handled %d after wrapping", s.sent, s.handled)
	}
	if err := s.ack(1); err != nil || len(s.unacked) != 1 || s.acked != 1 {
		t.Fatalf("ack 1: %v, %d unacked", err, len(s.unacked))
	}
	if err := s.ack(3); err == nil {
		t.Fatal("ack 3 of 2: no error")
	}
}

func TestSMDisabled(t *testing.T) {
	var s smState
	s.sentStanza([]byte("x"))
	s.receivedStanza()
	if s.sent != 0 || s.handled != 0 || s.unacked != nil || s.needsRequest(t0, true) || s.overdue(t0.Add(time.Hour)) {
		t.Fatalf("counted without stream management: %+v", s)
	}
}

func TestSMRequests(t *testing.T) {
	s := smState{enabled: true}
	if !s.needsRequest(t0, true) {
		t.Error("never asked: no keepalive request on the tick")
	}
	s.requestSent(t0)
	s.ack(0)
	if s.needsRequest(t0.Add(time.Second), true) {
		t.Error("nothing to ack, asked a second ago: request")
	}
	if !s.needsRequest(t0.Add(ackIdle), true) {
		t.Error("no keepalive request after ackIdle")
	}
	s.sentStanza([]byte("x"))
	if s.needsRequest(t0.Add(time.Second), false) || !s.needsRequest(t0.Add(time.Second), true) {
		t.Error("one unacknowledged stanza: a request on the tick only")
	}
	for range ackEvery - 1 {
		s.sentStanza([]byte("x"))
	}
	if !s.needsRequest(t0.Add(time.Second), false) {
		t.Errorf("%d unacknowledged stanzas: no request", ackEvery)
	}
	s.requestSent(t0)
	if s.needsRequest(t0, true) || s.overdue(t0.Add(ackTimeout)) || !s.overdue(t0.Add(ackTimeout+time.Millisecond)) {
		t.Error("outstanding request: wrong pacing or timeout")
	}
}

// TestHandle runs the elements a server sends through a device's handler
// and checks its answers.
func TestHandle(t *testing.T) {
	d, bc := testDevice(t)
	d.sm = smState{enabled: true, id: "sm1"}
	send := func(s string) error { t.Helper(); return d.handle(d.c, mustParse(t, s), true) }

	tests := []struct {
		in, want string
	}{
		// XEP-0199 §4.2.
		{`<iq type='get' id='p1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`,
			`<iq id="p1" to="localhost" type="result"/>`},
		// XEP-0030 §3.1, with the XEP-0323 §4 feature.
		{`<iq type='get' id='d1' from='a@b/c'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
			`<iq id="d1" to="a@b/c" type="result"><query xmlns="http://jabber.org/protocol/disco#info"><identity category="client" type="bot" name="motesim"/>` +
				`<feature var="http://jabber.org/protocol/disco#info"/><feature var="urn:xmpp:ping"/><feature var="urn:xmpp:iot:sensordata"/></query></iq>`},
		// RFC 6120 §8.4: anything else is service-unavailable.
		{`<iq type='set' id='x1' from='a@b/c'><query xmlns='jabber:iq:version'/></iq>`,
			`<iq id="x1" to="a@b/c" type="error"><query xmlns="jabber:iq:version"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`},
		{`<iq type='set' id='x2' from='a@b/c'><req xmlns='urn:xmpp:iot:sensordata' seqnr='1'/></iq>`,
			`<iq id="x2" to="a@b/c" type="error"><req xmlns="urn:xmpp:iot:sensordata" seqnr="1"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`},
		// Replies, messages and presence need no answer.
		{`<iq type='result' id='other'/>`, ``},
		{`<message from='pubsub.localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'/></message>`, ``},
		{`<presence from='a@b/c'/>`, ``},
		// XEP-0198 §4: the ack counts every stanza above.
		{`<r xmlns='urn:xmpp:sm:3'/>`, `<a xmlns='urn:xmpp:sm:3' h='7'/>`},
	}
	for i, tt := range tests {
		if err := send(tt.in); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got := bc.take(); got != tt.want {
			t.Errorf("%d: %s\n got %s\nwant %s", i, tt.in, got, tt.want)
		}
	}
	// The answers were counted as sent: 4.
	if d.sm.sent != 4 {
		t.Errorf("sent %d stanzas, counted %d", 4, d.sm.sent)
	}
	if err := send(`<a xmlns='urn:xmpp:sm:3' h='4'/>`); err != nil || d.sm.unacked != nil {
		t.Fatalf("<a h='4'/>: %v, %d unacked", err, len(d.sm.unacked))
	}
	// An ack beyond what was sent ends the stream (XEP-0198 §7).
	if err := send(`<a xmlns='urn:xmpp:sm:3' h='5'/>`); err == nil {
		t.Fatal("<a h='5'/> of 4: no error")
	}
	if got := bc.take(); got != `<stream:error><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">you acknowledged 5 stanzas, but I sent you 4</text>`+
		`<handled-count-too-high xmlns="urn:xmpp:sm:3" h="5" send-count="4"/></stream:error></stream:stream>` {
		t.Errorf("stream error %s", got)
	}
	// A connection the device left is not handled any more.
	other := &conn{}
	if err := d.handle(other, mustParse(t, `<presence/>`), true); err != errStale {
		t.Errorf("stale connection: %v", err)
	}
}

// TestPublishReplies checks that the replies to publishes are counted by
// kind and that unknown ids are ignored.
func TestPublishReplies(t *testing.T) {
	d, bc := testDevice(t)
	d.mu.Lock()
	d.publishLocked("1", stanza.NewElement("urn:x", "x"), false, t0)
	d.publishLocked("alarm-2", stanza.NewElement("urn:x", "x"), true, t0)
	d.publishLocked("2", stanza.NewElement("urn:x", "x"), false, t0)
	d.mu.Unlock()
	els := bc.elements(t)
	if len(els) != 3 || els[1].Attr("id") != "pub-alarm-2" || els[1].Attr("to") != "pubsub.localhost" ||
		els[1].Child(NSPubSub, "pubsub").Child(NSPubSub, "publish").Attr("node") != "devices/bed1" {
		t.Fatalf("publishes: %s", xmlOf(els...))
	}
	for _, s := range []string{
		`<iq type='result' id='pub-alarm-2'/>`,
		`<iq type='result' id='pub-1'/>`,
		`<iq type='result' id='pub-1'/>`, // a second reply: ignored
		`<iq type='error' id='pub-2'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
		`<iq type='result' id='pub-9'/>`,
	} {
		if err := d.handle(d.c, mustParse(t, s), true); err != nil {
			t.Fatal(err)
		}
	}
	st := d.stats()
	if st.readings.Load() != 1 || st.alarms.Load() != 1 || st.publishErrors.Load() != 1 || st.errors.Load() != 1 || len(d.pending) != 0 {
		t.Errorf("readings %d alarms %d publish errors %d errors %d pending %d",
			st.readings.Load(), st.alarms.Load(), st.publishErrors.Load(), st.errors.Load(), len(d.pending))
	}
	// Offline, publishes wait, up to maxPending.
	d.mu.Lock()
	d.c = nil
	for i := range maxPending + 2 {
		d.publishLocked(strconv.Itoa(i), stanza.NewElement("urn:x", "x"), false, t0)
	}
	d.mu.Unlock()
	if len(d.pending) != maxPending || d.pending[0].id != "pub-2" || d.pending[0].sent || st.dropped.Load() != 2 {
		t.Errorf("offline: %d pending from %s, dropped %d", len(d.pending), d.pending[0].id, st.dropped.Load())
	}
}
