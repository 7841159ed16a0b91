package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"spotifypixel/internal/testkit/corpus"
)

func TestNDJSONStream(t *testing.T) {
	s := startServer(t, nil, "-max-body-bytes", "4096")
	lines := []string{
		`{"type":"track","event":"Signed Up","userId":"u1","messageId":"a"}`,
		``,
		`{"type":"page","messageId":"b"}`,
		`{"type":"track","event":`,
		`[1,2]`,
		`{"type":"identify","messageId":"c","pad":"` + strings.Repeat("x", 5000) + `"}`,
		`{"type":"track","event":"Product Added","messageId":"d","properties":{"products":[{"price":1},{"price":2}]}}`,
	}
	r := s.do(http.MethodPost, "/transform?destination=demo&include=beacons", "application/x-ndjson", []byte(strings.Join(lines, "\n")))
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	out := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
	want := []struct {
		status, reason string
	}{
		{"ok", ""}, {"ok", ""}, {"error", "not valid JSON"}, {"error", "JSON object"},
		{"error", "larger than the limit of 4096 bytes"}, {"ok", ""},
	}
	if len(out) != len(want)+1 {
		t.Fatalf("%d lines:\n%s", len(out), r.body)
	}
	for i, w := range want {
		var res struct {
			Index  int
			Status string
			Reason string
		}
		if err := json.Unmarshal([]byte(out[i]), &res); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, out[i])
		}
		if res.Index != i || res.Status != w.status || !strings.Contains(res.Reason, w.reason) {
			t.Errorf("line %d: %s, want %s %q", i, out[i], w.status, w.reason)
		}
	}
	var last struct {
		Summary       map[string]int
		DestinationID string `json:"destinationId"`
		PixelID       string `json:"pixelId"`
	}
	unmarshal(t, []byte(out[len(out)-1]), &last)
	if last.Summary["events"] != 6 || last.Summary["ok"] != 3 || last.Summary["failed"] != 3 || last.PixelID != "demo-pixel" {
		t.Errorf("summary line %s", out[len(out)-1])
	}
	if r := s.do(http.MethodPost, "/transform", "application/x-ndjson", []byte("{}\n")); r.status != 400 {
		t.Errorf("stream without ?destination: %d", r.status)
	}
	if r := s.do(http.MethodPost, "/transform?destination=nope", "application/x-ndjson", []byte("{}\n")); r.status != 404 {
		t.Errorf("stream to an unknown destination: %d", r.status)
	}
}

// cycleReader yields the NDJSON corpus over and over, up to n bytes.
type cycleReader struct {
	data []byte
	off  int
	left int64
}

func (c *cycleReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	n := copy(p, c.data[c.off:])
	if int64(n) > c.left {
		n = int(c.left)
	}
	c.off = (c.off + n) % len(c.data)
	c.left -= int64(n)
	return n, nil
}

// TestNDJSONStreamMemory streams a large NDJSON body (256 MB by default;
// TRANSFORMER_STREAM_BYTES sets it, e.g. 1073741824 for 1 GB) through the
// real binary, built without the race detector, and checks the process's
// peak RSS stays under 100 MiB.
func TestNDJSONStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams hundreds of megabytes")
	}
	size := int64(256 << 20)
	if v := os.Getenv("TRANSFORMER_STREAM_BYTES"); v != "" {
		size, _ = strconv.ParseInt(v, 10, 64)
	}
	bin := filepath.Join(t.TempDir(), "transformer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "-listen", "127.0.0.1:0")
	addr, _ := startChild(t, cmd)

	data := corpus.NDJSON(corpus.Events(7, 2000))
	body := &cycleReader{data: data, left: size - size%int64(len(data))}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/transform?destination=demo&include=beacons", body)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines, last := 0, ""
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines++
		if bytes.HasPrefix(sc.Bytes(), []byte(`{"summary"`)) {
			last = sc.Text()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	wantEvents := int(size/int64(len(data))) * 2000
	if lines != wantEvents+1 || !strings.Contains(last, fmt.Sprintf(`"events":%d`, wantEvents)) {
		t.Fatalf("%d lines for %d events; last %s", lines, wantEvents, last)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc to read RSS from: %v", err)
	}
	hwm := procKB(string(status), "VmHWM:")
	t.Logf("streamed %d MB, %d events; peak RSS %d KiB", size>>20, wantEvents, hwm)
	if hwm <= 0 || hwm > 100<<10 {
		t.Errorf("peak RSS %d KiB, want under 100 MiB", hwm)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait() // the exit status after SIGTERM is not what this test is about
}

func procKB(status, field string) int {
	for _, l := range strings.Split(status, "\n") {
		if strings.HasPrefix(l, field) {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return -1
}
