// Package deploy holds the deployment files of the Spotify Pixel transformer
// and the tests that keep them honest:
//
//   - every YAML document of k8s/base decodes strictly (unknown or misspelt
//     fields fail) into the real Kubernetes API types, and kustomization.yaml
//     lists every file;
//   - the Helm chart renders, decodes as strictly, and its defaults give the
//     objects of k8s/base;
//   - the manifests agree with each other (selectors, named ports, probe
//     ports, listen flags, HPA/PDB targets, the ConfigMap behind
//     -destinations, security context, shutdown budget);
//   - the Prometheus scrape config keeps exactly the metrics port of the
//     Deployment's pods, and the alert rules only use documented metrics;
//   - the real binary (../cmd/transformer) accepts the Deployment's flags,
//     serves the probe paths and /metrics on the ports the manifests say,
//     exposes the metrics and label values the alerts use, and exits 0 on
//     SIGTERM.
//
// The tests are split by subject:
//
//   - doc_test.go: this comment, and the paths and documented values shared by
//     the tests;
//   - decode_test.go: strict decoding into the API types and its self-test;
//   - kustomize_test.go: kustomization.yaml and the kustomize render;
//   - helm_test.go: the Helm chart (helm/transformer) rendered with the Helm
//     SDK, decoded strictly, its defaults against the kustomize base, the
//     consistency checks on its renders, overridden and rejected values;
//   - consistency_test.go: the cross-manifest checks;
//   - destinations_test.go: destinations files against the docs/BEHAVIOUR.md §2.2 keys;
//   - dockerfile_test.go: the Dockerfile and scripts/build.sh, as text;
//   - prometheus_test.go: the scrape config, the alert rules, and the
//     PromQL selectors and text-format parsing the checks use;
//   - binary_test.go and binary_server_test.go: the checks that build and
//     run the real binary;
//   - helpers_test.go: small shared helpers.
//
// Run: cd deploy && go test ./...
package deploy

import "time"

// Paths of the files under test, and values docs/BEHAVIOUR.md fixes.
const (
	baseDir          = "k8s/base"
	helmChartDir     = "helm/transformer"
	promConfigFile   = "prometheus/prometheus.yml"
	alertsFile       = "prometheus/alerts.yml"
	exampleDestFile  = "destinations.example.yaml"
	httpPortName     = "http"    // the container port that serves the API and the probes
	metricsPortName  = "metrics" // the container port that serves /metrics (-metrics-listen)
	livenessPath     = "/health" // docs/BEHAVIOUR.md §7 "Operations"
	readinessPath    = "/ready"
	defaultGrace     = 20 * time.Second // docs/BEHAVIOUR.md §7 "Configuration": -shutdown-grace default
	metricNamePrefix = "spotify_transformer_"
)

// documentedMetrics are the metric names the alerts may use (docs/BEHAVIOUR.md §7
// "Operations"; names agreed with the service code), with their labels.
var documentedMetrics = map[string][]string{
	"spotify_transformer_http_requests_total":           {"route", "method", "code"},
	"spotify_transformer_http_request_duration_seconds": {"route"}, // histogram
	"spotify_transformer_events_total":                  {"type", "outcome"},
	"spotify_transformer_config_reloads_total":          {"result"},
}

// listenFlags are the serve flags that bind a port, in docs/BEHAVIOUR.md §7 order.
var listenFlags = []string{"listen", "metrics-listen"}
