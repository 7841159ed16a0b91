package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"spotifypixel/internal/testkit/corpus"
)

// TestStreamMatchesBatch: a stream's result lines are, one for one, the
// results of the same events sent as one /transform batch, and its last
// line carries the same summary.
func TestStreamMatchesBatch(t *testing.T) {
	set := demoSet(t)
	events := corpus.Events(3, 50)
	q := Query{DestinationID: "demo", Include: "beacons"}
	batch, sum, err := new(Runner).Transform(nil, set, corpus.Batch(events), q)
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(batch, &want); err != nil {
		t.Fatal(err)
	}
	st, err := OpenStream(set, q, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []byte
	for _, e := range events {
		out = st.AppendLine(out, e, false)
	}
	out = st.AppendEnd(out, nil)
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(lines) != len(events)+1 {
		t.Fatalf("%d lines for %d events", len(lines), len(events))
	}
	for i, w := range want.Results {
		var compact bytes.Buffer
		_ = json.Compact(&compact, w)
		if !bytes.Equal(lines[i], compact.Bytes()) {
			t.Fatalf("line %d:\n%s\nwant\n%s", i, lines[i], compact.Bytes())
		}
	}
	if *st.Summary() != sum {
		t.Fatalf("stream summary %+v, batch summary %+v", *st.Summary(), sum)
	}
	if end := string(lines[len(events)]); !strings.HasPrefix(end, `{"summary":{"events":50,`) || !strings.Contains(end, `"destinationId":"demo"`) {
		t.Fatalf("last line %s", end)
	}
}

// TestStreamBadLines: a line that is not JSON, nests too deep or was too
// long fails alone, naming why; a stream without a destination is refused.
func TestStreamBadLines(t *testing.T) {
	set := demoSet(t)
	if _, err := OpenStream(set, Query{}, 10); err == nil || !strings.Contains(err.Error(), "?destination=") {
		t.Fatalf("no destination: %v", err)
	}
	st, err := OpenStream(set, Query{DestinationID: "demo", MaxDepth: 3}, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []byte
	out = st.AppendLine(out, []byte(`{"type":`), false)
	out = st.AppendLine(out, []byte(`{"a":[[[1]]]}`), false)
	out = st.AppendLine(out, nil, true)
	out = st.AppendEnd(out, errors.New("reading body: cut"))
	got := string(out)
	for _, want := range []string{`"index":0`, `event is not valid JSON`, `"index":1`, `"index":2`, `larger than the limit of 64 bytes`, `{"error":"reading body: cut"}`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	if s := st.Summary(); s.Failed != 3 || s.Events != 3 {
		t.Errorf("summary %+v", *s)
	}
}
