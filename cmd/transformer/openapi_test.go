package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/tidwall/gjson"

	"spotifypixel/api"
	"spotifypixel/internal/testkit"
)

// The OpenAPI document (api/openapi.yaml) is checked against the running
// server: every request the suites below send and every answer they get
// must be what the document says, so the document cannot drift.

// TestOpenAPI runs every golden case, every bad-input case, every
// RudderStack fixture, every error class and the operations routes against
// real servers, validating each exchange; then every status the document
// declares for this service's own routes must have been seen, but for the
// few listed in unexercised with the reason.
func TestOpenAPI(t *testing.T) {
	a := newAPICheck(t, nil)
	t.Run("goldens", func(t *testing.T) { openAPIGoldens(t, a) })
	t.Run("badinput", func(t *testing.T) { openAPIBadInput(t, a) })
	t.Run("rudder", func(t *testing.T) { openAPIRudder(t, a) })
	t.Run("errors", func(t *testing.T) { openAPIErrors(t, a) })
	t.Run("operations", func(t *testing.T) { openAPIOperations(t, a) })
	t.Run("sidecar", func(t *testing.T) { openAPISidecar(t, a) })
	unexercised := map[string]string{
		"POST /transform 500":                     "a bug: no request can cause it on purpose",
		"POST /v0/destinations/{destination} 408": "the same body reader as /transform's 408",
		"POST /routerTransform 408":               "the same body reader as /transform's 408",
		"POST /v0/destinations/{destination} 415": "the same content-type check as /transform's 415",
		"POST /routerTransform 415":               "the same content-type check as /transform's 415",
		"POST /routerTransform 500":               "the compacted-destination 500 is exercised on the processor route",
		"POST /v0/destinations/{destination} 413": "the same body limit as /transform's 413",
		"POST /routerTransform 413":               "the same body limit as /transform's 413",
		"POST /routerTransform 400":               "malformed bodies are exercised on the processor route",
		"GET /debug/events 200":                   "a stream that never ends by itself: TestLiveTail reads it",
		"GET /debug/events 503":                   "TestLiveTail provokes it past -live-tail-subscribers",
	}
	for _, want := range declared(a.model) {
		if !a.got[want] && unexercised[want] == "" {
			t.Errorf("%s is declared but no exchange produced it", want)
		}
	}
}

// declared lists "METHOD template status" for every numbered response of
// the operations of this service's own routes (not sidecar or profiles).
func declared(doc *v3.Document) []string {
	var out []string
	for tmpl, item := range doc.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			if slices.Contains(op.Tags, "sidecar") || op.OperationId == "pprof" {
				continue
			}
			for code := range op.Responses.Codes.KeysFromOldest() {
				out = append(out, fmt.Sprintf("%s %s %s", strings.ToUpper(method), tmpl, code))
			}
		}
	}
	return out
}

// apiCheck sends requests to a server and validates each exchange against
// the OpenAPI document.
type apiCheck struct {
	t     *testing.T
	s     *server
	v     validator.Validator
	sv    schema_validation.SchemaValidator
	line  *base.Schema    // StreamLine: each line of an NDJSON answer
	error *base.Schema    // Error: the body of answers on no declared route
	model *v3.Document    // to name the path template of each exchange
	got   map[string]bool // "METHOD template status" seen, for TestOpenAPI's coverage check
}

// The request of an exchange is held to the document always, only when
// it was answered 2xx (a config the service refuses is a valid HTTP
// request that the document answers with 422), or never (bad on purpose).
const (
	requestAlways = iota
	requestWhenOK
	requestNever
)

func newAPICheck(t *testing.T, s *server) *apiCheck {
	t.Helper()
	doc, err := libopenapi.NewDocument(api.OpenAPI())
	if err != nil {
		t.Fatalf("parsing api/openapi.yaml: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("building the validator: %v", errs)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("building the model: %v", err)
	}
	line, errSchema := model.Model.Components.Schemas.GetOrZero("StreamLine"), model.Model.Components.Schemas.GetOrZero("Error")
	if line == nil || errSchema == nil {
		t.Fatal("no StreamLine or Error schema")
	}
	return &apiCheck{t: t, s: s, v: v, sv: schema_validation.NewSchemaValidator(), line: line.Schema(),
		error: errSchema.Schema(), model: &model.Model, got: map[string]bool{}}
}

// on is a for another test and server, sharing what has been seen.
func (a *apiCheck) on(t *testing.T, s *server) *apiCheck {
	b := *a
	b.t, b.s = t, s
	return &b
}

// record notes an exchange of a declared route for the coverage check.
func (a *apiCheck) record(req *http.Request, status int) {
	if _, errs, tmpl := paths.FindPath(req, a.model, nil); len(errs) == 0 {
		a.got[fmt.Sprintf("%s %s %d", req.Method, tmpl, status)] = true
	}
}

// exchange sends one request and validates the answer, and the request as
// check says (requestAlways, requestWhenOK, requestNever). An NDJSON answer
// is validated line by line against StreamLine.
func (a *apiCheck) exchange(name, method, path, ctype string, body []byte, check int, hdr ...string) response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.s.url+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s: %v", name, err)
	}
	return a.check(name, req, body, resp, check)
}

// check validates one exchange whose answer has not been read yet.
func (a *apiCheck) check(name string, req *http.Request, body []byte, resp *http.Response, check int) response {
	a.t.Helper()
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		a.t.Fatalf("%s: reading the answer: %v", name, err)
	}
	// The validator reads both bodies: give it fresh copies.
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp.Body = io.NopCloser(bytes.NewReader(got))
	ndjson := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson")
	if check == requestAlways || check == requestWhenOK && resp.StatusCode < 300 {
		if ok, errs := a.v.ValidateHttpRequestSync(withoutNDJSON(req)); !ok {
			a.t.Errorf("%s: the request does not match the document: %s", name, describe(errs))
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	if beyondFloat64(got) {
		// Valid JSON the validator cannot decode (it reads numbers as
		// float64); the service passes such numbers through as written.
		a.t.Logf("%s: the answer holds a number beyond float64; its body is not validated", name)
		resp.Body = io.NopCloser(strings.NewReader(`""`))
		resp.Header.Set("Content-Type", "text/plain")
	} else if ok, errs := a.v.ValidateHttpResponse(req, withoutNDJSON(resp)); !ok {
		a.t.Errorf("%s: the %d answer does not match the document: %s\nbody: %.300s", name, resp.StatusCode, describe(errs), got)
	}
	if ndjson {
		for _, l := range bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")) {
			if ok, errs := a.sv.ValidateSchemaBytes(a.line, l); !ok {
				a.t.Errorf("%s: an NDJSON line is not a StreamLine: %s\nline: %.300s", name, describe(errs), l)
			}
		}
	}
	a.record(req, resp.StatusCode)
	return response{resp.StatusCode, resp.Header, got}
}

// beyondFloat64 reports whether b is JSON holding a number that does not
// fit a float64.
func beyondFloat64(b []byte) bool {
	var v any
	var te *json.UnmarshalTypeError
	return errors.As(json.Unmarshal(b, &v), &te) && strings.HasPrefix(te.Value, "number")
}

// withoutNDJSON hides an NDJSON body from the validator, which would decode
// it as one JSON document; its lines are checked one by one instead. The
// media type itself is still checked against the operation.
func withoutNDJSON[M interface{ *http.Request | *http.Response }](m M) M {
	switch m := any(m).(type) {
	case *http.Request:
		if strings.HasPrefix(m.Header.Get("Content-Type"), "application/x-ndjson") {
			c := m.Clone(m.Context())
			c.Body = io.NopCloser(strings.NewReader(`""`))
			return any(c).(M)
		}
	case *http.Response:
		if strings.HasPrefix(m.Header.Get("Content-Type"), "application/x-ndjson") {
			c := *m
			c.Body = io.NopCloser(strings.NewReader(`""`))
			return any(&c).(M)
		}
	}
	return m
}

func describe[E error](errs []E) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// openAPIGoldens sends every golden case (its config inline, with the
// outputs it asks for, beacons added to the rest; every other one with the
// explain trace) through /transform, and validates each exchange.
func openAPIGoldens(t *testing.T, a *apiCheck) {
	const token = "tok-openapi"
	a = a.on(t, startServer(t, map[string]string{"TRANSFORMER_AUTH_TOKEN": token}))
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for i, f := range files {
		var c struct {
			Config  json.RawMessage `json:"config"`
			Include string          `json:"include"`
			Event   json.RawMessage `json:"event"`
		}
		raw, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(raw, &c) != nil {
			t.Fatalf("%s: %v", f, err)
		}
		include := c.Include
		if include == "" {
			include = "beacons"
		}
		body := fmt.Sprintf(`{"destination":{"ID":"golden","Config":%s},"batch":[%s]}`, c.Config, c.Event)
		auth := []string{"Authorization", "Bearer " + token}
		path := "/transform?include=" + include
		if i%2 == 1 {
			path += "&explain=1"
		}
		r := a.exchange(filepath.Base(f), http.MethodPost, path, "application/json", []byte(body), requestWhenOK, auth...)
		if r.status != 200 && r.status != 422 {
			t.Errorf("%s: status %d: %s", f, r.status, r.body)
		}
		if explained := gjson.GetBytes(r.body, "results.0.explain").IsArray(); r.status == 200 && explained != (i%2 == 1) {
			t.Errorf("%s: explain asked %v, trace present %v", f, i%2 == 1, explained)
		}
	}
}

// openAPIBadInput sends every case of testdata/badinput and validates
// each answer (the requests are bad on purpose, so only answers are held
// to the document).
func openAPIBadInput(t *testing.T, a *apiCheck) {
	a = a.on(t, startServer(t, nil))
	cases := loadBadCases(t, filepath.Join("..", "..", "testdata", "badinput"))
	for i := range cases {
		c := &cases[i]
		ct := c.contentType
		if ct == "none" {
			ct = ""
		}
		body, hdr := c.body, []string{}
		if c.encoding == "gzip" {
			body, hdr = testkit.Gzip(body), []string{"Content-Encoding", "gzip"}
		}
		if r := a.exchange(c.name, http.MethodPost, c.path, ct, body, requestNever, hdr...); r.status != c.status {
			t.Errorf("%s: status %d, want %d", c.name, r.status, c.status)
		}
	}
}

// openAPIRudder sends every RudderStack fixture (testdata/rudder) and
// validates request and answer.
func openAPIRudder(t *testing.T, a *apiCheck) {
	a = a.on(t, startServer(t, nil))
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "rudder", "*.json"))
	if len(files) == 0 {
		t.Fatal("no RudderStack fixtures")
	}
	for _, f := range files {
		var fx struct {
			Request struct {
				Method, Path string
				Headers      map[string]string
				Body         json.RawMessage
			}
			Response struct{ Status int }
		}
		raw, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(raw, &fx) != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var hdr []string
		for k, v := range fx.Request.Headers {
			hdr = append(hdr, k, v)
		}
		r := a.exchange(filepath.Base(f), fx.Request.Method, fx.Request.Path, "application/json", fx.Request.Body, requestWhenOK, hdr...)
		if r.status != fx.Response.Status {
			t.Errorf("%s: status %d, want %d", f, r.status, fx.Response.Status)
		}
	}
}

// TestOpenAPIValidatorRejects proves the checks above can fail: answers
// that break the document are refused, as is an NDJSON line of the wrong
// shape.
func TestOpenAPIValidatorRejects(t *testing.T) {
	a := newAPICheck(t, &server{t: t})
	req, _ := http.NewRequest(http.MethodPost, "http://localhost:8080/transform", strings.NewReader(`{"batch":[]}`))
	req.Header.Set("Content-Type", "application/json")
	for _, bad := range []struct {
		status int
		body   string
	}{
		{200, `{"results":"none"}`},
		{200, `{"destinationId":"d","pixelId":"p","results":[{"index":0,"messageId":"m","status":"fine","statusCode":200}],"summary":{"events":1,"ok":1,"filtered":0,"failed":0,"calls":0}}`},
		{400, `{"message":"no"}`},
		{418, `{"error":"teapot"}`},
	} {
		resp := &http.Response{StatusCode: bad.status, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(bad.body))}
		if ok, _ := a.v.ValidateHttpResponse(req, resp); ok {
			t.Errorf("%d %s passed the document", bad.status, bad.body)
		}
	}
	if ok, _ := a.sv.ValidateSchemaBytes(a.line, []byte(`{"index":"zero","status":"ok"}`)); ok {
		t.Error("a malformed NDJSON line passed StreamLine")
	}
}

// openAPIErrors produces every error class of the service's own routes
// that the other suites do not, on a server with a token and small limits.
func openAPIErrors(t *testing.T, a *apiCheck) {
	const token = "tok-errors"
	s := startServer(t, map[string]string{"TRANSFORMER_AUTH_TOKEN": token},
		"-max-body-bytes", "4096", "-body-budget-bytes", "4096", "-request-timeout", "1s", "-max-inflight", "1")
	a = a.on(t, s)
	auth := []string{"Authorization", "Bearer " + token}
	batch := []byte(`{"batch":[{"type":"page","messageId":"m"}]}`)
	for _, c := range []struct {
		name, path, body string
		hdr              []string
		want             int
	}{
		{"no token", "/transform?destination=demo", string(batch), nil, 401},
		{"no token, processor", "/v0/destinations/spotify_pixel", "[]", nil, 401},
		{"no token, router", "/routerTransform", `{"input":[],"destType":"SPOTIFY_PIXEL"}`, nil, 401},
		{"unknown destination", "/transform?destination=nope", string(batch), auth, 404},
		{"unknown destType", "/routerTransform", `{"input":[],"destType":"FACEBOOK_PIXEL"}`, auth, 404},
		{"too large", "/transform?destination=demo", `{"batch":[` + strings.Repeat(`{"type":"page"},`, 300) + `{}]}`, auth, 413},
		{"ok", "/transform?destination=demo", string(batch), auth, 200},
	} {
		if r := a.exchange(c.name, http.MethodPost, c.path, "application/json", []byte(c.body), requestAlways, c.hdr...); r.status != c.want {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.want, r.body)
		}
	}
	// No declared route: the answer is still an Error.
	for _, c := range []struct{ method, path string }{{http.MethodGet, "/transform"}, {http.MethodPost, "/nowhere"}} {
		r := s.do(c.method, c.path, "", nil, auth...)
		if ok, errs := a.sv.ValidateSchemaBytes(a.error, r.body); !ok || r.status < 400 {
			t.Errorf("%s %s: %d %s is not an Error: %s", c.method, c.path, r.status, r.body, describe(errs))
		}
	}
	// 503: one body of the largest size, arriving slowly, holds the whole body budget.
	held := a.partial(t, "/transform?destination=demo", token)
	eventually(t, "a 503 while the budget is held", func() bool {
		return a.exchange("over the in-flight limit", http.MethodPost, "/transform?destination=demo", "application/json", batch, requestAlways, auth...).status == 503
	})
	// 408: the held body never completes within -request-timeout.
	if r := a.check("body too slow", held.req, nil, held.read(t), requestNever); r.status != 408 {
		t.Errorf("slow body: status %d, want 408: %s", r.status, r.body)
	}
}

// heldRequest is a request whose body was only partly sent.
type heldRequest struct {
	req  *http.Request
	conn net.Conn
}

// partial sends the headers and the first bytes of a 4096-byte body.
func (a *apiCheck) partial(t *testing.T, path, token string) *heldRequest {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest(http.MethodPost, a.s.url+path, http.NoBody)
	req.Header.Set("Content-Type", "application/json")
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: 4096\r\n\r\n{\"batch\":[", path, token)
	return &heldRequest{req: req, conn: conn}
}

// read waits (bounded) for the answer to a held request.
func (h *heldRequest) read(t *testing.T) *http.Response {
	t.Helper()
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(h.conn), h.req)
	if err != nil {
		t.Fatalf("reading the answer to a held request: %v", err)
	}
	return resp
}

// openAPIOperations asks the open routes.
func openAPIOperations(t *testing.T, a *apiCheck) {
	s := startServer(t, nil, "-drain-delay", "2s")
	a = a.on(t, s)
	for _, path := range []string{"/health", "/ready", "/features", "/metrics", "/openapi.yaml",
		"/playground", "/playground/app.js", "/playground/style.css", "/playground/destinations"} {
		r := a.exchange(path, http.MethodGet, path, "", nil, requestAlways)
		if r.status != 200 {
			t.Errorf("%s: status %d", path, r.status)
		}
		if path == "/openapi.yaml" && !bytes.Equal(r.body, api.OpenAPI()) {
			t.Error("/openapi.yaml is not the embedded document")
		}
	}
	for path, want := range map[string]int{"/debug/events": 400, "/debug/events?destination=nope": 404} {
		if r := a.exchange(path, http.MethodGet, path, "", nil, requestWhenOK); r.status != want {
			t.Errorf("%s: %d, want %d", path, r.status, want)
		}
	}
	locked := a.on(t, startServer(t, map[string]string{"TRANSFORMER_AUTH_TOKEN": "tok-pg"}))
	for _, path := range []string{"/playground/destinations", "/debug/events?destination=demo"} {
		if r := locked.exchange(path+" without the token", http.MethodGet, path, "", nil, requestAlways); r.status != 401 {
			t.Errorf("%s without the token: %d", path, r.status)
		}
	}
	s.cancel() // draining: /ready answers 503 for -drain-delay, then the listener closes
	for range 50 {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/ready", http.NoBody)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			break
		}
		if r := a.check("draining", req, nil, resp, requestAlways); r.status == 503 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openAPISidecar produces the sidecar answers of the RudderStack routes:
// 502 from an upstream that refuses, 504 from one that never answers, 503
// past -upstream-max-inflight.
func openAPISidecar(t *testing.T, a *apiCheck) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	up := hungUpstream(t)
	const router = `{"input":[],"destType":"GA4"}`
	for _, c := range []struct {
		upstream string
		want     int
	}{{dead, 502}, {up.URL, 504}} {
		b := a.on(t, startServer(t, nil, "-upstream-transformer", c.upstream, "-upstream-response-header-timeout", "200ms"))
		for path, body := range map[string]string{"/v0/destinations/ga4": "[]", "/routerTransform": router} {
			if r := b.exchange(path, http.MethodPost, path, "application/json", []byte(body), requestWhenOK); r.status != c.want {
				t.Errorf("%s before %s: %d, want %d: %s", path, c.upstream, r.status, c.want, r.body)
			}
		}
	}
	s := startServer(t, nil, "-upstream-transformer", up.URL, "-upstream-max-inflight", "1", "-upstream-response-header-timeout", "10s")
	b := a.on(t, s)
	held := make(chan struct{})
	go func() {
		defer close(held)
		_, _ = call(boundedClient(t), http.MethodPost, s.url+"/v1/sources/shopify", "[]")
	}()
	eventually(t, "one request held by the upstream", func() bool { return up.now.Load() == 1 })
	for path, body := range map[string]string{"/v0/destinations/ga4": "[]", "/routerTransform": router} {
		if r := b.exchange(path, http.MethodPost, path, "application/json", []byte(body), requestWhenOK); r.status != 503 {
			t.Errorf("%s over -upstream-max-inflight: %d: %s", path, r.status, r.body)
		}
	}
	s.stop()
	<-held
}
