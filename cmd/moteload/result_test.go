package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/toolrun"
)

// jsonKeys returns the sorted keys of a JSON object line.
func jsonKeys(t *testing.T, line []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, line)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func TestResultShape(t *testing.T) {
	connectBase := []string{"scenario", "label", "tls", "mech", "n", "ok", "errors", "seconds", "conn_per_sec"}
	connectPID := []string{"server_cpu_s", "cpu_per_login_ms", "rss_before_kib", "rss_after_kib", "rss_per_conn_kib"}
	pairsBase := []string{"scenario", "label", "pairs", "mode", "window", "rate", "sent", "received", "lost",
		"seconds", "msgs_per_sec", "p50_ms", "p99_ms", "p999_ms", "errors"}
	pairsPID := []string{"server_cpu_s", "msgs_per_cpu_sec"}
	fanoutBase := []string{"scenario", "label", "service", "node", "presence", "subscribers", "mode", "window", "rate",
		"items", "deliveries", "lost", "duplicates", "seconds", "items_per_sec", "deliveries_per_sec",
		"p50_ms", "p99_ms", "p999_ms", "publish_errors", "subscribe_errors", "errors"}
	fanoutPID := []string{"server_cpu_s", "deliveries_per_cpu_sec"}
	tests := []struct {
		name string
		v    any
		want []string
	}{
		{"connect without pid", &ConnectResult{Scenario: "connect"}, sorted(connectBase...)},
		{"connect with pid", &ConnectResult{Scenario: "connect", ServerCPUS: ptr(1.0), CPUPerLoginMS: ptr(2.0),
			RSSBeforeKiB: ptr[int64](3), RSSAfterKiB: ptr[int64](4), RSSPerConnKiB: ptr(0.5)},
			sorted(append(connectBase, connectPID...)...)},
		{"pairs without pid", &PairsResult{Scenario: "pairs"}, sorted(pairsBase...)},
		{"pairs with pid", &PairsResult{Scenario: "pairs", ServerCPUS: ptr(1.0), MsgsPerCPUSec: ptr(9.0)},
			sorted(append(pairsBase, pairsPID...)...)},
		{"fanout without pid", &FanoutResult{Scenario: "fanout"}, sorted(fanoutBase...)},
		{"fanout with pid", &FanoutResult{Scenario: "fanout", ServerCPUS: ptr(1.0), DeliveriesPerCPUSec: ptr(9.0)},
			sorted(append(fanoutBase, fanoutPID...)...)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := toolrun.Emit(&out, "", tt.v); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(out.String(), "\n"); n != 1 || !strings.HasSuffix(out.String(), "\n") {
				t.Fatalf("%d: want exactly one line, got %q", i, out.String())
			}
			if got := jsonKeys(t, out.Bytes()); !slices.Equal(got, tt.want) {
				t.Errorf("%d: keys\n got %v\nwant %v", i, got, tt.want)
			}
		})
	}
}
