package pubsub

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mote-xmpp/mote/internal/mam"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Archives of pubsub nodes (XEP-0313 on a pubsub node, XEP-0442): every
// item published to a leaf node of the component is archived as the
// notification a subscriber gets, in the node's own archive (storage key
// "<service>/<node>"), whatever pubsub#max_items keeps: a dashboard pages
// through a sensor's history with a MAM query carrying the node. Who may
// retrieve the node's items may query its archive. Retention is per node:
// at most archive_max_per_node messages and none older than
// archive_max_age, applied by the expiry loop.
//
// Items are archived by one goroutine in batches (the storage's group
// commit), off the delivery workers' path except for the hand-over: a full
// archive queue makes the worker wait, which pushes back on publishers
// through the delivery queues' bound.

// archiveOp is one write of the node archiver: a message to append, or
// an archive to delete (its node was deleted).
type archiveOp struct {
	msg    storage.ArchivedMessage
	delete string
}

// archiveQueue bounds the archive writes waiting.
const archiveQueue = 16384

// archiveKey is the storage key of a node's archive.
func (sv *service) archiveKey(node ps.NodeID) string { return sv.from + "/" + string(node) }

// archiving reports whether the service keeps node archives.
func (sv *service) archiving() bool { return sv.archive != nil && !sv.isPEP() }

// archiveEvent archives the items of a publication (not a replayed last
// item) as the notification message, and drops the archive of a deleted
// node. It runs on the delivery worker, with the event payload built.
func (sv *service) archiveEvent(ev *ps.Event, children []*stanza.Element) {
	if !sv.archiving() {
		return
	}
	switch {
	case ev.Kind == ps.EventDelete:
		sv.archive <- archiveOp{delete: sv.archiveKey(ev.Node)}
	case ev.Kind == ps.EventPublish && !ev.Replay && len(ev.Items) > 0:
		msg := stanza.NewElement(stanza.NSClient, "message", "from", sv.from)
		for _, c := range children {
			msg.Append(c)
		}
		data := msg.AppendXML(nil, stanza.NSClient)
		it := &ev.Items[len(ev.Items)-1]
		with := ""
		if !it.Publisher.IsZero() {
			with = it.Publisher.Bare().String()
		}
		sv.archive <- archiveOp{msg: storage.ArchivedMessage{
			ID: mam.NewID(), Archive: sv.archiveKey(ev.Node), With: with, Stamp: it.Published, Stanza: data}}
	}
}

// archiveLoop writes the node archives until ops is closed.
func (m *Module) archiveLoop(ops <-chan archiveOp, done chan<- struct{}) {
	defer close(done)
	a := m.h.Storage().Archive()
	ctx := context.Background()
	var batch []storage.ArchivedMessage
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := a.Append(ctx, batch); err != nil {
			m.log.Error("archiving pubsub items", "count", len(batch), "err", err)
		}
		clear(batch)
		batch = batch[:0]
	}
	for op := range ops {
		for {
			if op.delete != "" {
				flush()
				if err := a.DeleteArchive(ctx, op.delete); err != nil {
					m.log.Error("deleting a node's archive", "archive", op.delete, "err", err)
				}
			} else {
				batch = append(batch, op.msg)
			}
			if len(batch) >= 512 {
				break
			}
			var ok bool
			select {
			case op, ok = <-ops:
				if !ok {
					flush()
					return
				}
				continue
			default:
			}
			break
		}
		flush()
	}
}

// purgeArchives applies the retention of node archives.
func (m *Module) purgeArchives(ctx context.Context) {
	if m.comp == nil || !m.comp.archiving() {
		return
	}
	keys, err := m.h.Storage().Archive().ArchiveKeys(ctx)
	if err != nil {
		m.log.Error("listing archives", "err", err)
		return
	}
	var before time.Time
	if m.cfg.ArchiveMaxAge > 0 {
		before = time.Now().Add(-m.cfg.ArchiveMaxAge)
	}
	prefix := m.comp.from + "/"
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if _, err := m.h.Storage().Archive().PurgeArchive(ctx, k, before, m.cfg.ArchiveMaxPerNode); err != nil {
			m.log.Error("purging a node's archive", "archive", k, "err", err)
			return
		}
	}
}

// archiveQuery answers a MAM query of a node's archive (XEP-0313 with a
// node, XEP-0442): the results go to the requester as messages from the
// service, before the IQ result with <fin/>. The requester must be
// allowed to retrieve the node's items.
func (sv *service) archiveQuery(ctx context.Context, from jid.JID, p *stanza.Element) (*stanza.Element, error) {
	if !sv.archiving() {
		return nil, stanza.NewError(stanza.ServiceUnavailable, "")
	}
	q, err := mam.ParseQuery(p)
	if err != nil {
		return nil, err
	}
	if q.Node == "" {
		return nil, stanza.NewError(stanza.FeatureNotImplemented, "query the archive of a node: give its node")
	}
	node := ps.NodeID(q.Node)
	a := sv.actor(from)
	sv.withAccess(ctx, &a, node)
	if _, err := sv.svc.Items(ctx, a, node, ps.ItemQuery{Max: 1}); err != nil {
		var pe *ps.Error
		if !errors.As(err, &pe) || !errors.Is(err, ps.ErrUnsupported) || pe.Feature() != "persistent-items" {
			return nil, err // no such node, or no access (the node's own errors)
		}
	}
	page, err := q.Run(ctx, sv.h.Storage().Archive(), sv.archiveKey(node), sv.cfg.MaxItemsPerRequest)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, stanza.NewError(stanza.ItemNotFound, "no message with that ID in the archive")
	}
	if err != nil {
		return nil, err
	}
	results := make([]*stanza.Element, 0, len(page.Messages))
	for _, msg := range page.Messages {
		r, err := mam.Result(sv.from, from.String(), q.ID, msg)
		if err != nil {
			sv.log.Warn("unreadable archived item", "archive", msg.Archive, "id", msg.ID, "err", err)
			msg.Stanza = []byte(`<message/>`)
			r, _ = mam.Result(sv.from, from.String(), q.ID, msg)
		}
		results = append(results, r)
	}
	if q.Flip {
		slices.Reverse(results)
	}
	for _, r := range results {
		sv.h.RouteParsed(ctx, r, sv.jid, from)
	}
	return mam.Fin(page.Messages, page.Count, page.Complete), nil
}
