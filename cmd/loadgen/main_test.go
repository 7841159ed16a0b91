package main

import (
	"bytes"
	"context"
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
