package spotify

import (
	"strings"

	"github.com/tidwall/gjson"
)

// The engine's hot loops walk JSON with these few functions instead of
// gjson's ForEach: they skip string contents with strings.IndexByte (memchr)
// and hand out raw values, so that only the members the engine reads are
// parsed. They never read out of bounds: on malformed input they stop early.

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string that opens at s[i].
func skipString(s string, i int) int {
	i++
	// Most keys and values are short: a plain loop beats a memchr call there.
	for n := min(len(s), i+16); i < n; i++ {
		switch s[i] {
		case '"':
			return i + 1
		case '\\':
			return skipEscaped(s, i)
		}
	}
	return skipEscaped(s, i)
}

// skipEscaped finishes skipString from s[i], honouring backslash escapes.
func skipEscaped(s string, i int) int {
	for {
		if i >= len(s) {
			return len(s)
		}
		j := strings.IndexByte(s[i:], '"')
		if j < 0 {
			return len(s)
		}
		i += j
		backslashes := 0
		for k := i - 1; k >= 0 && s[k] == '\\'; k-- {
			backslashes++
		}
		i++
		if backslashes%2 == 0 {
			return i
		}
	}
}

// skipValue returns the index just past the JSON value that starts at s[i].
func skipValue(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				i = skipString(s, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(s)
	}
	for i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// members walks the object that starts at s[i] (after whitespace): for each
// member it calls fn with the unescaped key, the key as written and the
// index of the value, and fn returns the index just past the value (it may
// read the value itself on the way). A negative return stops the walk.
// members returns the index just past the object, or past the value when it
// is not an object; len(s) when the text is malformed.
func members(s string, i int, fn func(key, rawKey string, vs int) int) int {
	i = skipWS(s, i)
	if i >= len(s) || s[i] != '{' {
		return skipValue(s, i)
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1
	}
	for i < len(s) && s[i] == '"' {
		keyEnd := skipString(s, i)
		rawKey := s[i:keyEnd]
		i = skipWS(s, keyEnd)
		if i >= len(s) || s[i] != ':' || len(rawKey) < 2 {
			return len(s)
		}
		vs := skipWS(s, i+1)
		if vs >= len(s) {
			return len(s)
		}
		ve := fn(unquote(rawKey), rawKey, vs)
		if ve <= vs {
			return len(s)
		}
		i = skipWS(s, ve)
		if i >= len(s) {
			return len(s)
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			return i + 1
		default:
			return len(s)
		}
	}
	return len(s)
}

// eachMember calls fn with the unescaped key, the key as written (quotes
// included) and the raw value of each member of the object obj, until fn
// returns false. A value that is not an object yields nothing.
func eachMember(obj string, fn func(key, rawKey, raw string) bool) {
	if i := skipWS(obj, 0); i >= len(obj) || obj[i] != '{' {
		return
	}
	members(obj, 0, func(key, rawKey string, vs int) int {
		ve := skipValue(obj, vs)
		if !fn(key, rawKey, obj[vs:ve]) {
			return -1
		}
		return ve
	})
}

// eachElement calls fn with the raw text of each element of the array arr,
// until fn returns false. A value that is not an array yields nothing.
func eachElement(arr string, fn func(raw string) bool) {
	i := skipWS(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return
	}
	i = skipWS(arr, i+1)
	for i < len(arr) && arr[i] != ']' {
		end := skipValue(arr, i)
		if end <= i {
			return
		}
		if !fn(arr[i:end]) {
			return
		}
		i = skipWS(arr, end)
		if i >= len(arr) || arr[i] != ',' {
			return
		}
		i = skipWS(arr, i+1)
	}
}

// elements walks the array that starts at s[i]: for each element it calls fn
// with the element's index, and fn returns the index just past the element.
func elements(s string, fn func(at int) int) {
	i := skipWS(s, 0)
	if i >= len(s) || s[i] != '[' {
		return
	}
	i = skipWS(s, i+1)
	for i < len(s) && s[i] != ']' {
		end := fn(i)
		if end <= i {
			return
		}
		i = skipWS(s, end)
		if i >= len(s) || s[i] != ',' {
			return
		}
		i = skipWS(s, i+1)
	}
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

// value parses a raw JSON value the engine is about to read.
func value(raw string) gjson.Result { return gjson.Parse(raw) }

// MaxDepth is the deepest nesting of arrays and objects a request may have:
// gjson's validator recurses once per level, and a body of millions of "["
// would overflow the stack, a fatal error no recover catches.
const MaxDepth = 1000

// NestingWithin reports whether the JSON text s nests arrays and objects at
// most max levels deep; it skips strings, so brackets inside them don't count.
func NestingWithin(s string, max int) bool {
	depth := 0
	for i := 0; i < len(s); {
		switch s[i] {
		case '"':
			i = skipString(s, i)
			continue
		case '{', '[':
			if depth++; depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
		i++
	}
	return true
}
