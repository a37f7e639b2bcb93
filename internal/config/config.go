// Package config is mote's typed configuration: defaults in code, a strict
// YAML decode (unknown keys are errors), and validation.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mote-xmpp/mote/jid"
)

// Config is the whole configuration tree. The zero value is not usable;
// start from Default.
type Config struct {
	// Domain is the XMPP domain this server hosts (RFC 7622 domainpart).
	Domain string `yaml:"domain"`
	// DataDir holds the generated certificate, the server secret and the
	// embedded database.
	DataDir string        `yaml:"data_dir"`
	Log     LogConfig     `yaml:"log"`
	TLS     TLSConfig     `yaml:"tls"`
	C2S     C2SConfig     `yaml:"c2s"`
	HTTP    HTTPConfig    `yaml:"http"`
	Admin   AdminConfig   `yaml:"admin"`
	Devices DevicesConfig `yaml:"devices"`
	Storage Storage       `yaml:"storage"`
	Modules ModulesTree   `yaml:"modules"`
	Memory  MemoryConfig  `yaml:"memory"`
	Debug   DebugConfig   `yaml:"debug"`
}

// HTTPConfig configures the public HTTP listeners: XMPP over WebSocket
// (RFC 7395) and connection discovery (XEP-0156 host-meta).
type HTTPConfig struct {
	// Listen is the plain HTTP address; empty disables it. Browsers on
	// other origins need TLSListen (or a TLS-terminating proxy).
	Listen string `yaml:"listen"`
	// TLSListen is the HTTPS address, with the server certificate; empty
	// disables it.
	TLSListen string `yaml:"tls_listen"`
	// AllowedOrigins lists the Origin values a browser's WebSocket
	// handshake may carry (RFC 6455 §10.2); empty allows any origin.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// AdminConfig configures the operators' HTTP listener: the admin API,
// Prometheus metrics, health checks and the web dashboard.
type AdminConfig struct {
	// Listen is its address, on loopback by default (the API manages
	// accounts); empty disables it.
	Listen string `yaml:"listen"`
	// Token authenticates admin requests (a bearer token). Empty: a random
	// token is generated into data_dir/admin-token on first start.
	Token string `yaml:"token"`
}

// DevicesConfig configures device identity (issue 8): client-certificate
// logins (SASL EXTERNAL, XEP-0178), the device CA that provisioning uses,
// and what provisioning creates.
type DevicesConfig struct {
	// CA enables mote's own device CA (data_dir/device-ca.pem and
	// device-ca-key.pem, created on first start): it signs provisioned
	// devices' certificates and is a trust anchor for their logins.
	CA bool `yaml:"ca"`
	// CAFiles are more trust anchors for client certificates (PEM
	// bundles), such as a fleet's own CA.
	CAFiles []string `yaml:"ca_files"`
	// CRLFiles are certificate revocation lists (PEM or DER) signed by a
	// trust anchor; SIGHUP reloads them.
	CRLFiles []string `yaml:"crl_files"`
	// CertificateValidity is how long a provisioned certificate is valid.
	CertificateValidity time.Duration `yaml:"certificate_validity"`
	// LastWill is the payload provisioning sets as a device's last will
	// (the node option mote#last_will; empty for none).
	LastWill string `yaml:"last_will"`
}

// MemoryConfig tunes how the process gives memory back.
type MemoryConfig struct {
	// ReclaimIdle runs a collection and returns free memory to the
	// operating system once a wave of sessions has gone idle (parked) and
	// the server is quiet.
	ReclaimIdle bool `yaml:"reclaim_idle"`
}

// DebugConfig holds diagnostics meant for operators, all off by default.
type DebugConfig struct {
	// PprofListen serves net/http/pprof on this address (keep it on
	// loopback: profiles expose internals). Empty disables it.
	PprofListen string `yaml:"pprof_listen"`
}

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// TLSConfig names the certificate. When both files are empty a self-signed
// certificate for Domain is generated into DataDir on first start.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// C2SConfig configures client-to-server connections.
type C2SConfig struct {
	// Listen is the address of the STARTTLS listener (RFC 6120 §5); empty
	// disables it.
	Listen string `yaml:"listen"`
	// DirectTLSListen is the address of the direct TLS listener (XEP-0368);
	// empty disables it.
	DirectTLSListen string `yaml:"direct_tls_listen"`
	// RequireTLS refuses authentication before STARTTLS (RFC 6120 §5.3.1).
	RequireTLS bool `yaml:"require_tls"`
	// AllowPLAIN offers SASL PLAIN (RFC 4616), always only over TLS.
	AllowPLAIN bool `yaml:"allow_plain"`
	// MaxSessionsPerAccount caps concurrently bound resources of one account
	// (RFC 6120 §7.6.2.1 resource-constraint).
	MaxSessionsPerAccount int `yaml:"max_sessions_per_account"`
	// MaxAuthFailures is how many failed SASL attempts a stream gets before
	// it is closed.
	MaxAuthFailures int `yaml:"max_auth_failures"`
	// TLSHandshakeTimeout bounds the TLS handshake.
	TLSHandshakeTimeout time.Duration `yaml:"tls_handshake_timeout"`
	// StepTimeout bounds each negotiation step (stream header, STARTTLS,
	// each SASL round trip, bind).
	StepTimeout time.Duration `yaml:"step_timeout"`
	// BindTimeout bounds the total time from accept to resource binding.
	BindTimeout time.Duration `yaml:"bind_timeout"`
	// WriteTimeout bounds one socket write; a peer that does not read for
	// that long is disconnected.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxStanzaBytesPreAuth and MaxStanzaBytes limit one top-level element
	// before and after authentication.
	MaxStanzaBytesPreAuth int `yaml:"max_stanza_bytes_pre_auth"`
	MaxStanzaBytes        int `yaml:"max_stanza_bytes"`
	// OutboundQueue is how many stanzas may wait for one session's writer;
	// a session whose queue overflows is a slow consumer and is closed.
	OutboundQueue int `yaml:"outbound_queue"`
	// OutboundQueueBytes bounds the estimated bytes waiting for one
	// session's writer, so that large stanzas cannot pile up.
	OutboundQueueBytes int `yaml:"outbound_queue_bytes"`
	// MaxConnections caps open client connections; more are refused at
	// accept.
	MaxConnections int `yaml:"max_connections"`
	// MaxPendingPerIP caps connections from one IP address that have not
	// bound a resource yet (slow or hostile negotiations).
	MaxPendingPerIP int `yaml:"max_pending_per_ip"`
	// MaxPending caps connections that have not bound a resource yet, in
	// total.
	MaxPending int `yaml:"max_pending"`
	// ReadRate shapes each connection's input to this many bytes per
	// second on average, with bursts of ReadBurst: beyond it the server
	// pauses reading (TCP pushes back) instead of buffering. 0 disables.
	ReadRate  int `yaml:"read_rate"`
	ReadBurst int `yaml:"read_burst"`
	// ParkIdleAfter: a bound session that has sent nothing for this long
	// gives up its reader goroutine and waits in the shared poller until
	// input arrives (Linux; elsewhere sessions keep their reader). 0 keeps
	// one reader goroutine per session.
	ParkIdleAfter time.Duration `yaml:"park_idle_after"`
	// ResumeTimeout is how long a session with resumable stream
	// management (XEP-0198) is kept after its connection drops; 0 turns
	// resumption off (stream management stays available).
	ResumeTimeout time.Duration `yaml:"resume_timeout"`
	// MaxUnacked caps the stanzas sent to a stream-management session and
	// not yet acknowledged; beyond it the session ends and they are
	// handled as if sent to an unavailable resource.
	MaxUnacked int `yaml:"max_unacked"`
	// AuthBackoffMax is the longest delay imposed on an IP address or an
	// account after repeated authentication failures (the delay doubles
	// per failure beyond the first three and decays with a five-minute
	// half-life). 0 disables back-off.
	AuthBackoffMax time.Duration `yaml:"auth_backoff_max"`
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Storage selects the backend.
type Storage struct {
	// Driver is "sqlite" (embedded, the default) or "postgres".
	Driver string `yaml:"driver"`
	// Path of the SQLite database; relative paths are under DataDir.
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection string (a postgres:// URL or
	// key=value pairs); the MOTE_POSTGRES_DSN environment variable
	// overrides it, so that a password need not be in the file.
	DSN string `yaml:"dsn"`
	// MaxConns bounds the PostgreSQL connection pool.
	MaxConns int `yaml:"max_conns"`
}

// ModulesTree holds each module's raw section; each module decodes its own
// section strictly (see DecodeModule).
type ModulesTree map[string]yaml.Node

// Default returns the built-in configuration: what `mote serve` runs with
// no config file.
func Default() *Config {
	return &Config{
		Domain:  "localhost",
		DataDir: "mote-data",
		Log:     LogConfig{Level: "info", Format: "text"},
		C2S: C2SConfig{
			Listen:                ":5222",
			DirectTLSListen:       ":5223",
			RequireTLS:            true,
			AllowPLAIN:            true,
			MaxSessionsPerAccount: 16,
			MaxAuthFailures:       5,
			TLSHandshakeTimeout:   10 * time.Second,
			StepTimeout:           30 * time.Second,
			BindTimeout:           60 * time.Second,
			WriteTimeout:          30 * time.Second,
			MaxStanzaBytesPreAuth: 10 << 10,
			MaxStanzaBytes:        256 << 10,
			OutboundQueue:         4096,
			OutboundQueueBytes:    2 << 20,
			MaxConnections:        500000,
			MaxPendingPerIP:       1024,
			MaxPending:            16384,
			ReadRate:              256 << 10,
			ReadBurst:             1 << 20,
			ParkIdleAfter:         2 * time.Second,
			ResumeTimeout:         300 * time.Second,
			MaxUnacked:            10_000,
			AuthBackoffMax:        10 * time.Second,
			ShutdownTimeout:       8 * time.Second,
		},
		HTTP:  HTTPConfig{Listen: ":5280", TLSListen: ":5443"},
		Admin: AdminConfig{Listen: "127.0.0.1:5380"},
		Devices: DevicesConfig{CA: true, CertificateValidity: 2 * 365 * 24 * time.Hour,
			LastWill: "<status xmlns='urn:mote:device:0' state='offline'/>"},
		Storage: Storage{Driver: "sqlite", Path: "mote.db", MaxConns: 16},
		Memory:  MemoryConfig{ReclaimIdle: true},
	}
}

// Load reads the YAML file at path over the defaults. An empty path
// returns the defaults.
func Load(path string) (*Config, error) {
	c := Default()
	if path == "" {
		return c, c.Validate()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if err := c.Decode(f); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, c.Validate()
}

// Decode decodes YAML from r over c, strictly: unknown keys are errors.
func (c *Config) Decode(r io.Reader) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// DecodeModule decodes the section of module name strictly into v, which
// holds the module's defaults. A missing section leaves v unchanged.
func (c *Config) DecodeModule(name string, v any) error {
	n, ok := c.Modules[name]
	if !ok {
		return nil
	}
	// yaml.Node.Decode has no strict mode: round-trip through a strict
	// decoder so that a typo in a module's section is an error too.
	raw, err := yaml.Marshal(&n)
	if err != nil {
		return fmt.Errorf("config: modules.%s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: modules.%s: %w", name, err)
	}
	return nil
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if d, err := jid.NormalizeDomain(c.Domain); err != nil {
		errs = append(errs, fmt.Errorf("domain %q: %w", c.Domain, err))
	} else if d != c.Domain {
		errs = append(errs, fmt.Errorf("domain %q: write it in normalised form %q", c.Domain, d))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must be set"))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together"))
	}
	if c.Devices.CertificateValidity < time.Hour {
		errs = append(errs, errors.New("devices.certificate_validity: at least 1h"))
	}
	for _, a := range []struct{ name, addr string }{
		{"c2s.listen", c.C2S.Listen}, {"c2s.direct_tls_listen", c.C2S.DirectTLSListen},
		{"debug.pprof_listen", c.Debug.PprofListen},
		{"http.listen", c.HTTP.Listen}, {"http.tls_listen", c.HTTP.TLSListen},
		{"admin.listen", c.Admin.Listen},
	} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.name, err))
		}
	}
	for _, o := range c.HTTP.AllowedOrigins {
		// RFC 6454 §6.1: an origin is serialised as scheme://host[:port].
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("http.allowed_origins: %q is not an origin (scheme://host[:port])", o))
		}
	}
	if c.C2S.Listen == "" && c.C2S.DirectTLSListen == "" {
		errs = append(errs, errors.New("c2s: at least one of listen and direct_tls_listen must be set"))
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"c2s.max_sessions_per_account", int64(c.C2S.MaxSessionsPerAccount)},
		{"c2s.max_auth_failures", int64(c.C2S.MaxAuthFailures)},
		{"c2s.tls_handshake_timeout", int64(c.C2S.TLSHandshakeTimeout)},
		{"c2s.step_timeout", int64(c.C2S.StepTimeout)},
		{"c2s.bind_timeout", int64(c.C2S.BindTimeout)},
		{"c2s.write_timeout", int64(c.C2S.WriteTimeout)},
		{"c2s.max_stanza_bytes_pre_auth", int64(c.C2S.MaxStanzaBytesPreAuth)},
		{"c2s.max_stanza_bytes", int64(c.C2S.MaxStanzaBytes)},
		{"c2s.outbound_queue", int64(c.C2S.OutboundQueue)},
		{"c2s.outbound_queue_bytes", int64(c.C2S.OutboundQueueBytes)},
		{"c2s.max_connections", int64(c.C2S.MaxConnections)},
		{"c2s.max_pending_per_ip", int64(c.C2S.MaxPendingPerIP)},
		{"c2s.max_pending", int64(c.C2S.MaxPending)},
		{"c2s.shutdown_timeout", int64(c.C2S.ShutdownTimeout)},
		{"c2s.max_unacked", int64(c.C2S.MaxUnacked)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", p.name))
		}
	}
	if c.C2S.ReadRate < 0 || c.C2S.AuthBackoffMax < 0 || c.C2S.ParkIdleAfter < 0 || c.C2S.ResumeTimeout < 0 {
		errs = append(errs, errors.New("c2s.read_rate, c2s.auth_backoff_max, c2s.park_idle_after and c2s.resume_timeout must not be negative"))
	}
	if c.C2S.ReadRate > 0 && c.C2S.ReadBurst < c.C2S.MaxStanzaBytes {
		errs = append(errs, errors.New("c2s.read_burst must be at least c2s.max_stanza_bytes"))
	}
	if c.C2S.MaxStanzaBytesPreAuth > c.C2S.MaxStanzaBytes {
		errs = append(errs, errors.New("c2s.max_stanza_bytes_pre_auth must not exceed c2s.max_stanza_bytes"))
	}
	switch c.Storage.Driver {
	case "sqlite":
	case "postgres":
		if c.Storage.DSN == "" && os.Getenv("MOTE_POSTGRES_DSN") == "" {
			errs = append(errs, errors.New("storage.dsn (or MOTE_POSTGRES_DSN) is required with storage.driver postgres"))
		}
	default:
		errs = append(errs, fmt.Errorf("storage.driver %q is not supported (sqlite, postgres)", c.Storage.Driver))
	}
	if c.Storage.MaxConns < 1 {
		errs = append(errs, errors.New("storage.max_conns must be at least 1"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Log.Format))
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

// Path resolves p against DataDir unless it is absolute.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.DataDir, p)
}
