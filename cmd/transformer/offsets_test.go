package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// TestFaultOffsets sends malformed bodies to the real server and requires
// each 400 to name the byte (counted from 0) where the fault is, on
// /transform and on the RudderStack processor route (whose body is the
// same text inside an array, one byte later).
func TestFaultOffsets(t *testing.T) {
	s := startServer(t, nil)
	for _, c := range []struct {
		body   string
		at     int
		rudder int // the offset on the RudderStack route, when it is not at+1
	}{
		{`{"batch":[],}`, 12, 0},             // a comma, then no key
		{`{"batch":[] , "x"}`, 17, 0},        // a key without a colon
		{`{"batch" []}`, 9, 0},               // no colon after the key
		{`{,"batch":[]}`, 1, 0},              // a comma where the first key must be
		{`{"batch":[1,]}`, 12, 0},            // a comma, then no element
		{`{"batch":[1 2]}`, 12, 0},           // no comma between elements
		{`{"batch":[tru]}`, 13, 0},           // a literal cut short
		{`{"batch":[nul`, 13, 0},             // the body ends in a literal
		{`{"batch":[], "a":1 "b":2}`, 19, 0}, // no comma between members
		{`{"batch":[{"a":[1,2}]}`, 19, 0},    // the wrong closer
		{"{\"batch\":[\"x\ty\"]}", 12, 0},    // a control character in a string
		{`{"batch":["\q"]}`, 11, 0},          // a bad escape
		{`{"batch":[01]}`, 11, 0},            // a leading zero
		{`{"batch":[]}}`, 12, 0},             // text after the value
		{`{"batch":[`, 10, 12},               // the body ends
	} {
		t.Run(c.body, func(t *testing.T) {
			r := s.do(http.MethodPost, "/transform?destination=demo", "application/json", []byte(c.body))
			checkOffset(t, r, c.at)
			r = s.do(http.MethodPost, "/v0/destinations/spotify_pixel", "application/json", []byte("["+c.body+"]"))
			if c.rudder == 0 {
				c.rudder = c.at + 1
			}
			checkOffset(t, r, c.rudder)
		})
	}
}

func checkOffset(t *testing.T, r response, at int) {
	t.Helper()
	var e struct{ Error string }
	if r.status != http.StatusBadRequest || json.Unmarshal(r.body, &e) != nil {
		t.Fatalf("status %d, body %s; want a 400 JSON error", r.status, r.body)
	}
	if want := fmt.Sprintf("request body is not valid JSON (at byte %d)", at); e.Error != want {
		t.Errorf("error %q, want %q", e.Error, want)
	}
}
