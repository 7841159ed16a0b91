package main

import (
	"bytes"
	"spotifypixel/internal/testkit"
	"strings"
	"testing"
)

// TestTransformContentEncoding checks Content-Encoding on /transform: a gzip
// body answers what the plain body answers, a gzip body that inflates past
// -max-body-bytes is a 413 (a bomb never grows in memory), and any other
// encoding, on a JSON body or an NDJSON stream, is a 415 naming it.
func TestTransformContentEncoding(t *testing.T) {
	s := startServer(t, nil, "-max-body-bytes", "65536")
	order := `{"type":"track","event":"Order Completed","userId":"u1","messageId":"m1","properties":{"total":10,"currency":"USD","order_id":"o 1"}}`
	plainBody := []byte(batchOf(order, `{"type":"identify"}`))
	plain := s.do("POST", "/transform?include=beacons", "application/json", plainBody)
	if plain.status != 200 {
		t.Fatalf("plain: %d %s", plain.status, plain.body)
	}
	gz := s.do("POST", "/transform?include=beacons", "application/json", testkit.Gzip(plainBody), "Content-Encoding", "gzip")
	if gz.status != 200 || !bytes.Equal(gz.body, plain.body) {
		t.Errorf("gzip: %d %s\nplain: %s", gz.status, gz.body, plain.body)
	}

	bomb := testkit.Gzip(append([]byte(`{"batch":[`), bytes.Repeat([]byte(" "), 10<<20)...))
	if len(bomb) > 65536 {
		t.Fatalf("bomb is %d bytes compressed", len(bomb))
	}
	if r := s.do("POST", "/transform", "application/json", bomb, "Content-Encoding", "gzip"); r.status != 413 {
		t.Errorf("zip bomb: %d %s", r.status, r.body)
	}

	if r := s.do("POST", "/transform", "application/json", plainBody, "Content-Encoding", "br"); r.status != 415 || !strings.Contains(string(r.body), `\"br\"`) {
		t.Errorf("br: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/transform?destination=demo", "application/x-ndjson", testkit.Gzip([]byte(order+"\n")), "Content-Encoding", "gzip"); r.status != 415 || !strings.Contains(string(r.body), `\"gzip\"`) {
		t.Errorf("NDJSON gzip: %d %s", r.status, r.body)
	}
}
