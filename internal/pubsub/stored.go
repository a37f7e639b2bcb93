package pubsub

import (
	"encoding/json"
	"fmt"

	"github.com/mote-xmpp/mote/jid"
)

// The stored form: how the SQL backends (internal/storage/sqlite and
// internal/storage/postgres) write a node's Config, a subscription's
// SubOptions, the enumerations and the JIDs to their columns, so that both
// read and write the same text. Config and SubOptions are stored as
// encoding/json writes them (Go field names, durations in nanoseconds,
// enumerations as numbers); a field absent from a stored document takes its
// default when read. Never change the encoding of a released field: the
// documents outlive the code that wrote them.

// EncodeConfig returns the stored form of a configuration.
func EncodeConfig(c *Config) (string, error) {
	b, err := json.Marshal(c)
	return string(b), err
}

// DecodeConfig reads a configuration written by EncodeConfig; options absent
// from the document take their default.
func DecodeConfig(s string) (Config, error) {
	c := DefaultConfig()
	err := json.Unmarshal([]byte(s), &c)
	return c, err
}

// EncodeSubOptions returns the stored form of subscription options.
func EncodeSubOptions(o *SubOptions) (string, error) {
	b, err := json.Marshal(o)
	return string(b), err
}

// DecodeSubOptions reads subscription options written by EncodeSubOptions;
// options absent from the document take their default.
func DecodeSubOptions(s string) (SubOptions, error) {
	o := DefaultSubOptions()
	err := json.Unmarshal([]byte(s), &o)
	return o, err
}

// EnumName returns the stored form of an enumeration value, its XEP-0060
// name ("leaf", "publisher", "subscribed"), refusing a value out of range,
// which parse could not read back. what names the enumeration in the error.
func EnumName[T interface{ String() string }](what string, v T, parse func(string) (T, error)) (string, error) {
	s := v.String()
	if _, err := parse(s); err != nil {
		return "", fmt.Errorf("invalid %s %v", what, v)
	}
	return s, nil
}

// ParseStoredJID reads a JID column: the JID's text, empty for the zero JID.
func ParseStoredJID(s string) (jid.JID, error) {
	var j jid.JID
	err := j.UnmarshalText([]byte(s))
	return j, err
}
