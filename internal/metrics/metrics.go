// Package metrics defines the service's Prometheus metrics on a registry the
// caller owns, so that tests and the binary never share global state.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spotifypixel/internal/spotify"
)

const namespace = "spotify_transformer"

// Metrics are the service's collectors.
type Metrics struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
	InFlight prometheus.Gauge
	Rejected *prometheus.CounterVec // requests refused before they started, by reason
	// BodyBudget and BodyBytesHeld show the shared budget of request body
	// bytes and how much of it requests hold now, so that a 503 at the
	// budget can be told from one at the in-flight limit.
	BodyBudget    prometheus.Gauge
	BodyBytesHeld prometheus.Gauge
	Events        *prometheus.CounterVec
	// Outcomes counts events by destination, status and the kind of reason
	// (the step that filtered or failed them: a fixed set, never the text).
	Outcomes      *prometheus.CounterVec
	Calls         *prometheus.CounterVec
	BatchSize     prometheus.Histogram
	ConfigReloads *prometheus.CounterVec
	// ConfigReloadFailures counts reloads that kept the last good config, so
	// that an alert needs no label matching.
	ConfigReloadFailures prometheus.Counter
	ConfigInfo           *prometheus.GaugeVec
	Destinations         prometheus.Gauge
	ConfigTimestamp      prometheus.Gauge

	// Sidecar mode: requests passed to the upstream rudder-transformer.
	ProxyRequests  *prometheus.CounterVec
	ProxyDuration  *prometheus.HistogramVec
	UpstreamErrors *prometheus.CounterVec
	// ProxyOutcomes counts every passed-on request once, by how it ended
	// (upstream.Outcome), so that timeouts, refusals and the in-flight cap
	// show apart from the upstream's own statuses.
	ProxyOutcomes *prometheus.CounterVec
	// ProxyInFlight is the requests waiting on the upstream now, bounded by
	// -upstream-max-inflight.
	ProxyInFlight prometheus.Gauge
}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_total",
			Help: "Events transformed, by event type (track, page, other, invalid) and outcome (ok, filtered, error).",
		}, []string{"type", "outcome"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "calls_total",
			Help: "Spotify Pixel calls produced, by command.",
		}, []string{"command"}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "batch_size_events",
			Help:    "Events per transform request.",
			Buckets: []float64{0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000},
		}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "config_reloads_total",
			Help: "Destinations file reloads by result (success, failure).",
		}, []string{"result"}),
		ConfigInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_generation_info",
			Help: "The loaded destinations generation (value 1), labelled by generation and source.",
		}, []string{"generation", "source"}),
		Destinations: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "destinations",
			Help: "Destinations in the loaded configuration.",
		}),
		ConfigTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load.",
		}),
		ProxyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "proxy_requests_total",
			Help: "Requests passed to the upstream rudder-transformer, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		ProxyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "proxy_request_duration_seconds",
			Help:    "Duration of requests passed to the upstream rudder-transformer, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		UpstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "proxy_upstream_errors_total",
			Help: "Failures to get an answer from the upstream rudder-transformer, by route pattern and reason.",
		}, []string{"route", "reason"}),
	}
	reg.MustRegister(m.Requests, m.Duration, m.InFlight, m.Events, m.Calls, m.BatchSize,
		m.ConfigReloads, m.ConfigInfo, m.Destinations, m.ConfigTimestamp,
		m.ProxyRequests, m.ProxyDuration, m.UpstreamErrors)
	// Pre-create the series a dashboard expects so that they read 0, not absent.
	for _, r := range []string{"success", "failure"} {
		m.ConfigReloads.WithLabelValues(r)
	}
	m.Rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_rejected_total",
		Help: "Requests refused before they were served (503 with Retry-After), by reason (in_flight_limit, stream_limit, body_budget, upstream_in_flight_limit).",
	}, []string{"reason"})
	m.BodyBudget = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "body_budget_bytes",
		Help: "Request body bytes all requests may hold at once (-body-budget-bytes); 0: no budget.",
	})
	m.BodyBytesHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "body_bytes_held",
		Help: "Request body bytes (received and inflated) that requests hold now, counted against the body budget.",
	})
	reg.MustRegister(m.Rejected, m.BodyBudget, m.BodyBytesHeld)
	m.ConfigReloadFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "config_reload_failures_total",
		Help: "Destinations file reloads that failed and kept the last good configuration.",
	})
	reg.MustRegister(m.ConfigReloadFailures)
	m.ProxyOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "proxy_outcomes_total",
		Help: "Requests passed to the upstream rudder-transformer, by route pattern and outcome (ok, timeout, unreachable, failed, overload, too_large, canceled, aborted).",
	}, []string{"route", "outcome"})
	m.ProxyInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "proxy_requests_in_flight",
		Help: "Requests passed to the upstream rudder-transformer and not yet answered.",
	})
	m.Outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "event_outcomes_total",
		Help: "Events by destination (a configured id; inline for an inline config; rudderstack for the RudderStack routes), status (ok, filtered, error) and reason (the step that decided a filtered or failed event; none when ok).",
	}, []string{"destination", "status", "reason"})
	reg.MustRegister(m.ProxyOutcomes, m.ProxyInFlight, m.Outcomes)
	for _, reason := range []string{"in_flight_limit", "stream_limit", "body_budget", "upstream_in_flight_limit"} {
		m.Rejected.WithLabelValues(reason)
	}
	return m
}

// ObserveBatch counts one transformed batch for destination by event type,
// outcome, reason and command.
func (m *Metrics) ObserveBatch(s *spotify.Summary, destination string) {
	m.BatchSize.Observe(float64(s.Events))
	for step := spotify.Step(0); step < spotify.NumSteps; step++ {
		for st, n := range s.ByStep[step] {
			if n > 0 {
				m.Outcomes.WithLabelValues(destination, spotify.Status(st).String(), step.String()).Add(float64(n))
			}
		}
	}
	for k := spotify.Kind(0); k < spotify.NumKinds; k++ {
		for st, n := range s.ByKind[k] {
			if n > 0 {
				m.Events.WithLabelValues(k.String(), spotify.Status(st).String()).Add(float64(n))
			}
		}
	}
	for c := spotify.Command(0); c < spotify.NumCommands; c++ {
		if n := s.ByCommand[c]; n > 0 {
			m.Calls.WithLabelValues(c.String()).Add(float64(n))
		}
	}
}

// ObserveConfig records a configuration load: its generation, source and size.
func (m *Metrics) ObserveConfig(generation uint64, source string, destinations int, at time.Time) {
	m.ConfigInfo.Reset()
	m.ConfigInfo.WithLabelValues(strconv.FormatUint(generation, 10), source).Set(1)
	m.Destinations.Set(float64(destinations))
	m.ConfigTimestamp.Set(float64(at.Unix()))
}
