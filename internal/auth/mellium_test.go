package auth

import (
	"context"
	"crypto/tls"
	"testing"

	"mellium.im/sasl"
)

// runMellium runs an exchange between a mellium.im/sasl client (the SASL
// library of mellium.im/xmpp, which the integration tests use) and the
// server. The client sees the mechanisms we advertise, as mellium.im/xmpp
// passes them, which decides whether it uses channel binding.
func runMellium(t *testing.T, s *Server, mech sasl.Mechanism, conn ConnInfo, cs *tls.ConnectionState, user, pass, authzid string) (string, error) {
	t.Helper()
	ctx := context.Background()
	opts := []sasl.Option{
		sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(pass), []byte(authzid) }),
		sasl.RemoteMechanisms(s.Mechanisms(conn)...),
	}
	if cs != nil {
		opts = append(opts, sasl.TLSState(*cs))
	}
	c := sasl.NewClient(mech, opts...)
	ex, err := s.Start(ctx, mech.Name, conn)
	if err != nil {
		return "", err
	}
	more, resp, err := c.Step(nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		out, done, err := ex.Step(ctx, resp)
		if err != nil {
			return "", err
		}
		if done {
			// SCRAM's client checks the server signature sent with success;
			// PLAIN's was done after its only message.
			if more {
				if more, _, err = c.Step(out); err != nil || more {
					t.Fatalf("client rejected success data %q: more %v, %v", out, more, err)
				}
			}
			return ex.Username(), nil
		}
		if !more {
			t.Fatal("client done, server not")
		}
		if more, resp, err = c.Step(out); err != nil {
			t.Fatalf("client rejected challenge %q: %v", out, err)
		}
	}
}

func TestMelliumInterop(t *testing.T) {
	s, _ := newTestServer(t)
	tls13, cs13 := handshake(t, certP256(), tls.VersionTLS13)
	tls12, cs12 := handshake(t, certP256(), tls.VersionTLS12)
	clear := ConnInfo{Domain: testDomain}
	for i, tc := range []struct {
		name    string
		mech    sasl.Mechanism
		conn    ConnInfo
		cs      *tls.ConnectionState
		pass    string
		authzid string
		cond    string
	}{
		0:  {"SCRAM-SHA-256-PLUS tls-exporter", sasl.ScramSha256Plus, tls13, cs13, testPassword, "", ""},
		1:  {"SCRAM-SHA-1-PLUS tls-exporter", sasl.ScramSha1Plus, tls13, cs13, testPassword, "", ""},
		2:  {"SCRAM-SHA-256 over TLS 1.3", sasl.ScramSha256, tls13, cs13, testPassword, "", ""},
		3:  {"SCRAM-SHA-1 over TLS 1.3", sasl.ScramSha1, tls13, cs13, testPassword, "", ""},
		4:  {"SCRAM-SHA-256 clear", sasl.ScramSha256, clear, nil, testPassword, "", ""},
		5:  {"SCRAM-SHA-256 over TLS 1.2", sasl.ScramSha256, tls12, cs12, testPassword, "", ""},
		6:  {"PLAIN", sasl.Plain, tls13, cs13, testPassword, "", ""},
		7:  {"SCRAM-SHA-256-PLUS with authzid", sasl.ScramSha256Plus, tls13, cs13, testPassword, "alice@example.com", ""},
		8:  {"SCRAM-SHA-256-PLUS wrong password", sasl.ScramSha256Plus, tls13, cs13, "wrong", "", NotAuthorized},
		9:  {"PLAIN wrong password", sasl.Plain, tls13, cs13, "wrong", "", NotAuthorized},
		10: {"SCRAM-SHA-256-PLUS foreign authzid", sasl.ScramSha256Plus, tls13, cs13, testPassword, "bob@example.com", InvalidAuthzID},
		// mellium.im/sasl v0.3.2 knows only tls-unique on TLS 1.2, which
		// mote does not offer (XEP-0440 advertises tls-server-end-point):
		// a mellium client must not pick -PLUS there.
		11: {"SCRAM-SHA-256-PLUS over TLS 1.2 (tls-unique)", sasl.ScramSha256Plus, tls12, cs12, testPassword, "", MalformedRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, err := runMellium(t, s, tc.mech, tc.conn, tc.cs, "alice", tc.pass, tc.authzid)
			if tc.cond == "" {
				if err != nil || user != "alice" {
					t.Fatalf("%d: %q, %v", i, user, err)
				}
				return
			}
			wantFailure(t, err, tc.cond)
		})
	}
}
