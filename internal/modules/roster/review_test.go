package roster_test

import (
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// TestPreApprovalDoesNotSurviveRemoval: a pre-approval held in a contact's
// roster in memory is forgotten with the account it was for, so a new
// account under the same name must ask (XEP-0077 §3.2, inherits nothing).
func TestPreApprovalDoesNotSurviveRemoval(t *testing.T) {
	s := start(t, "", "alice", "bob")
	b := online(t, s, "bob", "sensor")
	b.Send(`<presence to='alice@localhost' type='subscribed'/>`)
	expect(t, b, push("alice@localhost", "subscription=none", "approved=true"))
	a := online(t, s, "alice", "phone")
	a.Send(`<iq type='set' id='rm'><query xmlns='jabber:iq:register'><remove/></query></iq>`)
	expect(t, a, result("rm"))
	a.ExpectStreamError(stanza.StreamNotAuthorized)
	expect(t, b, push("alice@localhost", "subscription=none"))

	s.AddUser(t, "alice", "other")
	m := xmpptest.Login(t, s, "alice", "other", "mallory")
	m.Send(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	if r := m.Expect(stanza.NSClient, "iq"); r.FirstChild() == nil || r.FirstChild().FirstChild() != nil {
		t.Fatalf("the new alice's roster: %s", r)
	}
	m.Send(`<presence to='bob@localhost' type='subscribe'/>`)
	expect(t, m, push("bob@localhost", "subscription=none", "ask=subscribe"))
	quiet(t, m) // no automatic approval
	expect(t, b, presence("subscribe", "alice@localhost"))
}

// TestDenyWhenRosterFull: refusing a request creates no item, so a full
// roster does not prevent it.
func TestDenyWhenRosterFull(t *testing.T) {
	s := start(t, "modules: {roster: {max_items: 1}}", "alice", "bob", "carol")
	a := online(t, s, "alice", "phone")
	a.Send(`<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='carol@localhost'/></query></iq>`)
	expect(t, a, result("s1"), push("carol@localhost", "subscription=none"))
	b := online(t, s, "bob", "sensor")
	b.Send(`<presence to='alice@localhost' type='subscribe'/>`)
	expect(t, b, push("alice@localhost", "subscription=none", "ask=subscribe"))
	expect(t, a, presence("subscribe", "bob@localhost"))
	a.Send(`<presence to='bob@localhost' type='unsubscribed'/>`)
	expect(t, b, push("alice@localhost", "subscription=none"), presence("unsubscribed", "alice@localhost"))
	quiet(t, a)
}

// TestSubscribeToRemoteDomain: without federation the user is told at
// once, and nothing stays pending.
func TestSubscribeToRemoteDomain(t *testing.T) {
	s := start(t, "", "alice")
	a := online(t, s, "alice", "phone")
	a.Send(`<presence to='juliet@example.org' type='subscribe' id='r1'/>`)
	el := a.Expect(stanza.NSClient, "presence")
	if e, ok := stanza.ErrorFromElement(el); el.Attr("type") != "error" || !ok || e.Condition != stanza.RemoteServerNotFound {
		t.Fatalf("got %s", el)
	}
	quiet(t, a)
}

// TestDirectedWhileUnavailable: a resource that never sent broadcast
// presence but sent directed presence to a subscriber still tells it when
// it leaves (§4.6.3).
func TestDirectedWhileUnavailable(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := online(t, s, "alice", "phone")
	b := online(t, s, "bob", "sensor")
	a.Send(`<presence to='bob@localhost' type='subscribe'/>`)
	expect(t, a, push("bob@localhost", "subscription=none", "ask=subscribe"))
	expect(t, b, presence("subscribe", "alice@localhost"))
	b.Send(`<presence to='alice@localhost' type='subscribed'/>`)
	expect(t, b, push("alice@localhost", "subscription=from"))
	expect(t, a, push("bob@localhost", "subscription=to"), presence("subscribed", "bob@localhost"), presence("", "bob@localhost/sensor"))

	hidden := xmpptest.Login(t, s, "bob", "secret", "hidden")
	hidden.Send(`<presence to='alice@localhost'><show>chat</show></presence>`)
	expect(t, a, presence("", "bob@localhost/hidden"))
	hidden.Conn.Close()
	expect(t, a, presence("unavailable", "bob@localhost/hidden"))
}

// TestDirectedPresenceBounded: one session cannot make the server remember
// an unbounded number of directed presence recipients.
func TestDirectedPresenceBounded(t *testing.T) {
	s := start(t, "", "alice")
	a := online(t, s, "alice", "phone")
	var batch []byte
	for i := range 257 {
		batch = append(batch, `<presence to='nobody`...)
		batch = append(batch, byte('a'+i%26))
		batch = append(batch, []byte(itoa(i))...)
		batch = append(batch, `@localhost/r'/>`...)
	}
	a.Send(string(batch))
	el := a.Expect(stanza.NSClient, "presence")
	if e, ok := stanza.ErrorFromElement(el); !ok || e.Condition != stanza.ResourceConstraint {
		t.Fatalf("the 257th directed presence: %s", el)
	}
	quiet(t, a)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestStoredRequestKeepsOnlyStatusAndNick: what waits for an offline
// account is the request itself, its status and nickname, nothing else.
func TestStoredRequestKeepsOnlyStatusAndNick(t *testing.T) {
	s := start(t, "", "alice", "bob")
	a := online(t, s, "alice", "phone")
	a.Send(`<presence to='bob@localhost' type='subscribe'><status>let me in</status><nick xmlns='http://jabber.org/protocol/nick'>Al</nick><big xmlns='urn:x'>` + string(make([]byte, 0)) + `lots</big></presence>`)
	expect(t, a, push("bob@localhost", "subscription=none", "ask=subscribe"))
	// Alice's next stanza is handled after her request was stored for
	// bob: bob gets the stored copy, not the live one.
	quiet(t, a)
	b := xmpptest.Login(t, s, "bob", "secret", "sensor")
	b.Send(`<presence/>`)
	els := expect(t, b, presence("", "bob@localhost/sensor"), presence("subscribe", "alice@localhost"))
	for _, el := range els {
		if el.Attr("type") != "subscribe" {
			continue
		}
		if el.Child(stanza.NSClient, "status").Text() != "let me in" || el.Child("http://jabber.org/protocol/nick", "nick").Text() != "Al" || el.Child("urn:x", "big") != nil {
			t.Fatalf("stored request: %s", el)
		}
	}
}
