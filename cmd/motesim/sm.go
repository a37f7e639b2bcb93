package main

import (
	"strconv"
	"time"

	"github.com/mote-xmpp/mote/stanza"
)

// Stream management (XEP-0198 version 1.6), the client's side.
//
// A device enables it with resume='true' after binding (§3). It counts the
// stanzas it sends and keeps each until the server's <a h/> covers it, and
// counts the stanzas it receives and handles, which it reports in its own
// <a h/> when the server sends <r/> (§4). It asks for acks itself every
// ackEvery stanzas and on its housekeeping tick, and takes an ack that
// does not come within ackTimeout for a dead connection.
//
// When a connection drops, the next one resumes the session (§5): after
// SASL it sends <resume previd h/> instead of binding; <resumed h/>
// acknowledges what the server handled and the device sends the rest
// again. When the server answers <failed/>, the device binds a new
// session on the same stream and publishes again what it never got a
// reply for (see device.go).

// NSSM is the stream management namespace.
const NSSM = "urn:xmpp:sm:3"

// Acknowledgement pacing.
const (
	ackEvery    = 5                // unacknowledged stanzas that make a device ask for an ack at once
	ackTimeout  = 30 * time.Second // how long an ack may take before the connection counts as dead
	ackIdle     = time.Minute      // a device with nothing unacknowledged still asks this often (a keepalive)
	smResumeMax = 300              // seconds of resumption time the device asks for (the server may give less)
)

// smState is a device's stream management state. It belongs to the
// session, not to a connection: a resumption carries it over (§5). The
// device's mu guards it.
type smState struct {
	enabled     bool
	id          string    // SM-ID to resume with; "" when the session cannot be resumed
	handled     uint32    // stanzas received and handled: the h the device reports (§4)
	sent        uint32    // stanzas sent since enabling, modulo 2^32
	acked       uint32    // the server's latest h
	unacked     [][]byte  // the stanzas after acked, oldest first, as written
	requested   bool      // an <r/> is outstanding
	requestedAt time.Time // when it was sent
	lastRequest time.Time // when the latest <r/> was sent
}

// sentStanza counts a stanza written while stream management is enabled
// and keeps it until acknowledged.
func (s *smState) sentStanza(b []byte) {
	if !s.enabled {
		return
	}
	s.unacked = append(s.unacked, b)
	s.sent++
}

// receivedStanza counts a stanza of the server that was handled.
func (s *smState) receivedStanza() {
	if s.enabled {
		s.handled++
	}
}

// ack processes the server's h (§4): the stanzas up to it are handled
// and dropped. An h beyond what was sent is the undefined-condition stream
// error with <handled-count-too-high/> (§7).
func (s *smState) ack(h uint32) error {
	n := h - s.acked // modulo 2^32
	if int64(n) > int64(len(s.unacked)) {
		hs, sent := strconv.FormatUint(uint64(h), 10), strconv.FormatUint(uint64(s.sent), 10)
		return &stanza.StreamError{Condition: stanza.StreamUndefinedCondition,
			Text:  "you acknowledged " + hs + " stanzas, but I sent you " + sent,
			Extra: stanza.NewElement(NSSM, "handled-count-too-high", "h", hs, "send-count", sent)}
	}
	clear(s.unacked[:n])
	s.unacked = s.unacked[n:]
	if len(s.unacked) == 0 {
		s.unacked = nil
	}
	s.acked = h
	s.requested = false
	return nil
}

// resumed processes the h of <resumed/> like an ack and returns the
// stanzas to send again (§5): they keep their numbers, so the count of
// sent stanzas stays.
func (s *smState) resumed(h uint32) ([][]byte, error) {
	if err := s.ack(h); err != nil {
		return nil, err
	}
	return s.unacked, nil
}

// needsRequest reports whether the device should send <r/> at now: none
// is outstanding, and ackEvery stanzas wait for an ack (or, when tick, any
// stanza does, or nothing was asked for ackIdle).
func (s *smState) needsRequest(now time.Time, tick bool) bool {
	if !s.enabled || s.requested {
		return false
	}
	if len(s.unacked) >= ackEvery {
		return true
	}
	return tick && (len(s.unacked) > 0 || now.Sub(s.lastRequest) >= ackIdle)
}

// requestSent notes an <r/> sent at now.
func (s *smState) requestSent(now time.Time) {
	s.requested, s.requestedAt, s.lastRequest = true, now, now
}

// overdue reports whether the outstanding <r/> has waited too long.
func (s *smState) overdue(now time.Time) bool {
	return s.enabled && s.requested && now.Sub(s.requestedAt) > ackTimeout
}

// Nonzas the device writes.
var smRequestXML = []byte("<r xmlns='" + NSSM + "'/>")

func smAckXML(h uint32) []byte {
	return []byte("<a xmlns='" + NSSM + "' h='" + strconv.FormatUint(uint64(h), 10) + "'/>")
}

// parseH parses an h attribute, an xs:unsignedInt.
func parseH(el *stanza.Element) (uint32, bool) {
	v, err := strconv.ParseUint(el.Attr("h"), 10, 32)
	return uint32(v), err == nil
}
