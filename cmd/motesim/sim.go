package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/toolrun"
)

// Sim is a simulation: its devices and their counters.
type Sim struct {
	cfg     Config
	preset  preset
	st      *stats
	devices []*device
	byName  map[string]*device
	slots   chan struct{} // logins in flight
	// onlineAtEnd counts the devices online when the run ended.
	onlineAtEnd atomic.Int64
}

// errNoSessions is returned when no device logged in during the run.
var errNoSessions = errors.New("motesim: no device logged in")

// newSim checks cfg and prepares its devices.
func newSim(cfg Config) (*Sim, error) {
	cfg = cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:    cfg,
		preset: presets[cfg.Preset],
		st:     &stats{Progress: toolrun.Progress{Out: cfg.Progress, Quiet: cfg.Quiet}},
		byName: make(map[string]*device, len(cfg.Devices)),
		slots:  make(chan struct{}, cfg.Concurrency),
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	for i, dev := range cfg.Devices {
		d := newDevice(s, i, dev, seed)
		s.devices = append(s.devices, d)
		s.byName[d.name] = d
	}
	return s, nil
}

// Run runs the simulation until ctx ends or the configured duration
// passes; every device then closes its stream. The devices start at
// random within the first reading interval (at most maxStagger), with at
// most Concurrency logins in flight.
//
// The result is returned even with an error, which says that no device
// ever logged in.
func (s *Sim) Run(ctx context.Context) (*Result, error) {
	if s.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Duration)
		defer cancel()
	}
	stop := s.st.Ticker(func(elapsed time.Duration) string { return s.st.line(elapsed, len(s.devices)) })
	start := time.Now()
	spread := min(s.cfg.Rate, maxStagger)
	var wg sync.WaitGroup
	if s.cfg.Drop != "" {
		t := time.AfterFunc(s.cfg.DropAfter, func() {
			// Away for longer than any run: it does not come back.
			if !s.dropConnection(s.cfg.Drop, 100*365*24*time.Hour) {
				s.st.Printf("motesim: -drop %s: the device is not online\n", s.cfg.Drop)
			}
		})
		defer t.Stop()
	}
	for _, d := range s.devices {
		offset := time.Duration(d.rng.Float64() * float64(spread))
		wg.Go(func() { d.run(ctx, offset) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	if !s.cfg.Quiet {
		s.st.Printf("%s (done)\n", s.st.line(elapsed, len(s.devices)))
	}
	res := s.st.result(&s.cfg, elapsed, s.onlineAtEnd.Load())
	if res.Logins == 0 {
		return res, errNoSessions
	}
	return res, nil
}

// loginLimited is login within the limit of logins in flight.
func (s *Sim) loginLimited(ctx context.Context, d *device, prev *resumeFrom) (*session, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.slots }()
	return s.login(ctx, d, prev)
}

// dropConnection sends the device called name into a tunnel for dur, if
// it is online then (the tests' way to force a tunnel).
func (s *Sim) dropConnection(name string, dur time.Duration) bool {
	d := s.byName[name]
	if d == nil {
		return false
	}
	select {
	case d.tunnel <- dur:
		return true
	default:
		return false
	}
}
