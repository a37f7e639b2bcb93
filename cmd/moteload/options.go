package main

import (
	"cmp"
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

	"github.com/mote-xmpp/mote/internal/toolrun"
	"github.com/mote-xmpp/mote/internal/xmppclient"
)

// TLS modes of Options.TLS.
const (
	TLSStartTLS = "starttls" // RFC 6120 §5 on the c2s port
	TLSDirect   = "direct"   // XEP-0368 direct TLS
	TLSNone     = "none"     // plain TCP (the server must allow it)
)

// SASL mechanisms of Options.Mech.
const (
	MechSCRAMSHA1   = xmppclient.MechSCRAMSHA1
	MechSCRAMSHA256 = xmppclient.MechSCRAMSHA256
	MechPLAIN       = xmppclient.MechPLAIN
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
	o.Addr = cmp.Or(o.Addr, xmppclient.DefaultAddr)
	o.Domain = cmp.Or(o.Domain, xmppclient.DefaultDomain)
	o.TLS = cmp.Or(o.TLS, TLSStartTLS)
	o.Mech = cmp.Or(o.Mech, MechSCRAMSHA1)
	o.UserPrefix = cmp.Or(o.UserPrefix, "user")
	o.Password = cmp.Or(o.Password, "password")
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

// stats are the counters every connection of a run reports to, and the
// run's progress output.
type stats struct {
	toolrun.Progress
	errors atomic.Int64
	logged atomic.Int64
}

// maxLoggedErrors is how many errors a run describes on the progress
// output; later ones are only counted.
const maxLoggedErrors = 10

func newStats(out io.Writer, quiet bool) *stats {
	return &stats{Progress: toolrun.Progress{Out: out, Quiet: quiet}}
}

// fail counts one error and describes the first few.
func (s *stats) fail(what string, err error) {
	s.errors.Add(1)
	if s.logged.Add(1) <= maxLoggedErrors {
		s.Printf("moteload: %s: %v\n", what, err)
	}
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
