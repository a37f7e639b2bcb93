package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/internal/storage"
)

// hashFor returns xdg-go/scram's hash for a mechanism name.
func hashFor(mech string) scram.HashGeneratorFcn {
	name, _ := strings.CutSuffix(mech, "-PLUS")
	for _, m := range scramMechs {
		if m.name == name {
			return m.hash
		}
	}
	panic("no hash for " + mech)
}

// cbMode says how the test client uses channel binding.
type cbMode int

const (
	cbNone      cbMode = iota // gs2 flag "n"
	cbAdvertise               // gs2 flag "y"
	cbExporter                // p=tls-exporter, computed on the client's state
	cbEndPoint                // p=tls-server-end-point, computed on the client's state
)

// clientConv returns an xdg-go/scram client conversation for the given
// credentials, with channel binding computed from the client's own TLS
// state as a real client would.
func clientConv(t *testing.T, mech, user, pass, authzid string, mode cbMode, cs *tls.ConnectionState) *scram.ClientConversation {
	t.Helper()
	c, err := hashFor(mech).NewClient(user, pass, authzid)
	if err != nil {
		t.Fatal(err)
	}
	var cb scram.ChannelBinding
	switch mode {
	case cbAdvertise:
		return c.NewConversationAdvertisingChannelBinding()
	case cbExporter:
		cb, err = scram.NewTLSExporterBinding(cs)
	case cbEndPoint:
		cb, err = scram.NewTLSServerEndpointBinding(cs)
	default:
		return c.NewConversation()
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.NewConversationWithChannelBinding(cb)
}

// runSCRAM runs a whole exchange between the client conversation and the
// server. It returns the server's error, if any, and otherwise checks that
// the client accepted the server's signature.
func runSCRAM(t *testing.T, s *Server, mech string, conn ConnInfo, cc *scram.ClientConversation) (string, error) {
	t.Helper()
	ctx := context.Background()
	ex, err := s.Start(ctx, mech, conn)
	if err != nil {
		return "", err
	}
	c1, err := cc.Step("")
	if err != nil {
		t.Fatal(err)
	}
	s1, done, err := ex.Step(ctx, []byte(c1))
	if err != nil {
		return "", err
	}
	if done {
		t.Fatal("done after client-first-message")
	}
	c2, err := cc.Step(string(s1))
	if err != nil {
		t.Fatalf("client rejected server-first-message %q: %v", s1, err)
	}
	s2, done, err := ex.Step(ctx, []byte(c2))
	if err != nil {
		return "", err
	}
	if !done {
		t.Fatal("not done after client-final-message")
	}
	if _, err := cc.Step(string(s2)); err != nil || !cc.Valid() {
		t.Fatalf("client rejected server-final-message %q: %v", s2, err)
	}
	if _, _, err := ex.Step(ctx, []byte("x")); err == nil {
		t.Error("Step after success did not fail")
	}
	return ex.Username(), nil
}

func TestSCRAM(t *testing.T) {
	s, _ := newTestServer(t)
	clear := ConnInfo{Domain: testDomain}
	tls13, cs13 := handshake(t, certP256(), tls.VersionTLS13)
	tls12, cs12 := handshake(t, certP256(), tls.VersionTLS12)
	p384, cs384 := handshake(t, certP384(), tls.VersionTLS13)
	type conn struct {
		name string
		info ConnInfo
		cs   *tls.ConnectionState
	}
	for _, fam := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		for _, tc := range []struct {
			conn conn
			plus bool
			mode cbMode
		}{
			{conn{"clear", clear, nil}, false, cbNone},
			{conn{"clear", clear, nil}, false, cbAdvertise},
			{conn{"TLS 1.3", tls13, cs13}, false, cbNone},
			{conn{"TLS 1.3", tls13, cs13}, true, cbExporter},
			{conn{"TLS 1.3", tls13, cs13}, true, cbEndPoint},
			{conn{"TLS 1.2", tls12, cs12}, false, cbNone},
			{conn{"TLS 1.2", tls12, cs12}, true, cbEndPoint},
			{conn{"TLS 1.3 P-384", p384, cs384}, true, cbEndPoint},
		} {
			mech := fam
			if tc.plus {
				mech += "-PLUS"
			}
			name := mech + "/" + tc.conn.name + "/" + [...]string{"n", "y", "tls-exporter", "tls-server-end-point"}[tc.mode]
			t.Run(name, func(t *testing.T) {
				// "Alice" checks that the username is normalised.
				cc := clientConv(t, mech, "Alice", testPassword, "", tc.mode, tc.conn.cs)
				user, err := runSCRAM(t, s, mech, tc.conn.info, cc)
				if err != nil {
					t.Fatal(err)
				}
				if user != "alice" {
					t.Errorf("Username = %q, want alice", user)
				}
			})
		}
	}
}

func TestSCRAMWrongPassword(t *testing.T) {
	s, _ := newTestServer(t)
	tls13, cs13 := handshake(t, certP256(), tls.VersionTLS13)
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512-PLUS"} {
		t.Run(mech, func(t *testing.T) {
			mode := cbNone
			if strings.HasSuffix(mech, "-PLUS") {
				mode = cbExporter
			}
			_, err := runSCRAM(t, s, mech, tls13, clientConv(t, mech, "alice", "wrong", "", mode, cs13))
			wantFailure(t, err, NotAuthorized)
		})
	}
}

// serverFirst parses a server-first-message into its nonce, salt and
// iteration count attributes.
func serverFirst(t *testing.T, msg []byte) (r, s, i string) {
	t.Helper()
	parts := strings.Split(string(msg), ",")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "r=") || !strings.HasPrefix(parts[1], "s=") || !strings.HasPrefix(parts[2], "i=") {
		t.Fatalf("server-first-message %q is not r=,s=,i=", msg)
	}
	return parts[0][2:], parts[1][2:], parts[2][2:]
}

// challenge starts mech for user and returns the server-first-message.
func challenge(t *testing.T, s *Server, mech, user string, conn ConnInfo, cs *tls.ConnectionState) []byte {
	t.Helper()
	mode := cbNone
	if strings.HasSuffix(mech, "-PLUS") {
		mode = cbExporter
	}
	c1, _ := clientConv(t, mech, user, "x", "", mode, cs).Step("")
	ex, err := s.Start(context.Background(), mech, conn)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := ex.Step(context.Background(), []byte(c1))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSCRAMUnknownUser checks that an unknown user cannot be told from a
// real one before the final proof.
func TestSCRAMUnknownUser(t *testing.T) {
	s, _ := newTestServer(t)
	tls13, cs13 := handshake(t, certP256(), tls.VersionTLS13)
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			_, realSalt, realIter := serverFirst(t, challenge(t, s, mech, "alice", tls13, cs13))
			r1, salt1, iter1 := serverFirst(t, challenge(t, s, mech, "ghost", tls13, cs13))
			r2, salt2, _ := serverFirst(t, challenge(t, s, mech, "Ghost", tls13, cs13))
			_, saltPlus, _ := serverFirst(t, challenge(t, s, mech+"-PLUS", "ghost", tls13, cs13))
			_, saltOther, _ := serverFirst(t, challenge(t, s, mech, "phantom", tls13, cs13))
			if iter1 != realIter {
				t.Errorf("iterations %s, real account has %s", iter1, realIter)
			}
			if len(salt1) != len(realSalt) {
				t.Errorf("salt %q, real account has %q: lengths differ", salt1, realSalt)
			}
			if salt1 != salt2 || salt1 != saltPlus {
				t.Errorf("fake salt not stable: %q, %q, -PLUS %q", salt1, salt2, saltPlus)
			}
			if salt1 == saltOther {
				t.Errorf("two unknown users share salt %q", salt1)
			}
			if r1 == r2 {
				t.Error("server nonce repeated")
			}

			// The exchange fails at the proof exactly like a wrong password.
			_, errUnknown := runSCRAM(t, s, mech, tls13, clientConv(t, mech, "ghost", testPassword, "", cbNone, nil))
			_, errWrong := runSCRAM(t, s, mech, tls13, clientConv(t, mech, "alice", "wrong", "", cbNone, nil))
			fu := wantFailure(t, errUnknown, NotAuthorized)
			fw := wantFailure(t, errWrong, NotAuthorized)
			if fu.Text != fw.Text {
				t.Errorf("texts differ: unknown %q, wrong password %q", fu.Text, fw.Text)
			}
		})
	}

	// Another secret gives other salts; a server without one picks its own.
	other := NewServer(Config{Users: &memUsers{}, Normalize: normalize, Secret: []byte("other")})
	random := NewServer(Config{Users: &memUsers{}, Normalize: normalize})
	_, a, _ := serverFirst(t, challenge(t, s, "SCRAM-SHA-256", "ghost", tls13, cs13))
	_, b, _ := serverFirst(t, challenge(t, other, "SCRAM-SHA-256", "ghost", tls13, cs13))
	_, c, _ := serverFirst(t, challenge(t, random, "SCRAM-SHA-256", "ghost", tls13, cs13))
	if a == b || a == c || b == c {
		t.Errorf("salts from different secrets collide: %q %q %q", a, b, c)
	}

	// An account without a credential for the hash looks unknown too.
	users := &memUsers{}
	users.CreateUser(context.Background(), storage.User{Username: "bob", SCRAM: map[string]storage.SCRAMKey{
		storage.SHA1: aliceKeys()[storage.SHA1],
	}})
	s2 := NewServer(Config{Users: users, Normalize: normalize})
	_, err := runSCRAM(t, s2, "SCRAM-SHA-256", tls13, clientConv(t, "SCRAM-SHA-256", "bob", testPassword, "", cbNone, nil))
	wantFailure(t, err, NotAuthorized)
	if _, err := runSCRAM(t, s2, "SCRAM-SHA-1", tls13, clientConv(t, "SCRAM-SHA-1", "bob", testPassword, "", cbNone, nil)); err != nil {
		t.Errorf("SCRAM-SHA-1 with the stored key: %v", err)
	}
}

func TestSCRAMChannelBinding(t *testing.T) {
	s, _ := newTestServer(t)
	tls13, cs13 := handshake(t, certP256(), tls.VersionTLS13)
	_, otherCS := handshake(t, certP256(), tls.VersionTLS13)
	tls12, cs12 := handshake(t, certP256(), tls.VersionTLS12)
	_, csOtherCert := handshake(t, certP384(), tls.VersionTLS13)
	ctx := context.Background()

	for i, tc := range []struct {
		name string
		mech string
		conn ConnInfo
		cc   func(t *testing.T) *scram.ClientConversation
		cond string
	}{
		0: {"exporter of another connection", "SCRAM-SHA-256-PLUS", tls13, func(t *testing.T) *scram.ClientConversation {
			return clientConv(t, "SCRAM-SHA-256-PLUS", "alice", testPassword, "", cbExporter, otherCS)
		}, NotAuthorized},
		1: {"end-point of another certificate", "SCRAM-SHA-256-PLUS", tls13, func(t *testing.T) *scram.ClientConversation {
			return clientConv(t, "SCRAM-SHA-256-PLUS", "alice", testPassword, "", cbEndPoint, csOtherCert)
		}, NotAuthorized},
		2: {"tls-exporter on TLS 1.2", "SCRAM-SHA-256-PLUS", tls12, func(t *testing.T) *scram.ClientConversation {
			c, _ := scram.SHA256.NewClient("alice", testPassword, "")
			return c.NewConversationWithChannelBinding(scram.ChannelBinding{Type: scram.ChannelBindingTLSExporter, Data: []byte("0123456789abcdef0123456789abcdef")})
		}, MalformedRequest},
		3: {"tls-unique", "SCRAM-SHA-256-PLUS", tls13, func(t *testing.T) *scram.ClientConversation {
			c, _ := scram.SHA256.NewClient("alice", testPassword, "")
			return c.NewConversationWithChannelBinding(scram.NewTLSUniqueBinding(cs12.TLSUnique))
		}, MalformedRequest},
		4: {"downgrade: y while -PLUS offered", "SCRAM-SHA-256", tls13, func(t *testing.T) *scram.ClientConversation {
			return clientConv(t, "SCRAM-SHA-256", "alice", testPassword, "", cbAdvertise, nil)
		}, NotAuthorized},
		5: {"-PLUS with n", "SCRAM-SHA-256-PLUS", tls13, func(t *testing.T) *scram.ClientConversation {
			return clientConv(t, "SCRAM-SHA-256-PLUS", "alice", testPassword, "", cbNone, nil)
		}, MalformedRequest},
		6: {"-PLUS with y", "SCRAM-SHA-256-PLUS", tls13, func(t *testing.T) *scram.ClientConversation {
			return clientConv(t, "SCRAM-SHA-256-PLUS", "alice", testPassword, "", cbAdvertise, nil)
		}, MalformedRequest},
		7: {"p without -PLUS", "SCRAM-SHA-256", tls13, func(t *testing.T) *scram.ClientConversation {
			return clientConv(t, "SCRAM-SHA-256", "alice", testPassword, "", cbExporter, cs13)
		}, MalformedRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runSCRAM(t, s, tc.mech, tc.conn, tc.cc(t))
			if f := wantFailure(t, err, tc.cond); f.Condition == NotAuthorized && i != 4 && f.Text != "" {
				t.Errorf("text %q reveals why", f.Text)
			}
		})
	}

	// The tls-unique failure is marked so that c2s can relax the
	// downgrade check for that stream; with PlusUnsupported, "y" is
	// accepted (a client without XEP-0440, like slixmpp 1.8 on TLS 1.3).
	_, err := runSCRAM(t, s, "SCRAM-SHA-256-PLUS", tls13, func() *scram.ClientConversation {
		c, _ := scram.SHA256.NewClient("alice", testPassword, "")
		return c.NewConversationWithChannelBinding(scram.NewTLSUniqueBinding(cs12.TLSUnique))
	}())
	if !errors.Is(err, ErrUnsupportedChannelBinding) {
		t.Errorf("tls-unique failure %v does not wrap ErrUnsupportedChannelBinding", err)
	}
	relaxed := tls13
	relaxed.PlusUnsupported = true
	if _, err := runSCRAM(t, s, "SCRAM-SHA-256", relaxed, clientConv(t, "SCRAM-SHA-256", "alice", testPassword, "", cbAdvertise, nil)); err != nil {
		t.Errorf("y after an unsupported channel-binding type: %v", err)
	}

	// "y" is fine where no channel binding is available.
	ed12, _ := handshake(t, certEd25519(), tls.VersionTLS12)
	if _, err := runSCRAM(t, s, "SCRAM-SHA-256", ed12, clientConv(t, "SCRAM-SHA-256", "alice", testPassword, "", cbAdvertise, nil)); err != nil {
		t.Errorf("y without channel binding: %v", err)
	}

	// A client-final-message whose c= does not repeat the gs2 header.
	ex, _ := s.Start(ctx, "SCRAM-SHA-256-PLUS", tls13)
	cc := clientConv(t, "SCRAM-SHA-256-PLUS", "alice", testPassword, "", cbExporter, cs13)
	c1, _ := cc.Step("")
	s1, _, _ := ex.Step(ctx, []byte(c1))
	c2, _ := cc.Step(string(s1))
	r := c2[strings.Index(c2, ",r="):]
	_, _, err = ex.Step(ctx, []byte("c=biws"+r))
	wantFailure(t, err, NotAuthorized)
}

func TestSCRAMAuthzID(t *testing.T) {
	s, _ := newTestServer(t)
	for i, tc := range []struct {
		authzid string
		cond    string
	}{
		0:  {"", ""},
		1:  {"alice", ""},
		2:  {"Alice", ""},
		3:  {"alice@example.com", ""},
		4:  {"Alice@EXAMPLE.COM", ""},
		5:  {"alice@example.com.", ""},
		6:  {"bob", InvalidAuthzID},
		7:  {"bob@example.com", InvalidAuthzID},
		8:  {"alice@other.example", InvalidAuthzID},
		9:  {"alice@example.com/phone", InvalidAuthzID},
		10: {"alice@", InvalidAuthzID},
		11: {"@example.com", InvalidAuthzID},
		12: {"a,b=c", InvalidAuthzID},
	} {
		cc := clientConv(t, "SCRAM-SHA-256", "alice", testPassword, tc.authzid, cbNone, nil)
		user, err := runSCRAM(t, s, "SCRAM-SHA-256", ConnInfo{Domain: testDomain}, cc)
		switch {
		case tc.cond == "" && (err != nil || user != "alice"):
			t.Errorf("%d: authzid %q: %q, %v", i, tc.authzid, user, err)
		case tc.cond != "":
			var f *Failure
			if !errors.As(err, &f) || f.Condition != tc.cond {
				t.Errorf("%d: authzid %q: err = %v, want %s", i, tc.authzid, err, tc.cond)
			}
		}
	}
}

func TestSCRAMEmptyInitialResponse(t *testing.T) {
	s, _ := newTestServer(t)
	ctx := context.Background()
	ex, _ := s.Start(ctx, "SCRAM-SHA-256", ConnInfo{})
	out, done, err := ex.Step(ctx, nil)
	if len(out) != 0 || done || err != nil {
		t.Fatalf("no initial response: %q, %v, %v; want an empty challenge", out, done, err)
	}
	cc := clientConv(t, "SCRAM-SHA-256", "alice", testPassword, "", cbNone, nil)
	c1, _ := cc.Step("")
	s1, _, err := ex.Step(ctx, []byte(c1))
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := cc.Step(string(s1))
	if _, done, err := ex.Step(ctx, []byte(c2)); !done || err != nil {
		t.Fatalf("client-final: %v, %v", done, err)
	}

	ex, _ = s.Start(ctx, "SCRAM-SHA-256", ConnInfo{})
	ex.Step(ctx, []byte{})
	_, _, err = ex.Step(ctx, []byte{})
	wantFailure(t, err, MalformedRequest)
}

func TestSCRAMMalformed(t *testing.T) {
	s, _ := newTestServer(t)
	tls13, _ := handshake(t, certP256(), tls.VersionTLS13)
	ctx := context.Background()
	for i, msg := range []string{
		0:  "n",
		1:  "n,",
		2:  "n,,",
		3:  "n,,n=alice",
		4:  "x,,n=alice,r=abc",
		5:  "p,,n=alice,r=abc",
		6:  "n,b=x,n=alice,r=abc",
		7:  "n,a=bad=name,n=alice,r=abc",
		8:  "n,,m=ext,n=alice,r=abc",
		9:  "n,,n=,r=abc",
		10: "n,,n=al=ice,r=abc",
		11: "n,,u=alice,r=abc",
		12: "n,,n=alice,x=abc",
		13: "n,,n=alice",
		14: "\xff\xfe",
	} {
		ex, _ := s.Start(ctx, "SCRAM-SHA-256", tls13)
		out, done, err := ex.Step(ctx, []byte(msg))
		var f *Failure
		if !errors.As(err, &f) || (f.Condition != MalformedRequest && f.Condition != NotAuthorized) {
			t.Errorf("%d: %q: %q, %v, %v; want malformed-request or not-authorized", i, msg, out, done, err)
		}
	}

	for i, msg := range []string{
		0: "",
		1: "c=biws",
		2: "c=biws,r=x,p=AAAA",
		3: "c=!!!,r=x,p=AAAA",
		4: "c=biws,r=NONCE,p=!!!",
		5: "c=biws,r=NONCE,p=AAAA",
		6: "c=biws,r=NONCE,m=x,p=AAAA",
		7: "c=biws,r=NONCE",
		8: "c=eSws,r=NONCE,p=AAAA",
	} {
		ex, _ := s.Start(ctx, "SCRAM-SHA-256", tls13)
		c1, _ := clientConv(t, "SCRAM-SHA-256", "alice", testPassword, "", cbNone, nil).Step("")
		s1, _, err := ex.Step(ctx, []byte(c1))
		if err != nil {
			t.Fatal(err)
		}
		r, _, _ := serverFirst(t, s1)
		msg = strings.ReplaceAll(msg, "NONCE", r)
		out, done, err := ex.Step(ctx, []byte(msg))
		var f *Failure
		if !errors.As(err, &f) || (f.Condition != MalformedRequest && f.Condition != NotAuthorized) {
			t.Errorf("%d: %q: %q, %v, %v; want malformed-request or not-authorized", i, msg, out, done, err)
		}
	}
}

func TestSCRAMStorageError(t *testing.T) {
	s, users := newTestServer(t)
	boom := errors.New("disk on fire")
	users.err = boom
	_, err := runSCRAM(t, s, "SCRAM-SHA-256", ConnInfo{}, clientConv(t, "SCRAM-SHA-256", "alice", testPassword, "", cbNone, nil))
	wantFailure(t, err, TemporaryAuthFailure)
	if !errors.Is(err, boom) {
		t.Errorf("err = %v does not wrap the storage error", err)
	}
}

func TestSCRAMBadUsername(t *testing.T) {
	s, _ := newTestServer(t)
	_, err := runSCRAM(t, s, "SCRAM-SHA-256", ConnInfo{}, clientConv(t, "SCRAM-SHA-256", "al ice", testPassword, "", cbNone, nil))
	wantFailure(t, err, NotAuthorized)
}

// TestSCRAMPasswordPreparation checks that credentials made from a
// password work for clients that SASLprep it (xdg-go/scram) in the cases
// where SASLprep and OpaqueString agree: non-ASCII text in NFC, text
// decomposed (NFD), and non-ASCII spaces (both map them to U+0020).
func TestSCRAMPasswordPreparation(t *testing.T) {
	for i, tc := range []struct{ stored, typed string }{
		0: {"pässwörd", "pässwörd"},
		1: {"pässwörd", "pa\u0308sswo\u0308rd"},
		2: {"pa\u0308sswo\u0308rd", "pässwörd"},
		3: {"correct\u00a0horse", "correct horse"},
		4: {"Ελληνικά", "Ελληνικά"},
	} {
		keys, err := NewCredentials(tc.stored, 0)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		users := &memUsers{}
		users.CreateUser(context.Background(), storage.User{Username: "alice", SCRAM: keys})
		s := NewServer(Config{Users: users, Normalize: normalize})
		if _, err := runSCRAM(t, s, "SCRAM-SHA-256", ConnInfo{}, clientConv(t, "SCRAM-SHA-256", "alice", tc.typed, "", cbNone, nil)); err != nil {
			t.Errorf("%d: stored %q, typed %q: %v", i, tc.stored, tc.typed, err)
		}
	}
}

func TestAuthorizeIDN(t *testing.T) {
	s, _ := newTestServer(t)
	for i, tc := range []struct {
		authzid, domain string
		ok              bool
	}{
		0: {"alice@xn--bcher-kva.example", "bücher.example", true},
		1: {"alice@BÜCHER.example", "xn--bcher-kva.example", true},
		2: {"alice@bucher.example", "bücher.example", false},
		3: {"alice@example.com", "", false},
	} {
		if got := s.authorize(tc.authzid, "alice", "alice", tc.domain); got != tc.ok {
			t.Errorf("%d: authorize(%q) on %q = %v, want %v", i, tc.authzid, tc.domain, got, tc.ok)
		}
	}
}
