package mam_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/mam"
)

// TestIDSourceDeterministic: the time goes into the first 48 bits and the
// random bytes into the other 80, most significant digit first.
func TestIDSourceDeterministic(t *testing.T) {
	tests := []struct {
		ms   int64
		rand []byte
		want string
	}{
		{0, make([]byte, 10), "00000000000000000000000000"},
		{1, make([]byte, 10), "0000000001" + "0000000000000000"},
		{0, bytes.Repeat([]byte{0xff}, 10), "000000000" + "0zzzzzzzzzzzzzzzz"},
		{1<<48 - 1, bytes.Repeat([]byte{0xff}, 10), "7zzzzzzzzzzzzzzzzzzzzzzzzz"},
		{1_700_000_000_000, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, ""},
	}
	for i, tc := range tests {
		src := mam.IDSource{
			Now:  func() time.Time { return time.UnixMilli(tc.ms) },
			Rand: bytes.NewReader(tc.rand),
		}
		got := src.NewID()
		if len(got) != mam.IDLen {
			t.Fatalf("%d: %q has length %d", i, got, len(got))
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("%d: got %q, want %q", i, got, tc.want)
		}
	}
}

// TestNewIDOrdered: IDs of later milliseconds sort after earlier ones,
// whatever their random bits, and IDs are unique.
func TestNewIDOrdered(t *testing.T) {
	ms := int64(1_700_000_000_000)
	var prev string
	seen := map[string]bool{}
	for i := range 1000 {
		src := mam.IDSource{Now: func() time.Time { return time.UnixMilli(ms + int64(i)) }}
		id := src.NewID()
		if id <= prev {
			t.Fatalf("%q after %q", id, prev)
		}
		if strings.Trim(id, "0123456789abcdefghjkmnpqrstvwxyz") != "" {
			t.Fatalf("%q: not lower-case Crockford base 32", id)
		}
		prev = id
		seen[mam.NewID()] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct IDs of 1000", len(seen))
	}
}

func TestParseDateTime(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return v.UTC()
	}
	tests := []struct {
		in   string
		want time.Time // zero: must fail
	}{
		{"1969-07-21T02:56:15Z", utc("1969-07-21T02:56:15Z")},      // XEP-0082 example 3
		{"1969-07-20T21:56:15-05:00", utc("1969-07-21T02:56:15Z")}, // example 4
		{"2010-06-07T00:00:00Z", utc("2010-06-07T00:00:00Z")},
		{"2010-07-07T13:23:54.123Z", utc("2010-07-07T13:23:54.123Z")},
		{"2010-07-07T13:23:54.1234567891234Z", utc("2010-07-07T13:23:54.123456789Z")},
		{" 2010-07-07T13:23:54+14:00\n", utc("2010-07-06T23:23:54Z")},
		{"2000-02-29T12:00:00Z", utc("2000-02-29T12:00:00Z")},
		{"2010-12-31T24:00:00Z", utc("2011-01-01T00:00:00Z")},
		{"0001-01-01T00:00:01Z", utc("0001-01-01T00:00:01Z")},
		{"9999-12-31T23:59:59.999Z", utc("9999-12-31T23:59:59.999Z")},
		{"", time.Time{}},
		{"2010-07-07", time.Time{}},                // a Date, not a DateTime
		{"2010-07-07T13:23:54", time.Time{}},       // no time zone
		{"2010-07-07t13:23:54Z", time.Time{}},      // lower-case t
		{"2010-07-07T13:23:54z", time.Time{}},      // lower-case z
		{"2010-07-07 13:23:54Z", time.Time{}},      // space
		{"20100707T13:23:54Z", time.Time{}},        // XEP-0091 legacy
		{"2010-07-07T13:23:54.Z", time.Time{}},     // empty fraction
		{"2010-07-07T13:23Z", time.Time{}},         // no seconds
		{"2010-13-07T13:23:54Z", time.Time{}},      // month
		{"2010-00-07T13:23:54Z", time.Time{}},      // month
		{"2001-02-29T13:23:54Z", time.Time{}},      // not a leap year
		{"2010-07-32T13:23:54Z", time.Time{}},      // day
		{"2010-07-07T25:00:00Z", time.Time{}},      // hour
		{"2010-07-07T24:00:01Z", time.Time{}},      // only 24:00:00
		{"2010-07-07T13:60:54Z", time.Time{}},      // minute
		{"2010-07-07T13:23:60Z", time.Time{}},      // no leap seconds
		{"2010-07-07T13:23:54+15:00", time.Time{}}, // offset
		{"2010-07-07T13:23:54+14:01", time.Time{}}, // offset
		{"2010-07-07T13:23:54+0100", time.Time{}},  // offset without colon
		{"0000-07-07T13:23:54Z", time.Time{}},      // year 0
		{"10000-07-07T13:23:54Z", time.Time{}},     // five digits
		{"-2010-07-07T13:23:54Z", time.Time{}},     // negative year
		{"9999-12-31T23:59:59-01:00", time.Time{}}, // year 10000 in UTC
		{"2010-07-07T13:23:54Z ", utc("2010-07-07T13:23:54Z")},
		{"2010-07-07T13:23:54ZZ", time.Time{}},
		{"2010-07-07T13:23:54." + strings.Repeat("1", 33) + "Z", time.Time{}},
	}
	for i, tc := range tests {
		got, err := mam.ParseDateTime(tc.in)
		if tc.want.IsZero() {
			if err == nil {
				t.Errorf("%d: %q: accepted as %v", i, tc.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%d: %q: got %v, %v; want %v", i, tc.in, got, err, tc.want)
		}
	}
}

func TestFormatStamp(t *testing.T) {
	ts := time.Date(2010, 7, 10, 23, 8, 25, 123456789, time.FixedZone("", 3600))
	if got := mam.FormatStamp(ts); got != "2010-07-10T22:08:25.123Z" {
		t.Fatal(got)
	}
}
