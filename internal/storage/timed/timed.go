// Package timed wraps a storage backend so that every operation is timed,
// for the mote_storage_operation_duration_seconds metric: one wrapper
// method per method of the per-domain interfaces of internal/storage and
// of the publish-subscribe store (internal/pubsub), each reading the clock
// twice around the backend's call. Storage is never on the routing path
// (DESIGN.md §3), and a backend operation costs microseconds, so the
// clock's tens of nanoseconds do not show.
package timed

import (
	"context"
	"time"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
)

// Observer receives one operation's duration in seconds
// (prometheus.Observer is one). It must be safe for concurrent use.
type Observer interface {
	Observe(seconds float64)
}

// Ops returns the names of the operations, such as "users.get_user" and
// "pubsub.put_item": the values Wrap asks observers for.
func Ops() []string { return opNames[:] }

// Wrap returns s with every operation timed into the observer that
// observer returns for its name (called once per operation, here). The
// result implements pubsub.StoreProvider when s does.
func Wrap(s storage.Store, observer func(op string) Observer) storage.Store {
	w := &wrapper{Store: s}
	for i, name := range opNames {
		w.obs[i] = observer(name)
	}
	if p, ok := s.(pubsub.StoreProvider); ok {
		return &withPubSub{wrapper: w, p: p}
	}
	return w
}

// op identifies a storage operation.
type op int

// wrapper is a timed storage.Store.
type wrapper struct {
	storage.Store
	obs [numOps]Observer
}

var _ storage.Store = (*wrapper)(nil)

// done records the duration of an operation started at start.
func (w *wrapper) done(o op, start time.Time) {
	w.obs[o].Observe(time.Since(start).Seconds())
}

func (w *wrapper) Users() storage.Users           { return usersTimed{w.Store.Users(), w} }
func (w *wrapper) Rosters() storage.Rosters       { return rostersTimed{w.Store.Rosters(), w} }
func (w *wrapper) Offline() storage.Offline       { return offlineTimed{w.Store.Offline(), w} }
func (w *wrapper) Documents() storage.Documents   { return documentsTimed{w.Store.Documents(), w} }
func (w *wrapper) Blocklists() storage.Blocklists { return blocklistsTimed{w.Store.Blocklists(), w} }
func (w *wrapper) Archive() storage.Archive       { return archiveTimed{w.Store.Archive(), w} }

// withPubSub is a timed store of a backend that also stores
// publish-subscribe services.
type withPubSub struct {
	*wrapper
	p pubsub.StoreProvider
}

var _ pubsub.StoreProvider = (*withPubSub)(nil)

// PubSubStore implements pubsub.StoreProvider.
func (w *withPubSub) PubSubStore(service string) pubsub.Store {
	return pubsubTimed{w.p.PubSubStore(service), w.wrapper}
}

// PubSubServices implements pubsub.StoreProvider (it is read once, at
// start, and not timed).
func (w *withPubSub) PubSubServices(ctx context.Context, prefix string) ([]string, error) {
	return w.p.PubSubServices(ctx, prefix)
}

const (
	opUsersCreateUser op = iota
	opUsersGetUser
	opUsersSetCredentials
	opUsersDeleteUser
	opUsersListUsers
	opRostersGetRoster
	opRostersPutRosterItem
	opRostersDeleteRosterItem
	opRostersGetPendingIn
	opRostersPutPendingIn
	opRostersDeletePendingIn
	opRostersPendingUsers
	opOfflineStoreOffline
	opOfflineGetOffline
	opOfflineDeleteOffline
	opOfflineCountOffline
	opOfflineOfflineUsers
	opDocumentsGetDocument
	opDocumentsPutDocument
	opDocumentsDeleteDocument
	opDocumentsDocumentKeys
	opBlocklistsGetBlocklist
	opBlocklistsBlock
	opBlocklistsUnblock
	opBlocklistsAllBlocklists
	opArchiveAppend
	opArchiveQueryArchive
	opArchivePurgeArchive
	opArchiveDeleteArchive
	opArchiveArchiveKeys
	opArchiveGetArchivePrefs
	opArchiveSetArchivePrefs
	opArchiveAllArchivePrefs
	opPubsubLoadNodes
	opPubsubCreateNode
	opPubsubUpdateNode
	opPubsubDeleteNode
	opPubsubSetAffiliation
	opPubsubPutSubscription
	opPubsubDeleteSubscription
	opPubsubPutItem
	opPubsubTrimItems
	opPubsubDeleteItem
	opPubsubDeleteItemsBefore
	opPubsubPurgeItems
	opPubsubCountItems
	opPubsubItems
	numOps
)

var opNames = [numOps]string{
	opUsersCreateUser:          "users.create_user",
	opUsersGetUser:             "users.get_user",
	opUsersSetCredentials:      "users.set_credentials",
	opUsersDeleteUser:          "users.delete_user",
	opUsersListUsers:           "users.list_users",
	opRostersGetRoster:         "rosters.get_roster",
	opRostersPutRosterItem:     "rosters.put_roster_item",
	opRostersDeleteRosterItem:  "rosters.delete_roster_item",
	opRostersGetPendingIn:      "rosters.get_pending_in",
	opRostersPutPendingIn:      "rosters.put_pending_in",
	opRostersDeletePendingIn:   "rosters.delete_pending_in",
	opRostersPendingUsers:      "rosters.pending_users",
	opOfflineStoreOffline:      "offline.store_offline",
	opOfflineGetOffline:        "offline.get_offline",
	opOfflineDeleteOffline:     "offline.delete_offline",
	opOfflineCountOffline:      "offline.count_offline",
	opOfflineOfflineUsers:      "offline.offline_users",
	opDocumentsGetDocument:     "documents.get_document",
	opDocumentsPutDocument:     "documents.put_document",
	opDocumentsDeleteDocument:  "documents.delete_document",
	opDocumentsDocumentKeys:    "documents.document_keys",
	opBlocklistsGetBlocklist:   "blocklists.get_blocklist",
	opBlocklistsBlock:          "blocklists.block",
	opBlocklistsUnblock:        "blocklists.unblock",
	opBlocklistsAllBlocklists:  "blocklists.all_blocklists",
	opArchiveAppend:            "archive.append",
	opArchiveQueryArchive:      "archive.query_archive",
	opArchivePurgeArchive:      "archive.purge_archive",
	opArchiveDeleteArchive:     "archive.delete_archive",
	opArchiveArchiveKeys:       "archive.archive_keys",
	opArchiveGetArchivePrefs:   "archive.get_archive_prefs",
	opArchiveSetArchivePrefs:   "archive.set_archive_prefs",
	opArchiveAllArchivePrefs:   "archive.all_archive_prefs",
	opPubsubLoadNodes:          "pubsub.load_nodes",
	opPubsubCreateNode:         "pubsub.create_node",
	opPubsubUpdateNode:         "pubsub.update_node",
	opPubsubDeleteNode:         "pubsub.delete_node",
	opPubsubSetAffiliation:     "pubsub.set_affiliation",
	opPubsubPutSubscription:    "pubsub.put_subscription",
	opPubsubDeleteSubscription: "pubsub.delete_subscription",
	opPubsubPutItem:            "pubsub.put_item",
	opPubsubTrimItems:          "pubsub.trim_items",
	opPubsubDeleteItem:         "pubsub.delete_item",
	opPubsubDeleteItemsBefore:  "pubsub.delete_items_before",
	opPubsubPurgeItems:         "pubsub.purge_items",
	opPubsubCountItems:         "pubsub.count_items",
	opPubsubItems:              "pubsub.items",
}

type usersTimed struct {
	storage.Users
	w *wrapper
}

var _ storage.Users = usersTimed{}

func (t usersTimed) CreateUser(ctx context.Context, u storage.User) error {
	defer t.w.done(opUsersCreateUser, time.Now())
	return t.Users.CreateUser(ctx, u)
}

func (t usersTimed) GetUser(ctx context.Context, username string) (storage.User, error) {
	defer t.w.done(opUsersGetUser, time.Now())
	return t.Users.GetUser(ctx, username)
}

func (t usersTimed) SetCredentials(ctx context.Context, username string, keys map[string]storage.SCRAMKey) error {
	defer t.w.done(opUsersSetCredentials, time.Now())
	return t.Users.SetCredentials(ctx, username, keys)
}

func (t usersTimed) DeleteUser(ctx context.Context, username string) error {
	defer t.w.done(opUsersDeleteUser, time.Now())
	return t.Users.DeleteUser(ctx, username)
}

func (t usersTimed) ListUsers(ctx context.Context) ([]string, error) {
	defer t.w.done(opUsersListUsers, time.Now())
	return t.Users.ListUsers(ctx)
}

type rostersTimed struct {
	storage.Rosters
	w *wrapper
}

var _ storage.Rosters = rostersTimed{}

func (t rostersTimed) GetRoster(ctx context.Context, username string) (storage.Roster, error) {
	defer t.w.done(opRostersGetRoster, time.Now())
	return t.Rosters.GetRoster(ctx, username)
}

func (t rostersTimed) PutRosterItem(ctx context.Context, username string, item storage.RosterItem) (version int64, err error) {
	defer t.w.done(opRostersPutRosterItem, time.Now())
	return t.Rosters.PutRosterItem(ctx, username, item)
}

func (t rostersTimed) DeleteRosterItem(ctx context.Context, username, contact string) (version int64, err error) {
	defer t.w.done(opRostersDeleteRosterItem, time.Now())
	return t.Rosters.DeleteRosterItem(ctx, username, contact)
}

func (t rostersTimed) GetPendingIn(ctx context.Context, username string) ([]storage.PendingIn, error) {
	defer t.w.done(opRostersGetPendingIn, time.Now())
	return t.Rosters.GetPendingIn(ctx, username)
}

func (t rostersTimed) PutPendingIn(ctx context.Context, username string, p storage.PendingIn) error {
	defer t.w.done(opRostersPutPendingIn, time.Now())
	return t.Rosters.PutPendingIn(ctx, username, p)
}

func (t rostersTimed) DeletePendingIn(ctx context.Context, username, contact string) error {
	defer t.w.done(opRostersDeletePendingIn, time.Now())
	return t.Rosters.DeletePendingIn(ctx, username, contact)
}

func (t rostersTimed) PendingUsers(ctx context.Context) ([]string, error) {
	defer t.w.done(opRostersPendingUsers, time.Now())
	return t.Rosters.PendingUsers(ctx)
}

type offlineTimed struct {
	storage.Offline
	w *wrapper
}

var _ storage.Offline = offlineTimed{}

func (t offlineTimed) StoreOffline(ctx context.Context, username string, stamp time.Time, stanza []byte, max int) (id int64, err error) {
	defer t.w.done(opOfflineStoreOffline, time.Now())
	return t.Offline.StoreOffline(ctx, username, stamp, stanza, max)
}

func (t offlineTimed) GetOffline(ctx context.Context, username string) ([]storage.OfflineMessage, error) {
	defer t.w.done(opOfflineGetOffline, time.Now())
	return t.Offline.GetOffline(ctx, username)
}

func (t offlineTimed) DeleteOffline(ctx context.Context, username string, upTo int64) error {
	defer t.w.done(opOfflineDeleteOffline, time.Now())
	return t.Offline.DeleteOffline(ctx, username, upTo)
}

func (t offlineTimed) CountOffline(ctx context.Context, username string) (int, error) {
	defer t.w.done(opOfflineCountOffline, time.Now())
	return t.Offline.CountOffline(ctx, username)
}

func (t offlineTimed) OfflineUsers(ctx context.Context) ([]string, error) {
	defer t.w.done(opOfflineOfflineUsers, time.Now())
	return t.Offline.OfflineUsers(ctx)
}

type documentsTimed struct {
	storage.Documents
	w *wrapper
}

var _ storage.Documents = documentsTimed{}

func (t documentsTimed) GetDocument(ctx context.Context, username, key string) ([]byte, error) {
	defer t.w.done(opDocumentsGetDocument, time.Now())
	return t.Documents.GetDocument(ctx, username, key)
}

func (t documentsTimed) PutDocument(ctx context.Context, username, key string, doc []byte) error {
	defer t.w.done(opDocumentsPutDocument, time.Now())
	return t.Documents.PutDocument(ctx, username, key, doc)
}

func (t documentsTimed) DeleteDocument(ctx context.Context, username, key string) error {
	defer t.w.done(opDocumentsDeleteDocument, time.Now())
	return t.Documents.DeleteDocument(ctx, username, key)
}

func (t documentsTimed) DocumentKeys(ctx context.Context, username string) ([]string, error) {
	defer t.w.done(opDocumentsDocumentKeys, time.Now())
	return t.Documents.DocumentKeys(ctx, username)
}

type blocklistsTimed struct {
	storage.Blocklists
	w *wrapper
}

var _ storage.Blocklists = blocklistsTimed{}

func (t blocklistsTimed) GetBlocklist(ctx context.Context, username string) ([]string, error) {
	defer t.w.done(opBlocklistsGetBlocklist, time.Now())
	return t.Blocklists.GetBlocklist(ctx, username)
}

func (t blocklistsTimed) Block(ctx context.Context, username string, jids []string) error {
	defer t.w.done(opBlocklistsBlock, time.Now())
	return t.Blocklists.Block(ctx, username, jids)
}

func (t blocklistsTimed) Unblock(ctx context.Context, username string, jids []string) error {
	defer t.w.done(opBlocklistsUnblock, time.Now())
	return t.Blocklists.Unblock(ctx, username, jids)
}

func (t blocklistsTimed) AllBlocklists(ctx context.Context) (map[string][]string, error) {
	defer t.w.done(opBlocklistsAllBlocklists, time.Now())
	return t.Blocklists.AllBlocklists(ctx)
}

type archiveTimed struct {
	storage.Archive
	w *wrapper
}

var _ storage.Archive = archiveTimed{}

func (t archiveTimed) Append(ctx context.Context, msgs []storage.ArchivedMessage) error {
	defer t.w.done(opArchiveAppend, time.Now())
	return t.Archive.Append(ctx, msgs)
}

func (t archiveTimed) QueryArchive(ctx context.Context, archive string, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	defer t.w.done(opArchiveQueryArchive, time.Now())
	return t.Archive.QueryArchive(ctx, archive, q)
}

func (t archiveTimed) PurgeArchive(ctx context.Context, archive string, before time.Time, keep int) (removed int, err error) {
	defer t.w.done(opArchivePurgeArchive, time.Now())
	return t.Archive.PurgeArchive(ctx, archive, before, keep)
}

func (t archiveTimed) DeleteArchive(ctx context.Context, archive string) error {
	defer t.w.done(opArchiveDeleteArchive, time.Now())
	return t.Archive.DeleteArchive(ctx, archive)
}

func (t archiveTimed) ArchiveKeys(ctx context.Context) ([]string, error) {
	defer t.w.done(opArchiveArchiveKeys, time.Now())
	return t.Archive.ArchiveKeys(ctx)
}

func (t archiveTimed) GetArchivePrefs(ctx context.Context, username string) (storage.ArchivePrefs, error) {
	defer t.w.done(opArchiveGetArchivePrefs, time.Now())
	return t.Archive.GetArchivePrefs(ctx, username)
}

func (t archiveTimed) SetArchivePrefs(ctx context.Context, username string, p storage.ArchivePrefs) error {
	defer t.w.done(opArchiveSetArchivePrefs, time.Now())
	return t.Archive.SetArchivePrefs(ctx, username, p)
}

func (t archiveTimed) AllArchivePrefs(ctx context.Context) (map[string]storage.ArchivePrefs, error) {
	defer t.w.done(opArchiveAllArchivePrefs, time.Now())
	return t.Archive.AllArchivePrefs(ctx)
}

type pubsubTimed struct {
	pubsub.Store
	w *wrapper
}

var _ pubsub.Store = pubsubTimed{}

func (t pubsubTimed) LoadNodes(ctx context.Context) ([]pubsub.NodeState, error) {
	defer t.w.done(opPubsubLoadNodes, time.Now())
	return t.Store.LoadNodes(ctx)
}

func (t pubsubTimed) CreateNode(ctx context.Context, n pubsub.NodeState) error {
	defer t.w.done(opPubsubCreateNode, time.Now())
	return t.Store.CreateNode(ctx, n)
}

func (t pubsubTimed) UpdateNode(ctx context.Context, n pubsub.Node) error {
	defer t.w.done(opPubsubUpdateNode, time.Now())
	return t.Store.UpdateNode(ctx, n)
}

func (t pubsubTimed) DeleteNode(ctx context.Context, id pubsub.NodeID) error {
	defer t.w.done(opPubsubDeleteNode, time.Now())
	return t.Store.DeleteNode(ctx, id)
}

func (t pubsubTimed) SetAffiliation(ctx context.Context, id pubsub.NodeID, j jid.JID, a pubsub.Affiliation) error {
	defer t.w.done(opPubsubSetAffiliation, time.Now())
	return t.Store.SetAffiliation(ctx, id, j, a)
}

func (t pubsubTimed) PutSubscription(ctx context.Context, id pubsub.NodeID, s pubsub.Subscription) error {
	defer t.w.done(opPubsubPutSubscription, time.Now())
	return t.Store.PutSubscription(ctx, id, s)
}

func (t pubsubTimed) DeleteSubscription(ctx context.Context, id pubsub.NodeID, j jid.JID, subID string) error {
	defer t.w.done(opPubsubDeleteSubscription, time.Now())
	return t.Store.DeleteSubscription(ctx, id, j, subID)
}

func (t pubsubTimed) PutItem(ctx context.Context, id pubsub.NodeID, it pubsub.Item, max int) (trimmed []string, err error) {
	defer t.w.done(opPubsubPutItem, time.Now())
	return t.Store.PutItem(ctx, id, it, max)
}

func (t pubsubTimed) TrimItems(ctx context.Context, id pubsub.NodeID, max int) ([]string, error) {
	defer t.w.done(opPubsubTrimItems, time.Now())
	return t.Store.TrimItems(ctx, id, max)
}

func (t pubsubTimed) DeleteItem(ctx context.Context, id pubsub.NodeID, itemID string) error {
	defer t.w.done(opPubsubDeleteItem, time.Now())
	return t.Store.DeleteItem(ctx, id, itemID)
}

func (t pubsubTimed) DeleteItemsBefore(ctx context.Context, id pubsub.NodeID, before time.Time) ([]string, error) {
	defer t.w.done(opPubsubDeleteItemsBefore, time.Now())
	return t.Store.DeleteItemsBefore(ctx, id, before)
}

func (t pubsubTimed) PurgeItems(ctx context.Context, id pubsub.NodeID) error {
	defer t.w.done(opPubsubPurgeItems, time.Now())
	return t.Store.PurgeItems(ctx, id)
}

func (t pubsubTimed) CountItems(ctx context.Context, id pubsub.NodeID) (int, error) {
	defer t.w.done(opPubsubCountItems, time.Now())
	return t.Store.CountItems(ctx, id)
}

func (t pubsubTimed) Items(ctx context.Context, id pubsub.NodeID, q pubsub.ItemQuery) (pubsub.ItemPage, error) {
	defer t.w.done(opPubsubItems, time.Now())
	return t.Store.Items(ctx, id, q)
}
