package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/xdg-go/scram"

	"github.com/mote-xmpp/mote/internal/storage"
)

// scramMech is one SCRAM hash family (RFC 5802, RFC 7677): SCRAM-SHA-x and
// SCRAM-SHA-x-PLUS share it.
type scramMech struct {
	name string                 // mechanism name without "-PLUS"
	key  string                 // key of storage.User.SCRAM
	hash scram.HashGeneratorFcn // H and HMAC's hash
}

// scramMechs lists the SCRAM families, strongest first.
var scramMechs = []scramMech{
	{name: "SCRAM-SHA-512", key: storage.SHA512, hash: scram.SHA512},
	{name: "SCRAM-SHA-256", key: storage.SHA256, hash: scram.SHA256},
	{name: "SCRAM-SHA-1", key: storage.SHA1, hash: scram.SHA1},
}

// scramState is where a scramExchange is.
type scramState int

const (
	scramFirst      scramState = iota // expecting client-first-message
	scramFirstRetry                   // sent an empty challenge; expecting client-first-message
	scramFinal                        // sent server-first-message; expecting client-final-message
	scramDone                         // succeeded or failed
)

// scramExchange is a SCRAM exchange (RFC 5802 §5). It parses the GS2 header
// itself, to choose the channel binding and check the authorization
// identity, and leaves the rest of the protocol to xdg-go/scram, whose
// checks of channel-binding data and proof are constant-time (hmac.Equal).
type scramExchange struct {
	s    *Server
	mech *scramMech
	plus bool // the client chose the -PLUS variant
	conn ConnInfo

	state    scramState
	conv     *scram.ServerConversation
	local    string // normalised username, once the first message is accepted
	username string // local, once authenticated
}

// Step implements Exchange.
func (e *scramExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	out, done, err := e.step(ctx, in)
	if err != nil {
		name := e.mech.name
		if e.plus {
			name += "-PLUS"
		}
		e.s.failed(name, err)
	}
	return out, done, err
}

func (e *scramExchange) step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch e.state {
	case scramFirst, scramFirstRetry:
		if len(in) == 0 {
			// RFC 6120 §6.4.2: no initial response; ask for it once with an
			// empty challenge.
			if e.state == scramFirst {
				e.state = scramFirstRetry
				return nil, false, nil
			}
			e.state = scramDone
			return nil, false, failf(MalformedRequest, "missing client-first-message")
		}
		e.state = scramDone
		out, err := e.first(ctx, string(in))
		if err != nil {
			return nil, false, err
		}
		e.state = scramFinal
		return []byte(out), false, nil
	case scramFinal:
		e.state = scramDone
		out, err := e.conv.Step(string(in))
		if err != nil {
			return nil, false, scramFailure(out, err)
		}
		if !e.conv.Valid() {
			return nil, false, failf(NotAuthorized, "")
		}
		e.username = e.local
		// RFC 6120 §6.3.10: server-final-message is sent with <success/>.
		return []byte(out), true, nil
	}
	return nil, false, failf(MalformedRequest, "the exchange is over")
}

// Username implements Exchange.
func (e *scramExchange) Username() string { return e.username }

// Attempted implements Exchange.
func (e *scramExchange) Attempted() string { return e.local }

// first handles client-first-message and returns server-first-message.
func (e *scramExchange) first(ctx context.Context, msg string) (string, error) {
	h, err := parseGS2(msg)
	if err != nil {
		return "", &Failure{Condition: MalformedRequest, Text: "invalid client-first-message", Err: err}
	}
	// RFC 5802 §6: the gs2-cbind-flag must agree with the mechanism, and
	// "y" (client supports channel binding but thinks we do not) is a
	// downgrade when we advertised -PLUS on this connection.
	var cb scram.ChannelBinding
	switch {
	case e.plus && h.flag != "p":
		return "", failf(MalformedRequest, "-PLUS requires channel binding")
	case !e.plus && h.flag == "p":
		return "", failf(MalformedRequest, "channel binding requires a -PLUS mechanism")
	case h.flag == "y" && len(e.s.ChannelBindings(e.conn)) > 0 && !e.conn.PlusUnsupported:
		return "", failf(NotAuthorized, "channel binding is supported: possible downgrade")
	case h.flag == "p":
		var ok bool
		if cb, ok = channelBinding(e.conn, h.cbType); !ok {
			// XEP-0440 leaves this error unspecified; Prosody also answers
			// malformed-request.
			return "", &Failure{Condition: MalformedRequest, Text: "unsupported channel binding type", Err: ErrUnsupportedChannelBinding}
		}
	}
	local, err := e.s.normalize(h.username)
	if err != nil {
		return "", &Failure{Condition: NotAuthorized, Err: err}
	}
	if !e.s.authorize(h.authzid, h.username, local, e.conn.Domain) {
		return "", failf(InvalidAuthzID, "")
	}
	u, found, err := e.s.lookup(ctx, local)
	if err != nil {
		return "", err
	}
	// An unknown user gets a fake key and fails only at the proof.
	k, _ := e.s.key(u, found, local, e.mech)
	cred := scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(k.Salt), Iters: k.Iterations},
		StoredKey:  k.StoredKey,
		ServerKey:  k.ServerKey,
	}
	srv, err := e.mech.hash.NewServer(func(string) (scram.StoredCredentials, error) { return cred, nil })
	if err != nil {
		return "", &Failure{Condition: TemporaryAuthFailure, Err: err}
	}
	if e.s.nonceGen != nil {
		srv.WithNonceGenerator(e.s.nonceGen)
	}
	if cb.IsSupported() {
		e.conv = srv.NewConversationWithChannelBinding(cb)
	} else {
		e.conv = srv.NewConversation()
	}
	out, err := e.conv.Step(msg)
	if err != nil {
		return "", scramFailure(out, err)
	}
	e.local = local
	return out, nil
}

// scramFailure maps an xdg-go/scram server error (its "e=" server-error
// value and error) to a Failure. RFC 6120 §6.4.5 sends <not-authorized/>
// rather than SCRAM's server-error attribute; unparsable messages are
// malformed-request.
func scramFailure(serverErr string, err error) *Failure {
	switch serverErr {
	case "", scram.ErrInvalidEncoding, scram.ErrInvalidUsernameEncoding:
		return &Failure{Condition: MalformedRequest, Err: err}
	}
	return &Failure{Condition: NotAuthorized, Err: err}
}

// gs2Header is the part of a client-first-message mote looks at.
type gs2Header struct {
	flag     string // gs2-cbind-flag: "n", "y" or "p"
	cbType   string // cb-name, when flag is "p"
	authzid  string // decoded authzid, or ""
	username string // decoded username
}

// parseGS2 parses the GS2 header and the username of a client-first-message
// (RFC 5802 §7):
//
//	gs2-header = gs2-cbind-flag "," [ authzid ] ","
//	client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
//
// xdg-go/scram parses the whole message again; this only extracts what
// must be known before creating its conversation.
func parseGS2(msg string) (gs2Header, error) {
	var h gs2Header
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return h, errors.New("missing gs2-header")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return h, errors.New("missing gs2-header")
	}
	switch {
	case flag == "n" || flag == "y":
		h.flag = flag
	case strings.HasPrefix(flag, "p="):
		h.flag, h.cbType = "p", flag[2:]
		if !validCBName(h.cbType) {
			return h, errors.New("invalid cb-name")
		}
	default:
		return h, errors.New("invalid gs2-cbind-flag")
	}
	if authz != "" {
		a, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return h, errors.New("invalid authzid")
		}
		if h.authzid, ok = decodeSASLName(a); !ok {
			return h, errors.New("invalid authzid encoding")
		}
	}
	// §5.1: an "m" attribute must make authentication fail.
	if strings.HasPrefix(bare, "m=") {
		return h, errors.New("unsupported mandatory extension")
	}
	user, _, _ := strings.Cut(bare, ",")
	u, ok := strings.CutPrefix(user, "n=")
	if !ok {
		return h, errors.New("missing username")
	}
	if h.username, ok = decodeSASLName(u); !ok || h.username == "" {
		return h, errors.New("invalid username encoding")
	}
	return h, nil
}

// validCBName reports whether s is a cb-name: 1*(ALPHA / DIGIT / "." / "-")
// (RFC 5802 §7).
func validCBName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// decodeSASLName decodes a saslname (RFC 5802 §5.1): "=2C" is ',' and "=3D"
// is '='; any other '=' makes it invalid.
func decodeSASLName(s string) (string, bool) {
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '=')
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		s = s[i+3:]
	}
}
