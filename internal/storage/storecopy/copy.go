// Package storecopy copies a deployment's data from one storage backend to
// another (mote migrate: from the embedded SQLite database to PostgreSQL)
// through the storage interfaces, and counts what each side holds so that
// the copy can be verified.
//
// The copy goes account by account: the account with its credentials,
// roster, pending requests, offline messages, documents, device
// enrolment, certificates and certificate login; then the blocklists and
// archive preferences; then every message archive, in archive order with its IDs
// and stamps; then every publish-subscribe service with its nodes,
// affiliations, subscriptions and items, oldest first. The destination
// must be empty (a fresh database): an existing account is an error, not
// a merge. Roster versions restart (clients fetch the whole roster once).
package storecopy

import (
	"context"
	"errors"
	"fmt"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
)

// Counts is what a store holds.
type Counts struct {
	Accounts, RosterItems, Pending, Offline, Documents, Blocked int
	Devices, Certificates, ArchivePrefs, ArchiveMessages        int
	PubSubServices, PubSubNodes, PubSubItems                    int
}

// Progress is told of each step: what is being copied, how many of total
// are done.
type Progress func(step string, done, total int)

// archivePage is how many archived messages one Append carries.
const archivePage = 500

// Count counts what s holds.
func Count(ctx context.Context, s storage.Store) (Counts, error) {
	var c Counts
	users, err := s.Users().ListUsers(ctx)
	if err != nil {
		return c, err
	}
	c.Accounts = len(users)
	docs := s.Documents()
	for _, u := range users {
		r, err := s.Rosters().GetRoster(ctx, u)
		if err != nil {
			return c, err
		}
		c.RosterItems += len(r.Items)
		p, err := s.Rosters().GetPendingIn(ctx, u)
		if err != nil {
			return c, err
		}
		c.Pending += len(p)
		n, err := s.Offline().CountOffline(ctx, u)
		if err != nil {
			return c, err
		}
		c.Offline += n
		keys, err := docs.DocumentKeys(ctx, u)
		if err != nil {
			return c, err
		}
		c.Documents += len(keys)
		certs, err := s.Devices().Certificates(ctx, u)
		if err != nil {
			return c, err
		}
		c.Certificates += len(certs)
	}
	bl, err := s.Blocklists().AllBlocklists(ctx)
	if err != nil {
		return c, err
	}
	for _, l := range bl {
		c.Blocked += len(l)
	}
	devs, err := s.Devices().ListDevices(ctx)
	if err != nil {
		return c, err
	}
	c.Devices = len(devs)
	prefs, err := s.Archive().AllArchivePrefs(ctx)
	if err != nil {
		return c, err
	}
	c.ArchivePrefs = len(prefs)
	keys, err := s.Archive().ArchiveKeys(ctx)
	if err != nil {
		return c, err
	}
	for _, k := range keys {
		p, err := s.Archive().QueryArchive(ctx, k, storage.ArchiveQuery{Max: 1})
		if err != nil {
			return c, err
		}
		c.ArchiveMessages += p.Count
	}
	if pp, ok := s.(pubsub.StoreProvider); ok {
		services, err := pp.PubSubServices(ctx, "")
		if err != nil {
			return c, err
		}
		c.PubSubServices = len(services)
		for _, svc := range services {
			st := pp.PubSubStore(svc)
			nodes, err := st.LoadNodes(ctx)
			if err != nil {
				return c, err
			}
			c.PubSubNodes += len(nodes)
			for _, n := range nodes {
				k, err := st.CountItems(ctx, n.Node.ID)
				if err != nil {
					return c, err
				}
				c.PubSubItems += k
			}
		}
	}
	return c, nil
}

// Copy copies everything from src to dst, which must hold no account, and
// returns what it copied.
func Copy(ctx context.Context, src, dst storage.Store, progress Progress) (Counts, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	existing, err := dst.Users().ListUsers(ctx)
	if err != nil {
		return Counts{}, err
	}
	if len(existing) > 0 {
		return Counts{}, fmt.Errorf("storecopy: the destination already has %d accounts: copy into an empty database", len(existing))
	}
	users, err := src.Users().ListUsers(ctx)
	if err != nil {
		return Counts{}, err
	}
	for i, u := range users {
		if err := copyAccount(ctx, src, dst, u); err != nil {
			return Counts{}, fmt.Errorf("storecopy: account %s: %w", u, err)
		}
		progress("accounts", i+1, len(users))
	}
	if err := copyBlocklists(ctx, src, dst); err != nil {
		return Counts{}, err
	}
	if err := copyArchivePrefs(ctx, src, dst); err != nil {
		return Counts{}, err
	}
	if err := copyArchives(ctx, src, dst, progress); err != nil {
		return Counts{}, err
	}
	if err := copyPubSub(ctx, src, dst, progress); err != nil {
		return Counts{}, err
	}
	return Count(ctx, dst)
}

// copyAccount copies one account and what is keyed by it.
func copyAccount(ctx context.Context, src, dst storage.Store, u string) error {
	user, err := src.Users().GetUser(ctx, u)
	if err != nil {
		return err
	}
	if err := dst.Users().CreateUser(ctx, user); err != nil {
		return err
	}
	r, err := src.Rosters().GetRoster(ctx, u)
	if err != nil {
		return err
	}
	for _, it := range r.Items {
		if _, err := dst.Rosters().PutRosterItem(ctx, u, it); err != nil {
			return err
		}
	}
	pending, err := src.Rosters().GetPendingIn(ctx, u)
	if err != nil {
		return err
	}
	for _, p := range pending {
		if err := dst.Rosters().PutPendingIn(ctx, u, p); err != nil {
			return err
		}
	}
	msgs, err := src.Offline().GetOffline(ctx, u)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if _, err := dst.Offline().StoreOffline(ctx, u, m.Stamp, m.Stanza, 0); err != nil {
			return err
		}
	}
	keys, err := src.Documents().DocumentKeys(ctx, u)
	if err != nil {
		return err
	}
	for _, k := range keys {
		d, err := src.Documents().GetDocument(ctx, u, k)
		if err != nil {
			return err
		}
		if err := dst.Documents().PutDocument(ctx, u, k, d); err != nil {
			return err
		}
	}
	return copyDevice(ctx, src, dst, u)
}

// copyDevice copies an account's enrolment, certificates and certificate
// login.
func copyDevice(ctx context.Context, src, dst storage.Store, u string) error {
	d, err := src.Devices().GetDevice(ctx, u)
	switch {
	case err == nil:
		if err := dst.Devices().PutDevice(ctx, d); err != nil {
			return err
		}
	case !errors.Is(err, storage.ErrNotFound):
		return err
	}
	certs, err := src.Devices().Certificates(ctx, u)
	if err != nil {
		return err
	}
	for _, c := range certs {
		if err := dst.Devices().AddCertificate(ctx, c); err != nil {
			return err
		}
	}
	ok, err := src.Devices().CertLogin(ctx, u)
	if err != nil || !ok {
		return err
	}
	return dst.Devices().SetCertLogin(ctx, u, true)
}

// copyBlocklists copies every blocklist.
func copyBlocklists(ctx context.Context, src, dst storage.Store) error {
	all, err := src.Blocklists().AllBlocklists(ctx)
	if err != nil {
		return err
	}
	for u, jids := range all {
		if err := dst.Blocklists().Block(ctx, u, jids); err != nil {
			return fmt.Errorf("storecopy: blocklist of %s: %w", u, err)
		}
	}
	return nil
}

// copyArchivePrefs copies the archiving preferences of the accounts that
// set some.
func copyArchivePrefs(ctx context.Context, src, dst storage.Store) error {
	all, err := src.Archive().AllArchivePrefs(ctx)
	if err != nil {
		return err
	}
	for u, p := range all {
		if err := dst.Archive().SetArchivePrefs(ctx, u, p); err != nil {
			return fmt.Errorf("storecopy: archive preferences of %s: %w", u, err)
		}
	}
	return nil
}

// copyArchives copies every message archive in archive order, in pages.
func copyArchives(ctx context.Context, src, dst storage.Store, progress Progress) error {
	keys, err := src.Archive().ArchiveKeys(ctx)
	if err != nil {
		return err
	}
	for i, k := range keys {
		after := ""
		for {
			p, err := src.Archive().QueryArchive(ctx, k, storage.ArchiveQuery{AfterID: after, Max: archivePage})
			if err != nil {
				return fmt.Errorf("storecopy: archive %s: %w", k, err)
			}
			if len(p.Messages) == 0 {
				break
			}
			if err := dst.Archive().Append(ctx, p.Messages); err != nil {
				return fmt.Errorf("storecopy: archive %s: %w", k, err)
			}
			after = p.Messages[len(p.Messages)-1].ID
			if p.Complete {
				break
			}
		}
		progress("archives", i+1, len(keys))
	}
	return nil
}

// copyPubSub copies every publish-subscribe service.
func copyPubSub(ctx context.Context, src, dst storage.Store, progress Progress) error {
	sp, ok := src.(pubsub.StoreProvider)
	if !ok {
		return nil
	}
	dp, ok := dst.(pubsub.StoreProvider)
	if !ok {
		return errors.New("storecopy: the destination does not store publish-subscribe")
	}
	services, err := sp.PubSubServices(ctx, "")
	if err != nil {
		return err
	}
	for i, svc := range services {
		if err := copyService(ctx, sp.PubSubStore(svc), dp.PubSubStore(svc)); err != nil {
			return fmt.Errorf("storecopy: pubsub service %s: %w", svc, err)
		}
		progress("pubsub services", i+1, len(services))
	}
	return nil
}

// copyService copies one service's nodes (a collection before the nodes in
// it), their affiliations and subscriptions, and their items, oldest
// first.
func copyService(ctx context.Context, src, dst pubsub.Store) error {
	nodes, err := src.LoadNodes(ctx)
	if err != nil {
		return err
	}
	nodes = parentsFirst(nodes)
	for _, n := range nodes {
		if err := dst.CreateNode(ctx, n); err != nil {
			return fmt.Errorf("node %s: %w", n.Node.ID, err)
		}
		for _, s := range n.Subscriptions {
			if err := dst.PutSubscription(ctx, n.Node.ID, s); err != nil {
				return fmt.Errorf("node %s: %w", n.Node.ID, err)
			}
		}
		if n.Node.Type == pubsub.Collection {
			continue
		}
		page, err := src.Items(ctx, n.Node.ID, pubsub.ItemQuery{})
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Node.ID, err)
		}
		for i := len(page.Items) - 1; i >= 0; i-- { // oldest first
			if _, err := dst.PutItem(ctx, n.Node.ID, page.Items[i], -1); err != nil {
				return fmt.Errorf("node %s: %w", n.Node.ID, err)
			}
		}
	}
	return nil
}

// parentsFirst orders nodes so that every node comes after its parents
// (XEP-0248 collections may nest); a parent that is not among the nodes
// does not hold a node back.
func parentsFirst(nodes []pubsub.NodeState) []pubsub.NodeState {
	known := map[pubsub.NodeID]bool{}
	for _, n := range nodes {
		known[n.Node.ID] = true
	}
	placed := map[pubsub.NodeID]bool{}
	out := make([]pubsub.NodeState, 0, len(nodes))
	for len(out) < len(nodes) {
		progress := false
		for _, n := range nodes {
			if placed[n.Node.ID] {
				continue
			}
			ready := true
			for _, p := range n.Node.Parents {
				if known[p] && !placed[p] {
					ready = false
				}
			}
			if ready {
				out = append(out, n)
				placed[n.Node.ID] = true
				progress = true
			}
		}
		if !progress { // a cycle, which the service never makes: keep the rest as they are
			for _, n := range nodes {
				if !placed[n.Node.ID] {
					out = append(out, n)
					placed[n.Node.ID] = true
				}
			}
		}
	}
	return out
}
