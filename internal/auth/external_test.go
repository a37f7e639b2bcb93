package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
)

// externalServer is a Server whose certificates name ids (the fake
// verifier's answer, or its error) and whose accounts alice, sensor1 and
// sensor2 allow certificate logins (bob does not).
func externalServer(addrs, dns []string, verr error) *Server {
	logins := map[string]bool{"alice": true, "sensor1": true, "sensor2": true, "bob": false}
	return NewServer(Config{Users: &memUsers{}, Normalize: normalize,
		CertIdentities: func(chain []*x509.Certificate) ([]string, []string, error) { return addrs, dns, verr },
		CertLogins:     func(ctx context.Context, u string) (bool, error) { return logins[u], nil },
	})
}

// withPeerCert is a ConnInfo whose client presented a certificate (its
// content is the fake verifier's business).
func withPeerCert() ConnInfo {
	return ConnInfo{TLS: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{}}}, Domain: testDomain}
}

func TestExternal(t *testing.T) {
	ctx := context.Background()
	d := "@" + testDomain
	cases := []struct {
		name      string
		addrs     []string
		dns       []string
		verr      error
		authzid   []byte // nil: no initial response
		want      string // username, or "" with cond
		cond      string
		challenge bool // an empty challenge comes first
	}{
		{name: "one identity", addrs: []string{"Sensor1" + d}, authzid: []byte{}, want: "sensor1"},
		{name: "authzid named", addrs: []string{"sensor1" + d}, authzid: []byte("sensor1" + d), want: "sensor1"},
		{name: "no initial response", addrs: []string{"sensor1" + d}, challenge: true, want: "sensor1"},
		{name: "authzid not in the certificate", addrs: []string{"sensor1" + d}, authzid: []byte("alice" + d), cond: InvalidAuthzID},
		{name: "authzid with a resource", addrs: []string{"sensor1" + d}, authzid: []byte("sensor1" + d + "/r"), cond: InvalidAuthzID},
		{name: "authzid of another domain", addrs: []string{"sensor1" + d}, authzid: []byte("sensor1@elsewhere.example"), cond: InvalidAuthzID},
		{name: "several identities, none chosen", addrs: []string{"sensor1" + d, "sensor2" + d}, authzid: []byte{}, cond: InvalidAuthzID},
		{name: "several identities, one chosen", addrs: []string{"sensor1" + d, "sensor2" + d}, authzid: []byte("sensor2" + d), want: "sensor2"},
		{name: "identity of another domain", addrs: []string{"sensor1@elsewhere.example"}, authzid: []byte{}, cond: NotAuthorized},
		{name: "full JID is no account", addrs: []string{"sensor1" + d + "/r"}, authzid: []byte{}, cond: NotAuthorized},
		{name: "untrusted certificate", addrs: []string{"sensor1" + d}, verr: errors.New("expired"), authzid: []byte{}, cond: NotAuthorized},
		{name: "password-only account", addrs: []string{"bob" + d}, authzid: []byte{}, cond: NotAuthorized},
		{name: "unknown account", addrs: []string{"nobody" + d}, authzid: []byte{}, cond: NotAuthorized},
		{name: "no SAN", authzid: []byte{}, cond: NotAuthorized},
		{name: "dNSName of a device", dns: []string{"Sensor1." + testDomain}, authzid: []byte{}, want: "sensor1"},
		{name: "dNSName of the domain itself", dns: []string{testDomain}, authzid: []byte{}, cond: NotAuthorized},
		{name: "dNSName below a device", dns: []string{"a.sensor1." + testDomain}, authzid: []byte{}, cond: NotAuthorized},
		{name: "xmppAddr wins over dNSName", addrs: []string{"alice" + d}, dns: []string{"sensor1." + testDomain}, authzid: []byte("sensor1" + d), cond: InvalidAuthzID},
		{name: "authzid with NUL", addrs: []string{"sensor1" + d}, authzid: []byte("sensor1\x00"), cond: MalformedRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := externalServer(tc.addrs, tc.dns, tc.verr)
			conn := withPeerCert()
			if ms := s.Mechanisms(conn); len(ms) == 0 || ms[0] != External {
				t.Fatalf("mechanisms %v: EXTERNAL not offered first", ms)
			}
			ex, err := s.Start(ctx, External, conn)
			if err != nil {
				t.Fatal(err)
			}
			in := tc.authzid
			if tc.challenge {
				out, done, err := ex.Step(ctx, nil)
				if err != nil || done || len(out) != 0 {
					t.Fatalf("first step: %q %v %v, want an empty challenge", out, done, err)
				}
				in = []byte{}
			}
			_, done, err := ex.Step(ctx, in)
			if tc.cond != "" {
				wantFailure(t, err, tc.cond)
				return
			}
			if err != nil || !done || ex.Username() != tc.want {
				t.Fatalf("done %v user %q err %v, want %q", done, ex.Username(), err, tc.want)
			}
		})
	}
}

// TestExternalNotOffered: without a client certificate, or without the
// configuration, EXTERNAL is neither offered nor started.
func TestExternalNotOffered(t *testing.T) {
	ctx := context.Background()
	plain := NewServer(Config{Users: &memUsers{}, Normalize: normalize})
	withCerts := externalServer([]string{"sensor1@" + testDomain}, nil, nil)
	noCert := ConnInfo{TLS: &tls.ConnectionState{}, Domain: testDomain}
	for name, tc := range map[string]struct {
		s    *Server
		conn ConnInfo
	}{
		"no configuration":      {plain, withPeerCert()},
		"no client certificate": {withCerts, noCert},
		"no TLS":                {withCerts, ConnInfo{Domain: testDomain}},
	} {
		for _, m := range tc.s.Mechanisms(tc.conn) {
			if m == External {
				t.Errorf("%s: EXTERNAL offered", name)
			}
		}
		_, err := tc.s.Start(ctx, External, tc.conn)
		wantFailure(t, err, InvalidMechanism)
	}
}
