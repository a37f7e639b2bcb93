package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// startServer starts an in-process mote with accounts user1..user<users>
// (password "password").
func startServer(t testing.TB, users int) *xmpptest.Server {
	t.Helper()
	s := xmpptest.Start(t, "")
	forEach(users, 4, func(i int) { s.AddUser(t, "user"+strconv.Itoa(i+1), "password") })
	return s
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConnect(t *testing.T) {
	s := startServer(t, 50)
	tests := []struct {
		tls, mech string
	}{
		{TLSStartTLS, MechSCRAMSHA1},
		{TLSStartTLS, MechPLAIN},
		{TLSDirect, MechSCRAMSHA1},
		{TLSDirect, MechPLAIN},
		{TLSStartTLS, MechSCRAMSHA256},
	}
	for i, tt := range tests {
		t.Run(tt.tls+"/"+tt.mech, func(t *testing.T) {
			addr := s.Addr
			if tt.tls == TLSDirect {
				addr = s.TLSAddr
			}
			res, err := RunConnect(testCtx(t), ConnectConfig{
				Options: Options{Addr: addr, Domain: s.Domain(), TLS: tt.tls, Mech: tt.mech,
					PID: os.Getpid(), Label: "mote", Concurrency: 10, Progress: testWriter{t}},
				N:    50,
				Hold: 50 * time.Millisecond,
			})
			if err != nil {
				t.Fatalf("%d: %v", i, err)
			}
			logJSON(t, res)
			if res.OK != 50 || res.Errors != 0 || res.N != 50 {
				t.Errorf("%d: ok %d errors %d n %d, want 50/0/50", i, res.OK, res.Errors, res.N)
			}
			if res.Scenario != "connect" || res.Label != "mote" || res.TLS != tt.tls || res.Mech != tt.mech {
				t.Errorf("%d: labels %+v", i, *res)
			}
			if res.Seconds <= 0 || res.ConnPerSec <= 0 {
				t.Errorf("%d: seconds %v, conn/s %v", i, res.Seconds, res.ConnPerSec)
			}
			if res.ServerCPUS == nil || *res.ServerCPUS < 0 || res.CPUPerLoginMS == nil || *res.CPUPerLoginMS < 0 {
				t.Errorf("%d: CPU figures missing or negative", i)
			}
			if res.RSSBeforeKiB == nil || *res.RSSBeforeKiB <= 0 || res.RSSAfterKiB == nil || *res.RSSAfterKiB <= 0 || res.RSSPerConnKiB == nil {
				t.Errorf("%d: RSS figures missing", i)
			}
			// Every stream was closed: the server has no sessions left.
			xmpptest.WaitFor(t, "sessions to end", 5*time.Second, func() bool { return s.Sessions().Count() == 0 })
		})
	}
}

func TestConnectBadPassword(t *testing.T) {
	s := startServer(t, 3)
	res, err := RunConnect(testCtx(t), ConnectConfig{
		Options: Options{Addr: s.Addr, Password: "wrong"},
		N:       3,
	})
	if err != errNoSessions {
		t.Fatalf("err = %v, want %v", err, errNoSessions)
	}
	if res.OK != 0 || res.Errors != 3 || res.ServerCPUS != nil {
		t.Errorf("result %+v", *res)
	}
}

func TestPairsWindow(t *testing.T) {
	s := startServer(t, 4)
	res, err := RunPairs(testCtx(t), PairsConfig{
		Options:  Options{Addr: s.Addr, PID: os.Getpid(), Label: "mote", Progress: testWriter{t}},
		Pairs:    2,
		Window:   8,
		Duration: time.Second,
		Warmup:   200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	logJSON(t, res)
	checkPairs(t, res)
	if res.Mode != "window" || res.Window != 8 {
		t.Errorf("mode %s window %d", res.Mode, res.Window)
	}
	if res.ServerCPUS == nil || *res.ServerCPUS < 0 || res.MsgsPerCPUSec == nil || *res.MsgsPerCPUSec < 0 {
		t.Errorf("CPU figures missing or negative")
	}
}

func TestPairsRate(t *testing.T) {
	s := startServer(t, 4)
	res, err := RunPairs(testCtx(t), PairsConfig{
		Options:  Options{Addr: s.TLSAddr, TLS: TLSDirect, Mech: MechPLAIN, Progress: testWriter{t}},
		Pairs:    2,
		Rate:     400,
		Size:     200,
		Duration: 500 * time.Millisecond,
		Warmup:   100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	logJSON(t, res)
	checkPairs(t, res)
	if res.Mode != "rate" || res.Rate != 400 {
		t.Errorf("mode %s rate %v", res.Mode, res.Rate)
	}
	// 400/s for 0.5 s, give or take the edges.
	if res.Sent < 150 || res.Sent > 250 {
		t.Errorf("sent %d in 0.5 s at 400/s", res.Sent)
	}
	if res.ServerCPUS != nil || res.MsgsPerCPUSec != nil {
		t.Errorf("CPU figures without a PID")
	}
}

// logJSON logs a result as its JSON line.
func logJSON(t *testing.T, res any) {
	t.Helper()
	line, _ := json.Marshal(res)
	t.Logf("%s", line)
}

func checkPairs(t *testing.T, res *PairsResult) {
	t.Helper()
	if res.Pairs != 2 || res.Errors != 0 {
		t.Errorf("pairs %d errors %d", res.Pairs, res.Errors)
	}
	if res.Received <= 0 || res.Lost != 0 || res.Sent != res.Received {
		t.Errorf("sent %d received %d lost %d", res.Sent, res.Received, res.Lost)
	}
	if res.Seconds <= 0 || res.MsgsPerSec <= 0 {
		t.Errorf("seconds %v msgs/s %v", res.Seconds, res.MsgsPerSec)
	}
	if res.P50MS <= 0 || res.P99MS < res.P50MS || res.P999MS < res.P99MS {
		t.Errorf("latency p50 %v p99 %v p99.9 %v", res.P50MS, res.P99MS, res.P999MS)
	}
}

// TestTimeout checks that the overall bound ends a run against a server
// that never answers, and that the result still comes back.
func TestTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() { // accept and stay silent
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	defer func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := RunConnect(ctx, ConnectConfig{Options: Options{Addr: ln.Addr().String()}, N: 5})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want %v", err, context.DeadlineExceeded)
	}
	if res == nil || res.OK != 0 || res.Errors != 5 {
		t.Errorf("result %+v", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	pres, err := RunPairs(ctx, PairsConfig{Options: Options{Addr: ln.Addr().String()}, Pairs: 1})
	if !errors.Is(err, context.DeadlineExceeded) || pres == nil {
		t.Errorf("pairs: %+v, %v", pres, err)
	}
}

// TestCLI runs the command line: exactly one JSON line on stdout, with the
// result appended to -json too.
func TestCLI(t *testing.T) {
	s := startServer(t, 4)
	path := t.TempDir() + "/out.jsonl"
	var stdout, stderr bytes.Buffer
	args := []string{"connect", "-addr", s.Addr, "-n", "4", "-hold", "0", "-mech", "SCRAM-SHA-256",
		"-label", "mote", "-priority", "5", "-source-ips", "127.0.0.1,127.0.0.2", "-json", path,
		"-pid", strconv.Itoa(os.Getpid())}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if strings.Count(stdout.String(), "\n") != 1 {
		t.Fatalf("stdout %q: want one line", stdout.String())
	}
	var res ConnectResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.OK != 4 || res.Label != "mote" || res.Mech != "SCRAM-SHA-256" {
		t.Errorf("result %s (%v)", stdout.String(), err)
	}
	if data, err := os.ReadFile(path); err != nil || !bytes.Equal(data, stdout.Bytes()) {
		t.Errorf("-json file %q (%v), want the stdout line", data, err)
	}
	for i, bad := range [][]string{{}, {"nope"}, {"connect", "-tls", "sometimes"}, {"pairs", "-source-ips", "x"}, {"connect", "extra"}} {
		if code := run(bad, &stdout, &stderr); code != 2 {
			t.Errorf("%d: run(%q) = %d, want 2", i, bad, code)
		}
	}
}

// TestBig is the manual benchmark helper: MOTELOAD_BIG=1 runs connect with
// 2000 connections and pairs with 20 pairs against an in-process server
// and prints the result lines. It is not part of CI.
func TestBig(t *testing.T) {
	if os.Getenv("MOTELOAD_BIG") == "" {
		t.Skip("manual benchmark: set MOTELOAD_BIG=1 to run")
	}
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("MOTELOAD_BIG_N")); err == nil && v > 0 {
		n = v
	}
	// Without the default read shaping (256 KiB/s per connection), so that
	// pairs measures the server rather than its rate limit.
	s := xmpptest.Start(t, "c2s:\n  read_rate: 0\n")
	start := time.Now()
	forEach(n, 2, func(i int) { s.AddUser(t, "user"+strconv.Itoa(i+1), "password") })
	t.Logf("created %d accounts in %v", n, time.Since(start))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	for _, mech := range []string{MechSCRAMSHA1, MechPLAIN} {
		res, err := RunConnect(ctx, ConnectConfig{
			Options: Options{Addr: s.Addr, Mech: mech, PID: os.Getpid(), Label: "mote (in-process)", Progress: testWriter{t}},
			N:       n,
			Hold:    5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(res)
		fmt.Printf("%s\n", line)
		xmpptest.WaitFor(t, "sessions to end", 10*time.Second, func() bool { return s.Sessions().Count() == 0 })
	}
	for _, cfg := range []PairsConfig{
		{Pairs: 20, Window: 16, Duration: 10 * time.Second, Warmup: 3 * time.Second},
		{Pairs: 20, Rate: 5000, Duration: 10 * time.Second, Warmup: 3 * time.Second},
	} {
		cfg.Options = Options{Addr: s.Addr, PID: os.Getpid(), Label: "mote (in-process)", Progress: testWriter{t}}
		res, err := RunPairs(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(res)
		fmt.Printf("%s\n", line)
	}
}
