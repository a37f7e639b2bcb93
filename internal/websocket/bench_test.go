package websocket_test

import (
	"fmt"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// relay is what the benchmark needs of a scripted client, on TCP or on
// WebSocket.
type relay interface {
	Send(xml string)
	NextElement() *stanza.Element
}

// benchRelay has a send b.N messages to b in windows of 16, each window
// acknowledged by b's receiving it: the per-stanza cost of a transport,
// both directions through the server (framing, parsing, routing).
func benchRelay(b *testing.B, dial func(s *xmpptest.Server, user, res string) relay) {
	s := xmpptest.Start(b, "c2s: {require_tls: false, read_rate: 0}\n") // ws:// too; no traffic shaping
	s.AddUser(b, "a", "pw")
	s.AddUser(b, "b", "pw")
	ca, cb := dial(s, "a", "r"), dial(s, "b", "r")
	const window = 16
	msg := `<message to='b@localhost/r' type='chat'><body>21.5</body></message>`
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(window, b.N-sent)
		for range n {
			ca.Send(msg)
		}
		for got := 0; got < n; {
			if el := cb.NextElement(); el.Local == "message" {
				got++
			}
		}
		sent += n
	}
}

func BenchmarkRelay(b *testing.B) {
	b.Run("tcp+tls", func(b *testing.B) {
		benchRelay(b, func(s *xmpptest.Server, user, res string) relay { return xmpptest.Login(b, s, user, "pw", res) })
	})
	for _, secure := range []bool{false, true} {
		b.Run(fmt.Sprintf("websocket/tls=%v", secure), func(b *testing.B) {
			benchRelay(b, func(s *xmpptest.Server, user, res string) relay {
				return xmpptest.LoginWS(b, s, secure, user, "pw", res)
			})
		})
	}
}
