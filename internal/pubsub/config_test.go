package pubsub

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/jid"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// XEP-0060 §4.3: a service with last-published defaults to
	// on_sub_and_presence; §8.4.2: deletion is notified.
	if c.SendLastPublishedItem != SendLastOnSubAndPresence || !c.NotifyDelete || c.AccessModel != AccessOpen ||
		!c.PersistItems || !c.DeliverPayloads || !c.DeliverNotifications || !c.Subscribe {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if !c.Equal(DefaultConfig()) {
		t.Error("DefaultConfig not equal to itself")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		field string
		mod   func(*Config)
		kind  *Error
	}{
		{"pubsub#access_model", func(c *Config) { c.AccessModel = 0 }, ErrUnsupportedAccessModel},
		{"pubsub#access_model", func(c *Config) { c.AccessModel = 99 }, ErrUnsupportedAccessModel},
		{"pubsub#publish_model", func(c *Config) { c.PublishModel = 0 }, ErrNotAcceptable},
		{"pubsub#max_items", func(c *Config) { c.MaxItems = -2 }, ErrNotAcceptable},
		{"pubsub#item_expire", func(c *Config) { c.ItemExpire = -time.Second }, ErrNotAcceptable},
		{"pubsub#item_expire", func(c *Config) { c.ItemExpire = 1500 * time.Millisecond }, ErrNotAcceptable},
		{"pubsub#max_payload_size", func(c *Config) { c.MaxPayloadSize = -1 }, ErrNotAcceptable},
		{"pubsub#notification_type", func(c *Config) { c.NotificationType = 3 }, ErrNotAcceptable},
		{"pubsub#send_last_published_item", func(c *Config) { c.SendLastPublishedItem = 0 }, ErrNotAcceptable},
		{"pubsub#publish_node_full", func(c *Config) { c.PublishNodeFull = 4 }, ErrNotAcceptable},
		{"pubsub#itemreply", func(c *Config) { c.ItemReply = 3 }, ErrNotAcceptable},
		{"pubsub#title", func(c *Config) { c.Title = strings.Repeat("x", maxTextLen+1) }, ErrNotAcceptable},
		{"pubsub#description", func(c *Config) { c.Description = "\xff" }, ErrNotAcceptable},
		{"pubsub#roster_groups_allowed", func(c *Config) { c.RosterGroupsAllowed = make([]string, maxListLen+1) }, ErrNotAcceptable},
		{"pubsub#contact", func(c *Config) { c.Contact = []jid.JID{{}} }, ErrNotAcceptable},
		{"pubsub#children_max", func(c *Config) { c.ChildrenMax = -1 }, ErrNotAcceptable},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.mod(&c)
		err := c.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field || !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v", tt.field, err)
		}
	}
	c := DefaultConfig()
	c.MaxItems = MaxItemsMax
	c.ItemReply = ItemReplyOwner
	if err := c.Validate(); err != nil {
		t.Errorf("max_items max: %v", err)
	}
}

func TestParseOption(t *testing.T) {
	apply := func(name string, vs ...string) (Config, error) {
		t.Helper()
		c := DefaultConfig()
		f, err := ParseOption(name, vs)
		if err != nil {
			return c, err
		}
		f(&c)
		return c, nil
	}
	ok := []struct {
		name   string
		values []string
		check  func(Config) bool
	}{
		{"pubsub#access_model", []string{"whitelist"}, func(c Config) bool { return c.AccessModel == AccessWhitelist }},
		{"pubsub#publish_model", []string{"open"}, func(c Config) bool { return c.PublishModel == PublishOpen }},
		{"pubsub#persist_items", []string{"0"}, func(c Config) bool { return !c.PersistItems }},
		{"pubsub#persist_items", []string{"false"}, func(c Config) bool { return !c.PersistItems }},
		{"pubsub#notify_config", []string{"true"}, func(c Config) bool { return c.NotifyConfig }},
		{"pubsub#notify_config", []string{"1"}, func(c Config) bool { return c.NotifyConfig }},
		{"pubsub#max_items", []string{"max"}, func(c Config) bool { return c.MaxItems == MaxItemsMax }},
		{"pubsub#max_items", []string{"0"}, func(c Config) bool { return c.MaxItems == 0 }},
		{"pubsub#max_items", []string{"250"}, func(c Config) bool { return c.MaxItems == 250 }},
		{"pubsub#item_expire", []string{"3600"}, func(c Config) bool { return c.ItemExpire == time.Hour }},
		{"pubsub#item_expire", []string{"max"}, func(c Config) bool { return c.ItemExpire == 0 }},
		{"pubsub#send_last_published_item", []string{"on_sub"}, func(c Config) bool { return c.SendLastPublishedItem == SendLastOnSub }},
		{"pubsub#notification_type", []string{"normal"}, func(c Config) bool { return c.NotificationType == NotificationNormal }},
		{"pubsub#presence_based_delivery", []string{"1"}, func(c Config) bool { return c.PresenceBasedDelivery }},
		{"pubsub#title", []string{"Kitchen sensors"}, func(c Config) bool { return c.Title == "Kitchen sensors" }},
		{"pubsub#title", nil, func(c Config) bool { return c.Title == "" }},
		{"pubsub#type", []string{"urn:xmpp:iot:sensordata"}, func(c Config) bool { return c.Type == "urn:xmpp:iot:sensordata" }},
		{"pubsub#roster_groups_allowed", []string{"Friends", "Family", "Friends"}, func(c Config) bool {
			return slices.Equal(c.RosterGroupsAllowed, []string{"Friends", "Family"})
		}},
		{"pubsub#roster_groups_allowed", nil, func(c Config) bool { return c.RosterGroupsAllowed == nil }},
		{"pubsub#contact", []string{"Admin@Example.com"}, func(c Config) bool {
			return len(c.Contact) == 1 && c.Contact[0].String() == "admin@example.com"
		}},
		{"pubsub#itemreply", []string{"publisher"}, func(c Config) bool { return c.ItemReply == ItemReplyPublisher }},
		{"pubsub#itemreply", []string{""}, func(c Config) bool { return c.ItemReply == ItemReplyUnset }},
		{"pubsub#publish_node_full", []string{"reject"}, func(c Config) bool { return c.PublishNodeFull == FullReject }},
		{"pubsub#children_max", []string{"5"}, func(c Config) bool { return c.ChildrenMax == 5 }},
	}
	for _, tt := range ok {
		c, err := apply(tt.name, tt.values...)
		if err != nil || !tt.check(c) {
			t.Errorf("%s %q: %v, %+v", tt.name, tt.values, err, c)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s %q: invalid result: %v", tt.name, tt.values, err)
		}
	}
	bad := []struct {
		name   string
		values []string
		kind   error
	}{
		{"pubsub#access_model", []string{"secret"}, ErrUnsupportedAccessModel},
		{"pubsub#access_model", nil, ErrUnsupportedAccessModel},
		{"pubsub#persist_items", []string{"yes"}, ErrNotAcceptable},
		{"pubsub#persist_items", []string{"1", "0"}, ErrNotAcceptable},
		{"pubsub#persist_items", nil, ErrNotAcceptable},
		{"pubsub#max_items", []string{"-1"}, ErrNotAcceptable},
		{"pubsub#max_items", []string{"ten"}, ErrNotAcceptable},
		{"pubsub#max_items", []string{"99999999999999999999"}, ErrNotAcceptable},
		{"pubsub#item_expire", []string{"1.5"}, ErrNotAcceptable},
		{"pubsub#item_expire", []string{"9223372036854775807"}, ErrNotAcceptable},
		{"pubsub#title", []string{"a", "b"}, ErrNotAcceptable},
		{"pubsub#contact", []string{"@bad"}, ErrNotAcceptable},
		{"pubsub#notification_type", []string{"chat"}, ErrNotAcceptable},
		{"pubsub#frobnicate", []string{"1"}, ErrUnknownOption},
		{"FORM_TYPE", []string{"http://jabber.org/protocol/pubsub#node_config"}, ErrUnknownOption},
		{"pubsub#node_type", []string{"leaf"}, ErrNodeOption},
		{"pubsub#collection", []string{"c"}, ErrNodeOption},
		{"pubsub#children", []string{"c"}, ErrNodeOption},
	}
	for _, tt := range bad {
		_, err := apply(tt.name, tt.values...)
		var ce *ConfigError
		if !errors.Is(err, tt.kind) || !errors.As(err, &ce) || ce.Field != tt.name {
			t.Errorf("%s %q: %v, want %v", tt.name, tt.values, err, tt.kind)
		}
	}
}

// fullConfig sets every option to a value other than its default.
func fullConfig() Config {
	return Config{
		AccessModel: AccessRoster, PublishModel: PublishSubscribers,
		RosterGroupsAllowed: []string{"Friends", "Lab"},
		PersistItems:        false, MaxItems: MaxItemsMax, PublishNodeFull: FullRetractOldest,
		ItemExpire: 90 * time.Second, MaxPayloadSize: 1024,
		DeliverNotifications: false, DeliverPayloads: false, NotifyConfig: true, NotifyDelete: false,
		NotifyRetract: false, NotifySub: true, NotificationType: NotificationNormal,
		PresenceBasedDelivery: true, SendLastPublishedItem: SendLastOnSub, Subscribe: false,
		Title: "T", Description: "D", Type: "urn:x", Language: "en",
		Contact:  []jid.JID{jid.MustParse("a@example.com"), jid.MustParse("b@example.com/r")},
		BodyXSLT: "http://x/b.xsl", DataformXSLT: "http://x/d.xsl", ItemReply: ItemReplyOwner,
		PurgeOffline: true, TempSub: true, ChildrenMax: 7,
		LastWill: "<status xmlns='urn:mote:device:0' state='offline'/>",
	}
}

func TestFormRoundTrip(t *testing.T) {
	for _, c := range []Config{DefaultConfig(), fullConfig()} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		var got Config
		for _, f := range c.Form() {
			apply, err := ParseOption(f.Var, f.Values)
			if err != nil {
				t.Fatalf("%s %q: %v", f.Var, f.Values, err)
			}
			apply(&got)
			if vs, ok := c.Field(f.Var); !ok || !slices.Equal(vs, f.Values) {
				t.Errorf("Field(%s) = %q, %t", f.Var, vs, ok)
			}
		}
		if !got.Equal(c) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
		}
	}
	if _, ok := DefaultConfig().Field("pubsub#node_type"); ok {
		t.Error("node_type is a config field")
	}
}

// TestConfigEqual checks that Equal and Clone cover every field.
func TestConfigEqual(t *testing.T) {
	base, other := DefaultConfig(), fullConfig()
	bv, ov := reflect.ValueOf(base), reflect.ValueOf(other)
	for i := range bv.NumField() {
		if reflect.DeepEqual(bv.Field(i).Interface(), ov.Field(i).Interface()) {
			t.Fatalf("fullConfig leaves %s at its default", bv.Type().Field(i).Name)
		}
		c := base.Clone()
		reflect.ValueOf(&c).Elem().Field(i).Set(ov.Field(i))
		if c.Equal(base) || base.Equal(c) {
			t.Errorf("Equal ignores %s", bv.Type().Field(i).Name)
		}
	}
	c := other.Clone()
	c.RosterGroupsAllowed[0] = "changed"
	c.Contact[0] = jid.MustParse("z@example.com")
	if other.RosterGroupsAllowed[0] != "Friends" || other.Contact[0].String() != "a@example.com" {
		t.Error("Clone shares slices")
	}
}

func TestSubOptions(t *testing.T) {
	d := DefaultSubOptions()
	if err := d.Validate(); err != nil || !d.Deliver || d.Digest || d.IncludeBody || d.Type != SubTypeNodes || d.Depth != 1 {
		t.Fatalf("defaults %+v: %v", d, err)
	}
	o := SubOptions{Deliver: false, Digest: true, DigestFrequency: 5000, IncludeBody: true,
		ShowValues: []string{"chat", "online"}, Type: SubTypeItems, Depth: DepthAll}
	var got SubOptions
	for _, f := range o.Form() {
		apply, err := ParseSubOption(f.Var, f.Values)
		if err != nil {
			t.Fatalf("%s %q: %v", f.Var, f.Values, err)
		}
		apply(&got)
	}
	if !reflect.DeepEqual(got, o) {
		t.Errorf("round trip: %+v, want %+v", got, o)
	}
	bad := []struct {
		name   string
		values []string
	}{
		{"pubsub#deliver", []string{"maybe"}},
		{"pubsub#show-values", []string{"busy"}},
		{"pubsub#subscription_type", []string{"everything"}},
		{"pubsub#subscription_depth", []string{"-1"}},
		{"pubsub#subscription_depth", []string{"some"}},
		{"pubsub#digest_frequency", []string{"-5"}},
		{"pubsub#expire", []string{"presence"}},
	}
	for _, tt := range bad {
		_, err := ParseSubOption(tt.name, tt.values)
		if !errors.Is(err, ErrInvalidSubOptions) {
			t.Errorf("%s %q: %v", tt.name, tt.values, err)
		}
	}
	if _, err := ParseSubOption("pubsub#expire", []string{"presence"}); !errors.Is(err, ErrUnknownOption) {
		t.Errorf("unknown option: %v", err)
	}
	for _, o := range []SubOptions{
		{Deliver: true, Type: 0, Depth: 1},
		{Deliver: true, Type: SubTypeItems, Depth: -2},
		{Deliver: true, Type: SubTypeItems, Depth: 1, ShowValues: []string{"away", "away"}},
		{Deliver: true, Type: SubTypeItems, Depth: 1, DigestFrequency: -1},
	} {
		if err := o.Validate(); !errors.Is(err, ErrInvalidSubOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestParseEnums(t *testing.T) {
	for _, a := range allAffiliations {
		if got, err := ParseAffiliation(a.String()); err != nil || got != a {
			t.Errorf("affiliation %v: %v %v", a, got, err)
		}
	}
	for s := SubNone; s < numSubStates; s++ {
		if got, err := ParseSubState(s.String()); err != nil || got != s {
			t.Errorf("state %v: %v %v", s, got, err)
		}
	}
	for _, nt := range []NodeType{Leaf, Collection} {
		if got, err := ParseNodeType(nt.String()); err != nil || got != nt {
			t.Errorf("node type %v: %v %v", nt, got, err)
		}
	}
	for _, s := range []string{"", "Owner", "invalid(0)", "subscribe"} {
		if _, err := ParseAffiliation(s); !errors.Is(err, ErrBadRequest) {
			t.Errorf("ParseAffiliation(%q): %v", s, err)
		}
	}
	if AccessModel(0).String() != "invalid(0)" || Affiliation(200).String() != "invalid(200)" {
		t.Error("String of invalid values")
	}
}

// splitValues turns fuzz input into a field's values: NUL separates them,
// and an input without NUL is one value (empty input: no value).
func splitValues(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

var optionNames = func() []string {
	var ns []string
	for _, o := range configOptions {
		ns = append(ns, o.name)
	}
	return append(ns, "pubsub#node_type", "pubsub#collection", "FORM_TYPE", "")
}()

// FuzzParseOption checks that ParseOption never panics, that what it
// accepts is valid, and that the result survives Field and ParseOption.
func FuzzParseOption(f *testing.F) {
	for i, o := range configOptions {
		for _, v := range o.format(&[]Config{DefaultConfig(), fullConfig()}[i%2]) {
			f.Add(uint8(i), v)
		}
	}
	for _, v := range []string{"max", "1", "true", "-1", "18446744073709551616", "a@b\x00c@d", "\xff", "on_sub", "all"} {
		f.Add(uint8(0), v)
		f.Add(uint8(9), v)
	}
	f.Fuzz(func(t *testing.T, which uint8, raw string) {
		name := optionNames[int(which)%len(optionNames)]
		apply, err := ParseOption(name, splitValues(raw))
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrNotAcceptable) && !errors.Is(err, ErrUnsupportedAccessModel) {
				t.Fatalf("%s %q: error %v of the wrong kind", name, raw, err)
			}
			_ = err.Error()
			return
		}
		c := DefaultConfig()
		apply(&c)
		if err := c.Validate(); err != nil {
			t.Fatalf("%s %q: accepted, then invalid: %v", name, raw, err)
		}
		vs, ok := c.Field(name)
		if !ok {
			t.Fatalf("%s: no field", name)
		}
		again, err := ParseOption(name, vs)
		if err != nil {
			t.Fatalf("%s %q: formatted as %q, which fails: %v", name, raw, vs, err)
		}
		c2 := DefaultConfig()
		again(&c2)
		if !c2.Equal(c) {
			t.Fatalf("%s %q: round trip through %q changed the config", name, raw, vs)
		}
	})
}

// FuzzConfigValidate checks that Validate never panics on arbitrary field
// values and that every valid config survives its form.
func FuzzConfigValidate(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(0), int64(10), int64(0), int64(0), "title", "g")
	f.Add(uint8(0), uint8(9), uint8(3), uint8(0), uint8(4), uint8(3), int64(-1), int64(-1), int64(1500), "\xff", "")
	f.Fuzz(func(t *testing.T, am, pm, sl, nt, nf, ir uint8, maxItems, expire, payload int64, text, group string) {
		c := DefaultConfig()
		c.AccessModel, c.PublishModel = AccessModel(am), PublishModel(pm)
		c.SendLastPublishedItem, c.NotificationType = SendLastPublished(sl), NotificationType(nt)
		c.PublishNodeFull, c.ItemReply = NodeFullPolicy(nf), ItemReply(ir)
		c.MaxItems, c.ItemExpire, c.MaxPayloadSize = int(maxItems), time.Duration(expire), int(payload)
		c.Title = text
		c.RosterGroupsAllowed = splitValues(group)
		if err := c.Validate(); err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			return
		}
		var got Config
		for _, fld := range c.Form() {
			apply, err := ParseOption(fld.Var, fld.Values)
			if err != nil {
				t.Fatalf("valid config %+v: field %s %q fails: %v", c, fld.Var, fld.Values, err)
			}
			apply(&got)
		}
		// The form deduplicates roster groups.
		c.RosterGroupsAllowed = dedupeStrings(c.RosterGroupsAllowed)
		if !got.Equal(c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
		}
	})
}

var subOptionNames = []string{
	"pubsub#deliver", "pubsub#digest", "pubsub#digest_frequency", "pubsub#include_body",
	"pubsub#show-values", "pubsub#subscription_type", "pubsub#subscription_depth", "pubsub#expire",
}

// FuzzParseSubOption checks ParseSubOption like FuzzParseOption.
func FuzzParseSubOption(f *testing.F) {
	for i := range subOptionNames {
		for _, v := range []string{"1", "false", "all", "7", "chat\x00away", "items", "nodes"} {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, raw string) {
		name := subOptionNames[int(which)%len(subOptionNames)]
		apply, err := ParseSubOption(name, splitValues(raw))
		if err != nil {
			if !errors.Is(err, ErrInvalidSubOptions) {
				t.Fatalf("%s %q: %v", name, raw, err)
			}
			return
		}
		o := DefaultSubOptions()
		apply(&o)
		if err := o.Validate(); err != nil {
			t.Fatalf("%s %q: accepted, then invalid: %v", name, raw, err)
		}
		var got SubOptions
		for _, fld := range o.Form() {
			a, err := ParseSubOption(fld.Var, fld.Values)
			if err != nil {
				t.Fatalf("%s %q: %v", fld.Var, fld.Values, err)
			}
			a(&got)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("round trip: %+v, want %+v", got, o)
		}
	})
}

// FuzzParseEnums checks the attribute parsers: no panic, and a value they
// accept is the String of the result.
func FuzzParseEnums(f *testing.F) {
	for _, s := range []string{"owner", "publish-only", "none", "pending", "subscribed", "leaf", "collection", "", "invalid(1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := ParseAffiliation(s); err == nil && a.String() != s {
			t.Fatalf("affiliation %q -> %v", s, a)
		}
		if st, err := ParseSubState(s); err == nil && st.String() != s {
			t.Fatalf("state %q -> %v", s, st)
		}
		if nt, err := ParseNodeType(s); err == nil && nt.String() != s {
			t.Fatalf("node type %q -> %v", s, nt)
		}
	})
}
