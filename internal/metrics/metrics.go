// Package metrics is mote's Prometheus instrumentation: one registry with
// the collectors of every part of the server, served at /metrics on the
// admin listener (internal/admin).
//
// Nothing on the routing path talks to Prometheus. The router, the session
// registry and the modules keep plain atomic counters; a collector reads
// them, and the gauges (connections, queue depths), at scrape time through
// Sources. What is observed as it happens is either rare (authentication
// failures, stream errors), sampled (one routed stanza in
// router.RouteSample is timed) or slow anyway (storage operations).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mote-xmpp/mote/internal/storage/timed"
	"github.com/mote-xmpp/mote/stanza"
)

// Connections is the number of client connections of one transport
// ("tcp" or "websocket") in one
// state ("bound": a resource is bound; "pending": negotiating, not bound
// yet).
type Connections struct {
	Transport, State string
	N                int
}

// Stanzas counts stanzas by stanza.Kind (KindNone is ignored).
type Stanzas = [stanza.KindIQ + 1]uint64

// PubSub are the publish-subscribe counters of the component ("component")
// and of the accounts' PEP services ("pep").
type PubSub struct {
	Published, PEPPublished uint64
	Delivered, PEPDelivered uint64
}

// Queue is the depth of one internal queue.
type Queue struct {
	Name  string
	Depth int
}

// Sources are read at every scrape. Each may be nil. They are called
// concurrently with the server's work and must be safe for it.
type Sources struct {
	// Connections lists the open client connections.
	Connections func() []Connections
	// Sessions is the number of bound sessions (with stream management,
	// also those waiting for resumption).
	Sessions func() int
	// StanzasIn counts the stanzas clients sent (routed); StanzasOut those
	// queued for delivery to sessions.
	StanzasIn, StanzasOut func() Stanzas
	// PubSub reads the publish-subscribe counters.
	PubSub func() PubSub
	// Queues lists the queue depths.
	Queues func() []Queue
}

// Metrics is the registry and the collectors the server reports to.
type Metrics struct {
	reg           *prometheus.Registry
	routeDuration prometheus.Histogram
	storage       *prometheus.HistogramVec
	authFailures  *prometheus.CounterVec
	streamErrors  *prometheus.CounterVec
}

// New returns the metrics of a server of the given version, reading src at
// every scrape. It includes the Go runtime and process collectors.
func New(version string, src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		routeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mote_route_duration_seconds",
			Help: "Time to route a stanza a client sent (router.RouteFrom), sampled: one stanza of each kind in 64.",
			// 1 µs to 262 ms.
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10),
		}),
		storage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mote_storage_operation_duration_seconds",
			Help: "Duration of storage operations, by operation (interface and method).",
			// 50 µs to 13 s.
			Buckets: prometheus.ExponentialBuckets(50e-6, 4, 10),
		}, []string{"op"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mote_auth_failures_total",
			Help: "Failed SASL authentications, by mechanism and SASL failure condition (RFC 6120 §6.5).",
		}, []string{"mechanism", "condition"}),
		streamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mote_stream_errors_total",
			Help: "Stream errors sent to clients, by condition (RFC 6120 §4.9.3).",
		}, []string{"condition"}),
	}
	for _, c := range streamConditions {
		m.streamErrors.WithLabelValues(string(c))
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "mote_build_info",
		Help:        "Always 1; the label is the running version.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo, m.routeDuration, m.storage, m.authFailures, m.streamErrors,
		&scrape{src: src},
	)
	return m
}

// Registry returns the registry, to register more collectors or gather.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// RouteDuration is the router's sampled routing latency observer
// (router.Config.RouteDuration).
func (m *Metrics) RouteDuration() prometheus.Observer { return m.routeDuration }

// StorageObserver returns the observer of one storage operation, for
// timed.Wrap.
func (m *Metrics) StorageObserver(op string) timed.Observer {
	return m.storage.WithLabelValues(op)
}

// AuthFailure counts a failed authentication (auth.Config.OnFailure).
// mechanism must come from a bounded set (auth maps unknown names to
// "other").
func (m *Metrics) AuthFailure(mechanism, condition string) {
	m.authFailures.WithLabelValues(mechanism, condition).Inc()
}

// StreamError counts a stream error sent to a client. A condition outside
// RFC 6120 §4.9.3 counts as undefined-condition.
func (m *Metrics) StreamError(c stanza.StreamCondition) {
	if !knownStreamCondition[c] {
		c = stanza.StreamUndefinedCondition
	}
	m.streamErrors.WithLabelValues(string(c)).Inc()
}

// streamConditions are the conditions of RFC 6120 §4.9.3, all exported
// from the start (at zero) so that rates work from the first scrape.
var streamConditions = []stanza.StreamCondition{
	stanza.StreamBadFormat, stanza.StreamBadNamespacePrefix, stanza.StreamConflict,
	stanza.StreamConnectionTimeout, stanza.StreamHostGone, stanza.StreamHostUnknown,
	stanza.StreamImproperAddressing, stanza.StreamInternalServerError, stanza.StreamInvalidFrom,
	stanza.StreamInvalidNamespace, stanza.StreamInvalidXML, stanza.StreamNotAuthorized,
	stanza.StreamNotWellFormed, stanza.StreamPolicyViolation, stanza.StreamRemoteConnectionFailed,
	stanza.StreamReset, stanza.StreamResourceConstraint, stanza.StreamRestrictedXML,
	stanza.StreamSeeOtherHost, stanza.StreamSystemShutdown, stanza.StreamUndefinedCondition,
	stanza.StreamUnsupportedEncoding, stanza.StreamUnsupportedFeature,
	stanza.StreamUnsupportedStanzaType, stanza.StreamUnsupportedVersion,
}

var knownStreamCondition = func() map[stanza.StreamCondition]bool {
	m := make(map[stanza.StreamCondition]bool, len(streamConditions))
	for _, c := range streamConditions {
		m[c] = true
	}
	return m
}()

// scrape collects what Sources report.
type scrape struct{ src Sources }

var (
	descConnections = prometheus.NewDesc("mote_connections",
		"Open client connections, by transport and state (bound: a resource is bound; pending: negotiating).",
		[]string{"transport", "state"}, nil)
	descSessions = prometheus.NewDesc("mote_sessions",
		"Bound sessions, including those of stream management waiting for resumption.", nil, nil)
	descStanzasIn = prometheus.NewDesc("mote_stanzas_in_total",
		"Stanzas clients sent that were routed, by kind.", []string{"kind"}, nil)
	descStanzasOut = prometheus.NewDesc("mote_stanzas_out_total",
		"Stanzas queued for delivery to client sessions, by kind.", []string{"kind"}, nil)
	descPublishes = prometheus.NewDesc("mote_pubsub_publishes_total",
		"Items published, by service (component: pubsub.<domain>; pep: the accounts' PEP services).", []string{"service"}, nil)
	descDeliveries = prometheus.NewDesc("mote_pubsub_deliveries_total",
		"Publish-subscribe notification messages routed, by service.", []string{"service"}, nil)
	descQueue = prometheus.NewDesc("mote_queue_depth",
		"Entries waiting in an internal queue (pubsub_notifications: recipients of queued notifications; "+
			"pubsub_archive: node archive writes; mam_archive: messages to archive).", []string{"queue"}, nil)
)

// Describe implements prometheus.Collector.
func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descSessions, descStanzasIn, descStanzasOut, descPublishes, descDeliveries, descQueue} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	if f := s.src.Connections; f != nil {
		for _, c := range f() {
			ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(c.N), c.Transport, c.State)
		}
	}
	if f := s.src.Sessions; f != nil {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(f()))
	}
	stanzas := func(d *prometheus.Desc, f func() Stanzas) {
		if f == nil {
			return
		}
		n := f()
		for _, k := range []stanza.Kind{stanza.KindMessage, stanza.KindPresence, stanza.KindIQ} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n[k]), k.String())
		}
	}
	stanzas(descStanzasIn, s.src.StanzasIn)
	stanzas(descStanzasOut, s.src.StanzasOut)
	if f := s.src.PubSub; f != nil {
		p := f()
		ch <- prometheus.MustNewConstMetric(descPublishes, prometheus.CounterValue, float64(p.Published), "component")
		ch <- prometheus.MustNewConstMetric(descPublishes, prometheus.CounterValue, float64(p.PEPPublished), "pep")
		ch <- prometheus.MustNewConstMetric(descDeliveries, prometheus.CounterValue, float64(p.Delivered), "component")
		ch <- prometheus.MustNewConstMetric(descDeliveries, prometheus.CounterValue, float64(p.PEPDelivered), "pep")
	}
	if f := s.src.Queues; f != nil {
		for _, q := range f() {
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(q.Depth), q.Name)
		}
	}
}
