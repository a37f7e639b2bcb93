package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/metrics"
	"github.com/mote-xmpp/mote/stanza"
)

// TestScrape: what Sources report and what is observed appears in the
// exposition, with the labels documented in docs/architecture.md.
func TestScrape(t *testing.T) {
	var in metrics.Stanzas
	in[stanza.KindMessage], in[stanza.KindIQ] = 7, 2
	m := metrics.New("v1.2.3", metrics.Sources{
		Connections: func() []metrics.Connections {
			return []metrics.Connections{{Transport: "tcp", State: "bound", N: 3}, {Transport: "tcp", State: "pending", N: 1}}
		},
		Sessions:   func() int { return 3 },
		StanzasIn:  func() metrics.Stanzas { return in },
		StanzasOut: func() metrics.Stanzas { return metrics.Stanzas{stanza.KindPresence: 4} },
		PubSub:     func() metrics.PubSub { return metrics.PubSub{Published: 5, PEPDelivered: 6} },
		Queues:     func() []metrics.Queue { return []metrics.Queue{{Name: "mam_archive", Depth: 8}} },
	})
	m.RouteDuration().Observe(0.000002)
	m.StorageObserver("users.get_user").Observe(0.001)
	m.AuthFailure("PLAIN", "not-authorized")
	m.StreamError(stanza.StreamConflict)
	m.StreamError("made-up")

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	text := string(b)
	for _, want := range []string{
		`mote_build_info{version="v1.2.3"} 1`,
		`mote_connections{state="bound",transport="tcp"} 3`,
		`mote_connections{state="pending",transport="tcp"} 1`,
		`mote_sessions 3`,
		`mote_stanzas_in_total{kind="message"} 7`,
		`mote_stanzas_in_total{kind="iq"} 2`,
		`mote_stanzas_in_total{kind="presence"} 0`,
		`mote_stanzas_out_total{kind="presence"} 4`,
		`mote_pubsub_publishes_total{service="component"} 5`,
		`mote_pubsub_deliveries_total{service="pep"} 6`,
		`mote_queue_depth{queue="mam_archive"} 8`,
		`mote_route_duration_seconds_count 1`,
		`mote_storage_operation_duration_seconds_count{op="users.get_user"} 1`,
		`mote_auth_failures_total{condition="not-authorized",mechanism="PLAIN"} 1`,
		`mote_stream_errors_total{condition="conflict"} 1`,
		`mote_stream_errors_total{condition="undefined-condition"} 1`,
		`mote_stream_errors_total{condition="system-shutdown"} 0`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(text, "made-up") {
		t.Error("an unknown stream condition became a label")
	}
}

// TestNoSources: a registry without sources still serves.
func TestNoSources(t *testing.T) {
	m := metrics.New("x", metrics.Sources{})
	if _, err := m.Registry().Gather(); err != nil {
		t.Fatal(err)
	}
}
