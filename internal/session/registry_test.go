package session_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/mote-xmpp/mote/internal/session"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

type nopConn struct{}

func (nopConn) Send(*stanza.Element) bool { return true }
func (nopConn) Close(*stanza.StreamError) {}

func TestBindReplaceUnbind(t *testing.T) {
	r := session.NewRegistry()
	a1 := session.New(jid.MustParse("a@x/1"), nopConn{})
	a2 := session.New(jid.MustParse("a@x/2"), nopConn{})
	a1b := session.New(jid.MustParse("a@x/1"), nopConn{})
	for _, s := range []*session.Session{a1, a2} {
		if old, err := r.Bind(s, 2); old != nil || err != nil {
			t.Fatalf("bind %v: %v %v", s.JID(), old, err)
		}
	}
	if _, err := r.Bind(session.New(jid.MustParse("a@x/3"), nopConn{}), 2); !errors.Is(err, session.ErrTooManySessions) {
		t.Fatalf("third session: %v", err)
	}
	// Replacing the same full JID is allowed at the cap (RFC 6120 §7.7.2.2).
	old, err := r.Bind(a1b, 2)
	if err != nil || old != a1 {
		t.Fatalf("replace: %v %v", old, err)
	}
	if r.Get(jid.MustParse("a@x/1")) != a1b || r.Count() != 2 {
		t.Fatalf("after replace: count %d", r.Count())
	}
	if r.Unbind(a1) {
		t.Fatal("unbinding a replaced session removed the new one")
	}
	if !r.Unbind(a1b) || !r.Unbind(a2) || r.Count() != 0 || len(r.Resources(jid.MustParse("a@x"))) != 0 {
		t.Fatal("unbind")
	}
}

func TestConcurrentBind(t *testing.T) {
	r := session.NewRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				s := session.New(jid.MustParse(fmt.Sprintf("u%d@x/r%d", j%10, i)), nopConn{})
				if _, err := r.Bind(s, 100); err != nil {
					t.Error(err)
				}
				r.Resources(s.JID().Bare())
				r.Unbind(s)
			}
		}()
	}
	wg.Wait()
	if r.Count() != 0 {
		t.Fatalf("count %d", r.Count())
	}
}

func BenchmarkResources(b *testing.B) {
	r := session.NewRegistry()
	for i := range 10000 {
		r.Bind(session.New(jid.MustParse(fmt.Sprintf("u%d@x/r", i)), nopConn{}), 10)
	}
	bare := jid.MustParse("u5000@x")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if len(r.Resources(bare)) != 1 {
				b.Fatal("missing")
			}
		}
	})
}
