package main

import "github.com/mote-xmpp/mote/internal/toolrun"

// ConnectResult is the outcome of the connect scenario, one JSON line.
// The server_* and rss_* figures need a server PID and are omitted
// without one.
type ConnectResult struct {
	Scenario string `json:"scenario"` // "connect"
	Label    string `json:"label"`
	TLS      string `json:"tls"`
	Mech     string `json:"mech"`
	N        int    `json:"n"`
	// OK counts connections that logged in and were still up after the
	// hold; Errors counts the others (failed logins and lost sessions).
	OK     int `json:"ok"`
	Errors int `json:"errors"`
	// Seconds is the wall time to establish all N connections, and
	// ConnPerSec is OK divided by it.
	Seconds    float64 `json:"seconds"`
	ConnPerSec float64 `json:"conn_per_sec"`
	// ServerCPUS is the server's CPU time during the login phase and
	// CPUPerLoginMS that divided by OK.
	ServerCPUS    *float64 `json:"server_cpu_s,omitempty"`
	CPUPerLoginMS *float64 `json:"cpu_per_login_ms,omitempty"`
	// RSSBeforeKiB is the server's RSS before the first connection,
	// RSSAfterKiB after all were up and idle for the hold time, and
	// RSSPerConnKiB the difference divided by OK.
	RSSBeforeKiB  *int64   `json:"rss_before_kib,omitempty"`
	RSSAfterKiB   *int64   `json:"rss_after_kib,omitempty"`
	RSSPerConnKiB *float64 `json:"rss_per_conn_kib,omitempty"`
}

// PairsResult is the outcome of the pairs scenario, one JSON line.
type PairsResult struct {
	Scenario string  `json:"scenario"` // "pairs"
	Label    string  `json:"label"`
	Pairs    int     `json:"pairs"`  // pairs that logged in
	Mode     string  `json:"mode"`   // "window" or "rate"
	Window   int     `json:"window"` // messages in flight per pair (window mode)
	Rate     float64 `json:"rate"`   // messages per second in total (rate mode)
	// Sent counts messages sent during the measurement, Received those of
	// them that arrived by the end of the drain, and Lost the difference.
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Lost     int64 `json:"lost"`
	// Seconds is the measurement's length and MsgsPerSec the messages
	// that arrived during it per second.
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	// ServerCPUS is the server's CPU time during the measurement and
	// MsgsPerCPUSec the messages that arrived during it per CPU second;
	// both need a server PID.
	ServerCPUS    *float64 `json:"server_cpu_s,omitempty"`
	MsgsPerCPUSec *float64 `json:"msgs_per_cpu_sec,omitempty"`
	// Latency percentiles of the measured messages, sender's buffer to
	// receiver's parser, in milliseconds.
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	Errors int64   `json:"errors"`
}

// FanoutResult is the outcome of the fanout scenario, one JSON line.
type FanoutResult struct {
	Scenario    string  `json:"scenario"` // "fanout"
	Label       string  `json:"label"`
	Service     string  `json:"service"`     // pubsub service JID
	Node        string  `json:"node"`        // node name
	Presence    bool    `json:"presence"`    // the connections sent initial presence
	Subscribers int     `json:"subscribers"` // subscribers that subscribed
	Mode        string  `json:"mode"`        // "window" or "rate"
	Window      int     `json:"window"`      // items in flight (window mode)
	Rate        float64 `json:"rate"`        // items published per second (rate mode)
	// Items counts items published during the measurement, Deliveries the
	// notifications of them that arrived by the end of the drain, and Lost
	// the notifications expected for them (subscribers times the items
	// whose publish did not fail) that did not arrive.
	// Duplicates counts notifications a subscriber had received already
	// (whatever the item); they are not deliveries.
	Items      int64 `json:"items"`
	Deliveries int64 `json:"deliveries"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	// Seconds is the measurement's length; ItemsPerSec the items published
	// and DeliveriesPerSec the notifications that arrived during it per
	// second.
	Seconds          float64 `json:"seconds"`
	ItemsPerSec      float64 `json:"items_per_sec"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	// ServerCPUS is the server's CPU time during the measurement and
	// DeliveriesPerCPUSec the notifications that arrived during it per CPU
	// second; both need a server PID.
	ServerCPUS          *float64 `json:"server_cpu_s,omitempty"`
	DeliveriesPerCPUSec *float64 `json:"deliveries_per_cpu_sec,omitempty"`
	// Latency percentiles of the notifications of measured items,
	// publisher's buffer to subscriber's parser, in milliseconds.
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	// PublishErrors counts publish requests answered with an error and
	// SubscribeErrors subscriptions that failed or were not active;
	// Errors counts every error of the run: those, failed logins, lost
	// connections and bounced messages.
	PublishErrors   int64 `json:"publish_errors"`
	SubscribeErrors int64 `json:"subscribe_errors"`
	Errors          int64 `json:"errors"`
}

func ptr[T any](v T) *T { return &v }

// quantilesMS returns the median, 99th and 99.9th percentiles of h in
// milliseconds, as the results report them.
func quantilesMS(h *Histogram) (p50, p99, p999 float64) {
	ms := func(q float64) float64 { return toolrun.Round3(float64(h.Quantile(q)) / 1e6) }
	return ms(0.50), ms(0.99), ms(0.999)
}

// perServerCPU returns the server's CPU seconds between two samples and n
// per CPU-second, or nils when a sample is missing (no -pid).
func perServerCPU(a, b sample, n float64) (cpu, rate *float64) {
	if !a.ok || !b.ok {
		return nil, nil
	}
	c := b.cpu - a.cpu
	return ptr(toolrun.Round3(c)), ptr(toolrun.Ratio(n, c))
}
