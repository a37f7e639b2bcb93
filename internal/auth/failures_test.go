package auth

import (
	"context"
	"crypto/tls"
	"slices"
	"testing"
)

// TestOnFailure: every failure decided here reaches Config.OnFailure once,
// with the mechanism (an unknown one as "other") and the condition;
// successes and challenges do not.
func TestOnFailure(t *testing.T) {
	s, _ := newTestServer(t)
	var got []string
	s.onFailure = func(mech, cond string) { got = append(got, mech+" "+cond) }
	ctx := context.Background()
	conn, _ := handshake(t, certP256(), tls.VersionTLS13)

	if _, err := s.Start(ctx, "X-UNKNOWN", conn); err == nil {
		t.Fatal("unknown mechanism started")
	}
	if _, err := s.Start(ctx, "PLAIN", ConnInfo{Domain: testDomain}); err == nil {
		t.Fatal("PLAIN without TLS started")
	}
	for _, msg := range []string{"\x00alice\x00wrong", "\x00alice\x00pencil", "garbage"} {
		ex, err := s.Start(ctx, "PLAIN", conn)
		if err != nil {
			t.Fatal(err)
		}
		ex.Step(ctx, []byte(msg))
	}
	ex, err := s.Start(ctx, "SCRAM-SHA-256", conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ex.Step(ctx, nil); err != nil { // an empty challenge, not a failure
		t.Fatal(err)
	}
	ex.Step(ctx, []byte("not a client-first-message"))

	want := []string{
		"other invalid-mechanism",
		"PLAIN encryption-required",
		"PLAIN not-authorized",
		"PLAIN malformed-request",
		"SCRAM-SHA-256 malformed-request",
	}
	if !slices.Equal(got, want) {
		t.Errorf("failures:\n got %q\nwant %q", got, want)
	}
}
