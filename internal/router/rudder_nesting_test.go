package router

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/destinations"
	"spotifypixel/internal/testkit"
)

// rudderRoute is one way to send a body to a RudderStack route.
type rudderRoute struct {
	name, path      string
	gzip, compacted bool
	sidecarOnly     bool // /batch is a route in sidecar mode only
}

var rudderRoutes = []rudderRoute{
	{name: "processor", path: "/v0/destinations/spotify_pixel"},
	{name: "processor upper case", path: "/v0/destinations/SPOTIFY_PIXEL"},
	{name: "processor gzip", path: "/v0/destinations/spotify_pixel", gzip: true},
	{name: "processor compacted", path: "/v0/destinations/spotify_pixel", compacted: true},
	{name: "router", path: "/routerTransform"},
	{name: "router gzip", path: "/routerTransform", gzip: true},
	{name: "router compacted gzip", path: "/routerTransform", gzip: true, compacted: true},
	{name: "batch", path: "/batch", sidecarOnly: true},
	{name: "batch gzip", path: "/batch", gzip: true, sidecarOnly: true},
}

// nestingServers serves the routes standalone and in sidecar mode (in front
// of a stand-in upstream), with a demo destination store for /transform, a
// body limit above 10 MB and the nesting limit depth (0: the default).
type nestingServers struct {
	standalone, sidecar string
	up                  *standIn
}

func newNestingServers(t *testing.T, depth int) *nestingServers {
	t.Helper()
	store, err := destinations.NewStore("")
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(d *Deps) {
		d.Store, d.MaxBodyBytes, d.MaxJSONDepth = store, 16<<20, depth
	}
	plain := httptest.NewServer(rudderHandler(t, mutate))
	t.Cleanup(plain.Close)
	up := newStandIn(t)
	side, _ := startSidecar(t, up.URL, mutate)
	return &nestingServers{standalone: plain.URL, sidecar: side.URL, up: up}
}

// modes are the servers a route is tried on.
func (s *nestingServers) modes(r rudderRoute) map[string]string {
	if r.sidecarOnly {
		return map[string]string{"sidecar": s.sidecar}
	}
	return map[string]string{"standalone": s.standalone, "sidecar": s.sidecar}
}

// post sends body to a route as rudder-server would (without asking for a
// gzip reply) and returns the status and the reply's "error" text. A gzip
// route sends zipped, the body compressed (nil: compressed here).
func post(t *testing.T, base string, r rudderRoute, body, zipped []byte) (int, string, []byte) {
	t.Helper()
	h := rudderHeaders()
	h.Del("Accept-Encoding")
	if r.gzip {
		if zipped == nil {
			zipped = testkit.Gzip(body)
		}
		body = zipped
		h.Set("Content-Encoding", "gzip")
	}
	if r.compacted {
		h.Set("X-Content-Format", "json+compactedv1")
	}
	resp, reply := send(t, http.MethodPost, base+r.path, bytes.NewReader(body), h)
	return resp.StatusCode, gjson.GetBytes(reply, "error").Str, reply
}

// transformAnswer is what POST /transform answers for body: the reference
// for the wording of every fault.
func transformAnswer(t *testing.T, base string, body []byte) (int, string) {
	t.Helper()
	resp, reply := send(t, http.MethodPost, base+"/transform?destination=demo", bytes.NewReader(body),
		http.Header{"Content-Type": {"application/json"}})
	return resp.StatusCode, gjson.GetBytes(reply, "error").Str
}

// deepAt returns the index of the first bracket of s that goes deeper than
// limit, counting brackets alone (the bodies built here hold none in
// strings), or -1.
func deepAt(s string, limit int) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '{':
			depth++
			if depth > limit {
				return i
			}
		case ']', '}':
			depth--
		}
	}
	return -1
}

// nesting returns the deepest nesting of s, counted as deepAt counts.
func nesting(s string) int {
	depth, most := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '{':
			depth++
			most = max(most, depth)
		case ']', '}':
			depth--
		}
	}
	return most
}

// faultCase is a body every RudderStack route must refuse with want.
type faultCase struct {
	name, body, want string
	proxiedElse      bool // in sidecar mode /routerTransform and /batch pass it to the upstream
}

// faultCases builds the bodies: too deep (in several places), 10 MB of
// "[" (only when huge is set), and malformed ones, each with the answer
// /transform gives for it.
func faultCases(limit int, huge bool) []faultCase {
	deeper := func(body string) faultCase {
		return faultCase{body: body, want: fmt.Sprintf(
			"request body nests JSON arrays and objects deeper than %d levels (at byte %d)", limit, deepAt(body, limit))}
	}
	invalid := func(body string, at int) faultCase {
		return faultCase{body: body, want: fmt.Sprintf("request body is not valid JSON (at byte %d)", at)}
	}
	brackets := strings.Repeat("[", limit+1) + strings.Repeat("]", limit+1)
	var cases []faultCase
	add := func(name string, c faultCase) {
		c.name = name
		cases = append(cases, c)
	}
	add("too deep in a message", deeper(`{"destType":"spotify_pixel","input":[{"message":`+brackets+`}]}`))
	add("too deep, destType last", deeper(`{"input":[{"message":{"properties":`+brackets+`}}],"destType":"spotify_pixel"}`))
	add("too deep, another destType", deeper(`{"input":[`+brackets+`],"destType":"ga4"}`))
	add("too deep, a processor array", deeper(`[{"message":{"type":"page"},"metadata":`+brackets+`}]`))
	if huge {
		add("10 MB of [", deeper(strings.Repeat("[", 10<<20)))
	}
	add("1 MB of { after destType", deeper(`{"destType":"spotify_pixel","input":`+strings.Repeat(`{"a":`, 200_000)))
	trailing := `{"destType":"spotify_pixel","input":[{"message":{"type":"page"}},]}`
	add("trailing comma", invalid(trailing, strings.Index(trailing, ",]")+1))
	cut := `{"destType":"spotify_pixel","input":[{"message":{"type":"page"}}`
	add("cut short", invalid(cut, len(cut)))
	ctl := "{\"destType\":\"spotify_pixel\",\"input\":[{\"message\":{\"type\":\"pa\x01ge\"}}]}"
	add("control character in a string", invalid(ctl, strings.IndexByte(ctl, 1)))
	garbage := `{"destType":"spotify_pixel","input":[]} x`
	add("text after the value", invalid(garbage, len(garbage)-1))
	badDeep := `{"destType":"spotify_pixel","input":[1,,` + strings.Repeat("[", 1<<20)
	add("malformed, then 1 MB of [", invalid(badDeep, strings.Index(badDeep, ",,")+1))
	badOther := `{"input":[1,,2],"destType":"ga4"}`
	c := invalid(badOther, strings.Index(badOther, ",,")+1)
	c.proxiedElse = true
	add("malformed, another destType", c)
	return cases
}

// TestRudderBodyFaults: on every RudderStack route, standalone and in
// sidecar mode, plain and gzip, a body that nests deeper than the limit or
// is not JSON gets a 400 naming the byte of the fault, in the very words of
// /transform (which is checked to say the same); a 10 MB body of "[" is one
// of them, and the server still answers a valid request afterwards. In
// sidecar mode none of them reaches the upstream, except a malformed body
// for another destination, which the upstream refuses as before.
func TestRudderBodyFaults(t *testing.T) {
	for _, limit := range []int{0, 64} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			srv := newNestingServers(t, limit)
			effective := limit
			if effective == 0 {
				effective = DefaultMaxJSONDepth
			}
			// The 10 MB body once per route (at the default limit) is enough.
			for _, c := range faultCases(effective, limit == 0) {
				if status, msg := transformAnswer(t, srv.standalone, []byte(c.body)); status != 400 || msg != c.want {
					t.Fatalf("%s: /transform answers %d %q, want 400 %q", c.name, status, msg, c.want)
				}
				body := []byte(c.body)
				zipped := testkit.Gzip(body)
				for _, r := range rudderRoutes {
					for mode, base := range srv.modes(r) {
						name := fmt.Sprintf("%s: %s %s", c.name, mode, r.name)
						before := len(srv.up.transforms())
						status, msg, reply := post(t, base, r, body, zipped)
						proxied := len(srv.up.transforms()) - before
						if c.proxiedElse && mode == "sidecar" && !strings.HasPrefix(r.path, "/v0/") { // routed by destType
							if status != 207 || proxied != 1 {
								t.Errorf("%s: %d %.200s (%d proxied), want it passed to the upstream", name, status, reply, proxied)
							}
							continue
						}
						if status != 400 || msg != c.want {
							t.Errorf("%s: %d %.200s, want 400 %q", name, status, reply, c.want)
						}
						if proxied != 0 {
							t.Errorf("%s: the upstream got %d requests", name, proxied)
						}
					}
				}
			}
			// Still serving: a valid request right after.
			for _, r := range rudderRoutes {
				if r.compacted || r.sidecarOnly {
					continue
				}
				for mode, base := range srv.modes(r) {
					body := atLimitBody(t, r.path, 8)
					if status, _, reply := post(t, base, r, body, nil); status != 200 {
						t.Errorf("after the faults, %s %s: %d %.200s", mode, r.name, status, reply)
					}
				}
			}
		})
	}
}

// atLimitBody is a valid request for path (processor or router) whose
// nesting is exactly levels: a message property holds the extra brackets.
func atLimitBody(t *testing.T, path string, levels int) []byte {
	t.Helper()
	build := func(value string) string {
		item := `{"message":{"type":"page","messageId":"m1","properties":{"x":` + value + `}},"metadata":{"jobId":1},` +
			`"destination":{"ID":"d","Config":{"pixelId":"p"}}}`
		if path == "/routerTransform" {
			return `{"destType":"spotify_pixel","input":[` + item + `]}`
		}
		return `[` + item + `]`
	}
	k := levels - nesting(build("0"))
	if k < 0 {
		t.Fatalf("%s cannot nest only %d levels", path, levels)
	}
	body := build(strings.Repeat("[", k) + "0" + strings.Repeat("]", k))
	if nesting(body) != levels || !json.Valid([]byte(body)) {
		t.Fatalf("built a body of %d levels, want %d", nesting(body), levels)
	}
	return []byte(body)
}

// TestRudderNestingLimitBoundary: a valid request that nests exactly as deep
// as the limit is transformed, one level more is refused; the limit counts
// the body's own level, as /transform's does.
func TestRudderNestingLimitBoundary(t *testing.T) {
	for _, limit := range []int{0, 64} {
		srv := newNestingServers(t, limit)
		effective := limit
		if effective == 0 {
			effective = DefaultMaxJSONDepth
		}
		for _, r := range rudderRoutes {
			if r.compacted || r.sidecarOnly {
				continue
			}
			for mode, base := range srv.modes(r) {
				name := fmt.Sprintf("limit %d, %s %s", limit, mode, r.name)
				if status, _, reply := post(t, base, r, atLimitBody(t, r.path, effective), nil); status != 200 {
					t.Errorf("%s, at the limit: %d %.200s", name, status, reply)
				}
				deeper := atLimitBody(t, r.path, effective+1)
				want := fmt.Sprintf("request body nests JSON arrays and objects deeper than %d levels (at byte %d)",
					effective, deepAt(string(deeper), effective))
				if status, msg, _ := post(t, base, r, deeper, nil); status != 400 || msg != want {
					t.Errorf("%s, one level more: %d %q, want 400 %q", name, status, msg, want)
				}
			}
		}
		if n := len(srv.up.transforms()); n != 0 {
			t.Errorf("limit %d: the upstream got %d requests", limit, n)
		}
	}
}
