package spotify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzScan checks the engine's JSON walkers against gjson on valid JSON: the
// same members and elements, in the same order, with the same raw values.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":1,"b":"x","c":{"d":[1,2,{"e":"\""}]},"f":null}`,
		`{"k\"ey":"v\\","x":[true,false],"y":-1.5e3}`, ` { "a" : [ 1 , 2 ] , "b" : { } } `,
		`[{"a":1},"s",3,null,[[]]]`, `{"a":"0123456789abcdefghij\"klmnopq"}`, `{"\u0041":1}`,
		`[1,]`, `{"a":1,}`, `{"a" 1}`, `[01]`, `[1.]`, `[-]`, `[1e]`, `[.5]`, `"\x"`, `"\u12g4"`, "\"a\tb\"",
		`[tru]`, `[nul]`, `{"a":[}`, `{]`, `[1 2]`, `{"a":1 "b":2}`, `"abc`, `1 2`, `-0.5e-3`, `[[[[]]]]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Check must agree with encoding/json's validator (RFC 8259)
		// on text with fewer brackets than the limit (the limit itself is
		// tested in TestCheckNesting and the pipeline's TestNestingLimit).
		shallow := strings.Count(s, "[")+strings.Count(s, "{") < MaxDepth
		if err := Check(s, MaxDepth); shallow && (err == nil) != json.Valid([]byte(s)) {
			t.Fatalf("Check says %v, encoding/json.Valid says %v", err, json.Valid([]byte(s)))
		}
		if end := skipValue(s, skipWS(s, 0), MaxDepth); end > len(s) {
			t.Fatalf("skipValue ran past the end: %d > %d", end, len(s))
		}
		if !gjson.Valid(s) {
			eachMember(s, func(string, string, string) bool { return true }) // must not panic
			elements(s, 0, func(at int) int { return skipValue(s, at, MaxDepth) })
			return
		}
		root := gjson.Parse(s)
		if end := skipValue(s, skipWS(s, 0), MaxDepth); s[skipWS(s, 0):end] != strings.TrimRight(root.Raw, " \t\r\n") {
			t.Fatalf("skipValue: %q, gjson: %q", s[skipWS(s, 0):end], root.Raw)
		}
		var want, got []string
		root.ForEach(func(k, v gjson.Result) bool {
			if root.IsObject() {
				want = append(want, k.Str)
			}
			want = append(want, v.Raw)
			return true
		})
		switch {
		case root.IsObject():
			eachMember(s, func(k, _, raw string) bool { got = append(got, k, raw); return true })
		case root.IsArray():
			elements(s, 0, func(at int) int {
				end := skipValue(s, at, MaxDepth)
				got = append(got, s[at:end])
				return end
			})
		default:
			return
		}
		if len(got) != len(want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("item %d: got %q, want %q", i, got[i], want[i])
			}
		}
	})
}
