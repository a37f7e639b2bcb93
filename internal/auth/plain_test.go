package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/mote-xmpp/mote/internal/storage"
)

// plainStep starts PLAIN on conn and sends msg as the initial response.
func plainStep(t *testing.T, s *Server, conn ConnInfo, msg string) (string, error) {
	t.Helper()
	ex, err := s.Start(context.Background(), "PLAIN", conn)
	if err != nil {
		return "", err
	}
	out, done, err := ex.Step(context.Background(), []byte(msg))
	if err != nil {
		return "", err
	}
	if !done || len(out) != 0 {
		t.Fatalf("PLAIN step: %q, done %v", out, done)
	}
	return ex.Username(), nil
}

func TestPLAIN(t *testing.T) {
	s, users := newTestServer(t)
	tls13, _ := handshake(t, certP256(), tls.VersionTLS13)

	// bob has only a SHA-1 credential; carol only SHA-512.
	keys := aliceKeys()
	users.CreateUser(context.Background(), storage.User{Username: "bob", SCRAM: map[string]storage.SCRAMKey{storage.SHA1: keys[storage.SHA1]}})
	users.CreateUser(context.Background(), storage.User{Username: "carol", SCRAM: map[string]storage.SCRAMKey{storage.SHA512: keys[storage.SHA512]}})

	for i, tc := range []struct {
		msg  string
		user string // on success
		cond string // on failure
	}{
		0:  {"\x00alice\x00pencil", "alice", ""},
		1:  {"\x00Alice\x00pencil", "alice", ""},
		2:  {"alice@example.com\x00alice\x00pencil", "alice", ""},
		3:  {"alice\x00alice\x00pencil", "alice", ""},
		4:  {"\x00bob\x00pencil", "bob", ""},
		5:  {"\x00carol\x00pencil", "carol", ""},
		6:  {"\x00alice\x00wrong", "", NotAuthorized},
		7:  {"\x00ghost\x00pencil", "", NotAuthorized},
		8:  {"\x00al ice\x00pencil", "", NotAuthorized},
		9:  {"bob@example.com\x00alice\x00pencil", "", InvalidAuthzID},
		10: {"\x00alice\x00pass\x01word", "", NotAuthorized},
		11: {"\x00alice", "", MalformedRequest},
		12: {"\x00alice\x00", "", MalformedRequest},
		13: {"\x00\x00pencil", "", MalformedRequest},
		14: {"\x00alice\x00pencil\x00", "", MalformedRequest},
		15: {"\xff\x00alice\x00pencil", "", MalformedRequest},
		16: {"alice pencil", "", MalformedRequest},
	} {
		user, err := plainStep(t, s, tls13, tc.msg)
		switch {
		case tc.cond == "" && (err != nil || user != tc.user):
			t.Errorf("%d: %q: %q, %v; want %q", i, tc.msg, user, err, tc.user)
		case tc.cond != "":
			var f *Failure
			if !errors.As(err, &f) || f.Condition != tc.cond {
				t.Errorf("%d: %q: err = %v, want %s", i, tc.msg, err, tc.cond)
			}
		}
	}

	// Unknown user and wrong password fail alike.
	_, e1 := plainStep(t, s, tls13, "\x00ghost\x00pencil")
	_, e2 := plainStep(t, s, tls13, "\x00alice\x00wrong")
	if e1.Error() != e2.Error() {
		t.Errorf("unknown user %q, wrong password %q", e1, e2)
	}

	// No TLS.
	_, err := s.Start(context.Background(), "PLAIN", ConnInfo{Domain: testDomain})
	wantFailure(t, err, EncryptionRequired)

	// Storage errors are temporary.
	users.err = errors.New("disk on fire")
	_, err = plainStep(t, s, tls13, "\x00alice\x00pencil")
	wantFailure(t, err, TemporaryAuthFailure)
}

func TestPLAINEmptyInitialResponse(t *testing.T) {
	s, _ := newTestServer(t)
	tls13, _ := handshake(t, certP256(), tls.VersionTLS13)
	ctx := context.Background()
	ex, _ := s.Start(ctx, "PLAIN", tls13)
	if out, done, err := ex.Step(ctx, nil); len(out) != 0 || done || err != nil {
		t.Fatalf("no initial response: %q, %v, %v; want an empty challenge", out, done, err)
	}
	if _, done, err := ex.Step(ctx, []byte("\x00alice\x00pencil")); !done || err != nil {
		t.Fatalf("response: %v, %v", done, err)
	}
	if ex.Username() != "alice" {
		t.Errorf("Username = %q", ex.Username())
	}
	if _, _, err := ex.Step(ctx, []byte("\x00alice\x00pencil")); err == nil {
		t.Error("Step after success did not fail")
	}

	ex, _ = s.Start(ctx, "PLAIN", tls13)
	ex.Step(ctx, nil)
	_, _, err := ex.Step(ctx, nil)
	wantFailure(t, err, MalformedRequest)
}
