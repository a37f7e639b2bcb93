// Command moteload is the load generator of mote's benchmarks. It speaks
// plain XMPP (RFC 6120, RFC 6121) over sockets, so it measures mote,
// Prosody and ejabberd alike.
//
//	moteload connect [flags]   N concurrent connections that log in and stay idle
//	moteload pairs   [flags]   K sender/receiver pairs exchanging one-to-one messages
//	moteload fanout  [flags]   one publisher, N subscribers of a pubsub node (XEP-0060)
//
// Progress goes to stderr once a second; each result is one JSON line on
// stdout (and appended to -json FILE). With -pid, the server's CPU time and
// resident memory are read from /proc.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"time"

	"github.com/mote-xmpp/mote/internal/toolrun"
	"github.com/mote-xmpp/mote/internal/xmppclient"
)

func main() {
	tuneRuntime()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// tuneRuntime sets the garbage collector for a process that shares the
// machine with the server it measures: collect less often (GOGC=200), but
// stay under a quarter of the machine's memory. GOGC and GOMEMLIMIT in the
// environment win. It also raises the open-file limit to the hard limit.
func tuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if data, err := os.ReadFile("/proc/meminfo"); err == nil {
			if kib, err := parseKiB(data, "MemTotal:"); err == nil && kib > 0 {
				debug.SetMemoryLimit(kib << 10 / 4)
			}
		}
	}
	if _, err := raiseNoFile(); err != nil {
		fmt.Fprintf(os.Stderr, "moteload: raising the open-file limit: %v\n", err)
	}
}

const usage = `usage:
  moteload connect [flags]   N concurrent connections that log in and stay idle
  moteload pairs   [flags]   K sender/receiver pairs exchanging one-to-one messages
  moteload fanout  [flags]   one publisher, N subscribers of a pubsub node (XEP-0060)
Run "moteload SCENARIO -h" for the flags.
`

// run is main without the process: it parses args, runs one scenario and
// returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("moteload "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	var (
		sourceIPs string
		priority  int
		timeout   time.Duration
		jsonPath  string
		quiet     bool
	)
	fs.StringVar(&o.Addr, "addr", xmppclient.DefaultAddr, "server `host:port`")
	fs.StringVar(&o.Domain, "domain", xmppclient.DefaultDomain, "XMPP domain")
	fs.StringVar(&o.TLS, "tls", TLSStartTLS, "TLS mode: starttls, direct (XEP-0368) or none")
	fs.StringVar(&o.Mech, "mech", MechSCRAMSHA1, "SASL mechanism: SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN")
	fs.BoolVar(&o.PostQuantum, "pq", false, "offer the hybrid post-quantum key exchange X25519MLKEM768 (default: X25519 and P-256 only)")
	fs.StringVar(&o.UserPrefix, "users", "user", "account name `prefix`: accounts are PREFIX1..PREFIXn")
	fs.StringVar(&o.Password, "password", "password", "password of every account")
	fs.StringVar(&o.Resource, "resource", "", "resource to bind, the same for every connection (default: chosen by the server)")
	fs.IntVar(&priority, "priority", 0, "presence priority (default: none sent)")
	fs.IntVar(&o.PID, "pid", 0, "server `PID` for CPU and RSS figures from /proc (default: none)")
	fs.StringVar(&o.Label, "label", "", "server `name` echoed into the result")
	fs.StringVar(&sourceIPs, "source-ips", "", "comma-separated local `addresses` to bind outgoing connections to, round-robin")
	fs.IntVar(&o.Concurrency, "concurrency", 100, "logins in flight")
	fs.DurationVar(&timeout, "timeout", 5*time.Minute, "bound on the whole run")
	fs.StringVar(&jsonPath, "json", "", "also append the result line to `file`")
	fs.BoolVar(&quiet, "q", false, "no progress lines on stderr (errors are still described)")

	var scenario func(ctx context.Context) (any, error)
	switch args[0] {
	case "connect":
		var c ConnectConfig
		fs.IntVar(&c.N, "n", 100, "connections")
		fs.IntVar(&c.Accounts, "accounts", 0, "accounts to spread the connections over (default n)")
		fs.DurationVar(&c.Hold, "hold", 5*time.Second, "idle time after all are up, before reading the server's RSS")
		scenario = func(ctx context.Context) (any, error) {
			c.Options = o
			return RunConnect(ctx, c)
		}
	case "pairs":
		var p PairsConfig
		fs.IntVar(&p.Pairs, "pairs", 50, "sender/receiver pairs (accounts PREFIX1..PREFIX2K)")
		fs.DurationVar(&p.Duration, "duration", 20*time.Second, "measurement time")
		fs.DurationVar(&p.Warmup, "warmup", 3*time.Second, "sending time before the measurement")
		fs.DurationVar(&p.Drain, "drain", 2*time.Second, "longest wait for messages in flight after the measurement")
		fs.IntVar(&p.Window, "window", 0, "saturate: messages in flight per pair (default 16 unless -rate)")
		fs.Float64Var(&p.Rate, "rate", 0, "open loop: messages per second in total, paced evenly")
		fs.IntVar(&p.Size, "size", 64, "message body `bytes`")
		scenario = func(ctx context.Context) (any, error) {
			p.Options = o
			return RunPairs(ctx, p)
		}
	case "fanout":
		var f FanoutConfig
		fs.IntVar(&f.Subscribers, "n", 100, "subscribers (accounts PREFIX2..PREFIX(n+1); PREFIX1 publishes)")
		fs.StringVar(&f.Service, "service", "", "pubsub service `JID` (default pubsub.DOMAIN)")
		fs.StringVar(&f.Node, "node", "moteload", "pubsub node `name`, created if it does not exist")
		fs.BoolVar(&f.Fresh, "fresh", false, "delete the node first and create it anew (default: reuse an existing node)")
		var presence bool
		fs.BoolVar(&presence, "presence", true, "send initial presence after login; notifications to a bare JID reach only available resources (RFC 6121 §8.5.2)")
		fs.DurationVar(&f.Duration, "duration", 20*time.Second, "measurement time")
		fs.DurationVar(&f.Warmup, "warmup", 3*time.Second, "publishing time before the measurement")
		fs.DurationVar(&f.Drain, "drain", 2*time.Second, "longest wait for notifications in flight after the measurement")
		fs.IntVar(&f.Window, "window", 0, "saturate: items in flight, each complete when every subscriber has it (default 4 unless -rate)")
		fs.Float64Var(&f.Rate, "rate", 0, "open loop: items published per second, paced evenly")
		scenario = func(ctx context.Context) (any, error) {
			f.Options = o
			f.NoPresence = !presence
			return RunFanout(ctx, f)
		}
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "moteload: unknown scenario %q\n%s", args[0], usage)
		return 2
	}
	if status, ok := toolrun.ParseFlags(fs, "moteload", args[1:]); !ok {
		return status
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "priority" {
			o.Priority = &priority
		}
	})
	var err error
	if o.SourceIPs, err = ParseIPs(sourceIPs); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	o.Progress, o.Quiet = stderr, quiet

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := scenario(ctx)
	if isNilResult(res) {
		res = nil
	}
	return toolrun.Finish(stdout, stderr, "moteload", jsonPath, res, err)
}

// isNilResult reports whether res is a typed nil result pointer (a run
// that failed before measuring anything).
func isNilResult(res any) bool {
	switch r := res.(type) {
	case *ConnectResult:
		return r == nil
	case *PairsResult:
		return r == nil
	case *FanoutResult:
		return r == nil
	}
	return false
}
