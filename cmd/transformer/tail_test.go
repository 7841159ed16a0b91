package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// subscribe opens the live tail of destination and returns its result
// events as they come, and the status of the answer.
func subscribe(t *testing.T, s *server, destination string) (<-chan gjson.Result, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/debug/events?destination="+destination, http.NoBody)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	results := make(chan gjson.Result, 100)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				results <- gjson.Parse(data)
			}
		}
	}()
	// The handler subscribes before it answers: once the headers are here,
	// traffic reaches the subscriber.
	return results, 200
}

// TestLiveTail: a subscriber of a destination gets a sample of its results
// (status, reason, command names; no ids or params) from /transform batches
// and NDJSON streams, at most -live-tail-rate a second; a second subscriber
// past -live-tail-subscribers is refused with 503.
func TestLiveTail(t *testing.T) {
	s := startServer(t, nil, "-live-tail-rate", "3", "-live-tail-subscribers", "1")
	results, status := subscribe(t, s, "demo")
	if status != 200 {
		t.Fatalf("subscribe: %d", status)
	}
	if _, status := subscribe(t, s, "demo"); status != 503 {
		t.Errorf("a second subscriber past the limit: %d", status)
	}
	events := make([]string, 20)
	for i := range events {
		events[i] = `{"type":"track","event":"Order Completed","userId":"user-secret","messageId":"m-secret","properties":{"total":5}}`
	}
	events[0] = `{"type":"track","event":"Nothing","messageId":"m-secret"}`
	start := time.Now()
	if r := s.post("/transform?destination=demo", batchOf(events...)); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	first := <-results
	if first.Get("destination").Str != "demo" || first.Get("index").Int() != 0 || first.Get("status").Str != "filtered" ||
		first.Get("reason").Str != "no Spotify Pixel event mapped for Nothing" || len(first.Get("commands").Array()) != 0 {
		t.Errorf("first sample %s", first.Raw)
	}
	got := 1
	deadline := time.After(2 * time.Second)
collect:
	for {
		select {
		case r := <-results:
			got++
			if strings.Contains(r.Raw, "secret") {
				t.Errorf("a sample holds an id: %s", r.Raw)
			}
			if r.Get("status").Str == "ok" && r.Get("commands").Raw != `["alias","purchase"]` {
				t.Errorf("ok sample %s", r.Raw)
			}
		case <-deadline:
			break collect
		}
	}
	if bound := 3 + int(3*time.Since(start).Seconds()) + 1; got > bound || got >= len(events) {
		t.Errorf("%d samples of %d results in %v, more than the rate allows (%d)", got, len(events), time.Since(start), bound)
	}
	// An NDJSON line reaches the tail too, once the rate allows again.
	time.Sleep(time.Second)
	if r := s.do(http.MethodPost, "/transform?destination=demo", "application/x-ndjson", []byte(`{"type":"page","messageId":"p"}`+"\n")); r.status != 200 {
		t.Fatalf("stream: %d %s", r.status, r.body)
	}
	select {
	case r := <-results:
		if r.Get("status").Str != "ok" || r.Get("commands.0").Str != "view" {
			t.Errorf("stream sample %s", r.Raw)
		}
	case <-time.After(5 * time.Second):
		t.Error("no sample of the NDJSON line")
	}
	off := startServer(t, nil, "-live-tail=false")
	if r := off.do(http.MethodGet, "/debug/events?destination=demo", "", nil); r.status != 404 {
		t.Errorf("-live-tail=false: %d", r.status)
	}
}
