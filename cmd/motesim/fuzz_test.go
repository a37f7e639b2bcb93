package main

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// reqElement serialises r back into a <req/>.
func reqElement(r readRequest) *stanza.Element {
	el := stanza.NewElement(NSSensorData, "req", "seqnr", strconv.FormatInt(int64(r.seqnr), 10))
	for _, a := range fieldTypeAttrs {
		if a.name == "identification" || a.name == "all" || a.name == "historical" {
			continue
		}
		if r.types&a.t != 0 {
			el.SetAttr(a.name, "true")
		}
	}
	if !r.when.IsZero() {
		el.SetAttr("when", r.when.Format(time.RFC3339Nano))
	}
	for _, n := range r.nodes {
		el.Append(stanza.NewElement(NSSensorData, "node", "nodeId", n))
	}
	for _, f := range r.fields {
		el.Append(stanza.NewElement(NSSensorData, "field", "name", f))
	}
	return el
}

// FuzzReadRequest feeds arbitrary payloads to a device as IQ gets. The
// device must answer every one well-formed and once (RFC 6120 §8.2.3);
// a <req/> it parses must survive serialising and parsing again, and its
// answer must follow XEP-0323 §3: an error for a malformed or rejected
// request, else the result accepting it (queued when 'when' lies ahead)
// and, unless queued, the fields with the same seqnr.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'/>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='4' all='true' when='2013-03-07T19:00:00'/>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='5' momentary='true'><node nodeId='Device02'/><node nodeId='bed1'/></req>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='6' momentary='true'><node nodeId='bed1'/><field name='Energy'/><field name='spo2'/></req>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='7' historicalDay='1' when='2999-01-01T00:00:00.123+05:30'/>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='-0' identification='true' momentary='0'/>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='99999999999'/>`,
		`<cancel xmlns='urn:xmpp:iot:sensordata' seqnr='8'/>`,
		`<ping xmlns='urn:xmpp:ping'/>`,
		`<query xmlns='http://jabber.org/protocol/disco#info' node='x'/>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='1'/><req xmlns='urn:xmpp:iot:sensordata' seqnr='2'/>`,
		``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		iq, err := xmlstream.ParseStanza([]byte(`<iq type='get' id='f1' from='c@example.org/x' to='bed1@localhost/sim'>` + payload + `</iq>`))
		if err != nil {
			return
		}
		d, bc := testDevice(t)
		now := time.Now()
		if err := d.handle(d.c, iq, true); err != nil {
			t.Fatalf("handle: %v", err)
		}
		out := bc.take()
		answers, err := parseAll(out)
		if err != nil {
			t.Fatalf("answer %q does not parse: %v", out, err)
		}
		if len(answers) == 0 || stanza.KindOf(answers[0]) != stanza.KindIQ || answers[0].Attr("id") != "f1" {
			t.Fatalf("no IQ answer: %q", out)
		}
		req := iq.FirstChild()
		if req == nil || iq.CountChildElements() != 1 || req.Space != NSSensorData || req.Local != "req" {
			return
		}
		r, err := parseReadRequest(req)
		if err != nil {
			var se stanza.Error
			if !errors.As(err, &se) || se.Condition != stanza.BadRequest {
				t.Fatalf("parse error %v, want bad-request", err)
			}
		} else {
			again, rerr := parseReadRequest(reqElement(r))
			if rerr != nil || !again.when.Equal(r.when) {
				t.Fatalf("round trip of %+v: %+v, %v", r, again, rerr)
			}
			again.when = r.when
			if !reflect.DeepEqual(again, r) {
				t.Fatalf("round trip of %+v: %+v", r, again)
			}
			err = r.check(d.name)
		}
		if err != nil {
			if len(answers) != 1 || answers[0].Attr("type") != stanza.TypeError {
				t.Fatalf("rejected %q: answer %q", payload, out)
			}
			return
		}
		seqnr := strconv.FormatInt(int64(r.seqnr), 10)
		acc := answers[0].Child(NSSensorData, "accepted")
		if answers[0].Attr("type") != stanza.TypeResult || acc == nil || acc.Attr("seqnr") != seqnr {
			t.Fatalf("accepted %q: answer %q", payload, out)
		}
		// Queued or not depends on the clock between now and the
		// handler's: only 'when' close to now is ambiguous.
		if queued := acc.Attr("queued") == "true"; queued {
			if len(answers) != 1 || !r.when.After(now) {
				t.Fatalf("queued %q: answer %q", payload, out)
			}
			return
		}
		if len(answers) != 2 || stanza.KindOf(answers[1]) != stanza.KindMessage || answers[1].Attr("to") != "c@example.org/x" {
			t.Fatalf("read %q: answer %q", payload, out)
		}
		fields := answers[1].Child(NSSensorData, "fields")
		if fields == nil || fields.Attr("seqnr") != seqnr || fields.Attr("done") != "true" {
			t.Fatalf("read %q: fields %q", payload, out)
		}
	})
}
