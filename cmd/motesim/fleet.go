package main

import (
	"math"
	"math/rand/v2"
	"time"
)

// The fleet preset: vehicles driving laps of a ring road, publishing their
// position, speed and fuel level. Their connections drop in tunnels (see
// device.go); the readings taken meanwhile are published once they resume.

// route is the ring road: its corners in km east and north of
// routeCenter, driven in this order and from the last back to the first.
// routeCenter is made up: the road circles Null Island (0°N 0°E), where
// there is no road at all.
var (
	routeCenter = [2]float64{0, 0} // latitude, longitude
	route       = [][2]float64{{0, 4}, {3, 3}, {4, 0}, {3, -3}, {0, -4}, {-3, -3}, {-4, 0}, {-3, 3}}
	routeLength = func() float64 {
		var l float64
		for i := range route {
			l += segmentLength(i)
		}
		return l
	}()
)

// kmPerDegree is the length of one degree of latitude (and of longitude
// at the equator).
const kmPerDegree = 111.32

// Driving and fuel.
const (
	maxSpeed      = 130  // km/h
	speedRevert   = 0.2  // share of the gap to the cruising speed closed per reading
	speedStep     = 3    // km/h, standard deviation of a speed change
	fuelPerKm     = 1.0  // % of the tank per km: a demo tank that lasts 100 km
	refuelAt      = 5.0  // % at which the vehicle stops to refuel
	fullTank      = 100. // %
	minStartFuel  = 20.0 // % in the tank at the start, at least
	minCruise     = 40.0 // km/h, the slowest driver's cruising speed
	maxCruise     = 90.0 // km/h, the fastest driver's
	positionDecim = 6    // decimals of latitude and longitude (about 0.1 m)
)

// segmentLength returns the length in km of the road from corner i to the
// next.
func segmentLength(i int) float64 {
	a, b := route[i], route[(i+1)%len(route)]
	return math.Hypot(b[0]-a[0], b[1]-a[1])
}

// position returns the latitude and longitude of the point odo km along
// the road from the first corner.
func position(odo float64) (lat, lon float64) {
	odo = math.Mod(odo, routeLength)
	if odo < 0 {
		odo += routeLength
	}
	i := 0
	for ; i < len(route)-1; i++ {
		l := segmentLength(i)
		if odo < l {
			break
		}
		odo -= l
	}
	a, b := route[i], route[(i+1)%len(route)]
	f := min(1, odo/segmentLength(i))
	x, y := a[0]+f*(b[0]-a[0]), a[1]+f*(b[1]-a[1])
	lat = routeCenter[0] + y/kmPerDegree
	lon = routeCenter[1] + x/(kmPerDegree*math.Cos(lat*math.Pi/180))
	return lat, lon
}

// vehicle is the sensor of one vehicle.
type vehicle struct {
	rng    *rand.Rand
	cruise float64   // km/h the driver likes
	speed  float64   // km/h
	fuel   float64   // % of the tank
	odo    float64   // km along the road from the first corner
	last   time.Time // of the previous reading; zero before the first
}

var _ sensor = (*vehicle)(nil)

// newFleet returns a vehicle somewhere on the road, with a driver's
// cruising speed and a part-full tank drawn from rng.
func newFleet(_ int, rng *rand.Rand, _ *Config) sensor {
	v := &vehicle{
		rng:    rng,
		cruise: minCruise + rng.Float64()*(maxCruise-minCruise),
		fuel:   minStartFuel + rng.Float64()*(fullTank-minStartFuel),
		odo:    rng.Float64() * routeLength,
	}
	v.speed = v.cruise
	return v
}

// next implements sensor: the vehicle drives at its current speed for the
// time since the previous reading and burns fuel for the distance; a
// vehicle whose tank was at refuelAt or below has refuelled instead and
// stands at the pump.
func (v *vehicle) next(now time.Time) reading {
	var hours float64
	if !v.last.IsZero() && now.After(v.last) {
		hours = now.Sub(v.last).Hours()
	}
	v.last = now
	if v.fuel <= refuelAt {
		v.fuel, v.speed = fullTank, 0
	} else {
		v.speed = clamp(v.speed+speedRevert*(v.cruise-v.speed)+speedStep*v.rng.NormFloat64(), 0, maxSpeed)
		d := v.speed * hours
		v.odo = math.Mod(v.odo+d, routeLength)
		v.fuel = max(0, v.fuel-d*fuelPerKm)
	}
	lat, lon := position(v.odo)
	return reading{at: now, fields: []field{
		{name: "latitude", unit: "°", value: roundTo(lat, positionDecim), decimals: positionDecim},
		{name: "longitude", unit: "°", value: roundTo(lon, positionDecim), decimals: positionDecim},
		{name: "speed", unit: "km/h", value: roundTo(v.speed, 1), decimals: 1},
		{name: "fuel", unit: "%", value: roundTo(v.fuel, 1), decimals: 1},
	}}
}
