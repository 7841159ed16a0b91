package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{[]float64{0.5}, 0.5}, {[]float64{0.5, 0.7}, 0.6}, {[]float64{0.1, 0.5, 0.9}, 0.5}, {[]float64{0.57, 0.58, 0.60, 0.61, 0.61, 0.67}, 0.605}} {
		if got := median(c.xs); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

// TestRunRounds runs the tool in-process for two short ABBA rounds and
// checks the report: both orders, a ratio per round, a median, no errors.
func TestRunRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers and attacks them")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-duration", "300ms", "-batches", "3", "-rounds", "2", "-workers", "2"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, &out)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var names []string
	ratios := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		names = append(names, f[0])
		if strings.Contains(l, "product/baseline = ") {
			ratios++
		}
	}
	want := "product baseline baseline product batch"
	if got := strings.Join(names, " "); got != want || ratios != 2 {
		t.Fatalf("report rows %q with %d ratios, want %q with 2:\n%s", got, ratios, want, &out)
	}
	if !strings.Contains(out.String(), "batch 3: median product/baseline events/s over 2 rounds") {
		t.Fatalf("no median line:\n%s", &out)
	}
}

// TestProfiles checks that -cpuprofile and -memprofile each write a profile
// that covers the in-process servers, and that a profile it cannot write
// fails the run.
func TestProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and attacks it")
	}
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "mem.out")
	var out bytes.Buffer
	args := []string{"-duration", "500ms", "-batches", "100", "-baseline=false", "-workers", "2", "-cpuprofile", cpu, "-memprofile", mem}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, &out)
	}
	for _, path := range []string{cpu, mem} {
		// A profile is gzipped protobuf; its string table names the
		// functions sampled, and every server-side sample passes the router.
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		raw, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !bytes.Contains(raw, []byte("spotifypixel/internal/router")) {
			t.Errorf("%s: no sample in the in-process server (%d bytes)", path, len(raw))
		}
	}
	if err := run(context.Background(), []string{"-duration", "100ms", "-batches", "1", "-baseline=false", "-memprofile", filepath.Join(dir, "missing", "mem.out")}, &out); err == nil || !strings.Contains(err.Error(), "allocation profile") {
		t.Errorf("unwritable -memprofile: err = %v, want one naming the allocation profile", err)
	}
}
