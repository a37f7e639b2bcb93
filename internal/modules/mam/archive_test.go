package mam_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// stanzaIDs returns the 'by' → 'id' of a message's <stanza-id/>
// elements, failing on two with one 'by' (XEP-0359 §3).
func stanzaIDs(t *testing.T, m *stanza.Element) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, c := range m.ChildElements() {
		if c.Space == nsSID && c.Local == "stanza-id" {
			if _, dup := ids[c.Attr("by")]; dup {
				t.Fatalf("two stanza-ids by %s: %s", c.Attr("by"), m)
			}
			ids[c.Attr("by")] = c.Attr("id")
		}
	}
	return ids
}

// TestBothArchives: a chat message goes into the sender's archive (with
// the recipient) and the recipient's (with the sender), XEP-0313 §3.3.1;
// the recipient sees the ID of its copy (§3.5), forged stanza IDs are
// removed and a foreign one and the origin-id kept (XEP-0359 §2.2, §3).
func TestBothArchives(t *testing.T) {
	s := start(t, "")
	alice := online(t, s, "alice", "phone")
	bob := online(t, s, "bob", "pc")
	id := send(alice, "bob@localhost/pc", "Hail to thee",
		`<origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/>`,
		`<stanza-id xmlns='urn:xmpp:sid:0' id='forged-bob' by='bob@localhost'/>`,
		`<stanza-id xmlns='urn:xmpp:sid:0' id='forged-case' by='BOB@LOCALHOST'/>`,
		`<stanza-id xmlns='urn:xmpp:sid:0' id='forged-domain' by='localhost'/>`,
		`<stanza-id xmlns='urn:xmpp:sid:0' id='forged-alice' by='alice@localhost'/>`,
		`<stanza-id xmlns='urn:xmpp:sid:0' id='room-1' by='room@muc.example.com'/>`)
	m := receive(t, bob, id)
	sids := stanzaIDs(t, m)
	if len(sids) != 2 || sids["room@muc.example.com"] != "room-1" || sids["bob@localhost"] == "" || sids["bob@localhost"] == "forged-bob" {
		t.Fatalf("stanza-ids: %v in %s", sids, m)
	}
	if o := m.Child(nsSID, "origin-id"); o == nil || o.Attr("id") != "origin-1" {
		t.Fatalf("origin-id lost: %s", m)
	}

	// Bob's copy: with alice's full JID, its ID the one bob saw.
	p := query(t, bob, "", "").ok(t)
	if len(p.results) != 1 || !p.complete() || p.results[0].Attr("id") != sids["bob@localhost"] || p.bodies(t) != "Hail to thee" {
		t.Fatalf("bob's archive: %s %v", p.reply, p.results)
	}
	f := forwarded(t, p.results[0])
	if f.Attr("from") != alice.JID || f.Attr("to") != "bob@localhost/pc" || f.Attr("id") != id || f.Attr("type") != "chat" {
		t.Fatalf("forwarded %s", f)
	}
	// Stored as sent, less the forged IDs, without bob's own.
	if got := stanzaIDs(t, f); len(got) != 1 || got["room@muc.example.com"] != "room-1" {
		t.Fatalf("stored stanza-ids %v: %s", got, f)
	}
	if f.Child(nsSID, "origin-id") == nil {
		t.Fatalf("stored without origin-id: %s", f)
	}
	stamp := p.results[0].Child(nsForward, "forwarded").Child(nsDelay, "delay").Attr("stamp")
	if ts, err := time.Parse(time.RFC3339, stamp); err != nil || time.Since(ts) > time.Minute || time.Until(ts) > time.Second {
		t.Fatalf("delay stamp %q", stamp)
	}

	// Alice's copy has its own ID.
	p = query(t, alice, "", "").ok(t)
	if len(p.results) != 1 || p.results[0].Attr("id") == sids["bob@localhost"] || p.bodies(t) != "Hail to thee" {
		t.Fatalf("alice's archive: %v", p.results)
	}
	// The stored With: alice's copy is with bob/pc, bob's with alice/phone.
	p = query(t, alice, "", form(field("with", "bob@localhost/pc"))).ok(t)
	if len(p.results) != 1 {
		t.Fatalf("with bob/pc: %v", p.results)
	}
	p = query(t, bob, "", form(field("with", "alice@localhost/phone"))).ok(t)
	if len(p.results) != 1 {
		t.Fatalf("with alice/phone: %v", p.results)
	}
}

// TestWhatIsArchived: chat and normal messages with a body (XEP-0313
// §6.1.1); not chat states, headlines, errors or messages with a
// no-store hint (XEP-0334); a <store/> hint takes a message without a
// body. Messages with the server itself are not conversations.
func TestWhatIsArchived(t *testing.T) {
	s := start(t, "")
	alice := online(t, s, "alice", "phone")
	bob := online(t, s, "bob", "pc")
	for _, m := range []string{
		`<message type='chat' id='a' to='bob@localhost/pc'><body>1</body></message>`,
		`<message id='b' to='bob@localhost/pc'><body>2</body></message>`,
		`<message type='normal' id='c' to='bob@localhost/pc'><body>3</body></message>`,
		`<message type='chat' id='d' to='bob@localhost/pc'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
		`<message type='headline' id='e' to='bob@localhost/pc'><body>headline</body></message>`,
		`<message type='chat' id='f' to='bob@localhost/pc'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>`,
		`<message type='chat' id='g' to='bob@localhost/pc'><body>secret</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>`,
		`<message type='chat' id='h' to='bob@localhost/pc'><received xmlns='urn:xmpp:receipts' id='x'/><store xmlns='urn:xmpp:hints'/></message>`,
	} {
		alice.Send(m)
	}
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		m := receive(t, bob, id)
		_, has := stanzaIDs(t, m)["bob@localhost"]
		if want := id == "a" || id == "b" || id == "c" || id == "h"; has != want {
			t.Fatalf("message %s: stanza-id %v: %s", id, has, m)
		}
	}
	if got := query(t, alice, "", "").ok(t).bodies(t); got != "1 2 3 " {
		t.Fatalf("alice's archive: %q", got)
	}
	if p := query(t, bob, "", "").ok(t); len(p.results) != 4 {
		t.Fatalf("bob's archive: %d results", len(p.results))
	}
	// To the server: bounced, not archived.
	alice.Send(`<message type='chat' id='srv' to='localhost'><body>hi server</body></message>`)
	if r := alice.Expect(stanza.NSClient, "message"); r.Attr("type") != "error" {
		t.Fatalf("message to the server: %s", r)
	}
	if p := query(t, alice, "", "").ok(t); len(p.results) != 4 {
		t.Fatalf("alice's archive after the server: %d results", len(p.results))
	}
}

// TestMessageTypesConfig: headline messages and messages without a body
// when configured so.
func TestMessageTypesConfig(t *testing.T) {
	s := start(t, "    message_types: [headline]\n    require_body: false\n")
	alice := online(t, s, "alice", "phone")
	bob := online(t, s, "bob", "pc")
	alice.Send(`<message type='chat' id='a' to='bob@localhost/pc'><body>chat</body></message>`)
	alice.Send(`<message type='headline' id='b' to='bob@localhost/pc'><subject>news</subject></message>`)
	receive(t, bob, "a")
	receive(t, bob, "b")
	p := query(t, alice, "", "").ok(t)
	if len(p.results) != 1 || forwarded(t, p.results[0]).Attr("id") != "b" {
		t.Fatalf("archive: %v", p.results)
	}
}

// TestSelf: a message to oneself is archived once, and the other
// resource sees its ID.
func TestSelf(t *testing.T) {
	s := start(t, "")
	phone := xmpptest.Login(t, s, "alice", "secret", "phone")
	laptop := xmpptest.Login(t, s, "alice", "secret", "laptop")
	id := send(phone, "alice@localhost/laptop", "note to self")
	m := receive(t, laptop, id)
	sid := stanzaIDs(t, m)["alice@localhost"]
	p := query(t, phone, "", "").ok(t)
	if len(p.results) != 1 || p.results[0].Attr("id") != sid {
		t.Fatalf("archive %v, stanza-id %q", p.ids(), sid)
	}
	// §4.1.1: with the account's own JID selects messages with oneself.
	if p := query(t, laptop, "", form(field("with", "alice@localhost"))).ok(t); len(p.results) != 1 {
		t.Fatalf("with self: %v", p.ids())
	}
}

// TestOfflineRecipient: the copy of a recipient without a session is
// archived, and the stored offline message carries its ID; a message to
// an account that does not exist bounces and creates no archive.
func TestOfflineRecipient(t *testing.T) {
	s := start(t, "")
	alice := online(t, s, "alice", "phone")
	send(alice, "bob@localhost", "while you were out")
	id := send(alice, "ghost@localhost", "anyone?")
	if r := receive(t, alice, id); r.Attr("type") != "error" {
		t.Fatalf("to a missing account: %s", r)
	}
	if p := query(t, alice, "", "").ok(t); p.bodies(t) != "while you were out anyone?" {
		t.Fatalf("alice's archive: %q", p.bodies(t))
	}
	keys, err := s.Store().Archive().ArchiveKeys(context.Background())
	if err != nil || !slices.Equal(keys, []string{"alice", "bob"}) {
		t.Fatalf("archives %v %v", keys, err)
	}
	bob := xmpptest.Login(t, s, "bob", "secret", "pc")
	bob.Send(`<presence/>`)
	var m *stanza.Element
	for m == nil || m.Local != "message" {
		m = bob.NextElement() // its presence and the offline message
	}
	p := query(t, bob, "", "").ok(t)
	if len(p.results) != 1 || stanzaIDs(t, m)["bob@localhost"] != p.results[0].Attr("id") {
		t.Fatalf("offline message %s, archive %v", m, p.ids())
	}
}

// TestRetention: max_per_account keeps the newest messages of each
// archive, applied every purge_interval.
func TestRetention(t *testing.T) {
	s := start(t, "    max_per_account: 2\n    purge_interval: 10ms\n")
	alice := online(t, s, "alice", "phone")
	bob := online(t, s, "bob", "pc")
	for _, b := range []string{"1", "2", "3", "4", "5"} {
		receive(t, bob, send(alice, "bob@localhost/pc", b))
	}
	// A query waits for the writer: all five are written (some may be
	// purged already).
	query(t, alice, "", "").ok(t)
	a := s.Store().Archive()
	for _, acct := range []string{"alice", "bob"} {
		xmpptest.WaitFor(t, acct+"'s archive purged", 5*time.Second, func() bool {
			p, err := a.QueryArchive(context.Background(), acct, storage.ArchiveQuery{})
			return err == nil && p.Count == 2
		})
	}
	if got := query(t, alice, "", "").ok(t).bodies(t); got != "4 5" {
		t.Fatalf("alice keeps %q", got)
	}
}

// TestRetentionAge: max_age removes old messages.
func TestRetentionAge(t *testing.T) {
	s := start(t, "    max_age: 1ms\n    purge_interval: 10ms\n")
	alice := online(t, s, "alice", "phone")
	bob := online(t, s, "bob", "pc")
	receive(t, bob, send(alice, "bob@localhost/pc", "soon gone"))
	query(t, alice, "", "").ok(t) // written
	xmpptest.WaitFor(t, "the archives emptied", 5*time.Second, func() bool {
		keys, err := s.Store().Archive().ArchiveKeys(context.Background())
		return err == nil && len(keys) == 0
	})
}

// TestBlocked: a message refused because its recipient blocked the
// sender (XEP-0191) goes into neither archive (XEP-0313 §6.1).
func TestBlocked(t *testing.T) {
	s := start(t, "")
	alice := online(t, s, "alice", "phone")
	bob := online(t, s, "bob", "pc")
	if r := iq(t, bob, "set", "", `<block xmlns='urn:xmpp:blocking'><item jid='alice@localhost'/></block>`); r.Attr("type") != "result" {
		t.Fatalf("block: %s", r)
	}
	id := send(alice, "bob@localhost/pc", "let me in")
	if r := receive(t, alice, id); r.Attr("type") != "error" || len(stanzaIDs(t, r)) != 0 {
		t.Fatalf("to a contact that blocked alice: %s", r)
	}
	for _, c := range []*xmpptest.Client{alice, bob} {
		if p := query(t, c, "", "").ok(t); len(p.results) != 0 {
			t.Fatalf("%s's archive: %v", c.JID, p.ids())
		}
	}
}

// TestNeverMode: with default_mode never and no account asking for more,
// nothing is archived and no stanza id is added; forged ones still go.
func TestNeverMode(t *testing.T) {
	s := xmpptest.Start(t, "modules:\n  mam: {default_mode: never}\n")
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	a := xmpptest.Login(t, s, "alice", "secret", "phone")
	b := xmpptest.Login(t, s, "bob", "secret", "laptop")
	a.Send(`<message to='bob@localhost/laptop' type='chat'><body>hi</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@localhost' id='forged'/></message>`)
	m := b.Expect(stanza.NSClient, "message")
	if m.Child("urn:xmpp:sid:0", "stanza-id") != nil {
		t.Fatalf("stanza-id in %s", m)
	}
	n, err := s.Store().Archive().QueryArchive(context.Background(), "bob", storage.ArchiveQuery{})
	if err != nil || n.Count != 0 {
		t.Fatalf("bob's archive: %d, %v", n.Count, err)
	}
}
