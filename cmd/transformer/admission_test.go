package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// padded is a /transform batch of exactly n bytes (spaces after the JSON).
func padded(t *testing.T, n int) []byte {
	t.Helper()
	b := []byte(batchOf(`{"type":"page","messageId":"held"}`))
	if len(b) > n {
		t.Fatalf("a batch of %d bytes does not fit in %d", len(b), n)
	}
	return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
}

// sendPartial opens n requests that declare body's length and send its first
// five bytes; finishPartial sends the rest of each and requires a 200.
func sendPartial(t *testing.T, s *server, body []byte, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		c := rawPost(t, s, "/transform", "application/json", len(body))
		c.Write(body[:5])
		conns = append(conns, c)
	}
	return conns
}

func finishPartial(t *testing.T, conns []net.Conn, body []byte) {
	t.Helper()
	for _, c := range conns {
		c.Write(body[5:])
		if resp, b := readReply(t, c); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"held"`)) {
			t.Errorf("held request: %d %s", resp.StatusCode, b)
		}
	}
}

// rejected reads the refusals counted for reason.
func rejected(s *server, reason string) float64 {
	return metricValue(s.metrics(), "spotify_transformer_http_requests_rejected_total", map[string]string{"reason": reason})
}

// TestSlowBodiesDoNotTakeSlots: eight clients sending their bodies slowly
// hold no in-flight slot (there are two), so a fast client is served; the
// slow ones are served too once their bodies arrive.
func TestSlowBodiesDoNotTakeSlots(t *testing.T) {
	opts := leakOptions()
	s := startServer(t, nil, "-max-inflight", "2", "-request-timeout", "20s")
	body := padded(t, 200)
	slow := sendPartial(t, s, body, 8)
	eventually(t, "eight requests open", func() bool {
		return metricValue(s.metrics(), "spotify_transformer_http_requests_in_flight", nil) >= 8
	})
	for i := range 3 {
		if r := s.post("/transform", batchOf(`{"type":"page"}`)); r.status != 200 {
			t.Fatalf("fast request %d behind slow bodies: %d %s", i, r.status, r.body)
		}
	}
	finishPartial(t, slow, body)
	if n := rejected(s, "in_flight_limit"); n != 0 {
		t.Errorf("%v requests refused at the in-flight limit", n)
	}
	stopAndCheckLeaks(t, s, opts)
}

// openStream starts an NDJSON stream and sends one event, leaving the
// stream open; it returns once the server counts the request in flight.
func openStream(t *testing.T, s *server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /transform?destination=demo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
	line := `{"type":"page","messageId":"streamed"}` + "\n"
	fmt.Fprintf(conn, "%x\r\n%s\r\n", len(line), line)
	eventually(t, "the stream in flight", func() bool {
		return metricValue(s.metrics(), "spotify_transformer_http_requests_in_flight", nil) >= 1
	})
	return conn
}

// TestStreamsLeaveSlotsForRequests: NDJSON streams hold their slot while
// they run, but take at most half of -max-inflight, so requests whose
// bodies have arrived are still served; past the streams' share, and when
// every slot is taken, the answer is 503 with Retry-After, counted by
// reason.
func TestStreamsLeaveSlotsForRequests(t *testing.T) {
	s := startServer(t, nil, "-max-inflight", "2")
	openStream(t, s)
	var r response
	eventually(t, "a second stream refused", func() bool {
		r = s.do(http.MethodPost, "/transform?destination=demo", "application/x-ndjson", []byte(`{"type":"page"}`+"\n"))
		return r.status != 200
	})
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "limit of 1 concurrent NDJSON streams") {
		t.Errorf("a second stream: %d %v %s", r.status, r.header, r.body)
	}
	if r := s.post("/transform", batchOf(`{"type":"page"}`)); r.status != 200 {
		t.Errorf("a batch beside a stream: %d %s", r.status, r.body)
	}
	if n := rejected(s, "stream_limit"); n != 1 {
		t.Errorf("stream refusals counted: %v", n)
	}

	one := startServer(t, nil, "-max-inflight", "1")
	stream := openStream(t, one)
	eventually(t, "a batch refused", func() bool {
		r = one.post("/transform", batchOf(`{"type":"page"}`))
		return r.status != 200
	})
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "limit of 1 concurrent requests") {
		t.Errorf("over the limit: %d %v %s", r.status, r.header, r.body)
	}
	if h := one.do(http.MethodGet, "/health", "", nil); h.status != 200 {
		t.Errorf("/health behind the limit: %d", h.status)
	}
	if n := rejected(one, "in_flight_limit"); n != 1 {
		t.Errorf("in-flight refusals counted: %v", n)
	}
	fmt.Fprintf(stream, "0\r\n\r\n") // the stream ends: its slot is free
	eventually(t, "the slot freed", func() bool {
		return one.post("/transform", batchOf(`{"type":"page"}`)).status == 200
	})
}

// TestBodyBudget: two bodies of the largest size, not yet arrived, hold
// the whole budget (their Content-Length is taken up front), so any other
// body, of known length or chunked, is refused with 503 and Retry-After
// before it is read; the gauge shows the bytes held, and they are given
// back when the requests end.
func TestBodyBudget(t *testing.T) {
	opts := leakOptions()
	s := startServer(t, nil, "-max-body-bytes", "4096", "-body-budget-bytes", "8192")
	body := padded(t, 4096)
	held := sendPartial(t, s, body, 2)
	gauge := func() float64 { return metricValue(s.metrics(), "spotify_transformer_body_bytes_held", nil) }
	eventually(t, "the budget taken", func() bool { return gauge() == 8192 })
	if b := metricValue(s.metrics(), "spotify_transformer_body_budget_bytes", nil); b != 8192 {
		t.Errorf("budget gauge %v", b)
	}
	small := []byte(batchOf(`{"type":"page"}`))
	r := s.do(http.MethodPost, "/transform", "application/json", small)
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "limit of 8192 bytes of request bodies") {
		t.Errorf("over the budget: %d %v %s", r.status, r.header, r.body)
	}
	chunked := rawChunkedPost(t, s, "/transform", small)
	if resp, b := readReply(t, chunked); resp.StatusCode != 503 {
		t.Errorf("chunked, over the budget: %d %s", resp.StatusCode, b)
	}
	if n := rejected(s, "body_budget"); n != 2 {
		t.Errorf("budget refusals counted: %v", n)
	}
	finishPartial(t, held, body)
	eventually(t, "the budget given back", func() bool { return gauge() == 0 })
	if r := s.do(http.MethodPost, "/transform", "application/json", small); r.status != 200 {
		t.Errorf("after the held requests: %d %s", r.status, r.body)
	}
	stopAndCheckLeaks(t, s, opts)
}

// rawChunkedPost sends a whole POST with a chunked body.
func rawChunkedPost(t *testing.T, s *server, path string, body []byte) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", path, len(body), body)
	return conn
}

// TestPassedOnTrafficTakesNoSlots: in sidecar mode a request for another
// destination is the upstream's to bound, never this service's: with one
// slot, processor requests hanging on the upstream leave it to Spotify
// Pixel's /transform, and a /routerTransform or /batch for another
// destination reaches the upstream while an NDJSON stream holds the slot
// (its body is read to find the destType, but it takes no slot for it).
func TestPassedOnTrafficTakesNoSlots(t *testing.T) {
	up := hungUpstream(t)
	s := startServer(t, nil, "-upstream-transformer", up.URL, "-max-inflight", "1", "-upstream-response-header-timeout", "3s")
	c := boundedClient(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	hold := func(path, body string) {
		wg.Go(func() { _, _ = call(c, http.MethodPost, s.url+path, body) })
	}
	hold("/v0/destinations/ga4", `[{}]`)
	hold("/v0/destinations/webhook", `[{}]`)
	eventually(t, "two processor requests held by the upstream", func() bool { return up.now.Load() == 2 })
	if r := s.post("/transform?destination=demo", batchOf(`{"type":"page"}`)); r.status != 200 {
		t.Fatalf("Spotify /transform beside two passed-on requests: %d %s", r.status, r.body)
	}
	openStream(t, s) // the one slot is taken now
	hold("/routerTransform", `{"destType":"ga4","input":[]}`)
	hold("/batch", `{"destType":"webhook","input":[]}`)
	eventually(t, "the router and batch requests held by the upstream", func() bool { return up.now.Load() == 4 })
	if n := rejected(s, "in_flight_limit"); n != 0 {
		t.Errorf("passed-on requests refused at this service's limit %v times", n)
	}
}
