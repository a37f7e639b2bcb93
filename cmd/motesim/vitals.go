package main

import (
	"math/rand/v2"
	"time"
)

// The vitals preset: bedside monitors publishing heart rate, oxygen
// saturation and blood pressure.
//
// Each value walks randomly around the patient's resting value and stays in
// its normal range. With probability Config.AlarmRate per reading (when no
// value is out of range already) one value jumps out of its range, as in a
// tachycardia or a desaturation, and drifts back over the next readings.
// A reading in which a value leaves its range carries an alarm for it.

// vitalSign is one monitored value.
type vitalSign struct {
	name, unit  string
	mean        float64      // the patient's resting value, which the walk returns to
	step        float64      // standard deviation of one step of the walk
	low, high   float64      // the normal range
	floor, ceil float64      // what the sensor can report at all
	excursions  [][2]float64 // ranges an excursion jumps into, outside [low, high]
	value       float64      // the current value, unrounded
}

// reported is the value as published: rounded to whole units.
func (s *vitalSign) reported() float64 { return roundTo(s.value, 0) }

// inRange reports whether the reported value is in the normal range.
func (s *vitalSign) inRange() bool {
	v := s.reported()
	return v >= s.low && v <= s.high
}

// Walk parameters: the share of the distance to the resting value covered
// per reading, in range and during an excursion.
const (
	vitalsRevert    = 0.1
	excursionRevert = 0.3
)

// Indexes of the signs in vitals.signs.
const (
	heartRate = iota
	spo2
	systolic
	diastolic
)

// minPulsePressure is the least difference kept between systolic and
// diastolic pressure.
const minPulsePressure = 20

// vitals is the sensor of one bedside monitor.
type vitals struct {
	rng       *rand.Rand
	alarmRate float64
	signs     []vitalSign
}

var _ sensor = (*vitals)(nil)

// newVitals returns a monitor whose patient has resting values drawn
// around the population's (heart rate 72 bpm, SpO2 97 %, 120/80 mmHg).
func newVitals(_ int, rng *rand.Rand, cfg *Config) sensor {
	around := func(mean, sd, lo, hi float64) float64 { return clamp(mean+sd*rng.NormFloat64(), lo, hi) }
	v := &vitals{rng: rng, alarmRate: cfg.AlarmRate, signs: []vitalSign{
		heartRate: {name: "heartRate", unit: "bpm", mean: around(72, 6, 60, 90), step: 1.5,
			low: 50, high: 120, floor: 20, ceil: 250, excursions: [][2]float64{{125, 160}, {35, 45}}},
		spo2: {name: "spo2", unit: "%", mean: around(97, 1, 95, 99), step: 0.4,
			low: 90, high: 100, floor: 50, ceil: 100, excursions: [][2]float64{{80, 89}}},
		systolic: {name: "bloodPressureSystolic", unit: "mmHg", mean: around(120, 8, 105, 135), step: 1.5,
			low: 90, high: 140, floor: 40, ceil: 250, excursions: [][2]float64{{150, 190}, {70, 85}}},
		diastolic: {name: "bloodPressureDiastolic", unit: "mmHg", mean: around(80, 5, 70, 85), step: 1,
			low: 60, high: 90, floor: 20, ceil: 150, excursions: [][2]float64{{95, 115}, {45, 55}}},
	}}
	for i := range v.signs {
		v.signs[i].value = v.signs[i].mean
	}
	return v
}

// next implements sensor.
func (v *vitals) next(now time.Time) reading {
	was := make([]bool, len(v.signs))
	anyOut := false
	for i := range v.signs {
		s := &v.signs[i]
		was[i] = s.inRange()
		if was[i] {
			s.value += vitalsRevert*(s.mean-s.value) + s.step*v.rng.NormFloat64()
			s.value = clamp(s.value, s.low, s.high)
		} else {
			s.value += excursionRevert*(s.mean-s.value) + s.step*v.rng.NormFloat64()
		}
		if !s.inRange() {
			anyOut = true
		}
	}
	if !anyOut && v.alarmRate > 0 && v.rng.Float64() < v.alarmRate {
		s := &v.signs[v.rng.IntN(len(v.signs))]
		r := s.excursions[v.rng.IntN(len(s.excursions))]
		s.value = r[0] + v.rng.Float64()*(r[1]-r[0])
	}
	sys, dia := &v.signs[systolic], &v.signs[diastolic]
	dia.value = min(dia.value, sys.value-minPulsePressure)
	r := reading{at: now, fields: make([]field, len(v.signs))}
	for i := range v.signs {
		s := &v.signs[i]
		s.value = clamp(s.value, s.floor, s.ceil)
		r.fields[i] = field{name: s.name, unit: s.unit, value: s.reported()}
		if was[i] && !s.inRange() {
			r.alarms = append(r.alarms, alarm{field: s.name, value: s.reported(), low: s.low, high: s.high})
		}
	}
	return r
}
