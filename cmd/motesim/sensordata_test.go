package main

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/stanza"
)

func TestParseReadRequest(t *testing.T) {
	when := time.Date(2013, 3, 7, 19, 0, 0, 0, time.UTC)
	tests := []struct {
		req  string
		want readRequest
		cond stanza.Condition // "" when the request is well-formed
	}{
		// The examples of XEP-0323 §3.
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'/>`,
			want: readRequest{seqnr: 1, types: ftMomentary}},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='4' all='true' when='2013-03-07T19:00:00Z'/>`,
			want: readRequest{seqnr: 4, types: ftAll, when: when}},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='5' momentary='true'><node nodeId='Device02'/><node nodeId='Device03'/></req>`,
			want: readRequest{seqnr: 5, types: ftMomentary, nodes: []string{"Device02", "Device03"}}},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='6' momentary='true'><node nodeId='Device04'/><field name='Energy'/><field name='Power'/></req>`,
			want: readRequest{seqnr: 6, types: ftMomentary, nodes: []string{"Device04"}, fields: []string{"Energy", "Power"}}},
		// Field types, booleans, numbers and times.
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr=' +0007 ' peak='1' momentary='false' identification='true'/>`,
			want: readRequest{seqnr: 7, types: ftPeak | ftIdentity}},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='-2147483648' historical='true' status='0'/>`,
			want: readRequest{seqnr: -2147483648, types: ftHistorical}},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='8' when='2013-03-07T20:00:00.5+01:00'/>`,
			want: readRequest{seqnr: 8, when: when.Add(500 * time.Millisecond)}},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='9' when='2013-03-07T19:00:00'/>`,
			want: readRequest{seqnr: 9, when: time.Date(2013, 3, 7, 19, 0, 0, 0, time.Local)}},
		// Hints the device does not use, and foreign children, are ignored.
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='10' from='x' to='y' serviceToken='t'><node nodeId='n' sourceId='s'/><x xmlns='urn:other' nodeId='z'/></req>`,
			want: readRequest{seqnr: 10, nodes: []string{"n"}}},
		// Malformed requests.
		{req: `<req xmlns='urn:xmpp:iot:sensordata' momentary='true'/>`, cond: stanza.BadRequest},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='one'/>`, cond: stanza.BadRequest},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='2147483648'/>`, cond: stanza.BadRequest},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='yes'/>`, cond: stanza.BadRequest},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' when='tomorrow'/>`, cond: stanza.BadRequest},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1'><node/></req>`, cond: stanza.BadRequest},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1'><field name=''/></req>`, cond: stanza.BadRequest},
	}
	for i, tt := range tests {
		t.Run("", func(t *testing.T) {
			el := mustParse(t, `<iq type='get' id='r'>`+tt.req+`</iq>`).FirstChild()
			got, err := parseReadRequest(el)
			if tt.cond != "" {
				var se stanza.Error
				if !errors.As(err, &se) || se.Condition != tt.cond {
					t.Fatalf("%d: error %v, want %s", i, err, tt.cond)
				}
				return
			}
			if err != nil {
				t.Fatalf("%d: %v", i, err)
			}
			if !got.when.Equal(tt.want.when) {
				t.Errorf("%d: when %v, want %v", i, got.when, tt.want.when)
			}
			got.when, tt.want.when = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%d: %+v, want %+v", i, got, tt.want)
			}
		})
	}
}

func TestReadRequestCheck(t *testing.T) {
	tests := []struct {
		r  readRequest
		ok bool
	}{
		{readRequest{types: ftMomentary}, true},
		{readRequest{}, true}, // no field type: the values there are
		{readRequest{types: ftAll}, true},
		{readRequest{types: ftMomentary | ftHistoricalDay}, true},
		{readRequest{types: ftHistoricalDay}, false},
		{readRequest{types: ftPeak | ftStatus | ftComputed | ftIdentity | ftHistorical}, false},
		{readRequest{nodes: []string{"x", "bed1"}}, true},
		{readRequest{nodes: []string{"Bed1"}}, false},
	}
	for i, tt := range tests {
		err := tt.r.check("bed1")
		var se stanza.Error
		if tt.ok != (err == nil) || (err != nil && (!errors.As(err, &se) || se.Condition != stanza.ItemNotFound)) {
			t.Errorf("%d: check(%+v) = %v, want ok %v (or item-not-found)", i, tt.r, err, tt.ok)
		}
	}
}

// TestReadout runs read-out requests (XEP-0323 §3) against a device and
// compares its answers with the expected stanzas.
func TestReadout(t *testing.T) {
	const (
		client   = `from='client@example.org/amr' to='bed1@localhost/sim'`
		accepted = `<iq id="S1" from="bed1@localhost/sim" to="client@example.org/amr" type="result"><accepted xmlns="urn:xmpp:iot:sensordata" seqnr="1"/></iq>`
		both     = `<message to="client@example.org/amr"><fields xmlns="urn:xmpp:iot:sensordata" seqnr="1" done="true"><node nodeId="bed1"><timestamp value="2026-11-24T15:00:00Z">` +
			`<numeric name="heartRate" momentary="true" automaticReadout="true" value="72" unit="bpm"/>` +
			`<numeric name="spo2" momentary="true" automaticReadout="true" value="97.5" unit="%"/>` +
			`</timestamp></node></fields></message>`
	)
	tests := []struct {
		req  string // the payload of an IQ get with id S1
		want string // the answer; "" when it is an error
		cond stanza.Condition
	}{
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'/>`, want: accepted + both},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1'/>`, want: accepted + both},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' all='true'><node nodeId='bed1'/></req>`, want: accepted + both},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true' when='2000-01-01T00:00:00Z'/>`, want: accepted + both},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'><field name='spo2'/></req>`,
			want: accepted + `<message to="client@example.org/amr"><fields xmlns="urn:xmpp:iot:sensordata" seqnr="1" done="true"><node nodeId="bed1"><timestamp value="2026-11-24T15:00:00Z">` +
				`<numeric name="spo2" momentary="true" automaticReadout="true" value="97.5" unit="%"/></timestamp></node></fields></message>`},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'><field name='Energy'/></req>`,
			want: accepted + `<message to="client@example.org/amr"><fields xmlns="urn:xmpp:iot:sensordata" seqnr="1" done="true"/></message>`},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' historicalDay='true'/>`, cond: stanza.ItemNotFound},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'><node nodeId='Device02'/></req>`, cond: stanza.ItemNotFound},
		{req: `<req xmlns='urn:xmpp:iot:sensordata' momentary='true'/>`, cond: stanza.BadRequest},
	}
	for i, tt := range tests {
		t.Run("", func(t *testing.T) {
			d, bc := testDevice(t)
			if err := d.handle(d.c, mustParse(t, `<iq type='get' id='S1' `+client+`>`+tt.req+`</iq>`), true); err != nil {
				t.Fatal(err)
			}
			if tt.cond == "" {
				if got := bc.take(); got != tt.want {
					t.Fatalf("%d: answer\n got %s\nwant %s", i, got, tt.want)
				}
				if d.stats().reads.Load() != 1 {
					t.Errorf("%d: %d reads counted", i, d.stats().reads.Load())
				}
				return
			}
			els := bc.elements(t)
			if len(els) != 1 || els[0].Attr("type") != stanza.TypeError || els[0].Attr("id") != "S1" {
				t.Fatalf("%d: answer %s, want an error", i, xmlOf(els...))
			}
			// RFC 6120 §8.3.1: the error carries the request.
			if e, ok := stanza.ErrorFromElement(els[0]); !ok || e.Condition != tt.cond || els[0].Child(NSSensorData, "req") == nil {
				t.Errorf("%d: error %s, want %s", i, xmlOf(els...), tt.cond)
			}
			if d.stats().readsRejected.Load() != 1 {
				t.Errorf("%d: %d rejections counted", i, d.stats().readsRejected.Load())
			}
		})
	}
}

// TestScheduledReadout queues read-outs for later (XEP-0323 §3.4) and
// cancels one (§3.7).
func TestScheduledReadout(t *testing.T) {
	d, bc := testDevice(t)
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	request := func(id, from, payload string) {
		t.Helper()
		if err := d.handle(d.c, mustParse(t, `<iq type='get' id='`+id+`' from='`+from+`' to='bed1@localhost/sim'>`+payload+`</iq>`), true); err != nil {
			t.Fatal(err)
		}
	}
	expectError := func(what string, cond stanza.Condition) {
		t.Helper()
		els := bc.elements(t)
		if len(els) != 1 {
			t.Fatalf("%s: %s, want one error", what, xmlOf(els...))
		}
		if e, ok := stanza.ErrorFromElement(els[0]); !ok || e.Condition != cond {
			t.Fatalf("%s: %s, want %s", what, xmlOf(els...), cond)
		}
	}

	request("S1", "a@example.org/x", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='4' all='true' when='`+later+`'/>`)
	if got, want := bc.take(), `<iq id="S1" from="bed1@localhost/sim" to="a@example.org/x" type="result"><accepted xmlns="urn:xmpp:iot:sensordata" seqnr="4" queued="true"/></iq>`; got != want {
		t.Fatalf("queued\n got %s\nwant %s", got, want)
	}
	// The same seqnr of the same client is in use; another client's is not.
	request("S2", "a@example.org/x", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='4' momentary='true' when='`+later+`'/>`)
	expectError("same seqnr", stanza.BadRequest)
	request("S3", "b@example.org/y", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='4' momentary='true' when='`+later+`'/>`)
	if els := bc.elements(t); len(els) != 1 || els[0].Child(NSSensorData, "accepted").Attr("queued") != "true" {
		t.Fatalf("other client: %s", xmlOf(els...))
	}

	// Its time comes: started, then the fields.
	d.fireScheduled(readKey{"a@example.org/x", 4})
	els := bc.elements(t)
	if len(els) != 2 || els[0].Child(NSSensorData, "started").Attr("seqnr") != "4" ||
		els[1].Child(NSSensorData, "fields").Attr("seqnr") != "4" || els[1].Attr("to") != "a@example.org/x" {
		t.Fatalf("fired: %s", xmlOf(els...))
	}

	// Cancelling: the queued one of client b, then nothing.
	request("C1", "b@example.org/y", `<cancel xmlns='urn:xmpp:iot:sensordata' seqnr='4'/>`)
	if got, want := bc.take(), `<iq id="C1" from="bed1@localhost/sim" to="b@example.org/y" type="result"><cancelled xmlns="urn:xmpp:iot:sensordata" seqnr="4"/></iq>`; got != want {
		t.Fatalf("cancel\n got %s\nwant %s", got, want)
	}
	request("C2", "b@example.org/y", `<cancel xmlns='urn:xmpp:iot:sensordata' seqnr='4'/>`)
	expectError("cancel again", stanza.ItemNotFound)
	request("C3", "b@example.org/y", `<cancel xmlns='urn:xmpp:iot:sensordata'/>`)
	expectError("cancel without seqnr", stanza.BadRequest)

	// A read-out due while the device is offline goes out when it is back.
	request("S4", "a@example.org/x", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='5' when='`+later+`'/>`)
	bc.take()
	c := d.c
	d.mu.Lock()
	d.c = nil
	d.mu.Unlock()
	d.fireScheduled(readKey{"a@example.org/x", 5})
	if got := bc.take(); got != "" {
		t.Fatalf("offline: wrote %s", got)
	}
	d.mu.Lock()
	d.c = c
	d.sendDueLocked()
	d.mu.Unlock()
	if els := bc.elements(t); len(els) != 2 || els[1].Child(NSSensorData, "fields") == nil {
		t.Fatalf("back online: %s", xmlOf(els...))
	}

	// The queue is bounded.
	for i := range maxScheduled {
		request("Q", "a@example.org/x", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='`+strconv.Itoa(100+i)+`' when='`+later+`'/>`)
	}
	bc.take()
	request("Q", "a@example.org/x", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='99' when='`+later+`'/>`)
	expectError("queue full", stanza.ResourceConstraint)
	if n := d.stats().reads.Load(); n != 2 {
		t.Errorf("%d reads counted, want 2", n)
	}
}

// TestPublishedFields checks the payload of a published reading against
// the form of the design: XEP-0323 fields with seqnr 0.
func TestPublishedFields(t *testing.T) {
	r := reading{at: t0.Add(1500 * time.Millisecond), fields: []field{{name: "speed", unit: "km/h", value: 61.25, decimals: 1}}}
	got := xmlOf(fieldsElement(0, "car1", r, nil))
	want := `<fields xmlns="urn:xmpp:iot:sensordata" seqnr="0" done="true"><node nodeId="car1"><timestamp value="2026-11-24T15:00:01.5Z">` +
		`<numeric name="speed" momentary="true" automaticReadout="true" value="61.2" unit="km/h"/></timestamp></node></fields>`
	if got != want {
		t.Errorf("fields\n got %s\nwant %s", got, want)
	}
}
