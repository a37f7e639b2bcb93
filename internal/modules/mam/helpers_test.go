package mam_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const (
	nsMAM     = "urn:xmpp:mam:2"
	nsSID     = "urn:xmpp:sid:0"
	nsForward = "urn:xmpp:forward:0"
	nsDelay   = "urn:xmpp:delay"
	nsRSM     = "http://jabber.org/protocol/rsm"
)

var seq atomic.Int64

func next(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// start runs a server with the accounts alice, bob and carol (password
// secret) and the mam section yaml (indented under modules.mam).
func start(t *testing.T, yaml string) *xmpptest.Server {
	t.Helper()
	cfg := ""
	if yaml != "" {
		cfg = "modules:\n  mam:\n" + yaml
	}
	s := xmpptest.Start(t, cfg)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "secret")
	}
	return s
}

// online logs user/res in and sends initial presence, which it gets
// back (it has no other resource and no contacts).
func online(t *testing.T, s *xmpptest.Server, user, res string) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Login(t, s, user, "secret", res)
	c.Send(`<presence/>`)
	c.Expect(stanza.NSClient, "presence")
	return c
}

// iq sends an IQ and returns its reply, skipping roster pushes.
func iq(t *testing.T, c *xmpptest.Client, typ, attrs, payload string) *stanza.Element {
	t.Helper()
	id := next("iq")
	c.Send(`<iq type='` + typ + `' id='` + id + `'` + attrs + `>` + payload + `</iq>`)
	for {
		r := c.Expect(stanza.NSClient, "iq")
		if r.Attr("id") == id {
			return r
		}
		if r.Attr("type") != stanza.TypeSet {
			t.Fatalf("%s: want the reply to %s, got %s", c.JID, id, r)
		}
	}
}

// condition returns the error condition of an error reply, "" if it is
// none.
func condition(r *stanza.Element) stanza.Condition {
	e, ok := stanza.ErrorFromElement(r)
	if !ok || r.Attr("type") != stanza.TypeError {
		return ""
	}
	return e.Condition
}

// send sends a chat message with body from c to to, and returns its id.
func send(c *xmpptest.Client, to, body string, extra ...string) string {
	id := next("m")
	c.Send(`<message type='chat' id='` + id + `' to='` + to + `'><body>` + body + `</body>` + strings.Join(extra, "") + `</message>`)
	return id
}

// receive reads the next element of c, which must be the message id.
func receive(t *testing.T, c *xmpptest.Client, id string) *stanza.Element {
	t.Helper()
	m := c.Expect(stanza.NSClient, "message")
	if m.Attr("id") != id {
		t.Fatalf("%s: want message %s, got %s", c.JID, id, m)
	}
	return m
}

// page is the outcome of one archive query.
type page struct {
	results []*stanza.Element // the <result/> elements, in the order received
	reply   *stanza.Element   // the IQ reply
	fin     *stanza.Element   // its <fin/>, nil for an error
}

// query sends an archive query with inner as the <query/>'s content (and
// attrs on the IQ) and reads the results up to the IQ reply, checking
// that each comes from the account to this resource with the queryid.
func query(t *testing.T, c *xmpptest.Client, attrs, inner string) page {
	t.Helper()
	id, qid := next("q"), next("qid")
	c.Send(`<iq type='set' id='` + id + `'` + attrs + `><query xmlns='urn:xmpp:mam:2' queryid='` + qid + `'>` + inner + `</query></iq>`)
	bare, _, _ := strings.Cut(c.JID, "/")
	var p page
	for {
		el := c.NextElement()
		if el.Local == "iq" && el.Attr("id") == id {
			p.reply = el
			p.fin = el.Child(nsMAM, "fin")
			return p
		}
		r := el.Child(nsMAM, "result")
		if el.Local != "message" || r == nil {
			t.Fatalf("%s: want a result of %s, got %s", c.JID, qid, el)
		}
		if el.Attr("from") != bare || el.Attr("to") != c.JID || r.Attr("queryid") != qid || r.Attr("id") == "" {
			t.Fatalf("%s: bad result: %s", c.JID, el)
		}
		p.results = append(p.results, r)
	}
}

// ok checks that the query succeeded and returns the page.
func (p page) ok(t *testing.T) page {
	t.Helper()
	if p.reply.Attr("type") != stanza.TypeResult || p.fin == nil {
		t.Fatalf("query failed: %s", p.reply)
	}
	return p
}

// forwarded returns a result's forwarded message.
func forwarded(t *testing.T, r *stanza.Element) *stanza.Element {
	t.Helper()
	f := r.Child(nsForward, "forwarded")
	if f == nil || f.Child(nsDelay, "delay") == nil || f.Child(stanza.NSClient, "message") == nil {
		t.Fatalf("bad result %s", r)
	}
	return f.Child(stanza.NSClient, "message")
}

// bodies returns the bodies of the forwarded messages, space separated
// ("" for one without).
func (p page) bodies(t *testing.T) string {
	t.Helper()
	var b []string
	for _, r := range p.results {
		text := ""
		if body := forwarded(t, r).Child(stanza.NSClient, "body"); body != nil {
			text = body.Text()
		}
		b = append(b, text)
	}
	return strings.Join(b, " ")
}

// ids returns the results' archive IDs.
func (p page) ids() []string {
	var ids []string
	for _, r := range p.results {
		ids = append(ids, r.Attr("id"))
	}
	return ids
}

// complete reports the fin's complete attribute.
func (p page) complete() bool { return p.fin.Attr("complete") == "true" }

// set returns the text of the fin's RSM child local ("first", "last",
// "count"), and the first's index.
func (p page) set(local string) string {
	s := p.fin.Child(nsRSM, "set")
	if s == nil {
		return ""
	}
	if c := s.Child(nsRSM, local); c != nil {
		return c.Text()
	}
	return ""
}

func form(fields string) string {
	return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>` + fields + `</x>`
}

func field(name string, values ...string) string {
	s := `<field var='` + name + `'>`
	for _, v := range values {
		s += `<value>` + v + `</value>`
	}
	return s + `</field>`
}

func rsm(inner string) string {
	return `<set xmlns='http://jabber.org/protocol/rsm'>` + inner + `</set>`
}
