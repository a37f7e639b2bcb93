package c2s_test

// Interoperability with mellium.im/xmpp, an independent client
// implementation: STARTTLS, SCRAM-SHA-256 (-PLUS), bind, messages, IQs,
// pings, a refused password and a resource conflict.

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"io"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	mjid "mellium.im/xmpp/jid"
	mping "mellium.im/xmpp/ping"
	mstanza "mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

type chatMessage struct {
	mstanza.Message
	Body string `xml:"body"`
}

func TestMelliumInterop(t *testing.T) {
	for _, mech := range []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha256Plus} {
		t.Run(mech.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s := xmpptest.Start(t, "")
			s.AddUser(t, "alice", "wonderland")
			s.AddUser(t, "bob", "builder")

			a, err := xmpptest.MelliumSession(ctx, t, s.Addr, "alice", "wonderland", mech)
			if err != nil {
				t.Fatalf("alice: %v", err)
			}
			defer a.Close()
			b, err := xmpptest.MelliumSession(ctx, t, s.Addr, "bob", "builder", mech)
			if err != nil {
				t.Fatalf("bob: %v", err)
			}
			defer b.Close()
			if st := a.ConnectionState(); st.Version != tls.VersionTLS13 {
				t.Errorf("TLS version %x", st.Version)
			}

			got := make(chan chatMessage, 1)
			served := make(chan error, 1)
			go func() {
				served <- b.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
					if start.Name.Local != "message" {
						return nil
					}
					var m chatMessage
					d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r))
					if err := d.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
						return err
					}
					got <- m
					return nil
				}))
			}()
			go a.Serve(xmpp.HandlerFunc(func(xmlstream.TokenReadEncoder, *xml.StartElement) error { return nil }))

			// Initial presence, then a message to bob's bare JID.
			if err := b.Send(ctx, mstanza.Presence{Type: mstanza.AvailablePresence}.Wrap(nil)); err != nil {
				t.Fatal(err)
			}
			// A ping round trip from bob orders his presence before alice's
			// message.
			if err := mping.Send(ctx, b, mjid.MustParse("localhost")); err != nil {
				t.Fatalf("bob ping: %v", err)
			}
			msg := chatMessage{Message: mstanza.Message{To: b.LocalAddr().Bare(), Type: mstanza.ChatMessage}, Body: "hello from alice"}
			if err := a.Encode(ctx, msg); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-got:
				if m.Body != "hello from alice" || !m.From.Equal(a.LocalAddr()) {
					t.Fatalf("got %+v from %v", m, m.From)
				}
			case err := <-served:
				t.Fatalf("bob's session ended: %v", err)
			case <-ctx.Done():
				t.Fatal("message not delivered")
			}

			// IQ: alice pings the server and bob's full JID (bob's mellium
			// session answers pings itself).
			if err := mping.Send(ctx, a, mjid.MustParse("localhost")); err != nil {
				t.Fatalf("ping server: %v", err)
			}
			if err := mping.Send(ctx, a, b.LocalAddr()); err != nil {
				t.Fatalf("ping bob: %v", err)
			}
		})
	}
}

func TestMelliumWrongPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "wonderland")
	if _, err := xmpptest.MelliumSession(ctx, t, s.Addr, "alice", "looking-glass", sasl.ScramSha256); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := xmpptest.MelliumSession(ctx, t, s.Addr, "nobody", "x", sasl.ScramSha256Plus); err == nil {
		t.Fatal("unknown user accepted")
	}
}

func TestMelliumResourceConflict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := xmpptest.Start(t, "")
	s.AddUser(t, "alice", "wonderland")
	old, err := xmpptest.MelliumSession(ctx, t, s.Addr, "alice", "wonderland", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		ended <- old.Serve(xmpp.HandlerFunc(func(xmlstream.TokenReadEncoder, *xml.StartElement) error { return nil }))
	}()
	// mellium asks for the resource of the server's stream header 'to',
	// which is a bare JID, so the second session is a scripted client that
	// binds the same full JID.
	newer := xmpptest.Login(t, s, "alice", "wonderland", old.LocalAddr().Resourcepart())
	if newer.JID != old.LocalAddr().String() {
		t.Fatalf("bound %v, want %v", newer.JID, old.LocalAddr())
	}
	select {
	case err := <-ended:
		var se stream.Error
		if !errors.As(err, &se) || se.Err != "conflict" {
			t.Fatalf("old session ended with %v, want the conflict stream error", err)
		}
	case <-ctx.Done():
		t.Fatal("old session was not closed")
	}
}
