// Command motesim simulates devices: N devices log in with their
// certificates, publish sensor readings to their pubsub nodes, and answer
// sensor data read-outs. It doubles as a demo of mote's device flow.
//
//	motesim run -certs DIR [flags]
//
// The devices are the PEM bundles in DIR (as provisioning writes them:
// NAME.pem holds the private key and the certificate; ca.pem, the device
// CA, is skipped). Device NAME is NAME@DOMAIN. Each connects to -addr,
// secures the stream with STARTTLS (or TLS at once with -direct-tls,
// XEP-0368) presenting its certificate, logs in with SASL EXTERNAL
// (XEP-0178), binds the resource "sim", enables stream management with
// resumption (XEP-0198), and sends initial presence. It then publishes a
// reading every -rate (±10 %) to the node devices/NAME of pubsub.DOMAIN
// (XEP-0060), as XEP-0323 fields, and answers XEP-0323 read-out requests
// (an IQ get with <req xmlns='urn:xmpp:iot:sensordata'/>) with its
// latest values, XEP-0199 pings and disco#info.
//
// Presets:
//
//   - vitals: bedside monitors: heartRate (bpm), spo2 (%),
//     bloodPressureSystolic and bloodPressureDiastolic (mmHg). With
//     probability -alarm-rate per reading a value leaves its normal range;
//     the device then also publishes an alarm item "alarm-N" (payload in
//     the urn:mote:sim:0 namespace, see NSSim) before reading N.
//   - fleet: vehicles on a ring road: latitude, longitude (°), speed
//     (km/h), fuel (%, refuelled at 5 %). With probability -tunnel-rate per
//     reading a vehicle enters a tunnel: its TCP connection drops without a
//     closing tag for -tunnel-min to -tunnel-max, then it resumes its
//     session (or logs in anew when the server refuses) and publishes what
//     it measured meanwhile.
//
// The server's certificate is not verified unless -server-ca names the CA
// that issued it (the devices' CA in DIR/ca.pem is for the devices'
// certificates, not the server's).
//
// A progress line goes to stderr once a second (not with -q); at the end,
// after every device closed its stream, the totals are one JSON line on
// stdout (and appended to -json FILE). The run lasts -duration, or until
// SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mote-xmpp/mote/internal/toolrun"
	"github.com/mote-xmpp/mote/internal/xmppclient"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  motesim run -certs DIR [flags]   simulated devices publish readings and answer read-outs
Run "motesim run -h" for the flags.
`

// run is main without the process: it parses args, runs the simulation
// and returns the exit status: 0 after a run in which devices logged in,
// 1 when none could, 2 for bad arguments.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "motesim: unknown command %q\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("motesim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg                      Config
		certs, serverCA, jsonOut string
		n                        int
	)
	fs.StringVar(&cfg.Addr, "addr", xmppclient.DefaultAddr, "server `host:port`")
	fs.BoolVar(&cfg.DirectTLS, "direct-tls", false, "TLS from the first byte (XEP-0368; the server's direct TLS port) instead of STARTTLS")
	fs.StringVar(&cfg.Domain, "domain", xmppclient.DefaultDomain, "XMPP domain: device NAME is NAME@DOMAIN")
	fs.StringVar(&certs, "certs", "", "`directory` of the devices' PEM bundles, NAME.pem (ca.pem is skipped)")
	fs.IntVar(&n, "n", 0, "simulate the first `N` devices of -certs in name order (default all)")
	fs.StringVar(&serverCA, "server-ca", "", "verify the server's certificate against the CA certificates in `file` (default: not verified)")
	fs.StringVar(&cfg.Preset, "preset", "vitals", "kind of device: vitals (bedside monitors) or fleet (vehicles)")
	fs.DurationVar(&cfg.Rate, "rate", defaultRate, "time between two readings of a device (±10 %)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "length of the run (default: until SIGINT or SIGTERM)")
	fs.StringVar(&cfg.Resource, "resource", defaultResource, "resource every device binds")
	fs.StringVar(&cfg.Service, "service", "", "pubsub service `JID` (default pubsub.DOMAIN)")
	fs.Float64Var(&cfg.AlarmRate, "alarm-rate", defaultAlarmRate, "vitals: probability per reading that a value leaves its normal range")
	fs.Float64Var(&cfg.TunnelRate, "tunnel-rate", defaultTunnelRate, "fleet: probability per reading that a vehicle enters a tunnel")
	fs.DurationVar(&cfg.TunnelMin, "tunnel-min", defaultTunnelMin, "fleet: shortest time in a tunnel")
	fs.DurationVar(&cfg.TunnelMax, "tunnel-max", defaultTunnelMax, "fleet: longest time in a tunnel")
	fs.StringVar(&cfg.Drop, "drop", "", "cut the connection of device `NAME` (no stream close) and keep it away for the rest of the run, to see its last will")
	fs.DurationVar(&cfg.DropAfter, "drop-after", 5*time.Second, "when to -drop")
	fs.IntVar(&cfg.Concurrency, "concurrency", defaultConcurrency, "logins in flight")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the devices' randomness, for repeatable runs (default: from the clock)")
	fs.StringVar(&jsonOut, "json", "", "also append the result line to `file`")
	fs.BoolVar(&cfg.Quiet, "q", false, "no progress lines on stderr (errors are still described)")
	if status, ok := toolrun.ParseFlags(fs, "motesim", args[1:]); !ok {
		return status
	}
	if certs == "" {
		fmt.Fprintln(stderr, "motesim: -certs is required")
		return 2
	}
	var err error
	if cfg.Devices, err = loadDevices(certs, cfg.Domain, n); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if serverCA != "" {
		if cfg.ServerCA, err = loadCA(serverCA); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	cfg.Progress = stderr
	sim, err := newSim(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal closes the streams; a second one kills at once.
	context.AfterFunc(ctx, stop)
	res, err := sim.Run(ctx)
	return toolrun.Finish(stdout, stderr, "motesim", jsonOut, res, err)
}
