package accounts_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mote-xmpp/mote/internal/accounts"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/sqlite"
)

func open(t *testing.T) storage.Users {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mote.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.Users()
}

// TestAccounts: the administration functions shared by the CLI and the
// admin API, with the errors each reports.
func TestAccounts(t *testing.T) {
	ctx := context.Background()
	u := open(t)
	for _, name := range []string{"Carol", "alice", "bob"} {
		if _, err := accounts.Add(ctx, u, name, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range []struct {
		name, password string
		want           error
	}{
		0: {"ALICE", "x", accounts.ErrExists},
		1: {"a b", "x", accounts.ErrInvalidUsername},
		2: {"", "x", accounts.ErrInvalidUsername},
		3: {"dave", "", accounts.ErrEmptyPassword},
		4: {"dave", "bell\u0007", accounts.ErrInvalidPassword},
	} {
		if _, err := accounts.Add(ctx, u, tc.name, tc.password); !errors.Is(err, tc.want) {
			t.Errorf("%d: Add(%q, %q) = %v, want %v", i, tc.name, tc.password, err, tc.want)
		}
	}
	a, err := accounts.Get(ctx, u, "CAROL")
	if err != nil || a.Username != "carol" || a.Created.IsZero() {
		t.Errorf("Get: %+v %v", a, err)
	}
	if _, err := accounts.Get(ctx, u, "nobody"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("Get(nobody): %v", err)
	}
	if err := accounts.SetPassword(ctx, u, "nobody", "x"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("SetPassword(nobody): %v", err)
	}

	for i, tc := range []struct {
		after string
		limit int
		want  []string
		more  bool
	}{
		0: {"", 0, []string{"alice", "bob", "carol"}, false},
		1: {"", 2, []string{"alice", "bob"}, true},
		2: {"bob", 2, []string{"carol"}, false},
		3: {"b", 1, []string{"bob"}, true},
		4: {"carol", 5, nil, false},
		5: {"", 3, []string{"alice", "bob", "carol"}, false},
	} {
		got, more, err := accounts.List(ctx, u, tc.after, tc.limit)
		if err != nil || !slices.Equal(got, tc.want) || more != tc.more {
			t.Errorf("%d: List(%q, %d) = %v %v %v, want %v %v", i, tc.after, tc.limit, got, more, err, tc.want, tc.more)
		}
	}

	// Delete goes through any Deleter, with the name normalised.
	var deleted []string
	d := deleterFunc(func(ctx context.Context, name string) error {
		deleted = append(deleted, name)
		return u.DeleteUser(ctx, name)
	})
	if err := accounts.Delete(ctx, d, "Bob"); err != nil || !slices.Equal(deleted, []string{"bob"}) {
		t.Errorf("Delete: %v %v", err, deleted)
	}
	if err := accounts.Delete(ctx, d, "bob"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("Delete again: %v", err)
	}
	if err := accounts.Delete(ctx, u, "a@b"); !errors.Is(err, accounts.ErrInvalidUsername) {
		t.Errorf("Delete(a@b): %v", err)
	}
}

type deleterFunc func(ctx context.Context, name string) error

func (f deleterFunc) DeleteUser(ctx context.Context, name string) error { return f(ctx, name) }
