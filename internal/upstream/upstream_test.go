package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/metrics"
)

const own = `{"routerTransform":{"SPOTIFY_PIXEL":true},"regulations":[],"supportSourceTransformV1":true,` +
	`"upgradedToSourceTransformV2":true,"supportDestTransformCompactedPayloadV1":true}` + "\n"

func newUpstream(t *testing.T, raw string) (*Upstream, *metrics.Metrics) {
	t.Helper()
	u, err := ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	up, err := New(Options{URL: u, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	return up, m
}

// deadURL is an address nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestParseURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://rudder-transformer:9090":       true,
		"https://transformer.internal/base/":   true,
		"http://127.0.0.1:9090":                true,
		"":                                     false,
		"rudder-transformer:9090":              false,
		"ftp://host":                           false,
		"http://":                              false,
		"http://:9090":                         false,
		"http://user:pw@host":                  false,
		"http://host/?x=1":                     false,
		"http://host/?":                        false,
		"http://host/#frag":                    false,
		"/relative/path":                       false,
		"http://host:9090/with%20escaped/path": true,
	} {
		_, err := ParseURL(raw)
		if (err == nil) != ok {
			t.Errorf("ParseURL(%q): %v, want ok=%v", raw, err, ok)
		}
	}
	if _, err := ParseURL("http://user:secret@host"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("credentials: %v (must fail without echoing the password)", err)
	}
}

func TestMergeFeatures(t *testing.T) {
	cases := []struct {
		name, upstream string
		want           map[string]any
	}{
		{"adds ours, keeps theirs",
			`{"routerTransform":{"GA4":true,"HS":true},"regulations":["BRAZE"],"supportSourceTransformV1":true,` +
				`"upgradedToSourceTransformV2":true,"supportDestTransformCompactedPayloadV1":true,"supportTransformerProxyV1":true}`,
			map[string]any{"routerTransform": map[string]any{"GA4": true, "HS": true, "SPOTIFY_PIXEL": true},
				"regulations": []any{"BRAZE"}, "supportSourceTransformV1": true, "upgradedToSourceTransformV2": true,
				"supportDestTransformCompactedPayloadV1": true, "supportTransformerProxyV1": true}},
		{"no compaction upstream: none advertised",
			`{"routerTransform":{"GA4":true},"supportSourceTransformV1":true,"upgradedToSourceTransformV2":true}`,
			map[string]any{"routerTransform": map[string]any{"GA4": true, "SPOTIFY_PIXEL": true}, "regulations": []any{},
				"supportSourceTransformV1": true, "upgradedToSourceTransformV2": true}},
		{"an empty upstream document still keeps rudder-server up", `{}`,
			map[string]any{"routerTransform": map[string]any{"SPOTIFY_PIXEL": true}, "regulations": []any{},
				"supportSourceTransformV1": true, "upgradedToSourceTransformV2": true}},
		{"the upstream's explicit values stay", `{"supportSourceTransformV1":false,"regulations":["AM"]}`,
			map[string]any{"routerTransform": map[string]any{"SPOTIFY_PIXEL": true}, "regulations": []any{"AM"},
				"supportSourceTransformV1": false, "upgradedToSourceTransformV2": true}},
		{"compaction off upstream stays off",
			`{"supportDestTransformCompactedPayloadV1":false}`,
			map[string]any{"routerTransform": map[string]any{"SPOTIFY_PIXEL": true}, "supportDestTransformCompactedPayloadV1": false,
				"regulations": []any{}, "supportSourceTransformV1": true, "upgradedToSourceTransformV2": true}},
		{"routerTransform not an object", `{"routerTransform":null,"regulations":[],"supportSourceTransformV1":true,"upgradedToSourceTransformV2":true}`,
			map[string]any{"routerTransform": map[string]any{"SPOTIFY_PIXEL": true}, "regulations": []any{},
				"supportSourceTransformV1": true, "upgradedToSourceTransformV2": true}},
		{"ours wins for our destination", `{"routerTransform":{"SPOTIFY_PIXEL":false},"regulations":[],"supportSourceTransformV1":true,"upgradedToSourceTransformV2":true}`,
			map[string]any{"routerTransform": map[string]any{"SPOTIFY_PIXEL": true}, "regulations": []any{},
				"supportSourceTransformV1": true, "upgradedToSourceTransformV2": true}},
	}
	for _, c := range cases {
		out, err := MergeFeatures([]byte(c.upstream), []byte(own))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %s is not JSON: %v", c.name, out, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %v", c.name, out, c.want)
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":`, `null`} {
		if _, err := MergeFeatures([]byte(bad), []byte(own)); err == nil {
			t.Errorf("MergeFeatures(%q) succeeded", bad)
		}
	}
}

// TestFeaturesNeverFails: before the upstream ever answers, ours without the
// compaction flag; once it has, the merged document, which is kept while the
// upstream is down or answers garbage.
func TestFeaturesNeverFails(t *testing.T) {
	var answer atomic.Value
	answer.Store("down")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/base/features" || r.Method != http.MethodGet {
			t.Errorf("asked %s %s", r.Method, r.URL.Path)
		}
		switch a := answer.Load().(string); a {
		case "down":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Write([]byte(a))
		}
	}))
	defer srv.Close()
	up, m := newUpstream(t, srv.URL+"/base/")
	ctx := context.Background()

	doc := up.Features(ctx, []byte(own))
	f := gjson.ParseBytes(doc)
	if !f.Get("supportSourceTransformV1").Bool() || !f.Get("upgradedToSourceTransformV2").Bool() ||
		!f.Get("routerTransform.SPOTIFY_PIXEL").Bool() || f.Get("supportDestTransformCompactedPayloadV1").Exists() {
		t.Errorf("fallback before any answer: %s", doc)
	}
	if got := testutil.ToFloat64(m.UpstreamErrors.WithLabelValues("/features", "status")); got != 1 {
		t.Errorf("upstream errors %v", got)
	}

	answer.Store(`{"routerTransform":{"GA4":true},"supportDestTransformCompactedPayloadV1":true,"x":1}`)
	merged := up.Features(ctx, []byte(own))
	if g := gjson.ParseBytes(merged); !g.Get("routerTransform.GA4").Bool() || !g.Get("routerTransform.SPOTIFY_PIXEL").Bool() ||
		!g.Get("supportDestTransformCompactedPayloadV1").Bool() || g.Get("x").Int() != 1 {
		t.Errorf("merged: %s", merged)
	}

	for _, a := range []string{"down", "not json"} {
		answer.Store(a)
		if got := up.Features(ctx, []byte(own)); !bytes.Equal(got, merged) {
			t.Errorf("upstream %q: %s, want the last merged document", a, got)
		}
	}
	if got := testutil.ToFloat64(m.UpstreamErrors.WithLabelValues("/features", "invalid")); got != 1 {
		t.Errorf("invalid answers counted %v", got)
	}

	dead, _ := newUpstream(t, deadURL(t))
	if doc := dead.Features(ctx, []byte(own)); !gjson.GetBytes(doc, "supportSourceTransformV1").Bool() {
		t.Errorf("unreachable upstream: %s", doc)
	}
}

// writeCode stands in for the HTTP front's error writer: the code's name
// as the body, status 599 for any error.
func writeCode(w http.ResponseWriter, _ *http.Request, err error) {
	w.WriteHeader(599)
	_, _ = io.WriteString(w, apperr.CodeOf(err).String()+": "+err.Error())
}

func TestProxyUnreachableIsBadGateway(t *testing.T) {
	up, m := newUpstream(t, deadURL(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "rid-1")
		w.Header().Set("X-Before", "dropped")
		outcome, err := up.ServeProxy(w, r, "/{version}/sources/{source}", writeCode)
		if apperr.CodeOf(err) != apperr.BadGateway || outcome != OutcomeUnreachable {
			t.Errorf("outcome %q, error %v", outcome, err)
		}
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v0/sources/webhook", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 599 || !strings.HasPrefix(string(body), "bad_gateway: upstream transformer did not answer (unreachable)") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") != "rid-1" || resp.Header.Get("X-Before") != "" {
		t.Errorf("headers: %v", resp.Header)
	}
	if got := testutil.ToFloat64(m.UpstreamErrors.WithLabelValues("/{version}/sources/{source}", "unreachable")); got != 1 {
		t.Errorf("upstream errors %v", got)
	}
	if got := testutil.ToFloat64(m.ProxyRequests.WithLabelValues("/{version}/sources/{source}", "POST", "599")); got != 1 {
		t.Errorf("proxy requests %v", got)
	}
	if got := testutil.ToFloat64(m.ProxyOutcomes.WithLabelValues("/{version}/sources/{source}", "unreachable")); got != 1 {
		t.Errorf("proxy outcomes %v", got)
	}
}

func TestMethodLabelIsBounded(t *testing.T) {
	if methodLabel("POST") != "POST" || methodLabel("BREW") != "OTHER" || methodLabel("post") != "OTHER" {
		t.Error("method labels")
	}
}

func TestRewriteKeepsTheRequest(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }))
	defer srv.Close()
	up, _ := newUpstream(t, srv.URL+"/base")
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := up.ServeProxy(w, r, "other", writeCode); err != nil {
			t.Error(err)
		}
	}))
	defer front.Close()
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/v1/sources/shopify?a=1;b=2&c=%zz&d", strings.NewReader("x"))
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("Forwarded", "for=10.0.0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.URL.Path != "/base/v1/sources/shopify" || got.URL.RawQuery != "a=1;b=2&c=%zz&d" {
		t.Errorf("path %q query %q", got.URL.Path, got.URL.RawQuery)
	}
	if got.Header.Get("X-Forwarded-For") != "10.0.0.1" || got.Header.Get("Forwarded") != "for=10.0.0.1" ||
		got.Header.Get("X-Forwarded-Host") != "" {
		t.Errorf("forwarding headers changed: %v", got.Header)
	}
	if u, _ := url.Parse(srv.URL); got.Host != u.Host {
		t.Errorf("Host %q", got.Host)
	}
}
