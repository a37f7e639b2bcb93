package pubsub_test

import (
	"reflect"
	"testing"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/pubsub/pubsubtest"
)

// TestStoredForm checks that every field of Config and SubOptions survives
// their stored form, and that absent fields take their default.
func TestStoredForm(t *testing.T) {
	var c pubsub.Config
	pubsubtest.FillNonZero(t, reflect.ValueOf(&c))
	s, err := pubsub.EncodeConfig(&c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pubsub.DecodeConfig(s)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("config %s decoded as %+v (%v), want %+v", s, got, err, c)
	}
	// Defaults do not leak into stored zero values.
	zero := pubsub.Config{}
	if s, err = pubsub.EncodeConfig(&zero); err != nil {
		t.Fatal(err)
	}
	if got, err := pubsub.DecodeConfig(s); err != nil || !reflect.DeepEqual(got, zero) {
		t.Errorf("zero config decoded as %+v (%v)", got, err)
	}
	if got, err := pubsub.DecodeConfig(`{"Title":"t"}`); err != nil || got.Title != "t" || got.MaxItems != pubsub.DefaultMaxItems || !got.PersistItems {
		t.Errorf("partial config decoded as %+v (%v)", got, err)
	}

	var o pubsub.SubOptions
	pubsubtest.FillNonZero(t, reflect.ValueOf(&o))
	if s, err = pubsub.EncodeSubOptions(&o); err != nil {
		t.Fatal(err)
	}
	gotO, err := pubsub.DecodeSubOptions(s)
	if err != nil || !reflect.DeepEqual(gotO, o) {
		t.Errorf("options %s decoded as %+v (%v), want %+v", s, gotO, err, o)
	}
	if gotO, err := pubsub.DecodeSubOptions(`{}`); err != nil || !reflect.DeepEqual(gotO, pubsub.DefaultSubOptions()) {
		t.Errorf("empty options decoded as %+v (%v)", gotO, err)
	}
}
