package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/toolrun"
)

// stats are the counters every device of a run reports to, and the run's
// progress output.
type stats struct {
	online         atomic.Int64 // devices with a live connection now
	logins         atomic.Int64 // new sessions (not resumptions)
	readings       atomic.Int64 // reading items whose publish the server confirmed
	alarms         atomic.Int64 // alarm items whose publish the server confirmed
	publishErrors  atomic.Int64 // publishes answered with an error or not at all
	dropped        atomic.Int64 // items dropped unpublished: too many waiting while offline
	reads          atomic.Int64 // XEP-0323 read-outs answered with fields
	readsRejected  atomic.Int64 // XEP-0323 requests answered with an error
	tunnels        atomic.Int64 // connections dropped on purpose (fleet tunnels)
	reconnects     atomic.Int64 // sessions re-established after a connection ended
	resumes        atomic.Int64 // of which by XEP-0198 resumption
	resumeFailures atomic.Int64 // resumptions the server refused (a new session followed)
	errors         atomic.Int64 // every error: failed logins, lost connections, publish errors, timeouts
	logged         atomic.Int64 // errors described on the progress output

	toolrun.Progress
}

// maxLoggedErrors is how many errors a run describes on the progress
// output; later ones are only counted.
const maxLoggedErrors = 10

// fail counts one error and describes the first few.
func (s *stats) fail(who, what string, err error) {
	s.errors.Add(1)
	if n := s.logged.Add(1); n <= maxLoggedErrors {
		s.Printf("motesim: %s: %s: %v\n", who, what, err)
		if n == maxLoggedErrors {
			s.Printf("motesim: further errors are only counted\n")
		}
	}
}

// line is the progress line after elapsed.
func (s *stats) line(elapsed time.Duration, devices int) string {
	return fmt.Sprintf("motesim %v: %d/%d online, %d readings, %d alarms, %d reads, %d reconnects (%d resumed), %d tunnels, %d errors",
		elapsed.Truncate(time.Second), s.online.Load(), devices, s.readings.Load(), s.alarms.Load(), s.reads.Load(),
		s.reconnects.Load(), s.resumes.Load(), s.tunnels.Load(), s.errors.Load())
}

// Result is the outcome of a run, one JSON line (like moteload's).
type Result struct {
	Scenario string  `json:"scenario"` // "motesim"
	Preset   string  `json:"preset"`
	Devices  int     `json:"devices"`
	RateS    float64 `json:"rate_s"`  // seconds between two readings of a device
	Seconds  float64 `json:"seconds"` // length of the run
	// Online counts the devices online at the end, before they closed
	// their streams; Logins the new sessions (not resumptions).
	Online int64 `json:"online"`
	Logins int64 `json:"logins"`
	// Readings and Alarms count the items whose publish the server
	// confirmed with a result; ReadingsPerSec is Readings per second of
	// the run.
	Readings       int64   `json:"readings"`
	Alarms         int64   `json:"alarms"`
	ReadingsPerSec float64 `json:"readings_per_sec"`
	// Reads counts the XEP-0323 read-outs answered with fields and
	// ReadsRejected the requests answered with an error.
	Reads         int64 `json:"reads"`
	ReadsRejected int64 `json:"reads_rejected"`
	// Tunnels counts the connections dropped on purpose; Reconnects the
	// sessions re-established after a connection ended, Resumes those of
	// them resumed (XEP-0198), ResumeFailures the resumptions refused.
	Tunnels        int64 `json:"tunnels"`
	Reconnects     int64 `json:"reconnects"`
	Resumes        int64 `json:"resumes"`
	ResumeFailures int64 `json:"resume_failures"`
	// PublishErrors counts publishes answered with an error or not within
	// publishTimeout, Dropped the items dropped unpublished while a device
	// was offline too long; Errors counts every error of the run.
	PublishErrors int64 `json:"publish_errors"`
	Dropped       int64 `json:"dropped"`
	Errors        int64 `json:"errors"`
}

// result returns the counters as a Result.
func (s *stats) result(cfg *Config, elapsed time.Duration, online int64) *Result {
	return &Result{
		Scenario:       "motesim",
		Preset:         cfg.Preset,
		Devices:        len(cfg.Devices),
		RateS:          toolrun.Round3(cfg.Rate.Seconds()),
		Seconds:        toolrun.Round3(elapsed.Seconds()),
		Online:         online,
		Logins:         s.logins.Load(),
		Readings:       s.readings.Load(),
		Alarms:         s.alarms.Load(),
		ReadingsPerSec: toolrun.Ratio(float64(s.readings.Load()), elapsed.Seconds()),
		Reads:          s.reads.Load(),
		ReadsRejected:  s.readsRejected.Load(),
		Tunnels:        s.tunnels.Load(),
		Reconnects:     s.reconnects.Load(),
		Resumes:        s.resumes.Load(),
		ResumeFailures: s.resumeFailures.Load(),
		PublishErrors:  s.publishErrors.Load(),
		Dropped:        s.dropped.Load(),
		Errors:         s.errors.Load(),
	}
}
