package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/spotify"
)

// badCase is one file of testdata/badinput: a request and what the server
// must answer. The file is a header of "key: value" lines ("#" starts a
// comment), an empty line, then the body, byte for byte. Keys:
//
//	path              request path and query (default /transform?destination=demo)
//	content-type      default application/json; "none" sends no Content-Type
//	content-encoding  "gzip": the body is sent gzip-compressed, with the header
//	template          "yes": the body is a text/template (delimiters << >>)
//	                  with repeat N "s" and repeatJoin N "s" "sep", so that huge
//	                  bodies are generated from a few bytes
//	status            the HTTP status
//	error             a part of the {"error": ...} sentence (status != 200)
//	result            one per event, in order: a status (ok, filtered, error)
//	                  then a part of its reason
//	results           N copies of a result: "results: 10000 ok"
//	calls             summary.calls (200 only)
type badCase struct {
	name, path, contentType, encoding string
	status                            int
	errPart                           string
	results                           [][2]string
	calls                             int
	body                              []byte
}

func loadBadCases(t *testing.T, dir string) []badCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.case"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in %s: %v", dir, err)
	}
	cases := make([]badCase, 0, len(files))
	for _, f := range files {
		c, err := parseBadCase(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases = append(cases, c)
	}
	return cases
}

func parseBadCase(file string) (badCase, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return badCase{}, err
	}
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return badCase{}, fmt.Errorf("no empty line between header and body")
	}
	c := badCase{name: strings.TrimSuffix(filepath.Base(file), ".case"), path: "/transform?destination=demo",
		contentType: "application/json", calls: -1, body: body}
	tmpl := false
	for _, line := range strings.Split(string(head), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return c, fmt.Errorf("header line %q is not key: value", line)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "path":
			c.path = v
		case "content-type":
			c.contentType = v
		case "content-encoding":
			c.encoding = v
		case "template":
			tmpl = v == "yes"
		case "status":
			c.status, err = strconv.Atoi(v)
		case "error":
			c.errPart = v
		case "result":
			st, reason, _ := strings.Cut(v, " ")
			c.results = append(c.results, [2]string{st, reason})
		case "results": // N copies: "results: 3 ok"
			var n int
			count, rest, _ := strings.Cut(v, " ")
			if n, err = strconv.Atoi(count); err == nil {
				st, reason, _ := strings.Cut(rest, " ")
				for range n {
					c.results = append(c.results, [2]string{st, reason})
				}
			}
		case "calls":
			c.calls, err = strconv.Atoi(v)
		default:
			return c, fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return c, fmt.Errorf("%s: %v", k, err)
		}
	}
	if c.status == 0 {
		return c, fmt.Errorf("no status")
	}
	if tmpl {
		c.body, err = renderBody(c.body)
	}
	return c, err
}

// renderBody expands a generated body (template: yes).
func renderBody(src []byte) ([]byte, error) {
	t, err := template.New("body").Delims("<<", ">>").Funcs(template.FuncMap{
		"repeat": func(n int, s string) string { return strings.Repeat(s, n) },
		"repeatJoin": func(n int, s, sep string) string {
			if n <= 0 {
				return ""
			}
			return strings.Repeat(s+sep, n-1) + s
		},
	}).Parse(string(src))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, nil); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// send posts a case's body as the case says.
func (s *server) send(c badCase) response {
	s.t.Helper()
	body, hdr := c.body, []string{}
	if c.encoding == "gzip" {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body, hdr = b.Bytes(), append(hdr, "Content-Encoding", "gzip")
	}
	ct := c.contentType
	if ct == "none" {
		ct = ""
	}
	return s.do(http.MethodPost, c.path, ct, body, hdr...)
}

// TestBadInput runs every case of testdata/badinput against one server with
// the default limits: the documented status, a JSON error naming the
// problem, the expected result for every event, each event's result the
// same as when it is sent alone (its neighbours are unaffected), security
// headers, and the server healthy after each case, with no panic logged.
func TestBadInput(t *testing.T) {
	s := startServer(t, nil)
	cases := loadBadCases(t, filepath.Join("..", "..", "testdata", "badinput"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.send(c)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %.300s", r.status, c.status, r.body)
			}
			if r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			switch {
			case c.status != 200:
				checkErrorBody(t, r, c.errPart)
			case strings.HasPrefix(c.contentType, "application/x-ndjson"):
				checkStream(t, s, c, r)
			default:
				checkBatch(t, s, c, r)
			}
			if h := s.do(http.MethodGet, "/health", "", nil); h.status != 200 {
				t.Fatalf("unhealthy after the case: %d", h.status)
			}
		})
	}
	if n := len(logLines(s.logs.String(), "panic serving request")); n > 0 {
		t.Errorf("%d panics logged", n)
	}
}

func checkErrorBody(t *testing.T, r response, part string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var e struct{ Error string }
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" || !strings.Contains(e.Error, part) {
		t.Errorf("error body %.300s, want it to mention %q", r.body, part)
	}
}

// result is one element of results, as the test reads it.
type result struct {
	Index  int
	Status string
	Reason string
}

func checkBatch(t *testing.T, s *server, c badCase, r response) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var resp struct {
		Results []json.RawMessage
		Summary struct{ Events, Calls int }
	}
	if !gjson.ValidBytes(r.body) {
		t.Fatalf("response is not valid JSON: %.300s", r.body)
	}
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatalf("response: %v: %.300s", err, r.body)
	}
	// The body as JSON.parse reads it: a repeated key's last occurrence wins.
	body := spotify.Canonical(string(bytes.TrimPrefix(c.body, []byte("\xef\xbb\xbf"))))
	var events []string
	gjson.Get(body, "batch").ForEach(func(_, v gjson.Result) bool { events = append(events, v.Raw); return true })
	checkResults(t, s, c, resp.Results, events, gjson.Get(body, "destination").Raw)
	if c.calls >= 0 && resp.Summary.Calls != c.calls {
		t.Errorf("summary.calls %d, want %d", resp.Summary.Calls, c.calls)
	}
}

func checkStream(t *testing.T, s *server, c badCase, r response) {
	t.Helper()
	var results []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		results = append(results, append(json.RawMessage(nil), sc.Bytes()...))
	}
	if len(results) == 0 || !gjson.GetBytes(results[len(results)-1], "summary").Exists() {
		t.Fatalf("stream has no summary line: %.300s", r.body)
	}
	var events []string
	for _, line := range bytes.Split(c.body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			events = append(events, string(line))
		}
	}
	checkResults(t, s, c, results[:len(results)-1], events, "")
}

// checkResults compares results with the case's expectations and each
// result with the result of its event sent alone (when that is a 200).
func checkResults(t *testing.T, s *server, c badCase, raws []json.RawMessage, events []string, dest string) {
	t.Helper()
	if len(raws) != len(c.results) || len(events) != len(c.results) {
		t.Fatalf("%d results for %d events, want %d", len(raws), len(events), len(c.results))
	}
	alone := map[string]string{} // event → its result alone ("" when not a 200)
	for i, raw := range raws {
		var res result
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
		want := c.results[i]
		if res.Index != i || res.Status != want[0] || !strings.Contains(res.Reason, want[1]) {
			t.Errorf("result %d: index %d status %q reason %.200q, want %s %q", i, res.Index, res.Status, res.Reason, want[0], want[1])
		}
		first, seen := alone[events[i]]
		if !seen {
			body := `{"batch":[` + events[i] + `]}`
			if dest != "" {
				body = `{"destination":` + dest + `,"batch":[` + events[i] + `]}`
			}
			if single := s.do(http.MethodPost, c.path, "application/json", []byte(body)); single.status == 200 {
				first = gjson.GetBytes(single.body, "results.0").Raw
			}
			alone[events[i]] = first
		}
		if first == "" {
			continue // not JSON on its own (an NDJSON line that is not JSON)
		}
		if dropIndexField(first) != dropIndexField(string(raw)) {
			t.Errorf("result %d differs from the event's result alone:\n batch: %.300s\n alone: %.300s", i, raw, first)
		}
	}
}

// dropIndexField removes the leading {"index":N, of a result.
func dropIndexField(res string) string {
	if _, rest, ok := strings.Cut(res, ","); ok && strings.HasPrefix(res, `{"index":`) {
		return rest
	}
	return res
}
