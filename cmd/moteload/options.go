package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TLS modes of Options.TLS.
const (
	TLSStartTLS = "starttls" // RFC 6120 §5 on the c2s port
	TLSDirect   = "direct"   // XEP-0368 direct TLS
	TLSNone     = "none"     // plain TCP (the server must allow it)
)

// SASL mechanisms of Options.Mech.
const (
	MechSCRAMSHA1   = "SCRAM-SHA-1"
	MechSCRAMSHA256 = "SCRAM-SHA-256"
	MechPLAIN       = "PLAIN"
)

// loginTimeout bounds one login from dial to bound session.
const loginTimeout = 30 * time.Second

// closeWait bounds the wait for the server's closing tag at the end.
const closeWait = 2 * time.Second

// Options are the settings every scenario shares. The zero value of a field
// means its default (see Defaults).
type Options struct {
	Addr        string   // server address, host:port
	Domain      string   // XMPP domain (the stream's to and the TLS server name)
	TLS         string   // TLSStartTLS, TLSDirect or TLSNone
	Mech        string   // MechSCRAMSHA1, MechSCRAMSHA256 or MechPLAIN
	UserPrefix  string   // accounts are UserPrefix1..UserPrefixN
	Password    string   // the same for every account
	Resource    string   // resource to bind; "" lets the server choose
	Priority    *int     // presence priority, nil for none
	NoPresence  bool     // log in without sending initial presence
	PID         int      // server process for CPU and RSS figures; 0 for none
	Label       string   // server name echoed into the result
	SourceIPs   []net.IP // local addresses for outgoing connections, round-robin
	Concurrency int      // logins in flight
	// PostQuantum offers Go's default hybrid key exchange
	// (X25519MLKEM768). Off by default: the client then offers classic
	// X25519 and P-256 only, like most device TLS stacks and like the
	// OpenSSL builds Prosody and ejabberd use, so every server performs
	// the same handshake.
	PostQuantum bool
	// Progress receives one line per second (unless Quiet) and the first
	// errors; nil means silence.
	Progress io.Writer
	Quiet    bool
}

// Defaults returns o with empty fields set to their defaults.
func (o Options) Defaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:5222"
	}
	if o.Domain == "" {
		o.Domain = "localhost"
	}
	if o.TLS == "" {
		o.TLS = TLSStartTLS
	}
	if o.Mech == "" {
		o.Mech = MechSCRAMSHA1
	}
	if o.UserPrefix == "" {
		o.UserPrefix = "user"
	}
	if o.Password == "" {
		o.Password = "password"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 100
	}
	return o
}

// Validate reports a setting the scenarios cannot use.
func (o *Options) Validate() error {
	switch o.TLS {
	case TLSStartTLS, TLSDirect, TLSNone:
	default:
		return fmt.Errorf("moteload: -tls must be starttls, direct or none, not %q", o.TLS)
	}
	switch o.Mech {
	case MechSCRAMSHA1, MechSCRAMSHA256, MechPLAIN:
	default:
		return fmt.Errorf("moteload: -mech must be SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN, not %q", o.Mech)
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("moteload: -addr: %w", err)
	}
	return nil
}

// user returns the name of account i (1-based).
func (o *Options) user(i int) string { return o.UserPrefix + strconv.Itoa(i) }

// ParseIPs parses a comma-separated list of IP addresses.
func ParseIPs(s string) ([]net.IP, error) {
	var ips []net.IP
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ip := net.ParseIP(f)
		if ip == nil {
			return nil, fmt.Errorf("moteload: bad source address %q", f)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// dial opens the TCP connection for connection number idx, bound to the
// next source address when there are any.
func (o *Options) dial(ctx context.Context, idx int) (net.Conn, error) {
	d := net.Dialer{Timeout: loginTimeout}
	if len(o.SourceIPs) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: o.SourceIPs[idx%len(o.SourceIPs)]}
		d.Control = bindNoPort
	}
	return d.DialContext(ctx, "tcp", o.Addr)
}

// stats are the counters every connection of a run reports to.
type stats struct {
	errors atomic.Int64
	logged atomic.Int64

	mu    sync.Mutex // guards writes to out
	out   io.Writer
	quiet bool // no progress lines
}

// maxLoggedErrors is how many errors a run describes on the progress
// output; later ones are only counted.
const maxLoggedErrors = 10

func newStats(out io.Writer, quiet bool) *stats { return &stats{out: out, quiet: quiet} }

// fail counts one error and describes the first few.
func (s *stats) fail(what string, err error) {
	s.errors.Add(1)
	if s.logged.Add(1) <= maxLoggedErrors {
		s.printf("moteload: %s: %v\n", what, err)
	}
}

// printf writes to the progress output, if any.
func (s *stats) printf(format string, args ...any) {
	if s.out == nil {
		return
	}
	s.mu.Lock()
	fmt.Fprintf(s.out, format, args...)
	s.mu.Unlock()
}

// ticker calls line once a second and prints its result until stop is
// called.
func (s *stats) ticker(line func(elapsed time.Duration) string) (stop func()) {
	if s.out == nil || s.quiet {
		return func() {}
	}
	start := time.Now()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				s.printf("%s\n", line(time.Since(start).Truncate(time.Second)))
			}
		}
	}()
	return func() { close(quit); <-done }
}

// forEach calls fn(i) for i in [0, n) on up to workers goroutines and
// returns when all calls have returned.
func forEach(n, workers int, fn func(i int)) {
	workers = max(1, min(workers, n))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// sleepCtx waits for d or until ctx is done, reporting whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ctxErr is ctx.Err(), reporting a passed deadline even before the
// context's timer has fired: socket deadlines derived from it can expire
// first.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// errNoSessions is returned when no connection could log in.
var errNoSessions = errors.New("moteload: no connection logged in")
