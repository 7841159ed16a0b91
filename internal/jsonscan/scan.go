// Package jsonscan reads and writes JSON text as bytes, for the engine's hot
// loops and the HTTP layer's guards: one walk both checks that the text is
// JSON (RFC 8259, nesting limit included) and hands out the raw values a
// caller reads, so that a request body is read once.
package jsonscan

import (
	"math/bits"
	"strings"

	"github.com/tidwall/gjson"
)

// String contents are scanned eight bytes at a time. The skip and walk
// functions never read out of bounds; on malformed text they return len(s),
// so that every enclosing walk ends at the end of the text without its
// closing bracket, which its own caller reports.

// MaxDepth is the deepest nesting of arrays and objects a request may have
// unless configured otherwise: real events nest a dozen levels, and a limit
// keeps every parser on the way (gjson's recurses once per level) far from
// the end of its stack.
const MaxDepth = 1000

// NoLimit is the nesting limit of walks over text already checked.
const NoLimit = 1 << 30

// Error says why JSON text was refused: its Offset is the byte where
// the fault was found.
type Error struct {
	Offset  int
	TooDeep bool // nesting went deeper than the limit; else a syntax error
	Limit   int  // the nesting limit, when TooDeep
}

// Error names the fault and where it is.
func (e *Error) Error() string {
	if e.TooDeep {
		return "nests JSON arrays and objects deeper than " + itoa(e.Limit) + " levels (at byte " + itoa(e.Offset) + ")"
	}
	return "is not valid JSON (at byte " + itoa(e.Offset) + ")"
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

// Check reports whether s is one JSON value (whitespace around it allowed)
// nesting at most limit levels; it never recurses, so any text is safe.
func Check(s string, limit int) *Error {
	i := SkipWS(s, 0)
	end, fault := scanValue(s, i, limit)
	if fault == faultNone {
		if end = SkipWS(s, end); end == len(s) {
			return nil
		}
		fault = faultSyntax
	}
	return &Error{Offset: end, TooDeep: fault == faultDeep, Limit: limit}
}

// CheckBytes is Check for a byte slice, without copying it.
func CheckBytes(b []byte, limit int) *Error { return Check(Str(b), limit) }

// fault is why scanValue stopped early.
type fault uint8

const (
	faultNone fault = iota
	faultSyntax
	faultDeep
)

// SkipWS returns the index of the first non-whitespace byte at or after i.
func SkipWS(s string, i int) int {
	for i < len(s) {
		if c := s[i]; c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return i // most often the first test: a byte above space
		}
		i++
	}
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 reads the eight bytes of s from i, little-endian; the compiler
// turns it into one load.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// stringStops marks, in the high bit of each byte of x, the bytes that end a
// run of plain string text: a quote, a backslash or a control character.
// Only the lowest mark is exact (a borrow can mark a byte above it).
func stringStops(x uint64) uint64 {
	q, b := x^(ones*'"'), x^(ones*'\\')
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x) & highs
}

// scanString returns the index just past the string that opens at s[i],
// whether it holds escapes, and whether it is well formed; if not, the index
// is where the fault is.
func scanString(s string, i int) (end int, escaped, ok bool) {
	i++
	for {
		for i+8 <= len(s) {
			if m := stringStops(load64(s, i)); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto stop
			}
			i += 8
		}
		for i < len(s) && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' {
			i++
		}
		if i >= len(s) {
			return len(s), escaped, false
		}
	stop:
		switch s[i] {
		case '"':
			return i + 1, escaped, true
		case '\\':
			escaped = true
			if i+1 >= len(s) {
				return len(s), true, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return i, true, false
				}
				i += 6
			default:
				return i, true, false
			}
		default: // a control character
			return i, escaped, false
		}
	}
}

func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

// skipString returns the index just past the string that opens at s[i], or
// len(s) when it is malformed.
func skipString(s string, i int) int {
	if end, _, ok := scanString(s, i); ok {
		return end
	}
	return len(s)
}

// scanNumber returns the index just past the number that starts at s[i],
// and whether it follows JSON's grammar.
func scanNumber(s string, i int) (int, bool) {
	if s[i] == '-' {
		i++
		if i >= len(s) {
			return i, false
		}
	}
	switch c := s[i]; {
	case c == '0':
		i++
	case c-'1' < 9:
		for i++; i < len(s) && s[i]-'0' < 10; i++ {
		}
	default:
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i]-'0' >= 10 {
			return i, false
		}
		for i++; i < len(s) && s[i]-'0' < 10; i++ {
		}
	}
	if i < len(s) && s[i]|0x20 == 'e' {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i]-'0' >= 10 {
			return i, false
		}
		for i++; i < len(s) && s[i]-'0' < 10; i++ {
		}
	}
	return i, true
}

// scanScalar returns the index just past the string, number or literal at
// s[i] (i < len(s)), and whether it is well formed.
func scanScalar(s string, i int) (int, bool) {
	switch s[i] {
	case '"':
		end, _, ok := scanString(s, i)
		return end, ok
	case 't':
		return scanLiteral(s, i, "true")
	case 'f':
		return scanLiteral(s, i, "false")
	case 'n':
		return scanLiteral(s, i, "null")
	}
	return scanNumber(s, i)
}

// scanLiteral returns the index just past the literal lit at s[i] and
// true, or the index of the first byte that differs from it and false.
func scanLiteral(s string, i int, lit string) (int, bool) {
	if strings.HasPrefix(s[i:], lit) {
		return i + len(lit), true
	}
	n := 0
	for i+n < len(s) && s[i+n] == lit[n] {
		n++
	}
	return i + n, false
}

// scanValue returns the index just past the JSON value at s[i] (no leading
// whitespace), which may nest limit levels of arrays and objects; on a
// fault, the index where it was found and why. It keeps its own stack of
// open containers (one bit each) instead of recursing.
func scanValue(s string, i, limit int) (int, fault) {
	if i >= len(s) {
		return i, faultSyntax
	}
	if c := s[i]; c != '{' && c != '[' {
		end, ok := scanScalar(s, i)
		if !ok || end > len(s) {
			return min(end, len(s)), faultSyntax
		}
		return end, faultNone
	}
	return scanNested(s, i, limit)
}

// scanNested is scanValue for the array or object at s[i], apart so that
// its loop reads keys in place (no call per key) within a function's
// length.
func scanNested(s string, i, limit int) (int, fault) {
	// Bit d says level d is an object. Levels past 64 (rare) take words
	// from deeper, which grows as far as the limit allows.
	var shallow uint64
	var deeper []uint64
	depth := 0
	key := false // s[i] is a key's first byte, not a value's
	for {
		if key { // an object key, its colon and the whitespace after it
			key = false
			if i >= len(s) || s[i] != '"' {
				return min(i, len(s)), faultSyntax // no key where one must be
			}
			end, _, ok := scanString(s, i)
			if !ok {
				return end, faultSyntax
			}
			if end = SkipWS(s, end); end >= len(s) || s[end] != ':' {
				return end, faultSyntax // no colon after the key
			}
			if i = SkipWS(s, end+1); i >= len(s) {
				return i, faultSyntax
			}
		}
		// s[i] is a value's first byte.
		switch c := s[i]; c {
		case '{', '[':
			if depth >= limit {
				return i, faultDeep
			}
			word := &shallow
			if depth >= 64 {
				if w := depth>>6 - 1; w == len(deeper) {
					deeper = append(deeper, 0)
				}
				word = &deeper[depth>>6-1]
			}
			if c == '{' {
				*word |= 1 << (depth & 63)
			} else {
				*word &^= 1 << (depth & 63)
			}
			depth++
			if i = SkipWS(s, i+1); i >= len(s) {
				return i, faultSyntax
			}
			if s[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				i++
				depth--
				break
			}
			key = c == '{'
			continue
		case '"':
			end, _, ok := scanString(s, i)
			if !ok {
				return end, faultSyntax
			}
			i = end
		default:
			end, ok := scanScalar(s, i)
			if !ok || end > len(s) {
				return min(end, len(s)), faultSyntax
			}
			i = end
		}
		// After a value: a comma, or the close of the open container.
		for {
			if depth == 0 {
				return i, faultNone
			}
			if i = SkipWS(s, i); i >= len(s) {
				return i, faultSyntax
			}
			word := shallow
			if depth > 64 {
				word = deeper[(depth-1)>>6-1]
			}
			object := word&(1<<((depth-1)&63)) != 0
			switch s[i] {
			case ',':
				if i = SkipWS(s, i+1); object {
					key = true
				} else if i >= len(s) {
					return i, faultSyntax
				}
			case '}', ']':
				if (s[i] == '}') != object {
					return i, faultSyntax
				}
				i++
				depth--
				continue
			default:
				return i, faultSyntax
			}
			break
		}
	}
}

// SkipValue returns the index just past the JSON value at s[i] (no leading
// whitespace) nesting at most limit levels, or len(s) when it is malformed.
func SkipValue(s string, i, limit int) int {
	if i < len(s) && s[i] == '"' { // most values are strings: no detour
		return skipString(s, i)
	}
	if end, fault := scanValue(s, i, limit); fault == faultNone {
		return end
	}
	return len(s)
}

// skipRaw returns the index just past the value at s[i] without checking
// it: it follows only strings (eight bytes at a time) and brackets, to find
// where the events of a large batch end before they are checked, on other
// cores, while they are transformed. On malformed text the index is
// meaningless but in bounds.
func skipRaw(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"':
			i = skipRawString(s, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return i + max(depth+1, 0)
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return len(s)
}

// skipRawString returns the index just past the string that opens at s[i],
// honouring escapes but checking nothing else.
func skipRawString(s string, i int) int {
	for i++; i < len(s); {
		i = plainRun(s, i)
		switch {
		case i >= len(s):
			return len(s)
		case s[i] == '"':
			return i + 1
		}
		i += 2 // an escape: skip the escaped byte
	}
	return min(i, len(s))
}

// plainRun returns the index of the first quote or backslash at or after
// s[i], or len(s), reading eight bytes at a time.
func plainRun(s string, i int) int {
	const quote, backslash = ones * '"', ones * '\\'
	for i+8 <= len(s) {
		x := load64(s, i)
		q, b := x^quote, x^backslash
		// The lowest set high bit marks the first matching byte exactly.
		if m := ((q-ones)&^q | (b-ones)&^b) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(s) && s[i] != '"' && s[i] != '\\' {
		i++
	}
	return i
}

// Members walks the object that starts at s[i] (after whitespace): for each
// member it calls fn with the unescaped key, the key as written and the
// index of the value, and fn returns the index just past the value (it may
// read the value itself on the way); the values may nest limit-1 levels. A
// return of len(s) or less than the value's index ends the walk. Members
// returns the index just past the object, or past the value when it is not
// an object; len(s) when the text is malformed.
func Members(s string, i, limit int, fn func(key, rawKey string, vs int) int) int {
	i = SkipWS(s, i)
	if i >= len(s) || s[i] != '{' {
		return SkipValue(s, i, limit)
	}
	if limit < 1 {
		return len(s)
	}
	i = SkipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1
	}
	for i < len(s) && s[i] == '"' {
		keyEnd, escaped, ok := scanString(s, i)
		if !ok {
			return len(s)
		}
		rawKey := s[i:keyEnd]
		key := rawKey[1 : len(rawKey)-1]
		if escaped {
			key = unquote(rawKey)
		}
		i = SkipWS(s, keyEnd)
		if i >= len(s) || s[i] != ':' {
			return len(s)
		}
		vs := SkipWS(s, i+1)
		if vs >= len(s) {
			return len(s)
		}
		ve := fn(key, rawKey, vs)
		if ve <= vs {
			return len(s)
		}
		if ve+1 < len(s) && s[ve] == ',' && s[ve+1] == '"' {
			i = ve + 1 // the next key, at once: no whitespace in between
			continue
		}
		var done bool
		if i, done = following(s, ve, '}'); done {
			return i
		}
	}
	return len(s)
}

// following reads what comes after a member or element that ends at s[end]:
// a comma (it returns the index of the next one) or the closer of its
// object or array (it returns the index past it, and done). On anything
// else it returns len(s) and done.
func following(s string, end int, closer byte) (int, bool) {
	i := SkipWS(s, end)
	switch {
	case i >= len(s):
		return len(s), true
	case s[i] == ',':
		return SkipWS(s, i+1), false
	case s[i] == closer:
		return i + 1, true
	}
	return len(s), true
}

// Elements walks the array that starts at s[i] (after whitespace): for each
// element it calls fn with the element's index, and fn returns the index
// just past the element (len(s) ends the walk). Elements returns the index
// just past the array, or len(s) when it is not an array or is malformed.
func Elements(s string, i int, fn func(at int) int) int {
	i = SkipWS(s, i)
	if i >= len(s) || s[i] != '[' {
		return len(s)
	}
	if i = SkipWS(s, i+1); i < len(s) && s[i] == ']' {
		return i + 1
	}
	for i < len(s) {
		end := fn(i)
		if end <= i {
			return len(s)
		}
		var done bool
		if i, done = following(s, end, ']'); done {
			return i
		}
	}
	return len(s)
}

// EachMember calls fn with the unescaped key, the key as written (quotes
// included) and the raw value of each member of the object obj, until fn
// returns false. A value that is not an object yields nothing.
func EachMember(obj string, fn func(key, rawKey, raw string) bool) {
	if i := SkipWS(obj, 0); i >= len(obj) || obj[i] != '{' {
		return
	}
	Members(obj, 0, NoLimit, func(key, rawKey string, vs int) int {
		ve := SkipValue(obj, vs, NoLimit)
		if !fn(key, rawKey, obj[vs:ve]) {
			return -1
		}
		return ve
	})
}

// unquote returns the text of a raw JSON string; only strings with escapes
// (rare in keys) cost an allocation.
func unquote(raw string) string {
	inner := raw[1 : len(raw)-1]
	if strings.IndexByte(inner, '\\') < 0 {
		return inner
	}
	return gjson.Parse(raw).Str
}

// Value returns the gjson.Result of a raw JSON value a caller is about to
// read: strings without escapes, objects, arrays and literals are built
// directly, without parsing them again.
func Value(raw string) gjson.Result {
	if raw == "" {
		return gjson.Result{}
	}
	switch raw[0] {
	case '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			break // cut short: only text that was checked first is read right
		}
		if inner := raw[1 : len(raw)-1]; strings.IndexByte(inner, '\\') < 0 {
			return gjson.Result{Type: gjson.String, Raw: raw, Str: inner}
		}
	case '{', '[':
		return gjson.Result{Type: gjson.JSON, Raw: raw}
	case 't':
		return gjson.Result{Type: gjson.True, Raw: raw}
	case 'f':
		return gjson.Result{Type: gjson.False, Raw: raw}
	case 'n':
		return gjson.Result{Type: gjson.Null, Raw: raw}
	}
	return gjson.Parse(raw)
}

// LastMember returns the value of obj's last member named key (JSON.parse's
// reading of a repeated key), or an empty Result when obj is not an object
// or has no such member.
func LastMember(obj gjson.Result, key string) gjson.Result {
	var v gjson.Result
	if !obj.IsObject() {
		return v
	}
	EachMember(obj.Raw, func(k, _, raw string) bool {
		if k == key {
			v = Value(raw)
		}
		return true
	})
	return v
}
