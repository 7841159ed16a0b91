package router

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"

	"spotifypixel/internal/metrics"
	"spotifypixel/internal/testkit"
	"spotifypixel/internal/upstream"
)

// exchange is one request as the stand-in upstream received it.
type exchange struct {
	method, target string // target: the raw request-target, path and query as sent
	header         http.Header
	contentLength  int64
	body           []byte
}

// standIn is a stand-in rudder-transformer that records what it receives
// and answers every request with an unusual status, repeated headers and a
// gzip body, all of which must reach the client unchanged.
type standIn struct {
	*httptest.Server
	mu   sync.Mutex
	seen []exchange
}

const standInFeatures = `{"routerTransform":{"GA4":true,"MARKETO":true},"regulations":["BRAZE"],` +
	`"supportSourceTransformV1":true,"upgradedToSourceTransformV2":true,"supportDestTransformCompactedPayloadV1":true}`

func newStandIn(t *testing.T) *standIn {
	t.Helper()
	s := &standIn{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, exchange{r.Method, r.RequestURI, r.Header.Clone(), r.ContentLength, body})
		s.mu.Unlock()
		if r.URL.Path == "/features" {
			w.Write([]byte(standInFeatures))
			return
		}
		h := w.Header()
		h.Set("apiVersion", "2") // header names are case-insensitive; Go sends them canonical
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Encoding", "gzip")
		h["Set-Cookie"] = []string{"a=1", "b=2"}
		h.Set("X-Echo-Target", r.RequestURI)
		if id := r.Header.Get("X-Reply-Request-Id"); id != "" {
			h.Set("X-Request-Id", id)
		}
		w.WriteHeader(207)
		w.Write(standInBody(r.RequestURI))
	}))
	t.Cleanup(s.Close)
	return s
}

// standInBody is the stand-in's gzip reply body for a request target.
func standInBody(target string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(`{"upstream":true,"target":` + `"` + target + `"}`))
	zw.Close()
	return b.Bytes()
}

// transforms is what the stand-in received, /features polls left out.
func (s *standIn) transforms() []exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []exchange
	for _, e := range s.seen {
		if e.target != "/features" {
			out = append(out, e)
		}
	}
	return out
}

// startSidecar serves the router in sidecar mode in front of upstreamURL.
func startSidecar(t *testing.T, upstreamURL string, mutate ...func(*Deps)) (*httptest.Server, *metrics.Metrics) {
	t.Helper()
	var m *metrics.Metrics
	withUpstream := func(d *Deps) {
		u, err := upstream.ParseURL(upstreamURL)
		if err != nil {
			t.Fatal(err)
		}
		up, err := upstream.New(upstream.Options{URL: u, Metrics: d.Metrics})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(up.Close)
		d.Upstream, m = up, d.Metrics
	}
	srv := httptest.NewServer(rudderHandler(t, append([]func(*Deps){withUpstream}, mutate...)...))
	t.Cleanup(srv.Close)
	return srv, m
}

// rawClient neither adds Accept-Encoding nor decompresses: bytes as sent.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func send(t *testing.T, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// rudderHeaders are the headers rudder-server sends its transformer.
func rudderHeaders(extra ...string) http.Header {
	h := http.Header{
		"Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"},
		"X-Feature-Filter-Code": {"?1"}, "X-Feature-Gzip-Support": {"?1"}, "Accept-Encoding": {"gzip"},
		"X-Multi": {"one", "two"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// TestSidecarPassesOthersUnchanged: every request that is not Spotify
// Pixel's reaches the stand-in upstream as it was sent (method, path,
// query, headers, body), and its answer comes back as it was given.
func TestSidecarPassesOthersUnchanged(t *testing.T) {
	up := newStandIn(t)
	srv, m := startSidecar(t, up.URL)
	compacted := []byte(`{"input":[{"message":{"type":"track"},"metadata":{"destinationId":"d1","jobId":1}}],` +
		`"destinations":{"d1":{"ID":"d1","Config":{}}},"connections":{},"destType":"GA4"}`)
	big := []byte(`{"input":[{"message":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}],"destType":"GA4"}`)
	cases := []struct {
		name, method, target, route string
		body                        []byte
		header                      http.Header
		hideLength                  bool // send chunked, without Content-Length
	}{
		{"processor, another destination", "POST", "/v0/destinations/ga4?x=1&y=%2F", "/v0/destinations/{destination}",
			[]byte(`[{"message":{"type":"track"},"metadata":{"jobId":1},"destination":{"Config":{}}}]`), rudderHeaders(), false},
		{"router, another destType, compacted and gzip", "POST", "/routerTransform", "/routerTransform",
			testkit.Gzip(compacted), rudderHeaders("Content-Encoding", "gzip", "X-Content-Format", "json+compactedv1"), false},
		{"router, another destType", "POST", "/routerTransform", "/routerTransform",
			[]byte(`{"input":[],"destType":"hs"}`), rudderHeaders(), false},
		{"router, no destType", "POST", "/routerTransform", "/routerTransform", []byte(`{"input":[]}`), rudderHeaders(), false},
		{"router, over the body limit", "POST", "/routerTransform", "/routerTransform", big, rudderHeaders(), false},
		{"router, over the body limit, chunked", "POST", "/routerTransform", "/routerTransform", big, rudderHeaders(), true},
		{"batch, another destType", "POST", "/batch", "/batch", []byte(`{"input":[],"destType":"am"}`), rudderHeaders(), true},
		{"source transform", "POST", "/v2/sources/webhook?writeKey=k", "/{version}/sources/{source}",
			[]byte(`[{"request":{"body":"{\"a\":1}"},"source":{"ID":"s1"}}]`), rudderHeaders(), false},
		{"delivery proxy", "POST", "/v1/destinations/ga4/proxy", "/{version}/destinations/{destination}/proxy",
			[]byte(`{"destinationRequest":{}}`), rudderHeaders(), false},
		{"user transformation", "POST", "/customTransform", "/customTransform", []byte(`[]`), rudderHeaders(), false},
		{"transformation test", "POST", "/transformation/test", "/transformation/*", []byte(`{}`), rudderHeaders(), false},
		{"delete users", "POST", "/deleteUsers", "/deleteUsers", []byte(`[{"destType":"am"}]`), rudderHeaders(), false},
		{"unknown path", "PATCH", "/no/such/path?a=1;b=2&c=%zz", "other", []byte("not json"),
			http.Header{"Content-Type": {"text/plain"}, "User-Agent": {"curl/8"}}, false},
		{"another method, another destination", "GET", "/v0/destinations/ga4", "/{version}/destinations/{destination}",
			nil, http.Header{"User-Agent": {"probe"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(up.transforms())
			var body io.Reader
			if c.body != nil {
				body = bytes.NewReader(c.body)
				if c.hideLength {
					body = io.MultiReader(body)
				}
			}
			resp, got := send(t, c.method, srv.URL+c.target, body, c.header)
			seen := up.transforms()
			if len(seen) != before+1 {
				t.Fatalf("upstream got %d requests, want 1", len(seen)-before)
			}
			checkForwarded(t, seen[before], c.method, c.target, c.body, c.header)
			checkRelayed(t, resp, got, c.target)
			if n := testutil.ToFloat64(m.ProxyRequests.WithLabelValues(c.route, c.method, "207")); n < 1 {
				t.Errorf("proxy_requests_total{route=%q} = %v", c.route, n)
			}
		})
	}
}

// checkForwarded compares what the upstream received with what was sent.
func checkForwarded(t *testing.T, e exchange, method, target string, body []byte, header http.Header) {
	t.Helper()
	if e.method != method || e.target != target || !bytes.Equal(e.body, body) && (len(e.body) > 0 || len(body) > 0) {
		t.Errorf("upstream got %s %s with %d bytes, want %s %s with %d bytes", e.method, e.target, len(e.body), method, target, len(body))
	}
	if body != nil && e.contentLength >= 0 && e.contentLength != int64(len(body)) {
		t.Errorf("Content-Length %d for %d bytes", e.contentLength, len(body))
	}
	for k, v := range header {
		if !reflect.DeepEqual(e.header[k], v) {
			t.Errorf("header %s: upstream got %q, sent %q", k, e.header[k], v)
		}
	}
	for k := range e.header {
		if _, sent := header[k]; !sent && k != "Content-Length" {
			t.Errorf("header %s: %q added on the way", k, e.header[k])
		}
	}
}

// checkRelayed compares the client's answer with the stand-in's.
func checkRelayed(t *testing.T, resp *http.Response, body []byte, target string) {
	t.Helper()
	if resp.StatusCode != 207 || !bytes.Equal(body, standInBody(target)) {
		t.Errorf("client got %d %q", resp.StatusCode, body)
	}
	want := http.Header{"Apiversion": {"2"}, "Content-Type": {"application/json; charset=utf-8"},
		"Content-Encoding": {"gzip"}, "Set-Cookie": {"a=1", "b=2"}, "X-Echo-Target": {target}}
	for k, v := range want {
		if !reflect.DeepEqual(resp.Header[k], v) {
			t.Errorf("header %s: client got %q, upstream gave %q", k, resp.Header[k], v)
		}
	}
	for k := range resp.Header {
		if _, ok := want[k]; !ok && !slices.Contains([]string{"Date", "Content-Length", "X-Request-Id"}, k) {
			t.Errorf("header %s: %q added on the way back", k, resp.Header[k])
		}
	}
}

// TestSidecarKeepsSpotifyPixel replays the RudderStack contract fixtures in
// sidecar mode: Spotify Pixel's requests get the same replies as without an
// upstream, which never sees them; only the fixture for another
// destination is proxied.
func TestSidecarKeepsSpotifyPixel(t *testing.T) {
	up := newStandIn(t)
	srv, _ := startSidecar(t, up.URL)
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fx := gjson.ParseBytes(raw)
		h := http.Header{"Content-Type": {"application/json"}}
		fx.Get("request.headers").ForEach(func(k, v gjson.Result) bool { h.Set(k.Str, v.Str); return true })
		resp, body := send(t, fx.Get("request.method").Str, srv.URL+fx.Get("request.path").Str,
			strings.NewReader(fx.Get("request.body").Raw), h)
		if filepath.Base(file) == "unknown-destination.json" {
			if resp.StatusCode != 207 {
				t.Errorf("%s: another destination was not proxied: %d %s", file, resp.StatusCode, body)
			}
			continue
		}
		if want := int(fx.Get("response.status").Int()); resp.StatusCode != want || resp.Header.Get("apiVersion") != "2" {
			t.Errorf("%s: status %d (want %d), apiVersion %q", file, resp.StatusCode, want, resp.Header.Get("apiVersion"))
		}
		if got, want := testkit.DecodeNumbers(body), testkit.DecodeNumbers([]byte(fx.Get("response.body").Raw)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: reply differs:\n got %s", file, body)
		}
	}
	if n := len(up.transforms()); n != 1 {
		t.Errorf("upstream got %d requests, want only the other destination's", n)
	}
}

// TestSidecarOwnRoutes: gzip both ways for Spotify Pixel, and the routes
// this service owns are answered here, whatever the method.
func TestSidecarOwnRoutes(t *testing.T) {
	up := newStandIn(t)
	srv, _ := startSidecar(t, up.URL)
	router := `{"input":[{"message":{"type":"page","messageId":"m1"},"metadata":{"jobId":7,"destinationId":"d1"}}],` +
		`"destinations":{"d1":{"ID":"d1","Config":{"pixelId":"px"}}},"connections":{},"destType":"SPOTIFY_PIXEL"}`
	resp, body := send(t, "POST", srv.URL+"/routerTransform", bytes.NewReader(testkit.Gzip([]byte(router))),
		rudderHeaders("Content-Encoding", "gzip", "X-Content-Format", "json+compactedv1"))
	if resp.StatusCode != 200 || resp.Header.Get("apiVersion") != "2" || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("router: %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if gjson.GetBytes(plain, "output.0.batchedRequest.params.key").Str != "px" || gjson.GetBytes(plain, "output.0.metadata.0.jobId").Int() != 7 {
		t.Errorf("router reply %s", plain)
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/batch", 404}, {"GET", "/v0/destinations/spotify_pixel", 405}, {"PUT", "/v0/destinations/SPOTIFY_PIXEL", 405},
		{"GET", "/metrics", 404}, {"GET", "/health", 200}, {"POST", "/health", 405}, {"GET", "/ready", 503},
		{"GET", "/transform", 405}, {"GET", "/routerTransform", 405}, {"DELETE", "/features", 405},
	} {
		var b io.Reader
		if c.path == "/batch" {
			b = strings.NewReader(`{"input":[],"destType":"spotify_pixel"}`)
		}
		resp, body := send(t, c.method, srv.URL+c.path, b, nil)
		if resp.StatusCode != c.status || !gjson.ValidBytes(body) {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.status)
		}
	}
	if n := len(up.transforms()); n != 0 {
		t.Errorf("upstream got %d requests for routes of this service", n)
	}
}

func TestSidecarFeaturesMerge(t *testing.T) {
	up := newStandIn(t)
	srv, _ := startSidecar(t, up.URL)
	resp, body := send(t, "GET", srv.URL+"/features", nil, nil)
	f := gjson.ParseBytes(body)
	if resp.StatusCode != 200 || !f.Get("routerTransform.SPOTIFY_PIXEL").Bool() || !f.Get("routerTransform.GA4").Bool() ||
		f.Get("regulations.0").Str != "BRAZE" || !f.Get("supportDestTransformCompactedPayloadV1").Bool() ||
		!f.Get("supportSourceTransformV1").Bool() || !f.Get("upgradedToSourceTransformV2").Bool() {
		t.Fatalf("features: %d %s", resp.StatusCode, body)
	}
	up.Close()
	if resp, again := send(t, "GET", srv.URL+"/features", nil, nil); resp.StatusCode != 200 || !bytes.Equal(again, body) {
		t.Errorf("upstream down: %d %s, want the last merged document", resp.StatusCode, again)
	}
}

func TestSidecarUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	srv, m := startSidecar(t, dead)
	resp, body := send(t, "POST", srv.URL+"/v0/sources/webhook", strings.NewReader(`{}`), rudderHeaders())
	if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(gjson.GetBytes(body, "error").Str, "upstream transformer") {
		t.Errorf("upstream down: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if n := testutil.ToFloat64(m.UpstreamErrors.WithLabelValues("/{version}/sources/{source}", "unreachable")); n != 1 {
		t.Errorf("upstream errors %v", n)
	}
	resp, body = send(t, "GET", srv.URL+"/features", nil, nil)
	if f := gjson.ParseBytes(body); resp.StatusCode != 200 || !f.Get("supportSourceTransformV1").Bool() ||
		!f.Get("upgradedToSourceTransformV2").Bool() || !f.Get("routerTransform.SPOTIFY_PIXEL").Bool() {
		t.Errorf("features with the upstream down: %d %s", resp.StatusCode, body)
	}
	processor := `[{"message":{"type":"page"},"metadata":{"jobId":1},"destination":{"ID":"d","Config":{"pixelId":"px"}}}]`
	if resp, body := send(t, "POST", srv.URL+"/v0/destinations/spotify_pixel", strings.NewReader(processor), rudderHeaders()); resp.StatusCode != 200 {
		t.Errorf("Spotify Pixel with the upstream down: %d %s", resp.StatusCode, body)
	}
}

// TestSidecarAuthAndRequestID: the bearer token guards this service's
// routes only (the upstream answers for the others, and gets the
// Authorization header as sent); the upstream's request id wins.
func TestSidecarAuthAndRequestID(t *testing.T) {
	up := newStandIn(t)
	srv, _ := startSidecar(t, up.URL, func(d *Deps) { d.AuthToken = "tok" })
	if resp, _ := send(t, "POST", srv.URL+"/v0/destinations/spotify_pixel", strings.NewReader(`[]`), nil); resp.StatusCode != 401 {
		t.Errorf("Spotify Pixel without a token: %d", resp.StatusCode)
	}
	resp, _ := send(t, "POST", srv.URL+"/v0/destinations/ga4", strings.NewReader(`[]`),
		http.Header{"Authorization": {"Basic xyz"}, "X-Request-Id": {"mine"}})
	seen := up.transforms()
	if resp.StatusCode != 207 || len(seen) != 1 || seen[0].header.Get("Authorization") != "Basic xyz" || seen[0].header.Get("X-Request-Id") != "mine" {
		t.Fatalf("another destination without our token: %d, upstream saw %d", resp.StatusCode, len(seen))
	}
	if got := resp.Header.Values("X-Request-Id"); !reflect.DeepEqual(got, []string{"mine"}) {
		t.Errorf("request id without one from the upstream: %q", got)
	}
	resp, _ = send(t, "POST", srv.URL+"/v0/destinations/ga4", strings.NewReader(`[]`),
		http.Header{"X-Request-Id": {"mine"}, "X-Reply-Request-Id": {"theirs"}})
	if got := resp.Header.Values("X-Request-Id"); !reflect.DeepEqual(got, []string{"theirs"}) {
		t.Errorf("request id with one from the upstream: %q", got)
	}
}

// TestSidecarStreams: the request body reaches the upstream before the
// client has finished sending it, and the answer reaches the client before
// the upstream has finished writing it. Every wait is bounded, so that a
// proxy that buffers fails the test instead of hanging it.
func TestSidecarStreams(t *testing.T) {
	gotFirst, sendRest := make(chan string, 1), make(chan struct{})
	var release sync.Once
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		_, _ = io.ReadFull(r.Body, buf) // a short read shows in gotFirst
		gotFirst <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		w.Write(append(rest, '\n'))
		w.(http.Flusher).Flush()
		select {
		case <-sendRest:
			w.Write([]byte("done\n"))
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer release.Do(func() { close(sendRest) })
	srv, _ := startSidecar(t, up.URL)
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("part1"))
		select {
		case got := <-gotFirst:
			if got != "part1" {
				t.Errorf("upstream read %q", got)
			}
			pw.Write([]byte("part2"))
			pw.Close()
		case <-time.After(10 * time.Second):
			t.Error("the request body did not reach the upstream while being sent")
			pw.CloseWithError(errors.New("not streamed"))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v0/sources/stream", pr)
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); line != "part2\n" || err != nil {
		t.Fatalf("first line %q %v", line, err)
	}
	release.Do(func() { close(sendRest) })
	if rest, _ := io.ReadAll(br); string(rest) != "done\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestNoUpstreamNoProxy(t *testing.T) {
	h := rudderHandler(t)
	for _, path := range []string{"/no/such/path", "/batch", "/v2/sources/webhook", "/customTransform"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"destType":"ga4"}`)))
		if rec.Code != 404 || !strings.Contains(gjson.GetBytes(rec.Body.Bytes(), "error").Str, "no route") {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}
