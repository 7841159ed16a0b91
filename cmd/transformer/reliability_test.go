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
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests of issue 6: overload (in-flight limit, request timeout, slow
// clients, NDJSON deadlines), faults (SIGTERM under load, a destinations
// file broken at runtime), security (no leaks of secrets, pixels or
// personal data) and goroutine leaks. No test asserts a duration: every
// server timeout is short and every wait of the test is long beside it.

// leakOptions ignores what the process keeps by design: the signal loop
// that signal.Notify starts once per process.
func leakOptions() []goleak.Option {
	return []goleak.Option{goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("os/signal.loop")}
}

// stopAndCheckLeaks stops s and requires every goroutine started since
// opts were taken to be gone.
func stopAndCheckLeaks(t *testing.T, s *server, opts []goleak.Option) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Errorf("run returned %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, opts...)
}

// rawPost opens a connection and sends the headers of a POST with a body of
// n bytes (Content-Length), without the body.
func rawPost(t *testing.T, s *server, path, contentType string, n int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, contentType, n)
	return conn
}

// readReply reads one HTTP response from conn (waiting at most a minute).
func readReply(t *testing.T, conn net.Conn) (*http.Response, []byte) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the reply body: %v", err)
	}
	return resp, body
}

// TestRequestTimeoutCutsSlowBody: a body sent one byte at a time, still
// progressing, is answered 408 at the request timeout long before it would
// have arrived.
func TestRequestTimeoutCutsSlowBody(t *testing.T) {
	opts := leakOptions()
	s := startServer(t, nil, "-request-timeout", "1s", "-read-timeout", "5m", "-write-timeout", "5m")
	const size = 3000 // at one byte per 20ms: a minute
	conn := rawPost(t, s, "/transform?destination=demo", "application/json", size)
	replied := trickle(conn, size, 20*time.Millisecond, []byte(" "))
	resp, body := readReply(t, conn)
	select {
	case <-replied:
		t.Fatal("the whole body was sent before the server answered")
	default:
	}
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "did not arrive within the request timeout of 1s") {
		t.Errorf("slow body: %d %s", resp.StatusCode, body)
	}
	conn.Close()
	<-replied
	if h := s.do(http.MethodGet, "/health", "", nil); h.status != 200 {
		t.Errorf("unhealthy: %d", h.status)
	}
	stopAndCheckLeaks(t, s, opts)
}

// TestSlowHeadersCutOff: headers sent one byte at a time are cut off by
// -read-header-timeout: the server closes the connection long before the
// headers would have been complete.
func TestSlowHeadersCutOff(t *testing.T) {
	opts := leakOptions()
	s := startServer(t, nil, "-read-header-timeout", "1s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	headers := "POST /transform HTTP/1.1\r\nHost: x\r\nX-Padding: " + strings.Repeat("p", 3000) + "\r\n\r\n"
	closed := make(chan error, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		_, err := io.ReadAll(conn) // returns when the server closes
		closed <- err
	}()
	sent, serverClosed := 0, false
	for sent < len(headers) && !serverClosed {
		select {
		case err := <-closed:
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("waiting for the server to close: %v", err)
			}
			serverClosed = true
		case <-time.After(20 * time.Millisecond): // all headers: a minute
			if _, err := conn.Write([]byte{headers[sent]}); err == nil {
				sent++
			}
		}
	}
	if sent >= len(headers) {
		t.Fatal("the server took the slow headers to the end")
	}
	if h := s.do(http.MethodGet, "/health", "", nil); h.status != 200 {
		t.Errorf("unhealthy: %d", h.status)
	}
	stopAndCheckLeaks(t, s, opts)
}

// ndjsonRequest starts a streamed POST whose body the test writes.
func ndjsonRequest(t *testing.T, s *server) (*io.PipeWriter, <-chan *http.Response, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, s.url+"/transform?destination=demo", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resps, errs := make(chan *http.Response, 1), make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errs <- err
			return
		}
		resps <- resp
	}()
	t.Cleanup(func() { pw.Close() })
	return pw, resps, errs
}

func streamLines(t *testing.T, resps <-chan *http.Response, errs <-chan error) []string {
	t.Helper()
	select {
	case err := <-errs:
		t.Fatalf("stream request: %v", err)
	case resp := <-resps:
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	case <-time.After(time.Minute):
		t.Fatal("no stream response")
	}
	return nil
}

// TestStreamStalledIsCutOff: an NDJSON stream that stops sending is cut off
// at -read-timeout: the server ends the connection long before the test
// would stop waiting, and the client still receives the results of the
// lines it sent before the stall and a last line naming the timeout (the
// final write gets a deadline of its own).
func TestStreamStalledIsCutOff(t *testing.T) {
	opts := leakOptions()
	s := startServer(t, nil, "-read-timeout", "1s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	line := `{"type":"page","messageId":"before-the-stall"}` + "\n"
	fmt.Fprintf(conn, "POST /transform?destination=demo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(line), line)
	conn.SetReadDeadline(time.Now().Add(time.Minute)) // the test never writes again
	got, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the stalled stream was not cut off: %v", err)
	}
	for _, want := range []string{`"messageId":"before-the-stall","status":"ok"`, `{"error":"reading request body: timed out waiting for data"}`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("the client did not receive %s; it received %q", want, got)
		}
	}
	if h := s.do(http.MethodGet, "/health", "", nil); h.status != 200 {
		t.Errorf("unhealthy: %d", h.status)
	}
	stopAndCheckLeaks(t, s, opts)
}

// TestStreamSlowButProgressing: a stream that keeps sending, in bursts
// spread over several read timeouts, is not cut off: each chunk of output
// (32 KiB, stream.go) renews the deadlines.
func TestStreamSlowButProgressing(t *testing.T) {
	s := startServer(t, nil, "-read-timeout", "3s")
	pw, resps, errs := ndjsonRequest(t, s)
	const bursts, perBurst = 15, 400 // 400 results > 32 KiB: one flush per burst
	go func() {
		for b := range bursts {
			var chunk bytes.Buffer
			for i := range perBurst {
				fmt.Fprintf(&chunk, `{"type":"page","messageId":"m-%d-%d","properties":{"title":"t"}}`+"\n", b, i)
			}
			if _, err := pw.Write(chunk.Bytes()); err != nil {
				return
			}
			time.Sleep(300 * time.Millisecond) // 15 × 300ms: longer than the read timeout
		}
		pw.Close()
	}()
	lines := streamLines(t, resps, errs)
	if len(lines) != bursts*perBurst+1 || !strings.Contains(lines[len(lines)-1], `"summary"`) {
		t.Fatalf("progressing stream: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

// TestDestinationsFileFaults breaks the destinations file at runtime in
// every way (deleted, emptied, truncated, replaced by garbage, by the wrong
// shape): each failure is counted, the last good config keeps serving,
// /ready stays 200 (the service can serve) and a good file is picked up again.
func TestDestinationsFileFaults(t *testing.T) {
	opts := leakOptions()
	dir := t.TempDir()
	path := filepath.Join(dir, "destinations.yaml")
	good := "d1:\n  Config:\n    pixelId: first\n    enableAliasCall: true\nd2:\n  Config:\n    pixelId: other\n"
	writeFile(t, path, good)
	s := startServer(t, nil, "-destinations", path)
	pixel := func() string {
		r := s.post("/transform?destination=d1", `{"batch":[{"type":"page"}]}`)
		var resp struct{ PixelID string }
		unmarshal(t, r.body, &resp)
		return resp.PixelID
	}
	failures := func() float64 {
		return metricValue(s.metrics(), "spotify_transformer_config_reloads_total", map[string]string{"result": "failure"})
	}
	faults := []struct {
		name  string
		apply func()
	}{
		{"deleted", func() { os.Remove(path) }},
		{"emptied", func() { writeInPlace(t, path, "") }},
		{"truncated", func() { writeInPlace(t, path, good[:len(good)/2]) }},
		{"garbage", func() { writeInPlace(t, path, "\x00\xff\xfe{{{: ]\x1b") }},
		{"wrong shape", func() { writeFile(t, path, "- d1\n- d2\n") }},
		{"invalid config", func() { writeFile(t, path, "d1:\n  Config:\n    pixelId: 7\n") }},
	}
	for _, f := range faults {
		before := failures()
		f.apply()
		eventually(t, f.name+": failed reload counted", func() bool { return failures() > before })
		if p := pixel(); p != "first" {
			t.Errorf("%s: d1 serves pixel %q, want the last good %q", f.name, p, "first")
		}
		if r := s.do(http.MethodGet, "/ready", "", nil); r.status != 200 {
			t.Errorf("%s: /ready %d", f.name, r.status)
		}
	}
	writeFile(t, path, strings.Replace(good, "first", "second", 1))
	eventually(t, "a good file again", func() bool { return pixel() == "second" })
	stopAndCheckLeaks(t, s, opts)
}

// outcome classifies what a client got for one request during shutdown.
type outcome int

const (
	complete outcome = iota // 200 and the whole, valid response
	refused                 // no response at all (connection refused or closed before any reply)
	broken                  // a response cut short or not valid: never allowed
)

// postAndClassify sends one batch of n events and classifies the answer.
func postAndClassify(c *http.Client, url string, n int) (outcome, string) {
	events := make([]string, n)
	for i := range events {
		events[i] = fmt.Sprintf(`{"type":"page","messageId":"m%d","properties":{"title":%q}}`, i, strings.Repeat("t", 100))
	}
	resp, err := c.Post(url+"/transform", "application/json", strings.NewReader(batchOf(events...)))
	if err != nil {
		return refused, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return broken, fmt.Sprintf("status %d, body cut: %v", resp.StatusCode, err)
	}
	var r struct{ Results []json.RawMessage }
	if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || len(r.Results) != n {
		return broken, fmt.Sprintf("status %d, %d bytes", resp.StatusCode, len(b))
	}
	return complete, ""
}

// TestSIGTERMUnderLoad runs the real binary under load from eight clients,
// with three requests whose bodies are half sent, and sends it SIGTERM:
// /ready turns 503 during the drain delay while requests are still served;
// the half-sent requests (accepted before the signal) all complete; every
// other request either completes or is refused before any response byte,
// never cut mid-body; the process exits 0.
func TestSIGTERMUnderLoad(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "-listen", "127.0.0.1:0", "-drain-delay", "1s", "-shutdown-grace", "30s")
	cmd.Env = append(os.Environ(), "TRANSFORMER_TEST_MAIN=1")
	addr, logs := startChild(t, cmd)
	s := &server{t: t, url: "http://" + addr}

	body := []byte(batchOf(`{"type":"page","messageId":"accepted-before-the-signal"}`))
	var held []net.Conn
	for range 3 {
		c := rawPost(t, s, "/transform", "application/json", len(body))
		c.Write(body[:len(body)/2])
		held = append(held, c)
	}

	var counts [3]atomic.Int64
	var brokenMsgs sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			c := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				o, msg := postAndClassify(c, s.url, 50+w*25)
				counts[o].Add(1)
				if o == broken {
					brokenMsgs.Store(msg, true)
				}
			}
		})
	}
	eventually(t, "load running", func() bool { return counts[complete].Load() > 50 })
	cmd.Process.Signal(syscall.SIGTERM)
	waitNotReady(t, s.url)
	servedWhileDraining := counts[complete].Load()
	for _, c := range held {
		c.Write(body[len(body)/2:])
		if resp, b := readReply(t, c); resp.StatusCode != 200 || !bytes.Contains(b, []byte("accepted-before-the-signal")) {
			t.Errorf("a request accepted before the signal got %d %s", resp.StatusCode, b)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	close(stop)
	wg.Wait()
	brokenMsgs.Range(func(k, _ any) bool { t.Errorf("a response was cut: %v", k); return true })
	t.Logf("complete %d (%d by the time /ready was 503), refused %d, broken %d",
		counts[complete].Load(), servedWhileDraining, counts[refused].Load(), counts[broken].Load())
	if len(logLines(logs.String(), "stopped")) != 1 {
		t.Errorf("no clean stop logged:\n%s", logs)
	}
}

// TestNoGoroutineLeakAfterShutdown exercises every kind of request, a
// reload and a separate metrics listener, then stops the server and
// requires that every goroutine it started is gone.
func TestNoGoroutineLeakAfterShutdown(t *testing.T) {
	opts := leakOptions()
	path := filepath.Join(t.TempDir(), "d.yaml")
	writeFile(t, path, "demo:\n  Config:\n    pixelId: p\n")
	s := startServer(t, nil, "-destinations", path, "-metrics-listen", "127.0.0.1:0")
	s.post("/transform?destination=demo", `{"batch":[{"type":"page"}]}`)
	s.do(http.MethodPost, "/transform?destination=demo", "application/x-ndjson", []byte(`{"type":"page"}`+"\n"))
	s.post("/v0/destinations/spotify_pixel", rudderProcessorBody([][]byte{[]byte(`{"type":"page"}`)}, `{"pixelId":"p"}`))
	s.post("/routerTransform", `{"input":[],"destType":"spotify_pixel"}`, "Content-Encoding", "gzip") // bad gzip
	s.metrics()
	writeFile(t, path, "demo:\n  Config:\n    pixelId: q\n")
	eventually(t, "reload", func() bool {
		return strings.Contains(string(s.post("/transform?destination=demo", `{"batch":[]}`).body), `"q"`)
	})
	stopAndCheckLeaks(t, s, opts)
}

// TestStreamBlankLinesDoNotRenew: an NDJSON stream that sends only blank
// lines, one every 200ms, does not keep its deadline fresh: it is cut off
// with an error line after -read-timeout, long before the client would stop.
func TestStreamBlankLinesDoNotRenew(t *testing.T) {
	s := startServer(t, nil, "-read-timeout", "2s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /transform?destination=demo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
	sent := trickle(conn, 100, 200*time.Millisecond, []byte("1\r\n\n\r\n")) // 20 s of blank lines unless cut off
	defer func() { conn.Close(); <-sent }()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the blank-line trickle was not cut off: %v; got %q", err, got)
	}
	if !strings.Contains(string(got), `{"error":"reading request body: timed out waiting for data"}`) {
		t.Errorf("no timeout error line; got %q", got)
	}
}

// trickle writes chunk to conn n times, one every interval, on its own
// goroutine, and stops early when a write fails (the connection was
// closed); the channel it returns is closed when it stops.
func trickle(conn net.Conn, n int, every time.Duration, chunk []byte) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			time.Sleep(every)
			if _, err := conn.Write(chunk); err != nil {
				return
			}
		}
	}()
	return done
}
