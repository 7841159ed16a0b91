package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// sink records the requests rudder-server would deliver.
type sink struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path, auth, contentType string
	query                           url.Values
	body                            []byte
}

func (k *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	k.mu.Lock()
	k.reqs = append(k.reqs, recorded{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.URL.Query(), b})
	k.mu.Unlock()
	w.WriteHeader(200)
}

func (k *sink) all() []recorded {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]recorded(nil), k.reqs...)
}

// deliver does what rudder-server's router does with a REST delivery
// request: endpoint, method, headers, params as the query, body.JSON as a
// JSON body.
func deliver(t *testing.T, out gjson.Result) {
	t.Helper()
	u, err := url.Parse(out.Get("endpoint").Str)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	out.Get("params").ForEach(func(k, v gjson.Result) bool { q.Set(k.Str, v.String()); return true })
	u.RawQuery = q.Encode()
	var body io.Reader
	if js := out.Get("body.JSON"); js.IsObject() && js.Raw != "{}" {
		body = strings.NewReader(js.Raw)
	}
	req, _ := http.NewRequest(out.Get("method").Str, u.String(), body)
	out.Get("headers").ForEach(func(k, v gjson.Result) bool { req.Header.Set(k.Str, v.Str); return true })
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

const capiToken = "capi-token-for-tests-7f3"

func capiDestinationConfig() string {
	return `{"pixelId":"px-capi","enableAliasCall":true,"capiConnectionId":"conn-42","capiAccessToken":"` + capiToken + `"}`
}

func capiEvents() [][]byte {
	return [][]byte{
		[]byte(`{"type":"track","event":"Order Completed","messageId":"ord-1","userId":"u-secret-1","timestamp":"2026-11-29T10:00:00Z",
		  "context":{"traits":{"email":"buyer.secret@example.com","phone":"+49 151 99999999"},"ip":"203.0.113.50","userAgent":"UA/1"},
		  "properties":{"total":42,"currency":"EUR","order_id":"o-1"}}`),
		[]byte(`{"type":"track","event":"Product Added","messageId":"add-1","context":{"ip":"203.0.113.51"},
		  "properties":{"products":[{"price":1,"name":"A"},{"price":2,"name":"B"}]}}`),
		[]byte(`{"type":"page","messageId":"pg-1","context":{"page":{"url":"https://shop.test/"}}}`),
	}
}

// TestRudderCAPIDelivery sends processor and router replies, delivered as
// rudder-server would, to recording stand-ins for the pixel and the
// Conversions API, and checks envelopes, auth and the shared event_id.
func TestRudderCAPIDelivery(t *testing.T) {
	pixel, capi := &sink{}, &sink{}
	pixelSrv, capiSrv := httptest.NewServer(pixel), httptest.NewServer(capi)
	defer pixelSrv.Close()
	defer capiSrv.Close()
	s := startServer(t, nil, "-beacon-url", pixelSrv.URL+"/px", "-capi-url", capiSrv.URL+"/capi", "-capi-batch-size", "2")
	events := capiEvents()

	r := s.post("/v0/destinations/spotify_pixel", rudderProcessorBody(events, capiDestinationConfig()))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	gjson.ParseBytes(r.body).ForEach(func(_, e gjson.Result) bool {
		if e.Get("statusCode").Int() == 200 {
			deliver(t, e.Get("output"))
		}
		return true
	})
	got := capi.all()
	// purchase: 1 CAPI event; product added: 2 (fan-out); page: no identifier.
	if len(got) != 3 {
		t.Fatalf("%d CAPI deliveries, want 3: %+v", len(got), got)
	}
	var ids []string
	for _, req := range got {
		env := gjson.ParseBytes(req.body)
		if req.method != "POST" || req.path != "/capi" || req.auth != "Bearer "+capiToken || req.contentType != "application/json" ||
			env.Get("conversion_events.capi_connection_id").Str != "conn-42" || env.Get("conversion_events.events.#").Int() != 1 {
			t.Errorf("CAPI delivery %s %s auth=%q ct=%q body=%s", req.method, req.path, req.auth, req.contentType, req.body)
		}
		ids = append(ids, env.Get("conversion_events.events.0.event_id").Str)
	}
	if strings.Join(ids, ",") != "ord-1,add-1-0,add-1-1" {
		t.Errorf("CAPI event ids %v", ids)
	}
	if n := len(pixel.all()); n != 4 { // purchase, 2 × addtocart, view
		t.Errorf("%d pixel beacons delivered, want 4", n)
	}
	// The pixel calls of the same events carry the same event_id (dedup).
	tr := s.post("/transform?include=beacons", `{"destination":{"Config":`+capiDestinationConfig()+`},"batch":[`+string(bytes.Join(events, []byte(",")))+`]}`)
	var pixelIDs []string
	gjson.GetBytes(tr.body, "results.#.calls").ForEach(func(_, calls gjson.Result) bool {
		calls.ForEach(func(_, c gjson.Result) bool {
			if c.Get("command").Str == "purchase" || c.Get("command").Str == "addtocart" {
				pixelIDs = append(pixelIDs, c.Get("params.event_id").Str)
			}
			return true
		})
		return true
	})
	if strings.Join(pixelIDs, ",") != strings.Join(ids, ",") {
		t.Errorf("pixel event ids %v, CAPI %v", pixelIDs, ids)
	}

	// The router batches a destination's CAPI events into envelopes.
	capi.mu.Lock()
	capi.reqs = nil
	capi.mu.Unlock()
	input := strings.TrimSuffix(strings.TrimPrefix(rudderProcessorBody(events, capiDestinationConfig()), "["), "]")
	rr := s.post("/routerTransform", `{"input":[`+input+`],"destType":"spotify_pixel"}`)
	batches := 0
	gjson.GetBytes(rr.body, "output").ForEach(func(_, e gjson.Result) bool {
		br := e.Get("batchedRequest")
		if br.IsArray() {
			br.ForEach(func(_, o gjson.Result) bool { deliver(t, o); return true })
		} else {
			deliver(t, br)
		}
		if e.Get("batched").Bool() {
			batches++
			if e.Get("metadata.#").Int() < 1 || e.Get("statusCode").Int() != 200 {
				t.Errorf("batched entry %s", e.Raw)
			}
		}
		return true
	})
	got = capi.all()
	if batches != 2 || len(got) != 2 {
		t.Fatalf("router: %d batched entries, %d CAPI deliveries; want 2 and 2:\n%s", batches, len(got), rr.body)
	}
	if n := gjson.GetBytes(got[0].body, "conversion_events.events.#").Int() + gjson.GetBytes(got[1].body, "conversion_events.events.#").Int(); n != 3 {
		t.Errorf("router envelopes hold %d events, want 3", n)
	}

	// Neither logs nor metrics carry the token or raw contact data.
	resp, _ := http.Get(s.metricsURL + "/metrics")
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, secret := range []string{capiToken, "buyer.secret", "99999999", "u-secret-1", "203.0.113.50"} {
		if strings.Contains(s.logs.String(), secret) || strings.Contains(string(metricsText), secret) {
			t.Errorf("%q found in logs or metrics", secret)
		}
	}
	var anyJSON any
	if json.Unmarshal(rr.body, &anyJSON) != nil {
		t.Error("router reply is not JSON")
	}
}
