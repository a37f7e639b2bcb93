package main

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mote-xmpp/mote/internal/xmppclient"
	"github.com/mote-xmpp/mote/jid"
)

// Config configures a simulation. The zero value of a field means its
// default (see defaults).
type Config struct {
	Addr      string         // server address, host:port
	Domain    string         // XMPP domain: the devices are name@Domain
	DirectTLS bool           // TLS from the first byte (XEP-0368) instead of STARTTLS
	ServerCA  *x509.CertPool // verifies the server's certificate for Domain; nil: not verified
	Devices   []Device       // the simulated devices
	Preset    string         // "vitals" or "fleet"
	Rate      time.Duration  // time between two readings of a device (±10 %)
	Duration  time.Duration  // length of the run; 0: until the context ends
	Resource  string         // the resource every device binds
	Service   string         // pubsub service JID; "" means pubsub.Domain
	// AlarmRate is the vitals devices' probability per reading that a
	// value leaves its normal range.
	AlarmRate float64
	// TunnelRate is the fleet devices' probability per reading that the
	// vehicle enters a tunnel, where its connection drops for a time
	// between TunnelMin and TunnelMax.
	TunnelRate           float64
	TunnelMin, TunnelMax time.Duration
	// Drop names a device whose connection is cut (the socket closed, no
	// stream close) DropAfter into the run, never to return: its session
	// ends when the server's stream management resumption times out, and
	// the server publishes its last will. "" for none.
	Drop        string
	DropAfter   time.Duration
	Concurrency int    // logins in flight
	Seed        uint64 // seeds the devices' randomness; 0: from the clock
	// Progress receives a line per second (unless Quiet) and the first
	// errors; nil means silence.
	Progress io.Writer
	Quiet    bool

	// auth logs the devices in; nil means SASL EXTERNAL with their
	// certificates.
	auth xmppclient.Authenticator
}

// Device is one simulated device.
type Device struct {
	Name string           // the localpart of its JID and its XEP-0323 nodeId
	Cert *tls.Certificate // its TLS client certificate; nil for none
}

// Defaults.
const (
	defaultRate        = time.Second
	defaultResource    = "sim"
	defaultAlarmRate   = 0.01
	defaultTunnelRate  = 0.02
	defaultTunnelMin   = 2 * time.Second
	defaultTunnelMax   = 20 * time.Second
	defaultConcurrency = 50
)

// defaults returns c with empty fields set to their defaults. The rates
// have no zero default: 0 turns alarms or tunnels off.
func (c Config) defaults() Config {
	c.Addr = cmp.Or(c.Addr, xmppclient.DefaultAddr)
	c.Domain = cmp.Or(c.Domain, xmppclient.DefaultDomain)
	c.Preset = cmp.Or(c.Preset, "vitals")
	if c.Rate <= 0 {
		c.Rate = defaultRate
	}
	c.Resource = cmp.Or(c.Resource, defaultResource)
	c.Service = cmp.Or(c.Service, "pubsub."+c.Domain)
	if c.TunnelMin <= 0 {
		c.TunnelMin = defaultTunnelMin
	}
	if c.TunnelMax <= 0 {
		c.TunnelMax = defaultTunnelMax
	}
	if c.Concurrency <= 0 {
		c.Concurrency = defaultConcurrency
	}
	if c.auth == nil {
		c.auth = xmppclient.External{}
	}
	return c
}

// validate reports a setting the simulation cannot use.
func (c *Config) validate() error {
	if _, ok := presets[c.Preset]; !ok {
		return fmt.Errorf("motesim: -preset must be vitals or fleet, not %q", c.Preset)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("motesim: -addr: %w", err)
	}
	if len(c.Devices) == 0 {
		return errors.New("motesim: no devices")
	}
	if c.AlarmRate < 0 || c.AlarmRate > 1 || c.TunnelRate < 0 || c.TunnelRate > 1 {
		return errors.New("motesim: -alarm-rate and -tunnel-rate are probabilities, between 0 and 1")
	}
	if c.TunnelMax < c.TunnelMin {
		return errors.New("motesim: -tunnel-max is less than -tunnel-min")
	}
	if c.Duration < 0 {
		return errors.New("motesim: -duration is negative")
	}
	if c.Drop != "" && !slices.ContainsFunc(c.Devices, func(d Device) bool { return d.Name == c.Drop }) {
		return fmt.Errorf("motesim: -drop %s: no such device", c.Drop)
	}
	seen := make(map[string]bool, len(c.Devices))
	for _, d := range c.Devices {
		if seen[d.Name] {
			return fmt.Errorf("motesim: device %q twice", d.Name)
		}
		seen[d.Name] = true
	}
	return nil
}

// loadDevices reads the devices' PEM bundles in dir: every *.pem file but
// ca.pem (the device CA), each a private key and the certificate
// (tls.X509KeyPair(b, b)), named after the device. The devices come
// sorted by name; n > 0 keeps the first n.
func loadDevices(dir, domain string, n int) ([]Device, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("motesim: -certs: %w", err)
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pem")
		if !ok || name == "ca" || name == "" || e.IsDir() {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	if n > 0 && n < len(names) {
		names = names[:n]
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("motesim: no device bundles (*.pem but ca.pem) in %s", dir)
	}
	devices := make([]Device, 0, len(names))
	for _, name := range names {
		path := filepath.Join(dir, name+".pem")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("motesim: %w", err)
		}
		cert, err := tls.X509KeyPair(b, b)
		if err != nil {
			return nil, fmt.Errorf("motesim: %s: %w", path, err)
		}
		j, err := jid.New(name, domain, "")
		if err != nil {
			return nil, fmt.Errorf("motesim: %s: device name: %w", path, err)
		}
		devices = append(devices, Device{Name: j.Local(), Cert: &cert})
	}
	return devices, nil
}

// loadCA reads a PEM file of CA certificates.
func loadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("motesim: -server-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("motesim: -server-ca: no certificate in %s", path)
	}
	return pool, nil
}
