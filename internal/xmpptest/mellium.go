package xmpptest

import (
	"context"
	"crypto/tls"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	mjid "mellium.im/xmpp/jid"
)

// MelliumSession logs user in at addr with mellium.im/xmpp, an independent
// client implementation, over STARTTLS (the test server's self-signed
// certificate accepted) with mech, binding a server-chosen resource. Every
// read and write on the connection fails after ctx's deadline, so a
// misbehaving server cannot hang the test.
func MelliumSession(ctx context.Context, t testing.TB, addr, user, pw string, mech sasl.Mechanism) (*xmpp.Session, error) {
	t.Helper()
	conn := DialTCP(t, addr)
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	return xmpp.NewClientSession(ctx, mjid.MustParse(user+"@localhost"), conn,
		xmpp.BindResource(),
		xmpp.SASL("", pw, mech),
		xmpp.StartTLS(&tls.Config{ServerName: "localhost", InsecureSkipVerify: true}),
	)
}
