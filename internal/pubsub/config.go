package pubsub

import (
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/jid"
)

// AccessModel is a node's access model (XEP-0060 §4.5, pubsub#access_model):
// who may subscribe and retrieve items.
type AccessModel uint8

// Access models, in order of openness. The zero value is invalid.
const (
	AccessOpen      AccessModel = iota + 1 // anyone
	AccessPresence                         // the owner's presence subscribers ("from" or "both")
	AccessRoster                           // contacts in the allowed roster groups
	AccessAuthorize                        // an owner approves each subscription
	AccessWhitelist                        // affiliated entities (members and up)
)

var accessModelNames = []string{
	AccessOpen: "open", AccessPresence: "presence", AccessRoster: "roster",
	AccessAuthorize: "authorize", AccessWhitelist: "whitelist",
}

// String returns the pubsub#access_model value.
func (m AccessModel) String() string { return enumString(accessModelNames, m) }

// PublishModel says who may publish (pubsub#publish_model).
type PublishModel uint8

// Publish models. The zero value is invalid.
const (
	PublishPublishers  PublishModel = iota + 1 // owners, publishers and publish-only entities
	PublishSubscribers                         // those too, and subscribers
	PublishOpen                                // anyone
)

var publishModelNames = []string{
	PublishPublishers: "publishers", PublishSubscribers: "subscribers", PublishOpen: "open",
}

// String returns the pubsub#publish_model value.
func (m PublishModel) String() string { return enumString(publishModelNames, m) }

// SendLastPublished says when the last published item is sent
// (pubsub#send_last_published_item, XEP-0060 §6.1.7, §13.10).
type SendLastPublished uint8

// Values of SendLastPublished. The zero value is invalid.
const (
	SendLastNever            SendLastPublished = iota + 1
	SendLastOnSub                              // to new subscribers
	SendLastOnSubAndPresence                   // and to subscribers coming online (the caller's part)
)

var sendLastNames = []string{
	SendLastNever: "never", SendLastOnSub: "on_sub", SendLastOnSubAndPresence: "on_sub_and_presence",
}

// String returns the pubsub#send_last_published_item value.
func (s SendLastPublished) String() string { return enumString(sendLastNames, s) }

// NotificationType is the type of the notification messages
// (pubsub#notification_type, XEP-0060 §13.7).
type NotificationType uint8

// Notification types. The zero value is invalid.
const (
	NotificationNormal   NotificationType = iota + 1
	NotificationHeadline                  // not stored offline by most servers
)

var notificationTypeNames = []string{NotificationNormal: "normal", NotificationHeadline: "headline"}

// String returns the pubsub#notification_type value.
func (t NotificationType) String() string { return enumString(notificationTypeNames, t) }

// NodeFullPolicy says what a publish to a full node does
// (pubsub#publish_node_full, XEP-0060 §7.1.2.5, §7.1.3.4).
type NodeFullPolicy uint8

// Node-full policies. The zero value is invalid.
const (
	FullDiscardOldest NodeFullPolicy = iota + 1 // drop the oldest items silently
	FullRetractOldest                           // drop them and notify a retraction
	FullReject                                  // fail with ErrNodeFull
)

var nodeFullNames = []string{
	FullDiscardOldest: "discard-oldest", FullRetractOldest: "retract-oldest", FullReject: "reject",
}

// String returns the pubsub#publish_node_full value.
func (p NodeFullPolicy) String() string { return enumString(nodeFullNames, p) }

// ItemReply says where replies to items go (pubsub#itemreply). The zero
// value, ItemReplyUnset, means the option is not set.
type ItemReply uint8

// ItemReply values.
const (
	ItemReplyUnset ItemReply = iota
	ItemReplyOwner
	ItemReplyPublisher
)

var itemReplyNames = []string{ItemReplyUnset: "", ItemReplyOwner: "owner", ItemReplyPublisher: "publisher"}

// String returns the pubsub#itemreply value ("" when unset).
func (r ItemReply) String() string {
	if r == ItemReplyUnset {
		return ""
	}
	return enumString(itemReplyNames, r)
}

// MaxItemsMax is the Config.MaxItems value "max": as many items as the
// service allows (Limits.MaxItemsPerNode).
const MaxItemsMax = -1

// DefaultMaxItems is the pubsub#max_items of DefaultConfig.
const DefaultMaxItems = 10

// Bounds on the size of configuration values.
const (
	maxTextLen   = 4096 // bytes of a text option
	maxListLen   = 256  // entries of a list option
	maxExpireSec = math.MaxInt64 / int64(time.Second)
)

// Config is a node's configuration: the options of the
// http://jabber.org/protocol/pubsub#node_config form (XEP-0060 §17.4.4)
// and the collection options of XEP-0248 §12.2.2, except the node-structure
// options pubsub#node_type, pubsub#collection and pubsub#children, which
// are Node fields.
//
// The service acts on the options as XEP-0060 describes, except those
// marked "recorded only", which it stores and reports for the XMPP layer or
// a later version.
type Config struct {
	AccessModel  AccessModel  // pubsub#access_model
	PublishModel PublishModel // pubsub#publish_model
	// RosterGroupsAllowed are the roster groups of the owner allowed under
	// AccessRoster (pubsub#roster_groups_allowed).
	RosterGroupsAllowed []string

	PersistItems bool // pubsub#persist_items: keep published items
	// MaxItems is the number of items kept (pubsub#max_items): 0 or more,
	// or MaxItemsMax.
	MaxItems        int
	PublishNodeFull NodeFullPolicy // pubsub#publish_node_full
	// ItemExpire is how long items are kept (pubsub#item_expire, in whole
	// seconds on the wire); 0 means no limit ("max").
	ItemExpire time.Duration
	// MaxPayloadSize is the largest payload accepted, in bytes
	// (pubsub#max_payload_size); 0 means the service's limit.
	MaxPayloadSize int

	DeliverNotifications  bool              // pubsub#deliver_notifications
	DeliverPayloads       bool              // pubsub#deliver_payloads
	NotifyConfig          bool              // pubsub#notify_config
	NotifyDelete          bool              // pubsub#notify_delete
	NotifyRetract         bool              // pubsub#notify_retract (also governs purge notifications)
	NotifySub             bool              // pubsub#notify_sub: tell owners of (un)subscriptions
	NotificationType      NotificationType  // pubsub#notification_type
	PresenceBasedDelivery bool              // pubsub#presence_based_delivery
	SendLastPublishedItem SendLastPublished // pubsub#send_last_published_item
	Subscribe             bool              // pubsub#subscribe: subscriptions allowed

	Title        string    // pubsub#title
	Description  string    // pubsub#description
	Type         string    // pubsub#type: the payload namespace
	Language     string    // pubsub#language
	Contact      []jid.JID // pubsub#contact
	BodyXSLT     string    // pubsub#body_xslt (recorded only)
	DataformXSLT string    // pubsub#dataform_xslt (recorded only)
	ItemReply    ItemReply // pubsub#itemreply (recorded only)
	PurgeOffline bool      // pubsub#purge_offline (recorded only)
	TempSub      bool      // pubsub#tempsub (recorded only)
	ChildrenMax  int       // pubsub#children_max (XEP-0248): 0 means no limit
	// LastWill (mote#last_will) is a payload, one XML element, that the
	// server publishes to the node as item LastWillItem on behalf of a
	// publisher whose session is lost (no clean stream close); "" for
	// none. An extension of mote's, in the manner of MQTT's last will.
	LastWill string
}

// LastWillItem is the ID of the item a last will is published as.
const LastWillItem = "last-will"

// DefaultConfig returns the default configuration of a new node (XEP-0060
// §8.3): open access, publishers publish, ten persistent items,
// notifications with payloads as headline messages, the last item sent on
// subscription and presence (the "last-published" feature, §4.3).
func DefaultConfig() Config {
	return Config{
		AccessModel:           AccessOpen,
		PublishModel:          PublishPublishers,
		PersistItems:          true,
		MaxItems:              DefaultMaxItems,
		PublishNodeFull:       FullDiscardOldest,
		DeliverNotifications:  true,
		DeliverPayloads:       true,
		NotifyDelete:          true,
		NotifyRetract:         true,
		NotificationType:      NotificationHeadline,
		SendLastPublishedItem: SendLastOnSubAndPresence,
		Subscribe:             true,
	}
}

// Clone returns a deep copy of c.
func (c Config) Clone() Config {
	c.RosterGroupsAllowed = cloneSlice(c.RosterGroupsAllowed)
	c.Contact = cloneSlice(c.Contact)
	return c
}

// Equal reports whether c and o are the same configuration.
func (c Config) Equal(o Config) bool {
	return c.AccessModel == o.AccessModel && c.PublishModel == o.PublishModel &&
		slices.Equal(c.RosterGroupsAllowed, o.RosterGroupsAllowed) &&
		c.PersistItems == o.PersistItems && c.MaxItems == o.MaxItems &&
		c.PublishNodeFull == o.PublishNodeFull && c.ItemExpire == o.ItemExpire &&
		c.MaxPayloadSize == o.MaxPayloadSize &&
		c.DeliverNotifications == o.DeliverNotifications && c.DeliverPayloads == o.DeliverPayloads &&
		c.NotifyConfig == o.NotifyConfig && c.NotifyDelete == o.NotifyDelete &&
		c.NotifyRetract == o.NotifyRetract && c.NotifySub == o.NotifySub &&
		c.NotificationType == o.NotificationType && c.PresenceBasedDelivery == o.PresenceBasedDelivery &&
		c.SendLastPublishedItem == o.SendLastPublishedItem && c.Subscribe == o.Subscribe &&
		c.Title == o.Title && c.Description == o.Description && c.Type == o.Type &&
		c.Language == o.Language && slices.Equal(c.Contact, o.Contact) &&
		c.BodyXSLT == o.BodyXSLT && c.DataformXSLT == o.DataformXSLT && c.ItemReply == o.ItemReply &&
		c.PurgeOffline == o.PurgeOffline && c.TempSub == o.TempSub && c.ChildrenMax == o.ChildrenMax &&
		c.LastWill == o.LastWill
}

// Validate checks every option of c. It returns a *ConfigError for the
// first invalid one (XEP-0060 §8.2.5.2); it wraps ErrUnsupportedAccessModel
// for an unknown access model (§8.1.2) and ErrNotAcceptable otherwise.
func (c *Config) Validate() error {
	for i := range configOptions {
		o := &configOptions[i]
		if o.check == nil {
			continue
		}
		if reason := o.check(c); reason != "" {
			kind := ErrNotAcceptable
			if o.name == "pubsub#access_model" {
				kind = ErrUnsupportedAccessModel
			}
			return &ConfigError{Field: o.name, Reason: reason, kind: kind}
		}
	}
	return nil
}

// ParseOption parses the values of one node_config data form field (XEP-0060
// §17.4.4, XEP-0004 §3.3 value syntax) and returns the function that sets
// the option. Booleans are "0", "1", "false" or "true"; single-valued fields
// need exactly one value (text fields also accept none, meaning empty).
//
// It returns a *ConfigError: for an invalid value (wrapping
// ErrNotAcceptable, or ErrUnsupportedAccessModel), for an unknown field
// (also wrapping ErrUnknownOption) and for the node-structure fields
// pubsub#node_type, pubsub#collection and pubsub#children (also wrapping
// ErrNodeOption). The caller skips FORM_TYPE.
func ParseOption(name string, values []string) (apply func(*Config), err error) {
	o := findOption(name)
	if o == nil {
		cause := ErrUnknownOption
		switch name {
		case "pubsub#node_type", "pubsub#collection", "pubsub#children":
			cause = ErrNodeOption
		}
		return nil, &ConfigError{Field: name, Reason: "not a configuration option", kind: ErrNotAcceptable, cause: cause}
	}
	apply, reason, value := o.parse(values)
	if reason != "" {
		kind := ErrNotAcceptable
		if name == "pubsub#access_model" {
			kind = ErrUnsupportedAccessModel
		}
		return nil, &ConfigError{Field: name, Value: value, Reason: reason, kind: kind}
	}
	return apply, nil
}

// FieldType is a data form field type (XEP-0004 §3.3).
type FieldType string

// Field types used by the configuration forms.
const (
	FieldBoolean    FieldType = "boolean"
	FieldListSingle FieldType = "list-single"
	FieldListMulti  FieldType = "list-multi"
	FieldTextSingle FieldType = "text-single"
	FieldJIDMulti   FieldType = "jid-multi"
)

// FormField is one field of a configuration form, for the XMPP layer to
// render (XEP-0060 §8.2.2; XEP-0004 §3.2).
type FormField struct {
	Var     string // e.g. "pubsub#access_model"
	Type    FieldType
	Label   string   // the registered label (§17.4.4)
	Options []string // the allowed values of a list field
	Values  []string // the current value, in the syntax ParseOption reads
}

// Form returns c as the fields of a pubsub#node_config form, in a stable
// order. ParseOption(f.Var, f.Values) sets each back to its value.
func (c Config) Form() []FormField {
	fs := make([]FormField, 0, len(configOptions))
	for i := range configOptions {
		o := &configOptions[i]
		fs = append(fs, FormField{Var: o.name, Type: o.typ, Label: o.label, Options: o.options, Values: o.format(&c)})
	}
	return fs
}

// Field returns the value of the option name in the syntax of ParseOption,
// and whether name is a configuration option.
func (c Config) Field(name string) ([]string, bool) {
	o := findOption(name)
	if o == nil {
		return nil, false
	}
	return o.format(&c), true
}

// configOption describes one node_config field: its form metadata, how to
// parse and format it, and how to check a Config's value of it.
type configOption struct {
	name    string
	typ     FieldType
	label   string
	options []string
	// parse returns the setter, or a reason and the offending value.
	parse  func(values []string) (apply func(*Config), reason, value string)
	format func(c *Config) []string
	check  func(c *Config) string // "" if valid
}

func findOption(name string) *configOption {
	for i := range configOptions {
		if configOptions[i].name == name {
			return &configOptions[i]
		}
	}
	return nil
}

// Option constructors. Each field pointer accessor returns the Config field
// the option is stored in.

func boolOption(name, label string, f func(*Config) *bool) configOption {
	return configOption{
		name: name, typ: FieldBoolean, label: label,
		parse: func(vs []string) (func(*Config), string, string) {
			v, reason, val := parseBool(vs)
			if reason != "" {
				return nil, reason, val
			}
			return func(c *Config) { *f(c) = v }, "", ""
		},
		format: func(c *Config) []string { return []string{formatBool(*f(c))} },
	}
}

// enumOption is a list-single option. The zero value of T is invalid
// unless zeroOK, in which case it is the value "" (option not set).
func enumOption[T ~uint8](name, label string, names []string, zeroOK bool, f func(*Config) *T) configOption {
	var opts []string
	for _, n := range names {
		if n != "" {
			opts = append(opts, n)
		}
	}
	return configOption{
		name: name, typ: FieldListSingle, label: label, options: opts,
		parse: func(vs []string) (func(*Config), string, string) {
			s, reason := single(vs)
			if reason != "" {
				return nil, reason, ""
			}
			if zeroOK && s == "" {
				return func(c *Config) { *f(c) = 0 }, "", ""
			}
			v, err := parseEnum[T](names, name, s, ErrNotAcceptable)
			if err != nil {
				return nil, "unknown value", s
			}
			return func(c *Config) { *f(c) = v }, "", ""
		},
		format: func(c *Config) []string {
			v := *f(c)
			if int(v) < len(names) && (names[v] != "" || zeroOK) {
				return []string{names[v]}
			}
			return []string{enumString(names, v)}
		},
		check: func(c *Config) string {
			v := *f(c)
			if v == 0 && zeroOK {
				return ""
			}
			if int(v) >= len(names) || names[v] == "" {
				return "invalid value " + strconv.Itoa(int(v))
			}
			return ""
		},
	}
}

func textOption(name, label string, f func(*Config) *string) configOption {
	return configOption{
		name: name, typ: FieldTextSingle, label: label,
		parse: func(vs []string) (func(*Config), string, string) {
			if len(vs) > 1 {
				return nil, "more than one value", ""
			}
			s := ""
			if len(vs) == 1 {
				s = vs[0]
			}
			if reason := checkText(s); reason != "" {
				return nil, reason, s
			}
			return func(c *Config) { *f(c) = s }, "", ""
		},
		format: func(c *Config) []string { return []string{*f(c)} },
		check:  func(c *Config) string { return checkText(*f(c)) },
	}
}

// intOption is a non-negative integer option; withMax accepts "max" as
// maxValue.
func intOption(name, label string, withMax bool, maxValue int, f func(*Config) *int) configOption {
	return configOption{
		name: name, typ: FieldTextSingle, label: label,
		parse: func(vs []string) (func(*Config), string, string) {
			s, reason := single(vs)
			if reason != "" {
				return nil, reason, ""
			}
			if withMax && s == "max" {
				return func(c *Config) { *f(c) = maxValue }, "", ""
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > math.MaxInt32 {
				return nil, "not a non-negative integer", s
			}
			return func(c *Config) { *f(c) = n }, "", ""
		},
		format: func(c *Config) []string {
			n := *f(c)
			if withMax && n == maxValue {
				return []string{"max"}
			}
			return []string{strconv.Itoa(n)}
		},
		check: func(c *Config) string {
			n := *f(c)
			if (n < 0 && !(withMax && n == maxValue)) || n > math.MaxInt32 {
				return "invalid value " + strconv.Itoa(n)
			}
			return ""
		},
	}
}

// configOptions lists the options in the order of the registered form
// (XEP-0060 §17.4.4), then those of XEP-0248.
var configOptions = []configOption{
	enumOption("pubsub#access_model", "Who may subscribe and retrieve items", accessModelNames, false,
		func(c *Config) *AccessModel { return &c.AccessModel }),
	textOption("pubsub#body_xslt", "The URL of an XSL transformation which can be applied to payloads in order to generate an appropriate message body element.",
		func(c *Config) *string { return &c.BodyXSLT }),
	{
		name: "pubsub#contact", typ: FieldJIDMulti, label: "The JIDs of those to contact with questions",
		parse: func(vs []string) (func(*Config), string, string) {
			if len(vs) > maxListLen {
				return nil, "too many values", ""
			}
			var js []jid.JID
			for _, v := range vs {
				j, err := jid.Parse(v)
				if err != nil {
					return nil, "invalid JID", v
				}
				if !slices.Contains(js, j) {
					js = append(js, j)
				}
			}
			return func(c *Config) { c.Contact = js }, "", ""
		},
		format: func(c *Config) []string {
			vs := make([]string, len(c.Contact))
			for i, j := range c.Contact {
				vs[i] = j.String()
			}
			return vs
		},
		check: func(c *Config) string {
			if len(c.Contact) > maxListLen {
				return "too many values"
			}
			for _, j := range c.Contact {
				if j.IsZero() {
					return "empty JID"
				}
			}
			return ""
		},
	},
	textOption("pubsub#dataform_xslt", "The URL of an XSL transformation which can be applied to the payload format in order to generate a valid Data Forms result that the client could display using a generic Data Forms rendering engine",
		func(c *Config) *string { return &c.DataformXSLT }),
	boolOption("pubsub#deliver_notifications", "Whether to deliver event notifications",
		func(c *Config) *bool { return &c.DeliverNotifications }),
	boolOption("pubsub#deliver_payloads", "Whether to deliver payloads with event notifications; applies only to leaf nodes",
		func(c *Config) *bool { return &c.DeliverPayloads }),
	textOption("pubsub#description", "A description of the node",
		func(c *Config) *string { return &c.Description }),
	{
		name: "pubsub#item_expire", typ: FieldTextSingle, label: "Number of seconds after which to automatically purge items. `max` for no specific limit other than a server imposed maximum.",
		parse: func(vs []string) (func(*Config), string, string) {
			s, reason := single(vs)
			if reason != "" {
				return nil, reason, ""
			}
			if s == "max" {
				return func(c *Config) { c.ItemExpire = 0 }, "", ""
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 || n > maxExpireSec {
				return nil, "not a non-negative number of seconds", s
			}
			d := time.Duration(n) * time.Second
			return func(c *Config) { c.ItemExpire = d }, "", ""
		},
		format: func(c *Config) []string {
			if c.ItemExpire == 0 {
				return []string{"max"}
			}
			return []string{strconv.FormatInt(int64(c.ItemExpire/time.Second), 10)}
		},
		check: func(c *Config) string {
			if c.ItemExpire < 0 || c.ItemExpire%time.Second != 0 {
				return "not a non-negative whole number of seconds"
			}
			return ""
		},
	},
	enumOption("pubsub#itemreply", "Whether owners or publisher should receive replies to items", itemReplyNames, true,
		func(c *Config) *ItemReply { return &c.ItemReply }),
	textOption("pubsub#language", "The default language of the node",
		func(c *Config) *string { return &c.Language }),
	intOption("pubsub#max_items", "The maximum number of items to persist. `max` for no specific limit other than a server imposed maximum.", true, MaxItemsMax,
		func(c *Config) *int { return &c.MaxItems }),
	intOption("pubsub#max_payload_size", "The maximum payload size in bytes", false, 0,
		func(c *Config) *int { return &c.MaxPayloadSize }),
	enumOption("pubsub#notification_type", "Specify the delivery style for notifications", notificationTypeNames, false,
		func(c *Config) *NotificationType { return &c.NotificationType }),
	boolOption("pubsub#notify_config", "Whether to notify subscribers when the node configuration changes",
		func(c *Config) *bool { return &c.NotifyConfig }),
	boolOption("pubsub#notify_delete", "Whether to notify subscribers when the node is deleted",
		func(c *Config) *bool { return &c.NotifyDelete }),
	boolOption("pubsub#notify_retract", "Whether to notify subscribers when items are removed from the node",
		func(c *Config) *bool { return &c.NotifyRetract }),
	boolOption("pubsub#notify_sub", "Whether to notify owners about new subscribers and unsubscribes",
		func(c *Config) *bool { return &c.NotifySub }),
	boolOption("pubsub#persist_items", "Whether to persist items to storage",
		func(c *Config) *bool { return &c.PersistItems }),
	boolOption("pubsub#presence_based_delivery", "Whether to deliver notifications to available users only",
		func(c *Config) *bool { return &c.PresenceBasedDelivery }),
	enumOption("pubsub#publish_model", "The publisher model", publishModelNames, false,
		func(c *Config) *PublishModel { return &c.PublishModel }),
	enumOption("pubsub#publish_node_full", "Action to be performed by the service when publishing on a full node.", nodeFullNames, false,
		func(c *Config) *NodeFullPolicy { return &c.PublishNodeFull }),
	boolOption("pubsub#purge_offline", "Whether to purge all items when the relevant publisher goes offline",
		func(c *Config) *bool { return &c.PurgeOffline }),
	{
		name: "pubsub#roster_groups_allowed", typ: FieldListMulti, label: "The roster group(s) allowed to subscribe and retrieve items",
		parse: func(vs []string) (func(*Config), string, string) {
			if len(vs) > maxListLen {
				return nil, "too many values", ""
			}
			var gs []string
			for _, v := range vs {
				if reason := checkText(v); reason != "" {
					return nil, reason, v
				}
				if !slices.Contains(gs, v) {
					gs = append(gs, v)
				}
			}
			return func(c *Config) { c.RosterGroupsAllowed = gs }, "", ""
		},
		format: func(c *Config) []string { return cloneSlice(c.RosterGroupsAllowed) },
		check: func(c *Config) string {
			if len(c.RosterGroupsAllowed) > maxListLen {
				return "too many values"
			}
			for _, g := range c.RosterGroupsAllowed {
				if reason := checkText(g); reason != "" {
					return reason
				}
			}
			return ""
		},
	},
	enumOption("pubsub#send_last_published_item", "When to send the last published item", sendLastNames, false,
		func(c *Config) *SendLastPublished { return &c.SendLastPublishedItem }),
	boolOption("pubsub#tempsub", "Whether to make all subscriptions temporary, based on subscriber presence",
		func(c *Config) *bool { return &c.TempSub }),
	boolOption("pubsub#subscribe", "Whether to allow subscriptions",
		func(c *Config) *bool { return &c.Subscribe }),
	textOption("pubsub#title", "A friendly name for the node",
		func(c *Config) *string { return &c.Title }),
	textOption("pubsub#type", "The semantic type information of data in the node, usually specified by the namespace of the payload (if any)",
		func(c *Config) *string { return &c.Type }),
	{
		name: "mote#last_will", typ: FieldTextSingle,
		label: "A payload the service publishes (as item last-will) for a publisher whose session is lost",
		parse: func(vs []string) (func(*Config), string, string) {
			s, reason := "", ""
			if len(vs) > 1 {
				return nil, "more than one value", ""
			}
			if len(vs) == 1 {
				s = vs[0]
			}
			if reason = checkLastWill(s); reason != "" {
				return nil, reason, s
			}
			return func(c *Config) { c.LastWill = s }, "", ""
		},
		format: func(c *Config) []string { return []string{c.LastWill} },
		check:  func(c *Config) string { return checkLastWill(c.LastWill) },
	},
	intOption("pubsub#children_max", "The maximum number of child nodes that can be associated with a collection", false, 0,
		func(c *Config) *int { return &c.ChildrenMax }),
}

// checkLastWill checks a last-will payload: empty, or one XML element.
func checkLastWill(s string) string {
	if s == "" {
		return ""
	}
	if reason := checkText(s); reason != "" {
		return reason
	}
	if _, err := xmlstream.ParseStanza([]byte(s)); err != nil {
		return "not one XML element"
	}
	return ""
}

// single returns the one value of a single-valued field.
func single(vs []string) (string, string) {
	if len(vs) != 1 {
		return "", "exactly one value required"
	}
	return vs[0], ""
}

// parseBool parses an XML Schema boolean (XEP-0004 §3.3).
func parseBool(vs []string) (v bool, reason, value string) {
	s, reason := single(vs)
	if reason != "" {
		return false, reason, ""
	}
	switch s {
	case "1", "true":
		return true, "", ""
	case "0", "false":
		return false, "", ""
	}
	return false, "not a boolean", s
}

func formatBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func checkText(s string) string {
	if len(s) > maxTextLen {
		return "longer than " + strconv.Itoa(maxTextLen) + " bytes"
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	return ""
}
