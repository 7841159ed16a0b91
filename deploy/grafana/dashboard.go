// Command grafana writes the transformer's Grafana dashboard,
// transformer.json, from the panel list below, so that the dashboard is
// reviewed as code and regenerated rather than edited by hand.
package main

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// ds is the dashboard's Prometheus data source, chosen with the datasource
// variable so that the file imports into any Grafana.
var ds = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// sel is the label selector every query carries: the scrape job and the
// instance variable.
const sel = `job="$job", instance=~"$instance"`

// query is one PromQL target of a panel and the legend of its series.
type query struct{ expr, legend string }

// panel is one time series panel: its title, description, unit and queries.
type panel struct {
	title, desc, unit string
	queries           []query
}

// row is a titled group of panels.
type row struct {
	title  string
	panels []panel
}

// rows is the dashboard's content, top to bottom.
func rows() []row {
	withSel := func(expr string) string { return fmt.Sprintf(expr, sel) }
	return []row{
		{"Requests (RED per route)", []panel{
			{"Request rate by route", "Requests per second by route pattern and status code.", "reqps", []query{
				{withSel(`sum by (route, code) (rate(spotify_transformer_http_requests_total{%s}[$__rate_interval]))`), "{{route}} {{code}}"}}},
			{"Error ratio by route (5xx)", "Share of each route's requests answered 5xx.", "percentunit", []query{
				{withSel(`sum by (route) (rate(spotify_transformer_http_requests_total{code=~"5..", %[1]s}[$__rate_interval])) / sum by (route) (rate(spotify_transformer_http_requests_total{%[1]s}[$__rate_interval]))`), "{{route}}"}}},
			{"Latency by route (p50, p99)", "Request duration quantiles by route pattern.", "s", []query{
				{withSel(`histogram_quantile(0.5, sum by (le, route) (rate(spotify_transformer_http_request_duration_seconds_bucket{%s}[$__rate_interval])))`), "p50 {{route}}"},
				{withSel(`histogram_quantile(0.99, sum by (le, route) (rate(spotify_transformer_http_request_duration_seconds_bucket{%s}[$__rate_interval])))`), "p99 {{route}}"}}},
			{"In flight and rejected", "Requests being served now, and requests refused with 503 at a limit, by reason (in_flight_limit, stream_limit, body_budget, upstream_in_flight_limit).", "short", []query{
				{withSel(`sum(spotify_transformer_http_requests_in_flight{%s})`), "in flight"},
				{withSel(`sum by (reason) (rate(spotify_transformer_http_requests_rejected_total{%s}[$__rate_interval]))`), "rejected/s {{reason}}"}}},
			{"Body budget", "Request body bytes held now against the shared budget (-body-budget-bytes), per instance.", "bytes", []query{
				{withSel(`spotify_transformer_body_bytes_held{%s}`), "held {{instance}}"},
				{withSel(`spotify_transformer_body_budget_bytes{%s}`), "budget {{instance}}"}}},
		}},
		{"Events and calls", []panel{
			{"Events by type and outcome", "Events transformed per second by event type and outcome (ok, filtered, error).", "short", []query{
				{withSel(`sum by (type, outcome) (rate(spotify_transformer_events_total{%s}[$__rate_interval]))`), "{{type}} {{outcome}}"}}},
			{"Calls by command", "Spotify Pixel calls produced per second, by command.", "short", []query{
				{withSel(`sum by (command) (rate(spotify_transformer_calls_total{%s}[$__rate_interval]))`), "{{command}}"}}},
			{"Batch size (p50, p99)", "Events per transform request.", "short", []query{
				{withSel(`histogram_quantile(0.5, sum by (le) (rate(spotify_transformer_batch_size_events_bucket{%s}[$__rate_interval])))`), "p50"},
				{withSel(`histogram_quantile(0.99, sum by (le) (rate(spotify_transformer_batch_size_events_bucket{%s}[$__rate_interval])))`), "p99"}}},
		}},
		{"Upstream pass-through (sidecar mode)", []panel{
			{"Upstream requests by route and code", "Requests passed to the upstream rudder-transformer, per second.", "reqps", []query{
				{withSel(`sum by (route, code) (rate(spotify_transformer_proxy_requests_total{%s}[$__rate_interval]))`), "{{route}} {{code}}"}}},
			{"Upstream latency (p99)", "Duration of passed-through requests by route pattern.", "s", []query{
				{withSel(`histogram_quantile(0.99, sum by (le, route) (rate(spotify_transformer_proxy_request_duration_seconds_bucket{%s}[$__rate_interval])))`), "p99 {{route}}"}}},
			{"Upstream errors by reason", "Failures to get an answer from the upstream, per second.", "short", []query{
				{withSel(`sum by (route, reason) (rate(spotify_transformer_proxy_upstream_errors_total{%s}[$__rate_interval]))`), "{{route}} {{reason}}"}}},
			{"Upstream outcomes and in flight", "How passed-on requests ended (ok, timeout, unreachable, overload, ...) per second, and how many wait on the upstream now.", "short", []query{
				{withSel(`sum by (outcome) (rate(spotify_transformer_proxy_outcomes_total{%s}[$__rate_interval]))`), "{{outcome}}/s"},
				{withSel(`sum(spotify_transformer_proxy_requests_in_flight{%s})`), "in flight"}}},
		}},
		{"Configuration", []panel{
			{"Config reloads by result", "Destinations file reloads in the interval, by result.", "short", []query{
				{withSel(`sum by (result) (increase(spotify_transformer_config_reloads_total{%s}[$__rate_interval]))`), "{{result}}"}}},
			{"Destinations loaded", "Destinations in each instance's loaded configuration.", "short", []query{
				{withSel(`spotify_transformer_destinations{%s}`), "{{instance}}"}}},
			{"Seconds since last good config load", "Age of each instance's loaded configuration.", "s", []query{
				{withSel(`time() - spotify_transformer_config_last_reload_success_timestamp_seconds{%s}`), "{{instance}}"}}},
		}},
		{"Runtime", []panel{
			{"Memory", "Resident memory and Go heap in use per instance.", "bytes", []query{
				{withSel(`process_resident_memory_bytes{%s}`), "rss {{instance}}"},
				{withSel(`go_memstats_heap_inuse_bytes{%s}`), "heap in use {{instance}}"}}},
			{"GC pause (max)", "Longest recent GC pause per instance (the top quantile of go_gc_duration_seconds).", "s", []query{
				{withSel(`max by (instance) (go_gc_duration_seconds{quantile="1", %s})`), "max pause {{instance}}"}}},
			{"Goroutines", "Goroutines per instance.", "short", []query{
				{withSel(`go_goroutines{%s}`), "{{instance}}"}}},
			{"CPU", "CPU seconds per second per instance.", "short", []query{
				{withSel(`rate(process_cpu_seconds_total{%s}[$__rate_interval])`), "{{instance}}"}}},
		}},
	}
}

// build assembles the dashboard from rows, in Grafana's classic JSON model:
// the SDK marks it deprecated in favour of the v2 schema, which only
// Grafana 12's dashboard API takes, while the classic model imports into
// every Grafana.
func build() (dashboard.Dashboard, error) { //nolint:staticcheck // classic model on purpose (see above)
	//nolint:staticcheck // the classic model on purpose (see above)
	b := dashboard.NewDashboardBuilder("Spotify Pixel transformer").
		Uid("spotify-pixel-transformer").
		Tags([]string{"spotify-pixel-transformer", "generated"}).
		Description("Generated by deploy/grafana (go run .): edit dashboard.go, not this file.").
		Refresh("30s").
		Time("now-3h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("job").Label("Job").Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(spotify_transformer_http_requests_total, job)`)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged)).
		WithVariable(dashboard.NewQueryVariableBuilder("instance").Label("Instance").Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(spotify_transformer_http_requests_total{job="$job"}, instance)`)}).
			Multi(true).IncludeAll(true).AllValue(".*").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged))
	for _, r := range rows() {
		b = b.WithRow(dashboard.NewRowBuilder(r.title))
		for _, p := range r.panels {
			tp := timeseries.NewPanelBuilder().Title(p.title).Description(p.desc).Unit(p.unit).
				Datasource(ds).Height(8).Span(8).FillOpacity(10)
			for _, q := range p.queries {
				tp = tp.WithTarget(prometheus.NewDataqueryBuilder().Expr(q.expr).LegendFormat(q.legend))
			}
			b = b.WithPanel(tp)
		}
	}
	return b.Build()
}

// render is the dashboard as indented JSON with a final newline.
func render() ([]byte, error) {
	d, err := build()
	if err != nil {
		return nil, fmt.Errorf("dashboard build: %w", err)
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard json: %w", err)
	}
	return append(out, '\n'), nil
}
