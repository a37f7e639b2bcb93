package storagetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mote-xmpp/mote/internal/storage"
)

// TestDocuments checks a backend's storage.Documents against the contract
// documented on the interface.
func TestDocuments(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d storage.Documents)
	}{
		{"RoundTrip", testDocumentsRoundTrip},
		{"Replace", testDocumentsReplace},
		{"Isolation", testDocumentsIsolation},
		{"Delete", testDocumentsDelete},
		{"NotFound", testDocumentsNotFound},
		{"CallerOwnsSlices", testDocumentsCallerOwnsSlices},
		{"CancelledContext", testDocumentsCancelledContext},
		{"Keys", testDocumentsKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t).Documents())
		})
	}
}

const (
	vcardKey   = "vcard-temp"
	privateKey = "private:storage:bookmarks"
)

func mustPutDoc(t *testing.T, d storage.Documents, username, key string, doc []byte) {
	t.Helper()
	if err := d.PutDocument(context.Background(), username, key, doc); err != nil {
		t.Fatalf("PutDocument(%q, %q): %v", username, key, err)
	}
}

// checkDoc fetches the document and compares it with want; a nil want
// means none (ErrNotFound).
func checkDoc(t *testing.T, d storage.Documents, username, key string, want []byte) {
	t.Helper()
	got, err := d.GetDocument(context.Background(), username, key)
	if want == nil {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetDocument(%q, %q) = %q, %v; want ErrNotFound", username, key, got, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("GetDocument(%q, %q): %v", username, key, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("GetDocument(%q, %q) = %q, want %q", username, key, got, want)
	}
}

func testDocumentsRoundTrip(t *testing.T, d storage.Documents) {
	vcard := []byte("<vCard xmlns='vcard-temp'><FN>Juliet Capulet — ジュリエット</FN></vCard>")
	mustPutDoc(t, d, "juliet", vcardKey, vcard)
	mustPutDoc(t, d, "juliet", privateKey, stanza(1)) // NUL and 0xff
	mustPutDoc(t, d, "juliet", "private:empty", []byte{})
	checkDoc(t, d, "juliet", vcardKey, vcard)
	checkDoc(t, d, "juliet", privateKey, stanza(1))
	checkDoc(t, d, "juliet", "private:empty", []byte{})
}

func testDocumentsReplace(t *testing.T, d storage.Documents) {
	mustPutDoc(t, d, "juliet", vcardKey, stanza(1))
	mustPutDoc(t, d, "juliet", vcardKey, stanza(2))
	checkDoc(t, d, "juliet", vcardKey, stanza(2))
	mustPutDoc(t, d, "juliet", vcardKey, []byte("<x/>")) // shorter
	checkDoc(t, d, "juliet", vcardKey, []byte("<x/>"))
}

func testDocumentsIsolation(t *testing.T, d storage.Documents) {
	mustPutDoc(t, d, "juliet", vcardKey, stanza(1))
	mustPutDoc(t, d, "juliet", privateKey, stanza(2))
	mustPutDoc(t, d, "romeo", vcardKey, stanza(3))
	checkDoc(t, d, "juliet", vcardKey, stanza(1))
	checkDoc(t, d, "juliet", privateKey, stanza(2))
	checkDoc(t, d, "romeo", vcardKey, stanza(3))
	checkDoc(t, d, "romeo", privateKey, nil)
	// Keys are exact: no prefix or case matching.
	checkDoc(t, d, "juliet", "private:", nil)
	checkDoc(t, d, "juliet", "VCARD-TEMP", nil)

	mustPutDoc(t, d, "romeo", privateKey, stanza(4))
	checkDoc(t, d, "juliet", privateKey, stanza(2))
	checkDoc(t, d, "romeo", privateKey, stanza(4))
}

func testDocumentsDelete(t *testing.T, d storage.Documents) {
	ctx := context.Background()
	mustPutDoc(t, d, "juliet", vcardKey, stanza(1))
	mustPutDoc(t, d, "juliet", privateKey, stanza(2))
	mustPutDoc(t, d, "romeo", vcardKey, stanza(3))
	if err := d.DeleteDocument(ctx, "juliet", vcardKey); err != nil {
		t.Fatalf("DeleteDocument: %v", err)
	}
	checkDoc(t, d, "juliet", vcardKey, nil)
	checkDoc(t, d, "juliet", privateKey, stanza(2))
	checkDoc(t, d, "romeo", vcardKey, stanza(3))
	// Deleting an absent document is no error.
	if err := d.DeleteDocument(ctx, "juliet", vcardKey); err != nil {
		t.Errorf("second DeleteDocument = %v, want nil", err)
	}
	if err := d.DeleteDocument(ctx, "nobody", vcardKey); err != nil {
		t.Errorf("DeleteDocument(unknown user) = %v, want nil", err)
	}
	mustPutDoc(t, d, "juliet", vcardKey, stanza(4))
	checkDoc(t, d, "juliet", vcardKey, stanza(4))
}

func testDocumentsNotFound(t *testing.T, d storage.Documents) {
	checkDoc(t, d, "nobody", vcardKey, nil)
	mustPutDoc(t, d, "juliet", privateKey, stanza(1))
	checkDoc(t, d, "juliet", vcardKey, nil)
}

func testDocumentsCallerOwnsSlices(t *testing.T, d storage.Documents) {
	doc := stanza(1)
	mustPutDoc(t, d, "juliet", vcardKey, doc)
	doc[0] ^= 0xff
	checkDoc(t, d, "juliet", vcardKey, stanza(1))
	got, err := d.GetDocument(context.Background(), "juliet", vcardKey)
	if err != nil {
		t.Fatalf("GetDocument: %v", err)
	}
	got[0] ^= 0xff
	checkDoc(t, d, "juliet", vcardKey, stanza(1))
}

func testDocumentsCancelledContext(t *testing.T, d storage.Documents) {
	mustPutDoc(t, d, "juliet", vcardKey, stanza(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	calls := []struct {
		name string
		call func() error
	}{
		{"GetDocument", func() error { _, err := d.GetDocument(ctx, "juliet", vcardKey); return err }},
		{"PutDocument", func() error { return d.PutDocument(ctx, "juliet", vcardKey, stanza(2)) }},
		{"DeleteDocument", func() error { return d.DeleteDocument(ctx, "juliet", vcardKey) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
		}
	}
	checkDoc(t, d, "juliet", vcardKey, stanza(1))
}

func testDocumentsKeys(t *testing.T, d storage.Documents) {
	ctx := context.Background()
	if keys, err := d.DocumentKeys(ctx, "alice"); err != nil || len(keys) != 0 {
		t.Fatalf("keys of an account without documents: %v %v", keys, err)
	}
	for _, k := range []string{privateKey, vcardKey, "private:a", "Z"} {
		mustPutDoc(t, d, "alice", k, []byte("<x/>"))
	}
	mustPutDoc(t, d, "bob", "private:b", []byte("<y/>"))
	if err := d.DeleteDocument(ctx, "alice", "Z"); err != nil {
		t.Fatal(err)
	}
	keys, err := d.DocumentKeys(ctx, "alice")
	want := []string{"private:a", privateKey, vcardKey} // byte order
	if err != nil || !slices.Equal(keys, want) {
		t.Fatalf("keys %v %v, want %v", keys, err, want)
	}
}
