package router

import (
	"context"
	"strconv"
	"time"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/stanza"
)

// SendIQ sends the IQ request iq from the server and calls f exactly once:
// with the result or error reply, or with remote-server-timeout when no
// reply arrives in time: by ctx's deadline when it has one, else within the
// router's IQ timeout. The id and from of iq are set here.
func (r *Router) SendIQ(ctx context.Context, iq *stanza.Element, f module.IQResultFunc) {
	timeout := r.iqTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	r.pendingMu.Lock()
	r.nextID++
	id := "mote-" + strconv.FormatUint(r.nextID, 36)
	p := &pendingIQ{to: iq.Attr("to"), f: f}
	r.pending[id] = p
	p.timer = time.AfterFunc(timeout, func() {
		if r.takePending(id) != nil {
			f(nil, stanza.NewError(stanza.RemoteServerTimeout, "no reply"))
		}
	})
	r.pendingMu.Unlock()
	iq.SetAttr("id", id)
	if iq.Attr("from") == "" {
		iq.SetAttr("from", r.domain.String())
	}
	r.Route(ctx, iq)
}

func (r *Router) takePending(id string) *pendingIQ {
	r.pendingMu.Lock()
	defer r.pendingMu.Unlock()
	p := r.pending[id]
	delete(r.pending, id)
	return p
}

// completeIQ matches a result or error addressed to the server with the
// request it answers. A reply from another entity than the one asked is
// ignored (RFC 6120 §8.2.3: the reply comes from the request's 'to').
func (r *Router) completeIQ(reply *stanza.Element) {
	id := reply.Attr("id")
	r.pendingMu.Lock()
	p := r.pending[id]
	if p == nil || (p.to != "" && p.to != reply.Attr("from")) {
		r.pendingMu.Unlock()
		return
	}
	delete(r.pending, id)
	r.pendingMu.Unlock()
	p.timer.Stop()
	if reply.Attr("type") == stanza.TypeError {
		e, ok := stanza.ErrorFromElement(reply)
		if !ok {
			e = stanza.NewError(stanza.UndefinedCondition, "")
		}
		p.f(reply, e)
		return
	}
	p.f(reply, nil)
}

// Close cancels every pending IQ; their callbacks are not called.
func (r *Router) Close() {
	r.pendingMu.Lock()
	defer r.pendingMu.Unlock()
	for id, p := range r.pending {
		p.timer.Stop()
		delete(r.pending, id)
	}
}
