package server_test

import (
	"encoding/json"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// BenchmarkLogin compares a full login over loopback (TCP, STARTTLS, SASL,
// bind; client and server in this process) with a password (SCRAM-SHA-256,
// 4096 PBKDF2 iterations) and with a provisioned certificate (EXTERNAL:
// the client's ECDSA signature in the handshake and the chain
// verification).
func BenchmarkLogin(b *testing.B) {
	s := xmpptest.Start(b, "c2s: {read_rate: 0}")
	s.AddUser(b, "pw", "secret")
	status, body := s.Admin(b, "POST", "/api/v1/devices", map[string]string{"name": "dev"})
	if status != 201 {
		b.Fatalf("provision: %d %s", status, body)
	}
	bundle := []byte(jsonField(b, body, "bundle"))
	b.Run("scram-sha-256", func(b *testing.B) {
		for b.Loop() {
			c := xmpptest.Login(b, s, "pw", "secret", "r")
			c.Conn.Close()
		}
	})
	b.Run("external", func(b *testing.B) {
		for b.Loop() {
			c := xmpptest.LoginCert(b, s, bundle, "r")
			c.Conn.Close()
		}
	})
}

// jsonField returns a string field of a JSON object.
func jsonField(t testing.TB, body []byte, key string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	s, _ := v[key].(string)
	return s
}
