-- Prosody configuration used by bench/compare (Prosody 0.12, Debian bookworm).
--
-- bench/compare starts Prosody in the foreground with
--   prosody --config THIS_FILE -F
-- after exporting BENCH_PROSODY_DIR (data, pid file, log, admin socket) and
-- BENCH_CERT_DIR (cert.pem, key.pem: the certificate all three servers use).
-- Prosody 0.12 reads environment variables in the config as ENV_<NAME>.
--
-- Every choice below is explained, with a reference to Prosody's
-- documentation, in bench/README.md ("Prosody").

local dir = ENV_BENCH_PROSODY_DIR or error("BENCH_PROSODY_DIR is not set")
local certs = ENV_BENCH_CERT_DIR or error("BENCH_CERT_DIR is not set")

-- The benchmark runs as root in a throwaway container; mod_posix (always
-- loaded as the platform module) refuses to start as root without this.
run_as_root = true
pidfile = dir .. "/prosody.pid"
data_path = dir .. "/data"

-- https://prosody.im/doc/network_backend: epoll is the default from 0.12;
-- stated explicitly so that the run fails loudly if it ever is not.
network_backend = "epoll"

-- Loopback only, on the benchmark's own ports.
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { 25222 }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
admin_socket = dir .. "/admin.sock"

-- Only warnings and errors, to a file (mote and ejabberd log at warn too).
log = { { levels = { min = "warn" }, to = "file", filename = dir .. "/prosody.log" } }

-- The feature set mote has: c2s with STARTTLS, SASL, bind, disco, ping,
-- version, time; presence, message and iq routing (autoloaded). No rate
-- limiting (mod_limits is not loaded: the Debian default config loads it
-- with c2s = 10kb/s), no offline storage, no stream management, carbons,
-- blocking, PEP, vCard, registration or invites.
modules_enabled = {
	"disco";
	"roster";     -- Prosody loads the roster at bind regardless; this only answers roster IQs
	"saslauth";
	"tls";
	"ping";
	"time";
	"version";
	"admin_shell"; -- used once, by bench/compare, to create the accounts
}
modules_disabled = {
	"offline"; -- autoloaded by default; mote has no offline storage yet
	"s2s";     -- autoloaded by default; no federation in the benchmark
	"s2s_auth_certs";
}

-- STARTTLS is required before authentication (the default, stated here).
c2s_require_encryption = true
-- PLAIN only over TLS (the default).
allow_unencrypted_plain_auth = false

-- Hashed (SCRAM) credentials in the internal file store. 4096 PBKDF2
-- iterations like mote and ejabberd (Prosody 0.12 defaults to 10000, which
-- would only make the load generator's side of SCRAM more expensive).
authentication = "internal_hashed"
default_iteration_count = 4096
storage = "internal"

-- Same stanza size limit as mote (256 KiB after authentication, the default).
c2s_stanza_size_limit = 256 * 1024

-- The certificate shared by all three servers.
certificates = certs
ssl = {
	certificate = certs .. "/cert.pem";
	key = certs .. "/key.pem";
}

VirtualHost "localhost"
	ssl = {
		certificate = certs .. "/cert.pem";
		key = certs .. "/key.pem";
	}
