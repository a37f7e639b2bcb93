package c2s

import (
	"errors"
	"testing"

	"github.com/mote-xmpp/mote/stanza"
)

// TestSMCountersWrap: the counters are modulo 2^32 (XEP-0198 §4): an ack
// across the wrap drops the right stanzas, and one beyond what was sent
// is refused with <handled-count-too-high/>.
func TestSMCountersWrap(t *testing.T) {
	st := &smState{acked: 1<<32 - 2, sent: 1}
	for i := range 3 {
		st.unacked = append(st.unacked, stanza.NewElement(stanza.NSClient, "message", "id", string(rune('a'+i))))
	}
	if err := st.ack(0); err != nil { // 2^32-2 → 0: two stanzas
		t.Fatal(err)
	}
	if len(st.unacked) != 1 || st.unacked[0].Attr("id") != "c" || st.acked != 0 {
		t.Fatalf("after ack: acked %d, %d unacked", st.acked, len(st.unacked))
	}
	err := st.ack(2)
	var se *stanza.StreamError
	if !errors.As(err, &se) || se.Condition != stanza.StreamUndefinedCondition || se.Extra == nil ||
		se.Extra.Local != "handled-count-too-high" || se.Extra.Attr("h") != "2" || se.Extra.Attr("send-count") != "1" {
		t.Fatalf("ack beyond sent = %v", err)
	}
	if err := st.ack(1); err != nil || len(st.unacked) != 0 {
		t.Fatalf("last ack: %v, %d unacked", err, len(st.unacked))
	}
}

// TestSMHandledWaitsForHolds: a stanza with a hold outstanding counts as
// handled only once released, and the stanzas after it wait for it, so
// that h never covers a stanza that is not durable yet.
func TestSMHandledWaitsForHolds(t *testing.T) {
	st := &smState{}
	st.inbound(nil) // no hold: counted at once
	if st.handled != 1 {
		t.Fatalf("handled %d, want 1", st.handled)
	}
	h1, h2 := &held{}, &held{}
	st.inbound(h1)
	st.inbound(nil)
	st.inbound(h2)
	st.inbound(nil)
	if st.handled != 1 {
		t.Fatalf("handled %d with holds outstanding, want 1", st.handled)
	}
	st.complete(h2) // later stanza first: nothing moves
	if st.handled != 1 {
		t.Fatalf("handled %d after a later completion, want 1", st.handled)
	}
	st.complete(h1) // now h1, the one after it, h2 and the last
	if st.handled != 5 || len(st.waiting) != 0 {
		t.Fatalf("handled %d, %d waiting; want 5, 0", st.handled, len(st.waiting))
	}
	st.inbound(nil)
	if st.handled != 6 {
		t.Fatalf("handled %d, want 6", st.handled)
	}
}
