// Package mam holds the protocol of Message Archive Management (XEP-0313,
// urn:xmpp:mam:2) that every archive shares, whoever hosts it (an
// account, later a pubsub node): archive IDs, parsing a <query/> into a
// storage.ArchiveQuery and running it, rendering results, <fin/>, the
// query form and archive metadata, the preferences of XEP-0441, and the
// unique and stable stanza IDs of XEP-0359. It knows nothing of the
// server: the module that hosts an archive decides who may query it,
// what goes into it and where results are sent.
//
// Every error ParseQuery and ParsePrefs return is a stanza.Error, the
// reply to send.
package mam

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"time"
)

// Namespaces.
const (
	NS         = "urn:xmpp:mam:2"                            // XEP-0313
	NSExtended = "urn:xmpp:mam:2#extended"                   // XEP-0313 §7: before-id, after-id, ids, flipped pages, metadata
	NSSID      = "urn:xmpp:sid:0"                            // XEP-0359
	NSForward  = "urn:xmpp:forward:0"                        // XEP-0297
	NSDelay    = "urn:xmpp:delay"                            // XEP-0203
	NSValidate = "http://jabber.org/protocol/xdata-validate" // XEP-0122
)

// IDLen is the length of the IDs NewID returns.
const IDLen = 26

// crockford is Crockford's base 32 alphabet in lower case: its characters
// are in ASCII order, so IDs compare as their values do.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// IDSource makes archive IDs (XEP-0313 §3, §6.2), which are also stanza
// IDs (XEP-0359 §2.1): 128 bits, the first 48 the time in milliseconds
// since the Unix epoch and the other 80 random, written as IDLen
// characters of Crockford's base 32 in lower case. They are unique (two
// IDs of the same millisecond collide with probability 2^-80), never
// reused, unpredictable (XEP-0359 §3) and roughly ordered by time, which
// keeps an index on them compact; they say nothing about an archive but
// when the message came, which its delay stamp says anyway.
//
// The zero IDSource uses the clock and crypto/rand; tests set Now and
// Rand for deterministic IDs. An IDSource is safe for concurrent use if
// its Now and Rand are.
type IDSource struct {
	Now  func() time.Time
	Rand io.Reader
}

// NewID returns a new ID.
func (s IDSource) NewID() string {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now().UnixMilli())<<16)
	if s.Rand != nil {
		if _, err := io.ReadFull(s.Rand, b[6:]); err != nil {
			panic("mam: reading random bits: " + err.Error())
		}
	} else {
		rand.Read(b[6:]) // never fails (crypto/rand)
	}
	return encodeID(b)
}

// NewID returns a new ID from the clock and crypto/rand.
func NewID() string { return IDSource{}.NewID() }

// encodeID writes the 128 bits of b as 26 base 32 digits, most
// significant first (the first digit carries the top 3 bits).
func encodeID(b [16]byte) string {
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var out [IDLen]byte
	for i := IDLen - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// FormatStamp writes t as a XEP-0082 DateTime in UTC with milliseconds,
// the precision archives keep (e.g. 2010-07-10T23:08:25.123Z).
func FormatStamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
