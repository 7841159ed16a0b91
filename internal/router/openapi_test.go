package router

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/pb33f/libopenapi"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"spotifypixel/api"
	"spotifypixel/internal/tail"
	"spotifypixel/internal/upstream"
)

// TestOpenAPICoversRoutes keeps api/openapi.yaml and the routes declared in
// router.go in step: every route of a sidecar-mode router (the one with the
// most routes) is a path of the document, every method of an owned route is
// an operation of it, and every path of the document is a route (the
// profiles excepted: they are served on the metrics listener).
func TestOpenAPICoversRoutes(t *testing.T) {
	doc, err := libopenapi.NewDocument(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	paths := model.Model.Paths.PathItems
	u, err := upstream.ParseURL("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	h := rudderHandler(t, func(d *Deps) {
		d.MetricsHandler = promhttp.Handler()
		d.Playground = true
		d.Tail = tail.New(1, 1)
		if d.Upstream, err = upstream.New(upstream.Options{URL: u, Metrics: d.Metrics}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Upstream.Close)
	})
	passedOn := map[string]bool{}
	for _, p := range upstreamRoutes() {
		passedOn[p] = true
	}
	routed := map[string]bool{"/debug/pprof/{profile}": true}
	walk := func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		tmpl := strings.TrimSuffix(route, "*") + map[bool]string{true: "{path}"}[strings.HasSuffix(route, "*")]
		routed[tmpl] = true
		item, ok := paths.Get(tmpl)
		switch {
		case !ok:
			t.Errorf("%s %s: no path %s in api/openapi.yaml", method, route, tmpl)
		case passedOn[route]:
			// Every method is passed on; the document shows the POST that rudder-server sends.
		case item.GetOperations().GetOrZero(strings.ToLower(method)) == nil:
			t.Errorf("%s %s: no %s operation in api/openapi.yaml", method, route, method)
		}
		return nil
	}
	if err := chi.Walk(h.(chi.Routes), walk); err != nil {
		t.Fatal(err)
	}
	for tmpl := range paths.FromOldest() {
		if !routed[tmpl] {
			t.Errorf("api/openapi.yaml path %s is no route of router.New", tmpl)
		}
	}
}
