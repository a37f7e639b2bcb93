package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// conditions are the RFC 6120 §6.5 conditions an exchange may fail with.
var conditions = map[string]bool{
	Aborted: true, AccountDisabled: true, CredentialsExpired: true, EncryptionRequired: true,
	IncorrectEncoding: true, InvalidAuthzID: true, InvalidMechanism: true, MalformedRequest: true,
	MechanismTooWeak: true, NotAuthorized: true, TemporaryAuthFailure: true,
}

// checkFailure fails unless err is a *Failure with an RFC 6120 condition.
func checkFailure(t *testing.T, err error) {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) || !conditions[f.Condition] {
		t.Fatalf("err = %v (%T), want a *Failure with an RFC 6120 condition", err, err)
	}
}

var fuzzMechs = []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS"}

// FuzzSCRAMClientFirst feeds arbitrary client-first-messages to every SCRAM
// mechanism: Step must return a well-formed server-first-message or a
// *Failure, and never panic.
func FuzzSCRAMClientFirst(f *testing.F) {
	s, _ := newTestServer(f)
	conn, _ := handshake(f, certP256(), tls.VersionTLS13)
	for _, seed := range []string{
		"n,,n=alice,r=abcdef",
		"y,,n=alice,r=abcdef",
		"p=tls-exporter,,n=alice,r=abcdef",
		"p=tls-server-end-point,a=alice@example.com,n=alice,r=abcdef",
		"p=tls-unique,,n=alice,r=abcdef",
		"n,a=bob,n=alice,r=abcdef",
		"n,,n=ghost,r=abcdef,ext=1",
		"n,,m=x,n=alice,r=abcdef",
		"n,,n=a=2Cb=3D,r=",
		"",
	} {
		for i := range fuzzMechs {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, mech uint8, data []byte) {
		ctx := context.Background()
		ex, err := s.Start(ctx, fuzzMechs[int(mech)%len(fuzzMechs)], conn)
		if err != nil {
			t.Fatal(err)
		}
		out, done, err := ex.Step(ctx, data)
		switch {
		case err != nil:
			checkFailure(t, err)
		case done:
			t.Fatalf("done after client-first-message %q", data)
		case len(data) == 0:
			if len(out) != 0 {
				t.Fatalf("challenge %q to an empty response", out)
			}
		default:
			parts := strings.Split(string(out), ",")
			if len(parts) != 3 || !strings.HasPrefix(parts[0], "r=") || !strings.HasPrefix(parts[1], "s=") || !strings.HasPrefix(parts[2], "i=") {
				t.Fatalf("server-first-message %q for %q", out, data)
			}
		}
	})
}

// FuzzSCRAMClientFinal runs a real client-first-message, then feeds an
// arbitrary client-final-message: Step must succeed (only with a valid
// proof) or return a *Failure, and never panic. Nonces are fixed so that
// the seeds include valid final messages for mutation.
func FuzzSCRAMClientFinal(f *testing.F) {
	s, _ := newTestServer(f)
	s.nonceGen = func() string { return "SERVERNONCE" }
	conn, cs := handshake(f, certP256(), tls.VersionTLS13)
	cb, err := scram.NewTLSExporterBinding(cs)
	if err != nil {
		f.Fatal(err)
	}
	mechs := []string{"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}
	first := make([]string, len(mechs))
	for i, mech := range mechs {
		c, _ := scram.SHA256.NewClient("alice", testPassword, "")
		c.WithNonceGenerator(func() string { return "CLIENTNONCE" })
		cc := c.NewConversation()
		if strings.HasSuffix(mech, "-PLUS") {
			cc = c.NewConversationWithChannelBinding(cb)
		}
		first[i], _ = cc.Step("")
		ex, _ := s.Start(context.Background(), mech, conn)
		s1, _, err := ex.Step(context.Background(), []byte(first[i]))
		if err != nil {
			f.Fatal(err)
		}
		final, err := cc.Step(string(s1))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), []byte(final))
		f.Add(uint8(i), []byte(final[:strings.LastIndex(final, ",")]))
		f.Add(uint8(i), []byte(strings.Replace(final, "c=", "c=eSws", 1)))
	}
	f.Add(uint8(0), []byte("c=biws,r=CLIENTNONCESERVERNONCE,p=AAAA"))
	f.Add(uint8(0), []byte(""))
	f.Fuzz(func(t *testing.T, mech uint8, data []byte) {
		ctx := context.Background()
		i := int(mech) % len(mechs)
		ex, err := s.Start(ctx, mechs[i], conn)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ex.Step(ctx, []byte(first[i])); err != nil {
			t.Fatal(err)
		}
		out, done, err := ex.Step(ctx, data)
		switch {
		case err != nil:
			checkFailure(t, err)
		case !done:
			t.Fatalf("not done after client-final-message %q", data)
		case !strings.HasPrefix(string(out), "v=") || ex.Username() != "alice":
			t.Fatalf("success %q as %q", out, ex.Username())
		}
	})
}

// FuzzPLAIN feeds arbitrary PLAIN messages: Step must succeed or return a
// *Failure, and never panic.
func FuzzPLAIN(f *testing.F) {
	s, _ := newTestServer(f)
	conn, _ := handshake(f, certP256(), tls.VersionTLS13)
	for _, seed := range []string{
		"\x00alice\x00pencil",
		"alice@example.com\x00alice\x00pencil",
		"\x00alice\x00wrong",
		"\x00ghost\x00pencil",
		"\x00\x00",
		"",
		"\xff\x00alice\x00pencil",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		ex, err := s.Start(ctx, "PLAIN", conn)
		if err != nil {
			t.Fatal(err)
		}
		out, done, err := ex.Step(ctx, data)
		switch {
		case err != nil:
			checkFailure(t, err)
		case len(data) == 0:
			if done || len(out) != 0 {
				t.Fatalf("empty response: %q, %v", out, done)
			}
		case !done || ex.Username() != "alice":
			t.Fatalf("success %q as %q", out, ex.Username())
		}
	})
}
