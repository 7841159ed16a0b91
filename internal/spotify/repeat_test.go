package spotify

import (
	"bytes"
	"encoding/json"
	"reflect"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/testkit"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCanonical(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{` {"a" : 1 , "b":[1, 2]} `, ` {"a" : 1 , "b":[1, 2]} `}, // nothing repeats: the text itself
		{`{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{`{"a":{"x":1,"x":2},"a":{"y":[{"z":1,"z":{}}]}}`, `{"a":{"y":[{"z":{}}]}}`},
		{`[{"k":1},{"k":1,"k":null}]`, `[{"k":1},{"k":null}]`},
		{`{"t":1,"\u0074":2}`, `{"t":2}`}, // keys compare unescaped; the first spelling stays
		{`{"a" : 1 , "a" : "x\"y"}`, `{"a":"x\"y"}`},
		{`"a"`, `"a"`},
	} {
		if got := Canonical(c.in); got != c.want {
			t.Errorf("Canonical(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	// Large objects take the map path.
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 40 {
		b.WriteString(`"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i) + `,`)
	}
	b.WriteString(`"k3":"last"}`)
	got := Canonical(b.String())
	if !strings.Contains(got, `"k3":"last","k4":4`) || strings.Count(got, `"k3"`) != 1 {
		t.Errorf("large object: %s", got)
	}
}

// A view's params keep the place of a repeated key's first occurrence and
// take its last value, byte for byte, as JSON.parse and a spread build them.
func TestViewRepeatedKeyOrder(t *testing.T) {
	cfg, _ := ParseConfig([]byte(`{"pixelId":"p1"}`))
	tr := NewTransformer(cfg, Options{})
	o := tr.Transform(`{"type":"page","messageId":"m","context":{"page":{"url":"u0","referrer":"r"}},` +
		`"properties":{"b":1,"url":"u1","a":{"x":1,"x":2},"b":3,"referrer":null}}`)
	if o.Status != StatusOK {
		t.Fatalf("status %v: %s", o.Status, o.Reason())
	}
	const want = `{"url":"u1","b":3,"a":{"x":2},"event_id":"m"}`
	if got := string(o.Params(0)); got != want {
		t.Errorf("view params %s, want %s", got, want)
	}
}

// Text without repeated keys is not copied: the fast path allocates nothing.
func TestCanonicalNoRepeatAllocatesNothing(t *testing.T) {
	raw := `{"a":[1,{"b":2,"c":{"d":"e"}}],"f":"g","h":{"i":1,"j":2,"k":3}}`
	if n := testing.AllocsPerRun(100, func() { _ = canonical(raw) }); n != 0 {
		t.Errorf("canonical of text without repeats: %v allocations", n)
	}
}

// Repeats are found in time linear in the text: a deep value whose every
// level is walked once (this would take hours if each level rescanned the
// levels below it).
func TestRepeatsDeepText(t *testing.T) {
	const depth = 900
	long := strings.Repeat("x", 1<<20)
	s := strings.Repeat(`{"a":`, depth) + `"` + long + `"` + strings.Repeat(`,"b":1,"b":2}`, depth)
	if !hasRepeatedKeys(s) {
		t.Fatal("repeats not found")
	}
	if got := Canonical(s); got != strings.Repeat(`{"a":`, depth)+`"`+long+`"`+strings.Repeat(`,"b":2}`, depth) {
		t.Fatalf("canonical of a deep text: %.80s…", got)
	}
}

// FuzzRepeatedKeys checks BEHAVIOUR.md §2.1 on any config and event: a text
// with repeated keys transforms exactly (byte for byte but for whitespace
// inside values copied whole) as the text with each key once (first place,
// last value), and, decoded, as the text with the earlier occurrences
// removed; and adding earlier occurrences with other values in front of any
// member changes nothing.
func FuzzRepeatedKeys(f *testing.F) {
	for _, g := range goldenSeeds(f) {
		f.Add(g[0], g[1], uint64(0x5a5a5a5a))
	}
	f.Fuzz(func(t *testing.T, config, event []byte, pick uint64) {
		if jsonscan.Check(string(event), eventLimit) != nil || jsonscan.CheckBytes(config, jsonscan.MaxDepth) != nil ||
			!utf8.Valid(event) || !utf8.Valid(config) {
			return
		}
		want := transformOnce(config, []byte(Canonical(string(event))))
		if got := transformOnce([]byte(Canonical(string(config))), event); !sameText(got, want) {
			t.Fatalf("repeated keys differ from the canonical text:\n got: %s\nwant: %s", got, want)
		}
		if got := transformOnce(keepLast(t, config), keepLast(t, event)); !sameJSON(got, want) {
			t.Fatalf("earlier occurrences removed:\n got: %s\nwant: %s", got, want)
		}
		base := Canonical(string(event))
		more := withEarlierRepeats(base, pick)
		if got := transformOnce(config, []byte(more)); !sameText(got, want) {
			t.Fatalf("earlier repeats added (%s):\n got: %s\nwant: %s", more, got, want)
		}
	})
}

// transformOnce is the result of one event with beacons and CAPI events.
func transformOnce(config, event []byte) []byte {
	cfg, _ := ParseConfig(config)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tr := NewTransformer(cfg, Options{Beacons: true, CAPI: true, Now: func() time.Time { return now }})
	tr.Transform(string(event))
	return tr.AppendResult(nil, 0)
}

// keepLast rewrites JSON text keeping only the last occurrence of each
// repeated key, where it stands; it is written with encoding/json, apart
// from the engine's walk.
func keepLast(t *testing.T, text []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber() // numbers keep their text
	out, err := keepLastValue(dec)
	if err != nil {
		t.Fatalf("keepLast(%s): %v", text, err)
	}
	return out
}

func keepLastValue(dec *json.Decoder) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		type kv struct {
			key string
			val []byte
		}
		var list []kv
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := keepLastValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, kv{k.(string), v})
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		out := []byte{'{'}
		for i, m := range list {
			later := false
			for _, n := range list[i+1:] {
				later = later || n.key == m.key
			}
			if later {
				continue
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			k, _ := json.Marshal(m.key)
			out = append(append(append(out, k...), ':'), m.val...)
		}
		return append(out, '}'), nil
	case json.Delim('['):
		out := []byte{'['}
		for dec.More() {
			v, err := keepLastValue(dec)
			if err != nil {
				return nil, err
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, v...)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return append(out, ']'), nil
	}
	return json.Marshal(tok)
}

// withEarlierRepeats puts, in front of some members of each object of the
// canonical text s (chosen by the bits of pick), an earlier occurrence of
// the same key with another value.
func withEarlierRepeats(s string, pick uint64) string {
	decoys := [...]string{`null`, `""`, `0`, `true`, `{}`, `[]`, `{"event":"x","total":1}`, `"Order Completed"`}
	var b strings.Builder
	n := 0
	var walk func(i int) int
	walk = func(i int) int {
		i = jsonscan.SkipWS(s, i)
		switch s[i] {
		case '{':
			b.WriteByte('{')
			first := true
			end := jsonscan.Members(s, i, jsonscan.NoLimit, func(_, rawKey string, vs int) int {
				if !first {
					b.WriteByte(',')
				}
				first = false
				if bit := uint(n) % 64; pick>>bit&1 == 1 {
					b.WriteString(rawKey + ":" + decoys[(pick>>(bit/8))%uint64(len(decoys))] + ",")
				}
				n++
				b.WriteString(rawKey + ":")
				return walk(vs)
			})
			b.WriteByte('}')
			return end
		case '[':
			b.WriteByte('[')
			first := true
			end := jsonscan.Elements(s, i, func(at int) int {
				if !first {
					b.WriteByte(',')
				}
				first = false
				return walk(at)
			})
			b.WriteByte(']')
			return end
		}
		end := jsonscan.SkipValue(s, i, jsonscan.NoLimit)
		b.WriteString(s[i:end])
		return end
	}
	walk(0)
	return b.String()
}

// sameText reports whether two JSON texts are the same but for whitespace
// between tokens (a value copied whole keeps the spacing it came with).
func sameText(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// sameJSON reports whether two JSON texts decode to the same value
// (numbers compared as written).
func sameJSON(a, b []byte) bool {
	return reflect.DeepEqual(testkit.DecodeNumbers(a), testkit.DecodeNumbers(b))
}
