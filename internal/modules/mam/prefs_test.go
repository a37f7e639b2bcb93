package mam_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/modules/mam"
	"github.com/mote-xmpp/mote/internal/server"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// prefs sets (payload not empty) or gets alice's preferences and returns
// the <prefs/> of the reply as "default always=[…] never=[…]".
func prefs(t *testing.T, c *xmpptest.Client, payload string) string {
	t.Helper()
	typ := "set"
	if payload == "" {
		typ, payload = "get", `<prefs xmlns='urn:xmpp:mam:2'/>`
	}
	r := iq(t, c, typ, "", payload)
	p := r.Child(nsMAM, "prefs")
	if r.Attr("type") != "result" || p == nil || p.Child(nsMAM, "always") == nil || p.Child(nsMAM, "never") == nil {
		t.Fatalf("prefs: %s", r)
	}
	list := func(name string) string {
		var jids []string
		for _, j := range p.Child(nsMAM, name).ChildElements() {
			jids = append(jids, j.Text())
		}
		return name + "=[" + strings.Join(jids, " ") + "]"
	}
	return p.Attr("default") + " " + list("always") + " " + list("never")
}

// exchange sends one message from alice to bob and one from carol to
// alice, and reports which of them alice's archive took and whether
// alice saw the ID of hers, as "archive:… ids:…".
func exchange(t *testing.T, alice, bob, carol *xmpptest.Client, tag string) string {
	t.Helper()
	receive(t, bob, send(alice, "bob@localhost/pc", "to-bob-"+tag))
	receive(t, alice, send(bob, "alice@localhost/phone", "from-bob-"+tag))
	m := receive(t, alice, send(carol, "alice@localhost/phone", "from-carol-"+tag))
	_, carolID := stanzaIDs(t, m)["alice@localhost"]
	p := query(t, alice, "", form(field("with", "carol@localhost"))).ok(t)
	q := query(t, alice, "", form(field("with", "bob@localhost"))).ok(t)
	var got []string
	for _, b := range strings.Fields(q.bodies(t) + " " + p.bodies(t)) {
		if strings.HasSuffix(b, "-"+tag) {
			got = append(got, strings.TrimSuffix(b, "-"+tag))
		}
	}
	out := "archive:" + strings.Join(got, ",")
	if carolID {
		out += " carol-id"
	}
	return out
}

// TestPrefs: the preferences of XEP-0441, read back as set; never, the
// lists and roster are honoured for both directions, and the recipient
// sees an ID only when its archive took the message.
func TestPrefs(t *testing.T) {
	s := start(t, "")
	alice := online(t, s, "alice", "phone")
	bob := online(t, s, "bob", "pc")
	carol := online(t, s, "carol", "tab")
	if got := prefs(t, alice, ""); got != "always always=[] never=[]" {
		t.Fatalf("initial prefs: %s", got)
	}
	if got := exchange(t, alice, bob, carol, "1"); got != "archive:to-bob,from-bob,from-carol carol-id" {
		t.Fatalf("always: %s", got)
	}

	if got := prefs(t, alice, `<prefs xmlns='urn:xmpp:mam:2' default='never'/>`); got != "never always=[] never=[]" {
		t.Fatalf("set never: %s", got)
	}
	if got := exchange(t, alice, bob, carol, "2"); got != "archive:" {
		t.Fatalf("never: %s", got)
	}
	// Bob's archive took both of his messages with alice, whatever she set.
	if got := query(t, bob, "", "").ok(t).bodies(t); got != "to-bob-1 from-bob-1 to-bob-2 from-bob-2" {
		t.Fatalf("bob's archive: %q", got)
	}

	// never, but always with carol (normalised to a bare JID).
	if got := prefs(t, alice, `<prefs xmlns='urn:xmpp:mam:2' default='never'><always><jid>Carol@localhost/tab</jid></always></prefs>`); got != "never always=[carol@localhost] never=[]" {
		t.Fatalf("set always list: %s", got)
	}
	if got := exchange(t, alice, bob, carol, "3"); got != "archive:from-carol carol-id" {
		t.Fatalf("never but carol: %s", got)
	}

	// always, but never with carol; never wins over always.
	if got := prefs(t, alice, `<prefs xmlns='urn:xmpp:mam:2' default='always'><always><jid>carol@localhost</jid></always><never><jid>carol@localhost</jid></never></prefs>`); got != "always always=[carol@localhost] never=[carol@localhost]" {
		t.Fatalf("set never list: %s", got)
	}
	if got := exchange(t, alice, bob, carol, "4"); got != "archive:to-bob,from-bob" {
		t.Fatalf("always but carol: %s", got)
	}

	// roster: only contacts in the roster, here carol.
	if r := iq(t, alice, "set", "", `<query xmlns='jabber:iq:roster'><item jid='carol@localhost'/></query>`); r.Attr("type") != "result" {
		t.Fatalf("roster set: %s", r)
	}
	if got := prefs(t, alice, `<prefs xmlns='urn:xmpp:mam:2' default='roster'/>`); got != "roster always=[] never=[]" {
		t.Fatalf("set roster: %s", got)
	}
	if got := exchange(t, alice, bob, carol, "5"); got != "archive:from-carol carol-id" {
		t.Fatalf("roster: %s", got)
	}

	// Read back after a restart of nothing but the reply: get says so.
	if got := prefs(t, alice, ""); got != "roster always=[] never=[]" {
		t.Fatalf("get: %s", got)
	}
	// Malformed.
	if r := iq(t, alice, "set", "", `<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>`); condition(r) != stanza.BadRequest {
		t.Fatalf("bad default: %s", r)
	}
}

// TestDefaultMode: default_mode applies to accounts that set no
// preferences; an account that explicitly asks for always (with empty
// lists, which is also what storage reports for none set) keeps it, also
// across a restart.
func TestDefaultMode(t *testing.T) {
	dir := t.TempDir()
	yaml := "data_dir: " + dir + "\nmodules:\n  mam:\n    default_mode: never\n"
	s := xmpptest.Start(t, yaml)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "secret")
	}
	alice := online(t, s, "alice", "phone")
	bob := online(t, s, "bob", "pc")
	carol := online(t, s, "carol", "tab")
	if got := prefs(t, alice, ""); got != "never always=[] never=[]" {
		t.Fatalf("default: %s", got)
	}
	if got := exchange(t, alice, bob, carol, "1"); got != "archive:" {
		t.Fatalf("never by default: %s", got)
	}
	if got := prefs(t, alice, `<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never/></prefs>`); got != "always always=[] never=[]" {
		t.Fatalf("set always: %s", got)
	}
	if got := exchange(t, alice, bob, carol, "2"); got != "archive:to-bob,from-bob,from-carol carol-id" {
		t.Fatalf("always: %s", got)
	}
	s.Stop(t)

	s = xmpptest.Start(t, yaml)
	alice = online(t, s, "alice", "phone")
	bob = online(t, s, "bob", "pc")
	if got := prefs(t, alice, ""); got != "always always=[] never=[]" {
		t.Fatalf("after restart: %s", got)
	}
	if got := prefs(t, bob, ""); got != "never always=[] never=[]" {
		t.Fatalf("bob after restart: %s", got)
	}
}

// TestConfigErrors: a bad modules.mam section stops the server.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"default_mode: sometimes", "default_mode"},
		{"message_types: [chat, groupchat]", "message_types"},
		{"max_page_size: 0", "max_page_size"},
		{"max_per_account: -1", "max_per_account"},
		{"purge_interval: 0s", "purge_interval"},
		{"max_pages: 3", "max_pages"},
	} {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		if err := cfg.Decode(strings.NewReader("modules:\n  mam:\n    " + tc.yaml + "\n")); err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			srv.Shutdown(context.Background())
			t.Errorf("%s: accepted", tc.yaml)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.yaml, err)
		}
	}
}

// TestExampleConfig: mote.example.yaml shows the defaults.
func TestExampleConfig(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "..", "..", "mote.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got mam.Config
	if err := c.DecodeModule("mam", &got); err != nil {
		t.Fatal(err)
	}
	if want := mam.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("example %+v, defaults %+v", got, want)
	}
}
