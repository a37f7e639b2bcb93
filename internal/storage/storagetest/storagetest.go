// Package storagetest is the conformance suite every storage backend must
// pass. It is written only against the interfaces in package storage, so
// each backend runs the same tests from its own _test.go file:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			s := openFreshStore(t)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storagetest

import (
	"testing"

	"github.com/mote-xmpp/mote/internal/storage"
)

// Opener returns a fresh, empty store for one test and registers its
// cleanup (closing the store, removing its data) with t.Cleanup. The suite
// calls it once per subtest, never from two goroutines at once.
type Opener = func(t *testing.T) storage.Store

// Run runs every conformance suite against the backend as subtests.
func Run(t *testing.T, open Opener) {
	t.Run("Users", func(t *testing.T) { TestUsers(t, open) })
	t.Run("Rosters", func(t *testing.T) { TestRosters(t, open) })
	t.Run("Offline", func(t *testing.T) { TestOffline(t, open) })
	t.Run("Documents", func(t *testing.T) { TestDocuments(t, open) })
	t.Run("Blocklists", func(t *testing.T) { TestBlocklists(t, open) })
	t.Run("Archive", func(t *testing.T) { TestArchive(t, open) })
	t.Run("Devices", func(t *testing.T) { TestDevices(t, open) })
	t.Run("DeleteUser", func(t *testing.T) { TestDeleteUser(t, open) })
}
