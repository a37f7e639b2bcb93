package main

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/mote-xmpp/mote/stanza"
)

// NSSim is the namespace of the simulator's own payloads: the alarm item a
// vitals device publishes when a value leaves its normal range,
//
//	<alarm xmlns='urn:mote:sim:0' field='heartRate' value='142' low='50' high='120'
//	       timestamp='2026-11-24T15:00:00Z'/>
//
// field names the XEP-0323 field, value is the reading, low and high the
// normal range it left, timestamp the time of the reading. The trailing 0
// is the version of this format.
const NSSim = "urn:mote:sim:0"

// sensor produces one device's readings.
//
// next is called by the device's loop goroutine with the device's lock
// held; a sensor needs no lock of its own.
type sensor interface {
	// next takes the measurement at now (later than the previous call's)
	// and returns it with the alarms it raised.
	next(now time.Time) reading
}

// reading is one measurement of every field of a device.
type reading struct {
	at     time.Time
	fields []field
	alarms []alarm // fields that left their normal range with this reading
}

// field is one numeric XEP-0323 field value (XEP-0323 §5.4, the numeric
// element): a name, a value with a fixed number of decimals, and a unit.
type field struct {
	name     string
	unit     string
	value    float64
	decimals int
}

// formatted returns the value as it goes on the wire: with the field's
// decimals, which XEP-0323 §5.4 asks every party to keep.
func (f field) formatted() string { return strconv.FormatFloat(f.value, 'f', f.decimals, 64) }

// alarm says that field left its normal range [low, high] with value.
type alarm struct {
	field     string
	value     float64
	low, high float64
	decimals  int
}

// element returns the alarm payload (see NSSim) of a reading taken at at.
func (a alarm) element(at time.Time) *stanza.Element {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', a.decimals, 64) }
	return stanza.NewElement(NSSim, "alarm",
		"field", a.field, "value", f(a.value), "low", f(a.low), "high", f(a.high),
		"timestamp", formatTime(at))
}

// preset is a kind of simulated device.
type preset struct {
	// newSensor returns the sensor of device number i (0-based); rng is the
	// device's own source, used only by the sensor's calls.
	newSensor func(i int, rng *rand.Rand, cfg *Config) sensor
	// tunnels says whether the devices drive through tunnels, dropping their
	// connections (-tunnel-rate applies).
	tunnels bool
}

// presets are the kinds of devices, by the name -preset takes.
var presets = map[string]preset{
	"vitals": {newSensor: newVitals},
	"fleet":  {newSensor: newFleet, tunnels: true},
}

// formatTime formats t as an xs:dateTime in UTC with milliseconds when
// there are any (XEP-0323 §6.1: timestamps are xs:dateTime, here with
// the zone).
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

// clamp returns v limited to [lo, hi].
func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }

// roundTo rounds v to the given number of decimals.
func roundTo(v float64, decimals int) float64 {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r
}
