package main

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// t0 is the start of the tests' simulated time.
var t0 = time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)

// vitalsRun takes n readings of a monitor seeded with seed, a second
// apart.
func vitalsRun(seed uint64, alarmRate float64, n int) []reading {
	s := newVitals(0, rand.New(rand.NewPCG(seed, 1)), &Config{AlarmRate: alarmRate})
	out := make([]reading, n)
	for i := range out {
		out[i] = s.next(t0.Add(time.Duration(i) * time.Second))
	}
	return out
}

// normalRanges are the vitals' normal ranges, by field.
var normalRanges = map[string][2]float64{
	"heartRate":              {50, 120},
	"spo2":                   {90, 100},
	"bloodPressureSystolic":  {90, 140},
	"bloodPressureDiastolic": {60, 90},
}

func inNormalRange(f field) bool {
	r := normalRanges[f.name]
	return f.value >= r[0] && f.value <= r[1]
}

func TestVitalsStayInRange(t *testing.T) {
	for seed := range uint64(5) {
		rs := vitalsRun(seed, 0, 20000)
		sums := map[string]float64{}
		for i, r := range rs {
			if len(r.alarms) != 0 {
				t.Fatalf("seed %d reading %d: alarms %v without an alarm rate", seed, i, r.alarms)
			}
			if len(r.fields) != 4 {
				t.Fatalf("seed %d reading %d: %d fields", seed, i, len(r.fields))
			}
			for _, f := range r.fields {
				if !inNormalRange(f) {
					t.Fatalf("seed %d reading %d: %s = %v out of range", seed, i, f.name, f.value)
				}
				if f.value != math.Round(f.value) || f.decimals != 0 {
					t.Fatalf("seed %d reading %d: %s = %v, want whole units", seed, i, f.name, f.value)
				}
				sums[f.name] += f.value
			}
			if sys, dia := r.fields[systolic].value, r.fields[diastolic].value; sys-dia < minPulsePressure {
				t.Fatalf("seed %d reading %d: %v/%v mmHg", seed, i, sys, dia)
			}
		}
		// The walk stays around the population's resting values.
		for name, want := range map[string][2]float64{"heartRate": {60, 90}, "spo2": {94, 100},
			"bloodPressureSystolic": {100, 140}, "bloodPressureDiastolic": {65, 88}} {
			if m := sums[name] / float64(len(rs)); m < want[0] || m > want[1] {
				t.Errorf("seed %d: mean %s %.1f, want in %v", seed, name, m, want)
			}
		}
	}
}

// TestVitalsAlarms checks that a reading carries an alarm exactly for the
// fields that left their range with it, with the reading's value, and
// that alarms come at about the configured rate.
func TestVitalsAlarms(t *testing.T) {
	const n, rate = 20000, 0.02
	rs := vitalsRun(7, rate, n)
	alarms := 0
	for i, r := range rs {
		byField := map[string]alarm{}
		for _, a := range r.alarms {
			byField[a.field] = a
		}
		alarms += len(r.alarms)
		for j, f := range r.fields {
			wasIn := i == 0 || inNormalRange(rs[i-1].fields[j])
			a, raised := byField[f.name]
			if want := wasIn && !inNormalRange(f); raised != want {
				t.Fatalf("reading %d: %s %v → %v: alarm %v, want %v", i, f.name, rs[max(i-1, 0)].fields[j].value, f.value, raised, want)
			}
			if raised {
				rg := normalRanges[f.name]
				if a.value != f.value || a.low != rg[0] || a.high != rg[1] {
					t.Fatalf("reading %d: alarm %+v for %s = %v, range %v", i, a, f.name, f.value, rg)
				}
			}
		}
	}
	// An excursion lasts a few readings, during which no other starts; a low
	// systolic excursion can drag the diastolic value out of range too.
	if lo, hi := int(n*rate*0.6), int(n*rate*1.5); alarms < lo || alarms > hi {
		t.Errorf("%d alarms in %d readings at rate %v, want %d..%d", alarms, n, rate, lo, hi)
	}
	// Excursions end: out-of-range values do not last.
	run := 0
	for i, r := range rs {
		out := false
		for _, f := range r.fields {
			out = out || !inNormalRange(f)
		}
		if run = map[bool]int{true: run + 1, false: 0}[out]; run > 10 {
			t.Fatalf("reading %d: out of range for %d readings", i, run)
		}
	}
}

func TestVitalsFirstAlarm(t *testing.T) {
	r := vitalsRun(3, 1, 1)[0]
	if len(r.alarms) != 1 {
		t.Fatalf("alarms %v, want one with rate 1", r.alarms)
	}
	a := r.alarms[0]
	got := string(a.element(t0).AppendXML(nil, ""))
	want := `<alarm xmlns="urn:mote:sim:0" field="` + a.field + `" value="` + field{value: a.value}.formatted() +
		`" low="` + field{value: a.low}.formatted() + `" high="` + field{value: a.high}.formatted() + `" timestamp="2026-11-24T15:00:00Z"/>`
	if got != want {
		t.Errorf("alarm payload\n got %s\nwant %s", got, want)
	}
}

// vehicleRun takes n readings of a vehicle seeded with seed, step apart.
func vehicleRun(seed uint64, step time.Duration, n int) []reading {
	s := newFleet(0, rand.New(rand.NewPCG(seed, 1)), &Config{})
	out := make([]reading, n)
	for i := range out {
		out[i] = s.next(t0.Add(time.Duration(i) * step))
	}
	return out
}

// haversine returns the distance in km between two points on a sphere of
// the Earth's mean radius.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * 6371.0088 * math.Asin(math.Sqrt(a))
}

func TestRoute(t *testing.T) {
	for i, tt := range []struct {
		odo      float64
		lat, lon float64
	}{
		{0, 4 / kmPerDegree, 0},
		{routeLength, 4 / kmPerDegree, 0},
		{-routeLength, 4 / kmPerDegree, 0},
		{segmentLength(0), 3 / kmPerDegree, 3 / kmPerDegree},
		{segmentLength(0) / 2, 3.5 / kmPerDegree, 1.5 / kmPerDegree},
		{routeLength - segmentLength(len(route)-1), 3 / kmPerDegree, -3 / kmPerDegree},
	} {
		lat, lon := position(tt.odo)
		if math.Abs(lat-tt.lat) > 1e-7 || math.Abs(lon-tt.lon) > 1e-7 { // about 1 cm
			t.Errorf("%d: position(%v) = %v, %v, want %v, %v", i, tt.odo, lat, lon, tt.lat, tt.lon)
		}
	}
	if want := 8 * math.Hypot(3, 1); math.Abs(routeLength-want) > 1e-9 {
		t.Errorf("route length %v, want %v", routeLength, want)
	}
}

// TestFleetDriving checks that a vehicle stays on the road, covers no
// more than its speed allows, and drives laps.
func TestFleetDriving(t *testing.T) {
	const step = time.Second
	rs := vehicleRun(11, step, 20000)
	maxDeg := 4.0/kmPerDegree + 1e-6
	var total float64
	for i, r := range rs {
		lat, lon, speed := r.fields[0].value, r.fields[1].value, r.fields[2].value
		if math.Abs(lat) > maxDeg || math.Abs(lon) > maxDeg {
			t.Fatalf("reading %d: %v, %v off the map", i, lat, lon)
		}
		if speed < 0 || speed > maxSpeed {
			t.Fatalf("reading %d: speed %v", i, speed)
		}
		if r.fields[0].name != "latitude" || r.fields[0].unit != "°" || r.fields[0].decimals != 6 ||
			r.fields[2].name != "speed" || r.fields[2].unit != "km/h" || r.fields[3].name != "fuel" || r.fields[3].unit != "%" {
			t.Fatalf("reading %d: fields %+v", i, r.fields)
		}
		if i == 0 {
			continue
		}
		d := haversine(rs[i-1].fields[0].value, rs[i-1].fields[1].value, lat, lon)
		// The straight line is no longer than the road driven at the
		// reported speed (plus rounding to 6 decimals).
		if allowed := speed*step.Hours() + 0.001; d > allowed {
			t.Fatalf("reading %d: moved %.4f km at %v km/h in %v", i, d, speed, step)
		}
		total += d
	}
	if laps := total / routeLength; laps < 5 {
		t.Errorf("%.1f laps in %v, want several", laps, step*time.Duration(len(rs)))
	}
}

// TestFleetFuel checks that the fuel level only falls, and that a vehicle
// at refuelAt or below stops at the pump and comes back full.
func TestFleetFuel(t *testing.T) {
	rs := vehicleRun(5, time.Minute, 2000) // about 1 km, 1 % a reading
	refuels := 0
	for i := 1; i < len(rs); i++ {
		prev, cur := rs[i-1].fields[3].value, rs[i].fields[3].value
		// A reported level below refuelAt is below it unrounded too.
		if cur > prev || prev < refuelAt {
			if prev > refuelAt || cur != fullTank || rs[i].fields[2].value != 0 {
				t.Fatalf("reading %d: fuel %v → %v at speed %v", i, prev, cur, rs[i].fields[2].value)
			}
			refuels++
		} else if cur < 0 {
			t.Fatalf("reading %d: fuel %v", i, cur)
		}
	}
	if refuels < 10 {
		t.Errorf("%d refuels in %d readings, want many", refuels, len(rs))
	}
}
