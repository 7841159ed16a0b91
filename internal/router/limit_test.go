package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/metrics"
)

// readThrough reads body through a fresh guard in chunks of chunk bytes.
func readThrough(t *testing.T, body string, limit int, lines bool, chunk int) (string, error) {
	t.Helper()
	b := &depthBody{ReadCloser: io.NopCloser(iotest.HalfReader(strings.NewReader(body))), s: depthScanner{n: jsonscan.Nesting{Max: limit}, lines: lines}}
	var out bytes.Buffer
	buf := make([]byte, chunk)
	for {
		n, err := b.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
	}
}

func TestDepthScannerJSON(t *testing.T) {
	for _, c := range []struct {
		body string
		max  int
		deep bool
	}{
		{`{"a":[1,{"b":2}]}`, 3, false},
		{`{"a":[1,{"b":2}]}`, 2, true},
		{`[[[]]]`, 3, false},
		{`[[[[]]]]`, 3, true},
		{`{"s":"[[[[[[[[[["}`, 1, false},                    // brackets in a string do not count
		{`{"s":"\"[[[[[[[[["}`, 1, false},                   // nor after an escaped quote
		{`{"s":"\\"}` + `[[`, 1, true},                      // an escaped backslash ends the escape
		{`[]` + `[]` + `[]` + `[]` + `[]` + `[]`, 1, false}, // depth, not count
		{`]]]]]][[[`, 3, false},                             // stray closers never go negative
		{`]]]]]][[[[`, 3, true},
		{strings.Repeat("[", 100000) + strings.Repeat("]", 100000), 1000, true},
	} {
		for _, chunk := range []int{1, 3, 4096} {
			out, err := readThrough(t, c.body, c.max, false, chunk)
			var deep *errTooDeep
			if got := errors.As(err, &deep); got != c.deep {
				t.Errorf("%.40q max %d chunk %d: err %v, want too deep %v", c.body, c.max, chunk, err, c.deep)
			}
			if !c.deep && out != c.body {
				t.Errorf("%.40q: body changed to %.40q", c.body, out)
			}
		}
	}
}

// TestDepthScannerNDJSON: a line that nests too deep is cut at the limit
// (so it alone is invalid JSON); the other lines pass unchanged, and a
// string broken by a newline does not leak into the next line.
func TestDepthScannerNDJSON(t *testing.T) {
	body := `{"a":1}` + "\n" + `{"x":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}` + "\n" +
		`{"s":"unterminated [[[[` + "\n" + `{"b":[[2]]}` + "\n"
	for _, chunk := range []int{1, 7, 4096} {
		out, err := readThrough(t, body, 5, true, chunk)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(out, "\n")
		want := []string{`{"a":1}`, `{"x":[[[[`, `{"s":"unterminated [[[[`, `{"b":[[2]]}`, ``}
		if strings.Join(lines, "|") != strings.Join(want, "|") {
			t.Errorf("chunk %d: lines %q, want %q", chunk, lines, want)
		}
	}
}

// TestTransformOverGzipIsCheckedRaw: the guard scans the bytes as they
// arrive, so a gzip label does not let raw brackets past it.
func TestTransformOverGzipIsCheckedRaw(t *testing.T) {
	l := &limits{depth: 1000}
	r := httptest.NewRequest(http.MethodPost, "/transform", strings.NewReader(strings.Repeat("[", 5000)))
	r.Header.Set("Content-Encoding", "gzip")
	l.guardNesting(r)
	if _, err := io.ReadAll(r.Body); err == nil {
		t.Error("raw brackets passed")
	}
}

func newTestLimits(d Deps) (*limits, *metrics.Metrics) {
	d.Metrics = metrics.New(prometheus.NewRegistry())
	return newLimits(d), d.Metrics
}

// TestInFlightLimit fills every slot with requests that wait, checks that
// one more POST is refused with 503, Retry-After and a JSON error and is
// counted, and that a slot frees up afterwards (that GETs never wait behind
// the limit is TestStreamsLeaveSlotsForRequests', on the real server).
func TestInFlightLimit(t *testing.T) {
	l, m := newTestLimits(Deps{MaxInFlight: 2})
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := requestID(l.body(transformBody)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As every handler does: the slot is taken when the body has been read.
		if _, err := io.ReadAll(r.Body); err != nil {
			writeError(w, r, bodyError(err, 0))
			return
		}
		if r.Method == http.MethodPost && r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/slow", strings.NewReader("{}")))
		})
	}
	<-entered
	<-entered
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/transform", strings.NewReader("{}")))
	var body struct{ Error string }
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || json.Unmarshal(rec.Body.Bytes(), &body) != nil ||
		!strings.Contains(body.Error, "limit of 2 concurrent requests") {
		t.Errorf("over the limit: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if got := testutil.ToFloat64(m.Rejected.WithLabelValues("in_flight_limit")); got != 1 {
		t.Errorf("rejections counted %v times", got)
	}
	close(release)
	wg.Wait()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/transform", strings.NewReader("{}")))
	if rec.Code != 200 {
		t.Errorf("slot not released: %d", rec.Code)
	}
}

// TestRequestTimeoutContext: the handler's context ends at the request
// timeout (NDJSON streams excepted), and a body read that hits the deadline
// is answered 408 by writeError.
func TestRequestTimeoutContext(t *testing.T) {
	l, _ := newTestLimits(Deps{RequestTimeout: 20 * time.Millisecond})
	var ctxErr, streamErr error
	h := l.body(transformBody)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isNDJSON(r) {
			streamErr = r.Context().Err()
			return
		}
		select {
		case <-r.Context().Done():
			ctxErr = r.Context().Err()
		case <-time.After(30 * time.Second):
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/transform", strings.NewReader("{}")))
	if !errors.Is(ctxErr, context.DeadlineExceeded) {
		t.Errorf("handler context: %v", ctxErr)
	}
	req := httptest.NewRequest(http.MethodPost, "/transform", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/x-ndjson")
	time.Sleep(30 * time.Millisecond)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if streamErr != nil {
		t.Errorf("stream context: %v", streamErr)
	}

	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest(http.MethodPost, "/", http.NoBody), wrapAsReadBody(&errBodyTimeout{timeout: time.Second}))
	if rec.Code != http.StatusRequestTimeout || !strings.Contains(rec.Body.String(), "did not arrive within the request timeout of 1s") {
		t.Errorf("body timeout: %d %s", rec.Code, rec.Body)
	}
}

// wrapAsReadBody wraps err the way readBody does.
func wrapAsReadBody(err error) error {
	r := httptest.NewRequest(http.MethodPost, "/", iotest.ErrReader(err))
	return readBody(httptest.NewRecorder(), r, new(bytes.Buffer), 1<<20)
}

// TestLimitsThroughRouter: the limits are on the chain of New.
func TestLimitsThroughRouter(t *testing.T) {
	d := Deps{Logger: zap.NewNop(), MaxBodyBytes: 1 << 20, MaxBatchEvents: 10}
	d.Metrics = metrics.New(prometheus.NewRegistry())
	h := New(d)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v0/destinations/spotify_pixel",
		strings.NewReader(`[{"message":`+strings.Repeat("[", 2000)+`]}]`)))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "deeper than 1000 levels") {
		t.Errorf("deep body: %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff header")
	}
}

func BenchmarkDepthScanner(b *testing.B) {
	ev := `{"type":"track","event":"Order Completed","userId":"user-1001","messageId":"m-1","context":{"page":{"url":"https://shop.example/x?y=1"},"traits":{"email":"a@b.c"}},"properties":{"order_id":"o-1","total":42.5,"currency":"EUR","products":[{"product_id":"sku-1","name":"Tee","price":42.5,"quantity":1}]}}`
	body := []byte(`{"batch":[` + strings.Repeat(ev+",", 4000) + ev + `]}`)
	buf := make([]byte, len(body))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		copy(buf, body)
		s := depthScanner{n: jsonscan.Nesting{Max: DefaultMaxJSONDepth}}
		for i := 0; i < len(buf); i += 32 << 10 {
			if _, err := s.filter(buf[i:min(i+32<<10, len(buf))]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestBearerAuth: only the right token passes, under a scheme matched
// case-insensitively (RFC 7235) and after one or more spaces; the comparison runs on
// SHA-256 digests, so neither a token's bytes nor its length shows in how
// long a refusal takes (not timed here: the machine is shared).
func TestBearerAuth(t *testing.T) {
	h := bearerAuth("s3cret-token")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for hdr, want := range map[string]int{
		"Bearer s3cret-token": 200, "": 401, "Bearer s3cret-toke": 401, "Bearer s3cret-token ": 401,
		"Bearer s3cret-tokenX": 401, "s3cret-token": 401, "Basic s3cret-token": 401, "Bearer S3CRET-TOKEN": 401,
		"bearer s3cret-token": 200, "BEARER s3cret-token": 200, "Bearer   s3cret-token": 200,
		"Bearers3cret-token": 401, "Bearer\ts3cret-token": 401, "Bearer": 401, "Bear s3cret-token": 401,
	} {
		req := httptest.NewRequest(http.MethodPost, "/transform", http.NoBody)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, requestIDed(req))
		if rec.Code != want {
			t.Errorf("%q: %d, want %d", hdr, rec.Code, want)
		}
		if rec.Code == 401 && (rec.Header().Get("WWW-Authenticate") == "" || strings.Contains(rec.Body.String(), "s3cret")) {
			t.Errorf("%q: 401 without WWW-Authenticate or echoing the token: %s", hdr, rec.Body)
		}
	}
}

func requestIDed(r *http.Request) *http.Request {
	var out *http.Request
	requestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { out = r })).ServeHTTP(httptest.NewRecorder(), r)
	return out
}

// TestMetricsListenerHeaders: the separate metrics listener sends nosniff too.
func TestMetricsListenerHeaders(t *testing.T) {
	h := MetricsOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("m 1\n")) }))
	for _, path := range []string{"/metrics", "/health", "/nope"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, http.NoBody))
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
}
