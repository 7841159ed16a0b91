package router

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"spotifypixel/internal/metrics"
	"spotifypixel/internal/testkit"
)

// fixtureDir holds the RudderStack contract cases: request and expected
// response side by side, one file per case.
const fixtureDir = "../../testdata/rudder"

func rudderHandler(t *testing.T, mutate ...func(*Deps)) http.Handler {
	t.Helper()
	d := Deps{
		Metrics:        metrics.New(prometheus.NewRegistry()),
		Logger:         zap.NewNop(),
		MaxBodyBytes:   1 << 20,
		MaxBatchEvents: 100,
		BeaconURL:      "https://img.byspotify.com/",
	}
	for _, m := range mutate {
		m(&d)
	}
	return New(d)
}

// TestRudderContract replays every fixture of testdata/rudder through the
// real routes and compares the reply as JSON (numbers compared by their
// text). It also checks that every echoed metadata is byte-identical to one
// the request sent, and that every 200 carries apiVersion: 2.
func TestRudderContract(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v (%d files)", err, len(files))
	}
	h := rudderHandler(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fx := gjson.ParseBytes(raw)
			req := httptest.NewRequest(fx.Get("request.method").Str, fx.Get("request.path").Str,
				strings.NewReader(fx.Get("request.body").Raw))
			req.Header.Set("Content-Type", "application/json")
			fx.Get("request.headers").ForEach(func(k, v gjson.Result) bool {
				req.Header.Set(k.Str, v.Str)
				return true
			})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if want := int(fx.Get("response.status").Int()); rec.Code != want {
				t.Fatalf("status %d, want %d; body %s", rec.Code, want, rec.Body)
			}
			if rec.Code == 200 && rec.Header().Get("apiVersion") != "2" {
				t.Errorf("apiVersion header %q", rec.Header().Get("apiVersion"))
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			got, want := testkit.DecodeNumbers(rec.Body.Bytes()), testkit.DecodeNumbers([]byte(fx.Get("response.body").Raw))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("reply differs from %s\n got: %s\nwant: %s", file, indentJSON(rec.Body.Bytes()), indentJSON([]byte(fx.Get("response.body").Raw)))
			}
			checkMetadataEcho(t, fx.Get("request.body"), rec.Body.Bytes())
		})
	}
}

// checkMetadataEcho asserts that every metadata of the reply is the exact
// text of a metadata of the request.
func checkMetadataEcho(t *testing.T, reqBody gjson.Result, reply []byte) {
	t.Helper()
	sent := map[string]bool{}
	for _, path := range []string{"#.metadata", "input.#.metadata"} {
		for _, md := range reqBody.Get(path).Array() {
			sent[md.Raw] = true
		}
	}
	r := gjson.ParseBytes(reply)
	entries := r.Get("output")
	if !entries.Exists() {
		entries = r
	}
	for _, e := range entries.Array() {
		md := e.Get("metadata")
		if md.IsArray() {
			md = md.Get("0")
		}
		if md.Exists() && md.Type != gjson.Null && !sent[md.Raw] {
			t.Errorf("metadata %s is not byte-identical to any metadata sent", md.Raw)
		}
	}
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

const smallProcessorBody = `[{"message":{"type":"page","messageId":"m1"},"metadata":{"jobId":1},"destination":{"ID":"d","Config":{"pixelId":"p"}}}]`

func TestRudderGzip(t *testing.T) {
	h := rudderHandler(t)
	var zbody bytes.Buffer
	zw := gzip.NewWriter(&zbody)
	zw.Write([]byte(smallProcessorBody))
	zw.Close()
	req := httptest.NewRequest(http.MethodPost, "/v0/destinations/spotify_pixel", bytes.NewReader(zbody.Bytes()))
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, Content-Encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Contains(plain, []byte(`"a":"init"`)) {
		t.Fatalf("inflated reply %s, %v", plain, err)
	}
	if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
		t.Error("no Vary: Accept-Encoding")
	}
}

func TestRudderRequestErrors(t *testing.T) {
	h := rudderHandler(t, func(d *Deps) { d.MaxBodyBytes = 4096; d.MaxBatchEvents = 2; d.AuthToken = "s3cret" })
	bomb := func() []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte("[" + strings.Repeat(" ", 100000) + "]"))
		zw.Close()
		return b.Bytes()
	}()
	three := "[" + strings.Repeat(`{"message":{},"metadata":{},"destination":{}},`, 2) + `{"message":{},"metadata":{},"destination":{}}]`
	cases := []struct {
		name, path, body string
		hdr              []string
		status           int
		errPart          string
	}{
		{"no token", "/v0/destinations/spotify_pixel", "[]", nil, 401, "bearer"},
		{"not json", "/v0/destinations/spotify_pixel", "[{", nil, 400, "not valid JSON"},
		{"empty", "/v0/destinations/spotify_pixel", "", nil, 400, "empty"},
		{"element not object", "/v0/destinations/spotify_pixel", "[1]", nil, 400, "element 0"},
		{"too many events", "/v0/destinations/spotify_pixel", three, nil, 413, "3 events"},
		{"too large", "/v0/destinations/spotify_pixel", "[" + strings.Repeat(" ", 5000) + "]", nil, 413, "limit"},
		{"gzip bomb", "/v0/destinations/spotify_pixel", string(bomb), []string{"Content-Encoding", "gzip"}, 413, "limit"},
		{"bad gzip", "/v0/destinations/spotify_pixel", "[]", []string{"Content-Encoding", "gzip"}, 400, "gzip"},
		{"unknown encoding", "/v0/destinations/spotify_pixel", "[]", []string{"Content-Encoding", "br"}, 415, "br"},
		{"wrong content type", "/v0/destinations/spotify_pixel", "[]", []string{"Content-Type", "text/plain"}, 415, "Content-Type"},
		{"router unknown destType", "/routerTransform", `{"input":[],"destType":"am"}`, nil, 404, "Unknown destination: am"},
		{"router no destType", "/routerTransform", `{"input":[]}`, nil, 400, "destType"},
		{"router not object", "/routerTransform", `[]`, nil, 400, "JSON object"},
		{"compacted not object", "/v0/destinations/spotify_pixel", `[]`, []string{"X-Content-Format", "json+compactedv1"}, 400, "compacted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			if c.name != "no token" {
				req.Header.Set("Authorization", "Bearer s3cret")
			}
			for i := 0; i+1 < len(c.hdr); i += 2 {
				req.Header.Set(c.hdr[i], c.hdr[i+1])
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if e := gjson.GetBytes(rec.Body.Bytes(), "error").Str; !strings.Contains(e, c.errPart) {
				t.Errorf("error %q does not mention %q", e, c.errPart)
			}
		})
	}
}

func TestFeaturesIsOpen(t *testing.T) {
	h := rudderHandler(t, func(d *Deps) { d.AuthToken = "s3cret" })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/features", http.NoBody))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	f := gjson.ParseBytes(rec.Body.Bytes())
	for _, k := range []string{"supportSourceTransformV1", "upgradedToSourceTransformV2", "supportDestTransformCompactedPayloadV1", "routerTransform.SPOTIFY_PIXEL"} {
		if !f.Get(k).Bool() {
			t.Errorf("%s is not true in %s", k, rec.Body)
		}
	}
	if !f.Get("regulations").IsArray() {
		t.Errorf("regulations is not an array in %s", rec.Body)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for in, want := range map[string]bool{
		"":                   false,
		"gzip":               true,
		"deflate, gzip":      true,
		"GZIP;q=0.5":         true,
		"gzip;q=0":           false,
		"*":                  true,
		"*;q=0":              false,
		"gzip;q=0, *":        false,
		"br, x-gzip; q=1.0":  true,
		"identity":           false,
		"deflate;q=1, br":    false,
		"gzip ; q = 0.001 ":  true,
		"notgzip, gzipped":   false,
		"gzip;q=bogus":       true,
		"gzip;q=0.0, gzip;q": true,
	} {
		if got := acceptsGzip([]string{in}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}
