package c2s_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

const nsSM = "urn:xmpp:sm:3"

// smLogin logs user in on resource and enables stream management
// (resumable when resume is set); it returns the client and <enabled/>.
func smLogin(t *testing.T, s *xmpptest.Server, user, resource string, resume bool) (*xmpptest.Client, *stanza.Element) {
	t.Helper()
	c := xmpptest.Login(t, s, user, "secret", resource)
	if resume {
		c.Send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	} else {
		c.Send(`<enable xmlns='urn:xmpp:sm:3'/>`)
	}
	return c, c.Expect(nsSM, "enabled")
}

// expectBody reads the next element, skipping <r/> requests, and checks
// that it is a message with body.
func expectBody(t *testing.T, c *xmpptest.Client, body string) {
	t.Helper()
	for {
		el := c.NextElement()
		if el.Space == nsSM && el.Local == "r" {
			continue
		}
		if el.Local != "message" || el.Child(stanza.NSClient, "body") == nil || el.Child(stanza.NSClient, "body").Text() != body {
			t.Fatalf("want message %q, got %s", body, el)
		}
		return
	}
}

func chat(to, body string) string {
	return `<message type='chat' to='` + to + `'><body>` + body + `</body></message>`
}

// TestSMFeatureAndAcks: <sm/> is offered after authentication (XEP-0198
// §2); after <enable/> the server counts the client's stanzas (§4: h is
// answered to <r/>) and asks for acknowledgement of its own.
func TestSMFeatureAndAcks(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	c, features := xmpptest.Authenticate(t, s, "bob", "secret")
	if features.Child(nsSM, "sm") == nil {
		t.Fatalf("no <sm/> in %s", features)
	}
	// §3: not before binding.
	c.Send(`<enable xmlns='urn:xmpp:sm:3'/>`)
	if f := c.Expect(nsSM, "failed"); f.Child(stanza.NSStanzas, "unexpected-request") == nil {
		t.Fatalf("enable before bind: %s", f)
	}
	if res := c.Bind("sensor"); res.Attr("type") != "result" {
		t.Fatalf("bind: %s", res)
	}
	c.Send(`<enable xmlns='urn:xmpp:sm:3'/>`)
	if en := c.Expect(nsSM, "enabled"); en.Attr("resume") != "" || en.Attr("id") != "" {
		t.Fatalf("enabled without resumption asked: %s", en)
	}
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	a.Send(chat("bob@localhost/sensor", "one"))
	expectBody(t, c, "one")
	a.Send(chat("bob@localhost/sensor", "two"))
	expectBody(t, c, "two")
	c.Send(`<a xmlns='urn:xmpp:sm:3' h='2'/>`)
	// Bob's own stanzas: two sent. They are archived (XEP-0313), so h
	// covers them once the archive committed them: ask until it does.
	c.Send(chat("alice@localhost/phone", "x") + chat("alice@localhost/phone", "y"))
	waitH(t, c, 2)
	// A second <enable/> ends the stream (§3).
	c.Send(`<enable xmlns='urn:xmpp:sm:3'/>`)
	c.ExpectStreamError(stanza.StreamPolicyViolation)
}

// waitH asks for acknowledgements until the server's h reaches want; it
// fails if h ever goes beyond it.
func waitH(t *testing.T, c *xmpptest.Client, want int) {
	t.Helper()
	for range 1000 {
		c.Send(`<r xmlns='urn:xmpp:sm:3'/>`)
		for {
			el := c.NextElement()
			if el.Space != nsSM || el.Local != "a" {
				if el.Space != nsSM {
					t.Fatalf("unexpected %s", el)
				}
				continue
			}
			h, _ := strconv.Atoi(el.Attr("h"))
			if h > want {
				t.Fatalf("h = %d, want %d", h, want)
			}
			if h == want {
				return
			}
			break
		}
	}
	t.Fatalf("h never reached %d", want)
}

// TestSMHandledCountTooHigh: acknowledging more than was sent is the
// undefined-condition stream error with <handled-count-too-high/> (§7).
func TestSMHandledCountTooHigh(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "bob", "secret")
	c, _ := smLogin(t, s, "bob", "sensor", false)
	c.Send(`<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	c.Expect(stanza.NSClient, "iq")
	c.Send(`<a xmlns='urn:xmpp:sm:3' h='5'/>`)
	for {
		el := c.NextElement()
		if el.Space != stanza.NSStream || el.Local != "error" {
			continue
		}
		if el.Child(stanza.NSStreams, "undefined-condition") == nil {
			t.Fatalf("stream error %s", el)
		}
		hc := el.Child(nsSM, "handled-count-too-high")
		if hc == nil || hc.Attr("h") != "5" || hc.Attr("send-count") != "1" {
			t.Fatalf("stream error %s", el)
		}
		break
	}
}

// resume authenticates user on a new connection and sends <resume/>.
func resume(t *testing.T, s *xmpptest.Server, user, previd string, h int) *xmpptest.Client {
	t.Helper()
	c, _ := xmpptest.Authenticate(t, s, user, "secret")
	c.Send(fmt.Sprintf(`<resume xmlns='urn:xmpp:sm:3' previd='%s' h='%d'/>`, previd, h))
	return c
}

// TestSMResume: a session whose TCP connection dropped stays bound and
// keeps what is sent to it; resuming it on a new connection (§5) reports
// how many of the client's stanzas were handled and resends exactly
// those the client had not acknowledged, once.
func TestSMResume(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	b, en := smLogin(t, s, "bob", "sensor", true)
	id := en.Attr("id")
	if en.Attr("resume") != "true" || id == "" || en.Attr("max") != "300" {
		t.Fatalf("enabled: %s", en)
	}
	b.Send(chat("alice@localhost/phone", "from bob"))
	expectBody(t, a, "from bob")
	a.Send(chat("bob@localhost/sensor", "m1"))
	expectBody(t, b, "m1")
	b.Drop()
	// Delivered while the connection is gone: kept for the session.
	a.Send(chat("bob@localhost/sensor", "m2"))
	ping(t, a, "localhost")
	if n := len(s.Sessions().Resources(jid.MustParse("bob@localhost"))); n != 1 {
		t.Fatalf("bob has %d sessions while detached, want 1", n)
	}

	// Another account cannot resume it, and learns nothing: the same
	// answer as for an unknown id.
	s.AddUser(t, "eve", "secret")
	for _, prev := range []string{id, "no-such-id"} {
		e := resume(t, s, "eve", prev, 0)
		f := e.Expect(nsSM, "failed")
		if f.Child(stanza.NSStanzas, "item-not-found") == nil || f.Attr("h") != "" {
			t.Fatalf("resume %s by eve: %s", prev, f)
		}
		// §5: binding is still possible after a failed resumption.
		if res := e.Bind("x"); res.Attr("type") != "result" {
			t.Fatalf("bind after failed resume: %s", res)
		}
	}

	b2 := resume(t, s, "bob", id, 1) // m1 was received
	r := b2.Expect(nsSM, "resumed")
	if r.Attr("previd") != id || r.Attr("h") != "1" {
		t.Fatalf("resumed: %s", r)
	}
	expectBody(t, b2, "m2")
	b2.Send(`<a xmlns='urn:xmpp:sm:3' h='2'/>`)
	// The session goes on: new messages arrive, m1 and m2 never again.
	a.Send(chat("bob@localhost/sensor", "m3"))
	expectBody(t, b2, "m3")
	b2.Send(`<r xmlns='urn:xmpp:sm:3'/>`)
	for {
		el := b2.NextElement()
		if el.Space == nsSM && el.Local == "a" {
			if el.Attr("h") != "1" {
				t.Fatalf("h after resume = %s, want 1", el.Attr("h"))
			}
			break
		}
		if el.Local == "message" {
			t.Fatalf("message again: %s", el)
		}
	}
}

// TestSMResumeTwice: of two connections resuming the same session, one
// ends up with it; the other is refused or closed with conflict (§5), and
// the messages go to the one that holds it.
func TestSMResumeTwice(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	b, en := smLogin(t, s, "bob", "sensor", true)
	b.Drop()
	c1, _ := xmpptest.Authenticate(t, s, "bob", "secret")
	c2, _ := xmpptest.Authenticate(t, s, "bob", "secret")
	req := `<resume xmlns='urn:xmpp:sm:3' previd='` + en.Attr("id") + `' h='0'/>`
	c1.Send(req)
	c2.Send(req)
	r1, r2 := c1.NextElement(), c2.NextElement()
	if r1.Local != "resumed" || r2.Local != "resumed" {
		t.Fatalf("resume answers %s and %s", r1, r2)
	}
	// Both were answered in turn: the first to resume lost the session to
	// the second, and its stream ends with conflict. Which was first is
	// up to the server; exactly one keeps the session.
	winner, loser := c2, c1
	a.Send(chat("bob@localhost/sensor", "who"))
	el := c1.NextElement()
	if el.Local == "message" {
		winner, loser = c1, c2
	} else if el.Space != stanza.NSStream || el.Child(stanza.NSStreams, "conflict") == nil {
		t.Fatalf("first connection: %s", el)
	}
	if winner == c2 {
		expectBody(t, c2, "who")
	} else {
		loser.ExpectStreamError(stanza.StreamConflict)
	}
	smPing(t, winner)
}

// smPing sends a ping and reads until its answer, skipping stream
// management requests.
func smPing(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	c.Send(`<iq type='get' id='smping' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	for {
		el := c.NextElement()
		if el.Local == "iq" && el.Attr("id") == "smping" {
			return
		}
		if el.Space != nsSM {
			t.Fatalf("unexpected %s", el)
		}
	}
}

// TestSMUnresumedGoesOffline: a session not resumed in time ends, and
// the messages its client never acknowledged are handled as if sent to an
// unavailable resource: stored offline, delivered at the next login.
func TestSMUnresumedGoesOffline(t *testing.T) {
	s, a, b := smPair(t, "c2s: {resume_timeout: 300ms}")
	a.Send(chat("bob@localhost/sensor", "unacked"))
	expectBody(t, b, "unacked")
	b.Drop()
	a.Send(chat("bob@localhost/sensor", "while away"))
	bob := jid.MustParse("bob@localhost")
	xmpptest.WaitFor(t, "the session to expire", 10*time.Second, func() bool {
		return len(s.Sessions().Resources(bob)) == 0
	})
	got := offlineBodies(t, s, "bob", 2)
	if !got["unacked"] || !got["while away"] {
		t.Fatalf("offline messages %v", got)
	}
}

// TestSMQueueCap: beyond c2s.max_unacked unacknowledged stanzas the stream
// closes, and every stanza is accounted for: those the client never
// acknowledged go to offline storage.
func TestSMQueueCap(t *testing.T) {
	s, a, b := smPair(t, "c2s: {max_unacked: 3}")
	for i := range 5 {
		a.Send(chat("bob@localhost/sensor", fmt.Sprint("m", i)))
	}
	b.ExpectStreamError(stanza.StreamPolicyViolation)
	bob := jid.MustParse("bob@localhost")
	xmpptest.WaitFor(t, "the session to end", 10*time.Second, func() bool {
		return len(s.Sessions().Resources(bob)) == 0
	})
	ping(t, a, "localhost")
	offlineBodies(t, s, "bob", 5)
}

// smPair starts a server with cfg and logs in alice, and bob with
// resumable stream management and initial presence.
func smPair(t *testing.T, cfg string) (*xmpptest.Server, *xmpptest.Client, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, cfg)
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	b, _ := smLogin(t, s, "bob", "sensor", true)
	b.Send(`<presence/>`)
	b.Expect(stanza.NSClient, "presence")
	return s, a, b
}

// offlineBodies logs user in, sends initial presence and returns the
// bodies of the first n distinct messages delivered (from offline
// storage).
func offlineBodies(t *testing.T, s *xmpptest.Server, user string, n int) map[string]bool {
	t.Helper()
	c := xmpptest.Login(t, s, user, "secret", "again")
	c.Send(`<presence/>`)
	got := map[string]bool{}
	for len(got) < n {
		if el := c.NextElement(); el.Local == "message" {
			got[el.Child(stanza.NSClient, "body").Text()] = true
		}
	}
	return got
}

// TestSMCleanClose: a stream closed cleanly ends the session at once
// (§6); it cannot be resumed.
func TestSMCleanClose(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "bob", "secret")
	b, en := smLogin(t, s, "bob", "sensor", true)
	b.Close()
	bob := jid.MustParse("bob@localhost")
	xmpptest.WaitFor(t, "the session to end", 10*time.Second, func() bool {
		return len(s.Sessions().Resources(bob)) == 0
	})
	c := resume(t, s, "bob", en.Attr("id"), 0)
	if f := c.Expect(nsSM, "failed"); f.Child(stanza.NSStanzas, "item-not-found") == nil {
		t.Fatalf("resume after a clean close: %s", f)
	}
}

// TestSMShutdownStoresUnacked: at shutdown, sessions waiting for
// resumption end and their unacknowledged messages are stored offline.
func TestSMShutdownStoresUnacked(t *testing.T) {
	dir := t.TempDir()
	s, a, b := smPair(t, "data_dir: "+dir)
	b.Drop()
	a.Send(chat("bob@localhost/sensor", "kept"))
	ping(t, a, "localhost")
	s.Stop(t)
	s = xmpptest.Start(t, "data_dir: "+dir)
	n, err := s.Store().Offline().CountOffline(context.Background(), "bob")
	if err != nil || n != 1 {
		t.Fatalf("offline messages after shutdown: %d, %v", n, err)
	}
}
