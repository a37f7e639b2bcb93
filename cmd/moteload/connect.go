package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/toolrun"
)

// ConnectConfig configures the connect scenario: N connections log in and
// stay idle.
type ConnectConfig struct {
	Options
	N int // connections
	// Accounts spreads the connections over accounts 1..Accounts
	// (connection i uses account i mod Accounts + 1); 0 means N, one
	// account per connection.
	Accounts int
	Hold     time.Duration // idle time after the last login, before RSS is read
}

// RunConnect runs the connect scenario: it logs in N connections with
// Concurrency logins in flight, measures the time that takes and the
// server's CPU time meanwhile, keeps the connections idle for Hold, reads
// the server's RSS, and closes every stream cleanly.
//
// The result is returned even when err is not nil (a cancelled run), with
// what was measured until then.
func RunConnect(ctx context.Context, cfg ConnectConfig) (*ConnectResult, error) {
	cfg.Options = cfg.Options.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.N <= 0 {
		return nil, fmt.Errorf("moteload: connect needs -n > 0")
	}
	accounts := cfg.Accounts
	if accounts <= 0 {
		accounts = cfg.N
	}
	res := &ConnectResult{Scenario: "connect", Label: cfg.Label, TLS: cfg.TLS, Mech: cfg.Mech, N: cfg.N}
	st := newStats(cfg.Progress, cfg.Quiet)
	srv := newProc(cfg.PID)

	before := srv.read(true, st)
	conns := make([]*conn, cfg.N)
	var up atomic.Int64
	stop := st.Ticker(func(el time.Duration) string {
		return fmt.Sprintf("connect %v: %d/%d connected, %d errors", el, up.Load(), cfg.N, st.errors.Load())
	})
	defer stop()

	start := time.Now()
	forEach(cfg.N, cfg.Concurrency, func(i int) {
		if ctxErr(ctx) != nil {
			return
		}
		c, err := cfg.login(ctx, i, cfg.user(i%accounts+1), st)
		if err != nil {
			if ctxErr(ctx) == nil {
				st.fail("login", err)
			}
			return
		}
		c.startReader(nil)
		conns[i] = c
		up.Add(1)
	})
	elapsed := time.Since(start)
	loggedIn := srv.read(false, st)

	held := ctxErr(ctx) == nil && toolrun.Sleep(ctx, cfg.Hold)
	after := srv.read(held, st)

	ok := 0
	for _, c := range conns {
		if c != nil && !c.lost.Load() {
			ok++
		}
	}
	res.OK, res.Errors = ok, cfg.N-ok
	res.Seconds = toolrun.Round3(elapsed.Seconds())
	res.ConnPerSec = toolrun.Ratio(float64(ok), elapsed.Seconds())
	if before.ok && loggedIn.ok {
		cpu := loggedIn.cpu - before.cpu
		res.ServerCPUS = ptr(toolrun.Round3(cpu))
		res.CPUPerLoginMS = ptr(toolrun.Ratio(cpu*1000, float64(ok)))
	}
	if before.ok && after.ok {
		res.RSSBeforeKiB = ptr(before.rssKiB)
		res.RSSAfterKiB = ptr(after.rssKiB)
		res.RSSPerConnKiB = ptr(toolrun.Ratio(float64(after.rssKiB-before.rssKiB), float64(ok)))
	}

	if ctxErr(ctx) != nil {
		for _, c := range conns {
			if c != nil {
				c.abort()
			}
		}
		return res, ctxErr(ctx)
	}
	closeAll(conns, cfg.Concurrency)
	if ok == 0 {
		return res, errNoSessions
	}
	return res, nil
}
