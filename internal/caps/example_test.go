package caps_test

import (
	"fmt"

	"github.com/mote-xmpp/mote/internal/caps"
	"github.com/mote-xmpp/mote/stanza"
)

// The simple generation example of XEP-0115 §5.2.
func ExampleVerString() {
	const nsInfo = "http://jabber.org/protocol/disco#info"
	info := stanza.NewElement(nsInfo, "query").Append(
		stanza.NewElement(nsInfo, "identity", "category", "client", "type", "pc", "name", "Exodus 0.9.1"),
		stanza.NewElement(nsInfo, "feature", "var", "http://jabber.org/protocol/disco#info"),
		stanza.NewElement(nsInfo, "feature", "var", "http://jabber.org/protocol/disco#items"),
		stanza.NewElement(nsInfo, "feature", "var", "http://jabber.org/protocol/muc"),
		stanza.NewElement(nsInfo, "feature", "var", caps.NS),
	)
	s, err := caps.VerString(info)
	if err != nil {
		panic(err)
	}
	ver, _ := caps.Hash("sha-1", s)
	fmt.Println(s)
	fmt.Println(ver)
	// Output:
	// client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<
	// QgayPKawpkPSDYmwT/WM94uAlu0=
}

// A server learning what a client's presence advertises (XEP-0115 §5.4).
func ExampleCache() {
	cache := caps.NewCache(1000)
	presence := stanza.NewElement(stanza.NSClient, "presence").Append(
		caps.Caps{Hash: "sha-1", Node: "http://code.google.com/p/exodus", Ver: "QgayPKawpkPSDYmwT/WM94uAlu0="}.Element())

	c, ok := caps.Parse(presence)
	if !ok {
		return
	}
	if _, ok := cache.Get(c.Hash, c.Ver); !ok {
		// Miss: ask the client with a disco#info query for c.InfoNode();
		// here is its answer.
		const nsInfo = "http://jabber.org/protocol/disco#info"
		info := stanza.NewElement(nsInfo, "query", "node", c.InfoNode()).Append(
			stanza.NewElement(nsInfo, "identity", "category", "client", "type", "pc", "name", "Exodus 0.9.1"),
			stanza.NewElement(nsInfo, "feature", "var", "http://jabber.org/protocol/disco#info"),
			stanza.NewElement(nsInfo, "feature", "var", "http://jabber.org/protocol/disco#items"),
			stanza.NewElement(nsInfo, "feature", "var", "http://jabber.org/protocol/muc"),
			stanza.NewElement(nsInfo, "feature", "var", caps.NS),
		)
		if caps.Verify(c, info) {
			cache.Put(c.Hash, c.Ver, caps.NewSet(caps.Features(info)))
		}
	}
	set, _ := cache.Get(c.Hash, c.Ver)
	fmt.Println(set.Len(), set.Has("http://jabber.org/protocol/muc"))
	// Output: 4 true
}
