package module

import "context"

// Holder is what the connection that read a client's stanza puts in the
// context its handlers and hooks run with: Hold marks the stanza being
// handled as not yet safe (XEP-0198: it is not acknowledged) until the
// returned function is called.
type Holder interface {
	Hold() (release func(err error))
}

type holderKey struct{}

// WithHolder returns ctx carrying h.
func WithHolder(ctx context.Context, h Holder) context.Context {
	return context.WithValue(ctx, holderKey{}, h)
}

// Hold is called by a hook that writes a client's stanza to storage
// asynchronously (a message archive, XEP-0313), while the stanza is being
// handled, on the goroutine that handles it. Until release is called, the
// stanza does not count as handled, so stream management does not
// acknowledge it; release(nil) says it is committed, release(err) that the
// write failed: the sender then gets the wait/resource-constraint error
// instead. release must be called exactly once. Without a Holder in ctx
// (the stanza does not come from a client stream) it is a no-op.
func Hold(ctx context.Context) (release func(err error)) {
	if h, ok := ctx.Value(holderKey{}).(Holder); ok {
		return h.Hold()
	}
	return func(error) {}
}
