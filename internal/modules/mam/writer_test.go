package mam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/sqlite"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mote.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, u := range []string{"alice", "bob"} {
		if err := st.Users().CreateUser(context.Background(), storage.User{Username: u}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// inArchive reports whether archive holds a message with id.
func inArchive(t *testing.T, a storage.Archive, archive, id string) bool {
	t.Helper()
	p, err := a.QueryArchive(context.Background(), archive, storage.ArchiveQuery{IDs: []string{id}})
	if errors.Is(err, storage.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Messages) == 1
}

func msg(archive, id string) storage.ArchivedMessage {
	return storage.ArchivedMessage{ID: id, Archive: archive, With: "x@localhost", Stamp: time.Now(), Stanza: []byte(`<message><body>` + id + `</body></message>`)}
}

// TestWriterReleasesAfterCommit: every entry's hold is released once,
// with nil, and only when its messages are in storage; entries are
// written in order; a copy for an account that does not exist is dropped
// and the others kept; sync waits for what was queued.
func TestWriterReleasesAfterCommit(t *testing.T) {
	st := openStore(t)
	a := st.Archive()
	w := newWriter(a, st.Users(), quiet)
	go w.run()
	var (
		mu       sync.Mutex
		released = map[int]error{}
	)
	for i := range 200 {
		e := entry{verify: -1, msgs: []storage.ArchivedMessage{msg("alice", fmt.Sprintf("a%03d", i))}}
		if i%3 == 0 {
			e.msgs = append(e.msgs, msg("ghost", fmt.Sprintf("g%03d", i)))
			e.verify = 1
		} else if i%3 == 1 {
			e.msgs = append(e.msgs, msg("bob", fmt.Sprintf("b%03d", i)))
			e.verify = 1
		}
		e.release = func(err error) {
			if err == nil {
				// On the writer's goroutine: no t.Fatal here.
				p, qerr := a.QueryArchive(context.Background(), "alice", storage.ArchiveQuery{IDs: []string{e.msgs[0].ID}})
				if qerr != nil || len(p.Messages) != 1 {
					err = fmt.Errorf("released before it was stored: %v", qerr)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if _, twice := released[i]; twice {
				t.Errorf("entry %d released twice", i)
			}
			released[i] = err
		}
		if !w.enqueue(context.Background(), e) {
			t.Fatalf("entry %d refused", i)
		}
	}
	if err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for i := range 200 {
		if err, ok := released[i]; !ok || err != nil {
			t.Errorf("entry %d: released %v, %v", i, ok, err)
		}
	}
	mu.Unlock()
	p, err := a.QueryArchive(context.Background(), "alice", storage.ArchiveQuery{})
	if err != nil || len(p.Messages) != 200 {
		t.Fatalf("alice: %d, %v", len(p.Messages), err)
	}
	for i, m := range p.Messages {
		if m.ID != fmt.Sprintf("a%03d", i) {
			t.Fatalf("out of order at %d: %s", i, m.ID)
		}
	}
	if p, _ := a.QueryArchive(context.Background(), "bob", storage.ArchiveQuery{}); p.Count != 67 {
		t.Fatalf("bob: %d", p.Count)
	}
	if keys, _ := a.ArchiveKeys(context.Background()); len(keys) != 2 {
		t.Fatalf("archives %v (ghost's copies must be dropped)", keys)
	}
	if err := w.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Closed: refused at once.
	var got error
	if w.enqueue(context.Background(), entry{verify: -1, msgs: []storage.ArchivedMessage{msg("alice", "late")}, release: func(err error) { got = err }}) || got == nil {
		t.Fatalf("enqueue after close: %v", got)
	}
}

// TestWriterFailures: an entry whose write fails is released with the
// error, and only it: the rest of its batch is written.
func TestWriterFailures(t *testing.T) {
	st := openStore(t)
	a := st.Archive()
	if err := a.Append(context.Background(), []storage.ArchivedMessage{msg("alice", "dup")}); err != nil {
		t.Fatal(err)
	}
	w := newWriter(a, st.Users(), quiet)
	errs := make([]error, 3)
	for i, id := range []string{"ok1", "dup", "ok2"} {
		w.enqueue(context.Background(), entry{verify: -1, msgs: []storage.ArchivedMessage{msg("alice", id)}, release: func(err error) { errs[i] = err }})
	}
	go w.run() // started after queueing: one batch of three
	if err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], storage.ErrExists) || errs[2] != nil {
		t.Fatalf("releases %v", errs)
	}
	if !inArchive(t, a, "alice", "ok1") || !inArchive(t, a, "alice", "ok2") {
		t.Fatal("the good entries were not written")
	}
	w.close(context.Background())
}

// TestWriterBusy: a sender waits for room in a full queue, and is refused
// with resource-constraint when none comes in time.
func TestWriterBusy(t *testing.T) {
	st := openStore(t)
	w := newWriter(st.Archive(), st.Users(), quiet) // not running: nothing drains
	w.wait = 50 * time.Millisecond
	nop := func(error) {}
	for i := range maxQueued {
		if !w.enqueue(context.Background(), entry{verify: -1, msgs: []storage.ArchivedMessage{msg("alice", fmt.Sprint(i))}, release: nop}) {
			t.Fatalf("refused entry %d", i)
		}
	}
	var got error
	if w.enqueue(context.Background(), entry{verify: -1, release: func(err error) { got = err }}) {
		t.Fatal("accepted beyond maxQueued")
	}
	var se stanza.Error
	if !errors.As(got, &se) || se.Condition != stanza.ResourceConstraint {
		t.Fatalf("released with %v", got)
	}
}

// holder records the holds taken on a stanza.
type holder struct {
	mu       sync.Mutex
	holds    int
	released []error
	done     chan struct{}
}

func (h *holder) Hold() func(error) {
	h.mu.Lock()
	h.holds++
	h.mu.Unlock()
	return func(err error) {
		h.mu.Lock()
		h.released = append(h.released, err)
		h.mu.Unlock()
		close(h.done)
	}
}

// host is the part of module.Host that the message-sent hook uses.
type host struct {
	module.Host
}

func (host) Sessions(jid.JID) []module.Session { return nil }

func (host) Filter(context.Context, *stanza.Element, jid.JID, jid.JID) error { return nil }

// TestSentHolds: the hook holds the client's stanza (module.Hold) while
// its copies are written, and the hold is released only once they are
// stored; a message nobody archives takes no hold.
func TestSentHolds(t *testing.T) {
	st := openStore(t)
	m := New()
	if err := m.checkConfig(); err != nil {
		t.Fatal(err)
	}
	m.h, m.log, m.domain = host{}, quiet, "localhost"
	m.archive, m.users = st.Archive(), st.Users()
	m.prefs = map[string]storage.ArchivePrefs{}
	m.mayArchive.Store(true) // default_mode always (loadPrefs is skipped)
	m.w = newWriter(m.archive, m.users, quiet)
	defer m.w.close(context.Background())

	h := &holder{done: make(chan struct{})}
	ctx := module.WithHolder(context.Background(), h)
	st1 := stanza.NewElement(stanza.NSClient, "message", "from", "alice@localhost/phone", "to", "bob@localhost", "type", "chat")
	st1.Append(stanza.NewElement(stanza.NSClient, "body").AppendText("hi"))
	m.sent(ctx, st1, jid.MustParse("alice@localhost/phone"))
	sid := st1.Child("urn:xmpp:sid:0", "stanza-id")
	if h.holds != 1 || sid == nil || sid.Attr("by") != "bob@localhost" {
		t.Fatalf("holds %d, stanza %s", h.holds, st1)
	}
	select {
	case <-h.done:
		t.Fatal("released before the writer ran")
	case <-time.After(20 * time.Millisecond):
	}
	if inArchive(t, m.archive, "bob", sid.Attr("id")) {
		t.Fatal("stored before the writer ran")
	}
	go m.w.run()
	<-h.done
	if len(h.released) != 1 || h.released[0] != nil || !inArchive(t, m.archive, "bob", sid.Attr("id")) {
		t.Fatalf("released %v", h.released)
	}

	// A chat state: no hold.
	h2 := &holder{done: make(chan struct{})}
	st2 := stanza.NewElement(stanza.NSClient, "message", "from", "alice@localhost/phone", "to", "bob@localhost", "type", "chat")
	st2.Append(stanza.NewElement("http://jabber.org/protocol/chatstates", "active"))
	m.sent(module.WithHolder(context.Background(), h2), st2, jid.MustParse("alice@localhost/phone"))
	if h2.holds != 0 || st2.Child("urn:xmpp:sid:0", "stanza-id") != nil {
		t.Fatalf("chat state: holds %d, %s", h2.holds, st2)
	}
}

// TestWriterWaitsForRoom: a sender that finds the queue full is queued as
// soon as the writer drains it.
func TestWriterWaitsForRoom(t *testing.T) {
	st := openStore(t)
	w := newWriter(st.Archive(), st.Users(), quiet)
	nop := func(error) {}
	for i := range maxQueued {
		w.enqueue(context.Background(), entry{verify: -1, msgs: []storage.ArchivedMessage{msg("alice", fmt.Sprint(i))}, release: nop})
	}
	done := make(chan bool, 1)
	go func() {
		done <- w.enqueue(context.Background(), entry{verify: -1, msgs: []storage.ArchivedMessage{msg("alice", "waited")}, release: nop})
	}()
	go w.run()
	if !<-done {
		t.Fatal("the waiting sender was refused")
	}
	w.close(context.Background())
	if !inArchive(t, st.Archive(), "alice", "waited") {
		t.Fatal("the waiting sender's message was not written")
	}
}
