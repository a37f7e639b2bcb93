package disco_test

import (
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const (
	nsInfo = "http://jabber.org/protocol/disco#info"
	nsCaps = "http://jabber.org/protocol/caps"
)

// TestCaps: the server's entity capabilities in the stream features carry
// the XEP-0115 §5.1 hash of what disco#info answers, and the caps node
// answers disco#info too (§6.2).
func TestCaps(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "secret")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	if el := c.AuthSCRAM("SCRAM-SHA-256", "alice", "secret"); el.Local != "success" {
		t.Fatal(el)
	}
	features := c.Restart()
	caps := features.Child(nsCaps, "c")
	if caps == nil || caps.Attr("hash") != "sha-1" || caps.Attr("node") == "" || caps.Attr("ver") == "" {
		t.Fatalf("no caps in %s", features)
	}
	c.Bind("")

	c.Send(`<iq type='get' id='i1' to='localhost'><query xmlns='` + nsInfo + `'/></iq>`)
	info := c.Expect(stanza.NSClient, "iq").Child(nsInfo, "query")
	if got := verify(info); got != caps.Attr("ver") {
		t.Fatalf("ver %q does not match disco#info (%q): %s", caps.Attr("ver"), got, info)
	}
	node := caps.Attr("node") + "#" + caps.Attr("ver")
	c.Send(`<iq type='get' id='i2' to='localhost'><query xmlns='` + nsInfo + `' node='` + node + `'/></iq>`)
	r := c.Expect(stanza.NSClient, "iq")
	q := r.Child(nsInfo, "query")
	if q == nil || q.Attr("node") != node || verify(q) != caps.Attr("ver") {
		t.Fatalf("caps node: %s", r)
	}
	c.Send(`<iq type='get' id='i3' to='localhost'><query xmlns='` + nsInfo + `' node='other'/></iq>`)
	if e, ok := stanza.ErrorFromElement(c.Expect(stanza.NSClient, "iq")); !ok || e.Condition != stanza.ItemNotFound {
		t.Fatal("unknown node: want item-not-found")
	}
}

// verify computes the XEP-0115 §5.1 verification string of a disco#info
// result, independently of the server's code.
func verify(q *stanza.Element) string {
	var ids, feats []string
	for _, c := range q.ChildElements() {
		switch c.Local {
		case "identity":
			ids = append(ids, c.Attr("category")+"/"+c.Attr("type")+"/"+c.AttrNS(stanza.NSXML, "lang")+"/"+c.Attr("name"))
		case "feature":
			feats = append(feats, c.Attr("var"))
		}
	}
	sort.Strings(ids)
	sort.Strings(feats)
	s := strings.Join(ids, "<") + "<" + strings.Join(feats, "<") + "<"
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}
