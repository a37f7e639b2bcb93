package subscription

import (
	"math/rand/v2"
	"testing"

	"github.com/mote-xmpp/mote/internal/storage"
)

// The nine states of RFC 6121 App. A.1.
var (
	none          = State{Sub: storage.SubNone}
	nonePOut      = State{Sub: storage.SubNone, PendingOut: true}
	nonePIn       = State{Sub: storage.SubNone, PendingIn: true}
	nonePOutIn    = State{Sub: storage.SubNone, PendingOut: true, PendingIn: true}
	to            = State{Sub: storage.SubTo}
	toPIn         = State{Sub: storage.SubTo, PendingIn: true}
	from          = State{Sub: storage.SubFrom}
	fromPOut      = State{Sub: storage.SubFrom, PendingOut: true}
	both          = State{Sub: storage.SubBoth}
	definedStates = []State{none, nonePOut, nonePIn, nonePOutIn, to, toPIn, from, fromPOut, both}
	stanzaTypes   = []string{Subscribe, Unsubscribe, Subscribed, Unsubscribed}
)

func approved(s State) State {
	s.Approved = true
	return s
}

// valid reports whether s is one of the states of App. A.1, with the
// 'approved' flag only where a pre-approval can stand.
func valid(s State) bool {
	switch s.Sub {
	case storage.SubNone:
	case storage.SubTo:
		if s.PendingOut {
			return false
		}
	case storage.SubFrom:
		if s.PendingIn || s.Approved {
			return false
		}
	case storage.SubBoth:
		if s.PendingOut || s.PendingIn || s.Approved {
			return false
		}
	default:
		return false
	}
	return !(s.Approved && s.PendingIn)
}

type outboundCase struct {
	name  string
	in    State
	typ   string
	next  State
	route bool
}

func (c outboundCase) check(t *testing.T) {
	t.Helper()
	next, route, changed := Outbound(c.in, c.typ)
	if next != c.next || route != c.route || changed != (c.next != c.in) {
		t.Errorf("Outbound(%v, %q) = %v, route %t, changed %t; want %v, route %t, changed %t",
			c.in, c.typ, next, route, changed, c.next, c.route, c.next != c.in)
	}
}

// One row per row of the tables of App. A.2 (9 states × 4 stanza types).
var outboundTable = []outboundCase{
	// A.2.1 Subscribe.
	{"A.2.1 None -> None + Pending Out", none, Subscribe, nonePOut, true},
	{"A.2.1 None + Pending Out -> no state change", nonePOut, Subscribe, nonePOut, true},
	{"A.2.1 None + Pending In -> None + Pending Out+In", nonePIn, Subscribe, nonePOutIn, true},
	{"A.2.1 None + Pending Out+In -> no state change", nonePOutIn, Subscribe, nonePOutIn, true},
	{"A.2.1 To -> no state change", to, Subscribe, to, true},
	{"A.2.1 To + Pending In -> no state change", toPIn, Subscribe, toPIn, true},
	{"A.2.1 From -> From + Pending Out", from, Subscribe, fromPOut, true},
	{"A.2.1 From + Pending Out -> no state change", fromPOut, Subscribe, fromPOut, true},
	{"A.2.1 Both -> no state change", both, Subscribe, both, true},

	// A.2.2 Unsubscribe.
	{"A.2.2 None -> no state change", none, Unsubscribe, none, true},
	{"A.2.2 None + Pending Out -> None", nonePOut, Unsubscribe, none, true},
	{"A.2.2 None + Pending In -> no state change", nonePIn, Unsubscribe, nonePIn, true},
	{"A.2.2 None + Pending Out+In -> None + Pending In", nonePOutIn, Unsubscribe, nonePIn, true},
	{"A.2.2 To -> None", to, Unsubscribe, none, true},
	{"A.2.2 To + Pending In -> None + Pending In", toPIn, Unsubscribe, nonePIn, true},
	{"A.2.2 From -> no state change", from, Unsubscribe, from, true},
	{"A.2.2 From + Pending Out -> From", fromPOut, Unsubscribe, from, true},
	{"A.2.2 Both -> From", both, Unsubscribe, from, true},

	// A.2.3 Subscribed. In None, None + Pending Out and To the stanza is a
	// pre-approval (§3.4): not routed, but noted in the 'approved' flag.
	{"A.2.3 None -> None (pre-approved, §3.4)", none, Subscribed, approved(none), false},
	{"A.2.3 None + Pending Out -> None + Pending Out (pre-approved, §3.4)", nonePOut, Subscribed, approved(nonePOut), false},
	{"A.2.3 None + Pending In -> From", nonePIn, Subscribed, from, true},
	{"A.2.3 None + Pending Out+In -> From + Pending Out", nonePOutIn, Subscribed, fromPOut, true},
	{"A.2.3 To -> To (pre-approved, §3.4)", to, Subscribed, approved(to), false},
	{"A.2.3 To + Pending In -> Both", toPIn, Subscribed, both, true},
	{"A.2.3 From -> no state change", from, Subscribed, from, false},
	{"A.2.3 From + Pending Out -> no state change", fromPOut, Subscribed, fromPOut, false},
	{"A.2.3 Both -> no state change", both, Subscribed, both, false},

	// A.2.4 Unsubscribed.
	{"A.2.4 None -> no state change", none, Unsubscribed, none, false},
	{"A.2.4 None + Pending Out -> no state change", nonePOut, Unsubscribed, nonePOut, false},
	{"A.2.4 None + Pending In -> None", nonePIn, Unsubscribed, none, true},
	{"A.2.4 None + Pending Out+In -> None + Pending Out", nonePOutIn, Unsubscribed, nonePOut, true},
	{"A.2.4 To -> no state change", to, Unsubscribed, to, false},
	{"A.2.4 To + Pending In -> To", toPIn, Unsubscribed, to, true},
	{"A.2.4 From -> None", from, Unsubscribed, none, true},
	{"A.2.4 From + Pending Out -> None + Pending Out", fromPOut, Unsubscribed, nonePOut, true},
	{"A.2.4 Both -> To", both, Unsubscribed, to, true},
}

func TestOutbound(t *testing.T) {
	seen := map[State]map[string]bool{}
	for _, c := range outboundTable {
		t.Run(c.name, c.check)
		if seen[c.in] == nil {
			seen[c.in] = map[string]bool{}
		}
		seen[c.in][c.typ] = true
	}
	assertComplete(t, seen)
}

type inboundCase struct {
	name      string
	in        State
	typ       string
	next      State
	deliver   bool
	autoReply string
}

func (c inboundCase) check(t *testing.T) {
	t.Helper()
	next, deliver, autoReply, changed := Inbound(c.in, c.typ)
	if next != c.next || deliver != c.deliver || autoReply != c.autoReply || changed != (c.next != c.in) {
		t.Errorf("Inbound(%v, %q) = %v, deliver %t, autoReply %q, changed %t; want %v, deliver %t, autoReply %q, changed %t",
			c.in, c.typ, next, deliver, autoReply, changed, c.next, c.deliver, c.autoReply, c.next != c.in)
	}
}

// One row per row of the tables of App. A.3 (9 states × 4 stanza types).
var inboundTable = []inboundCase{
	// A.3.1 Subscribe. From, From + Pending Out and Both: "no *", the
	// server auto-replies "subscribed" (§3.1.3).
	{"A.3.1 None -> None + Pending In", none, Subscribe, nonePIn, true, ""},
	{"A.3.1 None + Pending Out -> None + Pending Out+In", nonePOut, Subscribe, nonePOutIn, true, ""},
	{"A.3.1 None + Pending In -> no state change", nonePIn, Subscribe, nonePIn, false, ""},
	{"A.3.1 None + Pending Out+In -> no state change", nonePOutIn, Subscribe, nonePOutIn, false, ""},
	{"A.3.1 To -> To + Pending In", to, Subscribe, toPIn, true, ""},
	{"A.3.1 To + Pending In -> no state change", toPIn, Subscribe, toPIn, false, ""},
	{"A.3.1 From -> no state change, auto-reply subscribed", from, Subscribe, from, false, Subscribed},
	{"A.3.1 From + Pending Out -> no state change, auto-reply subscribed", fromPOut, Subscribe, fromPOut, false, Subscribed},
	{"A.3.1 Both -> no state change, auto-reply subscribed", both, Subscribe, both, false, Subscribed},

	// A.3.2 Unsubscribe.
	{"A.3.2 None -> no state change", none, Unsubscribe, none, false, ""},
	{"A.3.2 None + Pending Out -> no state change", nonePOut, Unsubscribe, nonePOut, false, ""},
	{"A.3.2 None + Pending In -> None", nonePIn, Unsubscribe, none, true, ""},
	{"A.3.2 None + Pending Out+In -> None + Pending Out", nonePOutIn, Unsubscribe, nonePOut, true, ""},
	{"A.3.2 To -> no state change", to, Unsubscribe, to, false, ""},
	{"A.3.2 To + Pending In -> To", toPIn, Unsubscribe, to, true, ""},
	{"A.3.2 From -> None", from, Unsubscribe, none, true, ""},
	{"A.3.2 From + Pending Out -> None + Pending Out", fromPOut, Unsubscribe, nonePOut, true, ""},
	{"A.3.2 Both -> To", both, Unsubscribe, to, true, ""},

	// A.3.3 Subscribed.
	{"A.3.3 None -> no state change", none, Subscribed, none, false, ""},
	{"A.3.3 None + Pending Out -> To", nonePOut, Subscribed, to, true, ""},
	{"A.3.3 None + Pending In -> no state change", nonePIn, Subscribed, nonePIn, false, ""},
	{"A.3.3 None + Pending Out+In -> To + Pending In", nonePOutIn, Subscribed, toPIn, true, ""},
	{"A.3.3 To -> no state change", to, Subscribed, to, false, ""},
	{"A.3.3 To + Pending In -> no state change", toPIn, Subscribed, toPIn, false, ""},
	{"A.3.3 From -> no state change", from, Subscribed, from, false, ""},
	{"A.3.3 From + Pending Out -> Both", fromPOut, Subscribed, both, true, ""},
	{"A.3.3 Both -> no state change", both, Subscribed, both, false, ""},

	// A.3.4 Unsubscribed.
	{"A.3.4 None -> no state change", none, Unsubscribed, none, false, ""},
	{"A.3.4 None + Pending Out -> None", nonePOut, Unsubscribed, none, true, ""},
	{"A.3.4 None + Pending In -> no state change", nonePIn, Unsubscribed, nonePIn, false, ""},
	{"A.3.4 None + Pending Out+In -> None + Pending In", nonePOutIn, Unsubscribed, nonePIn, true, ""},
	{"A.3.4 To -> None", to, Unsubscribed, none, true, ""},
	{"A.3.4 To + Pending In -> None + Pending In", toPIn, Unsubscribed, nonePIn, true, ""},
	{"A.3.4 From -> no state change", from, Unsubscribed, from, false, ""},
	{"A.3.4 From + Pending Out -> From", fromPOut, Unsubscribed, from, true, ""},
	{"A.3.4 Both -> From", both, Unsubscribed, from, true, ""},
}

func TestInbound(t *testing.T) {
	seen := map[State]map[string]bool{}
	for _, c := range inboundTable {
		t.Run(c.name, c.check)
		if seen[c.in] == nil {
			seen[c.in] = map[string]bool{}
		}
		seen[c.in][c.typ] = true
	}
	assertComplete(t, seen)
}

// assertComplete checks that a table covers every defined state with every
// stanza type.
func assertComplete(t *testing.T, seen map[State]map[string]bool) {
	t.Helper()
	for _, s := range definedStates {
		for _, typ := range stanzaTypes {
			if !seen[s][typ] {
				t.Errorf("no row for %v with %q", s, typ)
			}
		}
	}
}

func TestOutboundPreApproval(t *testing.T) {
	for _, c := range []outboundCase{
		// §3.4: subscribed without a pending request from a contact
		// without a subscription notes a pre-approval and is not routed.
		{"§3.4 subscribed None -> None (pre-approved)", none, Subscribed, approved(none), false},
		{"§3.4 subscribed None + Pending Out -> None + Pending Out (pre-approved)", nonePOut, Subscribed, approved(nonePOut), false},
		{"§3.4 subscribed To -> To (pre-approved)", to, Subscribed, approved(to), false},
		{"§3.4 subscribed again: no state change", approved(to), Subscribed, approved(to), false},
		// §3.2.2, §3.4: unsubscribed cancels the pre-approval, unrouted.
		{"§3.4 unsubscribed None (pre-approved) -> None", approved(none), Unsubscribed, none, false},
		{"§3.4 unsubscribed None + Pending Out (pre-approved) -> None + Pending Out", approved(nonePOut), Unsubscribed, nonePOut, false},
		{"§3.4 unsubscribed To (pre-approved) -> To", approved(to), Unsubscribed, to, false},
		// The owner's own subscription requests leave a pre-approval alone.
		{"§3.4 subscribe None (pre-approved) -> None + Pending Out (pre-approved)", approved(none), Subscribe, approved(nonePOut), true},
		{"§3.4 unsubscribe To (pre-approved) -> None (pre-approved)", approved(to), Unsubscribe, approved(none), true},
	} {
		t.Run(c.name, c.check)
	}
}

func TestInboundPreApproval(t *testing.T) {
	for _, c := range []inboundCase{
		// §3.4: a request meeting a pre-approval is approved at once.
		{"§3.4 subscribe None (pre-approved) -> From, auto-reply subscribed", approved(none), Subscribe, from, false, Subscribed},
		{"§3.4 subscribe None + Pending Out (pre-approved) -> From + Pending Out, auto-reply subscribed", approved(nonePOut), Subscribe, fromPOut, false, Subscribed},
		{"§3.4 subscribe To (pre-approved) -> Both, auto-reply subscribed", approved(to), Subscribe, both, false, Subscribed},
		// Other inbound stanzas keep the pre-approval.
		{"§3.4 subscribed None + Pending Out (pre-approved) -> To (pre-approved)", approved(nonePOut), Subscribed, approved(to), true, ""},
		{"§3.4 unsubscribed To (pre-approved) -> None (pre-approved)", approved(to), Unsubscribed, approved(none), true, ""},
		{"§3.4 unsubscribe None (pre-approved) -> no state change", approved(none), Unsubscribe, approved(none), false, ""},
	} {
		t.Run(c.name, c.check)
	}
}

func TestNormalise(t *testing.T) {
	for _, c := range []outboundCase{
		{"To + Pending Out drops Pending Out", State{Sub: storage.SubTo, PendingOut: true}, Subscribe, to, true},
		{"Both + Pending Out+In drops both", State{Sub: storage.SubBoth, PendingOut: true, PendingIn: true}, Subscribe, both, true},
		{"From (pre-approved) drops Approved", approved(from), Subscribed, from, false},
		{"None + Pending In (pre-approved) drops Approved", approved(nonePIn), Subscribe, nonePOutIn, true},
		{"undefined Sub reads as None", State{Sub: 9}, Subscribe, nonePOut, true},
	} {
		t.Run(c.name, c.check)
	}
	for _, c := range []inboundCase{
		{"From + Pending In drops Pending In", State{Sub: storage.SubFrom, PendingIn: true}, Subscribed, from, false, ""},
		{"None + Pending In (pre-approved) drops Approved, request stays pending", approved(nonePIn), Subscribe, nonePIn, false, ""},
		{"undefined Sub reads as None", State{Sub: 200, PendingOut: true}, Subscribed, to, true, ""},
	} {
		t.Run(c.name, c.check)
	}
}

func TestUnknownType(t *testing.T) {
	invalid := State{Sub: storage.SubBoth, PendingOut: true, Approved: true}
	for _, s := range append(definedStates, approved(none), invalid) {
		for _, typ := range []string{"", "probe", "available", "unavailable", "error", "Subscribe", "subscribed "} {
			if next, route, changed := Outbound(s, typ); next != s || route || changed {
				t.Errorf("Outbound(%v, %q) = %v, %t, %t; want it unchanged", s, typ, next, route, changed)
			}
			if next, deliver, reply, changed := Inbound(s, typ); next != s || deliver || reply != "" || changed {
				t.Errorf("Inbound(%v, %q) = %v, %t, %q, %t; want it unchanged", s, typ, next, deliver, reply, changed)
			}
		}
	}
}

// step applies one stanza, chosen by b, to s and checks the results: a known
// stanza type yields a valid state, changed tells whether the state changed,
// applying the same stanza again changes nothing, and auto-replies are only
// ever "subscribed" to an inbound "subscribe" that is not delivered.
func step(t *testing.T, s State, b byte) (State, bool) {
	t.Helper()
	types := [8]string{Subscribe, Unsubscribe, Subscribed, Unsubscribed, "", "probe", "Subscribed", "unavailable"}
	typ := types[(b>>1)&7]
	known := (b>>1)&7 < 4
	var next State
	if b&1 == 0 {
		n, route, changed := Outbound(s, typ)
		if changed != (n != s) {
			t.Fatalf("Outbound(%v, %q): changed %t, but %v -> %v", s, typ, changed, s, n)
		}
		if !known && (n != s || route) {
			t.Fatalf("Outbound(%v, %q) = %v, route %t for an unknown type", s, typ, n, route)
		}
		if again, _, changed := Outbound(n, typ); changed || again != n {
			t.Fatalf("Outbound(%v, %q) twice: %v -> %v", s, typ, n, again)
		}
		next = n
	} else {
		n, deliver, reply, changed := Inbound(s, typ)
		if changed != (n != s) {
			t.Fatalf("Inbound(%v, %q): changed %t, but %v -> %v", s, typ, changed, s, n)
		}
		if !known && (n != s || deliver || reply != "") {
			t.Fatalf("Inbound(%v, %q) = %v, deliver %t, autoReply %q for an unknown type", s, typ, n, deliver, reply)
		}
		if reply != "" && (reply != Subscribed || typ != Subscribe || deliver) {
			t.Fatalf("Inbound(%v, %q) = deliver %t, autoReply %q", s, typ, deliver, reply)
		}
		if again, _, _, changed := Inbound(n, typ); changed || again != n {
			t.Fatalf("Inbound(%v, %q) twice: %v -> %v", s, typ, n, again)
		}
		next = n
	}
	if known && !valid(next) {
		t.Fatalf("%v with %q (inbound %t) gave the invalid state %v", s, typ, b&1 == 1, next)
	}
	return next, known
}

// stateFromByte maps any byte to a state, valid or not.
func stateFromByte(b byte) State {
	s := State{
		Sub:        storage.Subscription(b & 3),
		PendingOut: b&4 != 0,
		PendingIn:  b&8 != 0,
		Approved:   b&16 != 0,
	}
	if b&32 != 0 {
		s.Sub = storage.Subscription(b >> 5) // includes undefined values
	}
	return s
}

func TestRandomSequences(t *testing.T) {
	r := rand.New(rand.NewPCG(6121, 3921))
	s := State{}
	for range 10000 {
		s, _ = step(t, s, byte(r.Uint32()))
		if !valid(s) {
			t.Fatalf("invalid state %v", s)
		}
	}
	// From arbitrary, possibly invalid, starting states.
	for i := range 256 {
		s := stateFromByte(byte(i))
		ok := valid(s)
		for range 40 {
			var known bool
			s, known = step(t, s, byte(r.Uint32()))
			ok = ok || known
			if ok && !valid(s) {
				t.Fatalf("invalid state %v from %v", s, stateFromByte(byte(i)))
			}
		}
	}
}

func FuzzTransitions(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{0x07, 0x05, 0x04, 0x03})
	f.Add([]byte{0x1c, 0x03, 0x04, 0x06, 0x01})
	f.Add([]byte{0xff, 0x0e, 0x00, 0x07})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		s := stateFromByte(data[0])
		ok := valid(s)
		for _, b := range data[1:] {
			var known bool
			s, known = step(t, s, b)
			ok = ok || known
			if ok && !valid(s) {
				t.Fatalf("invalid state %v after %x", s, data)
			}
		}
	})
}

func TestString(t *testing.T) {
	for _, c := range []struct {
		s    State
		want string
	}{
		{none, "None"},
		{nonePOut, "None + Pending Out"},
		{nonePIn, "None + Pending In"},
		{nonePOutIn, "None + Pending Out+In"},
		{to, "To"},
		{toPIn, "To + Pending In"},
		{from, "From"},
		{fromPOut, "From + Pending Out"},
		{both, "Both"},
		{approved(none), "None (pre-approved)"},
		{approved(nonePOut), "None + Pending Out (pre-approved)"},
		{approved(to), "To (pre-approved)"},
		{State{Sub: storage.SubBoth, PendingOut: true}, "Both + Pending Out"},
		{State{Sub: 7}, "Subscription(7)"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.s, got, c.want)
		}
	}
}
