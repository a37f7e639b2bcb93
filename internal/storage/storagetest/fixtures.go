package storagetest

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/storage"
)

// Archived returns message id of archive, stamped i seconds after a fixed
// time.
func Archived(archive, id string, i int) storage.ArchivedMessage {
	return storage.ArchivedMessage{
		ID: id, Archive: archive, With: "romeo@example.net/orchard",
		Stamp:  time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Stanza: fmt.Appendf(nil, "<message id='%s'><body>%d</body></message>", id, i),
	}
}

// ArchiveIDs returns the IDs in archive key, in archive order.
func ArchiveIDs(t *testing.T, a storage.Archive, key string) []string {
	t.Helper()
	p, err := a.QueryArchive(context.Background(), key, storage.ArchiveQuery{})
	if err != nil {
		t.Fatalf("QueryArchive(%q): %v", key, err)
	}
	var ids []string
	for _, m := range p.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// WaitFor waits until cond holds, polling: for observing a backend's
// committer, which signals nothing.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}
