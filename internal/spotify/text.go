package spotify

import (
	"math/bits"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/jstext"
)

// trim is JavaScript's String.prototype.trim (docs/BEHAVIOUR.md §2.1).
func trim(s string) string { return jstext.Trim(s) }

// lowerASCII folds A–Z only (docs/BEHAVIOUR.md §2.1).
func lowerASCII(s string) string { return jstext.LowerASCII(s) }

// equalFoldASCII compares a and b ignoring ASCII case only.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// present reports whether v counts as a value: not missing, not null, not "".
func present(v gjson.Result) bool {
	switch v.Type {
	case gjson.Null:
		return false
	case gjson.String:
		return v.Raw != `""`
	}
	return v.Exists()
}

// isNonEmptyString reports whether v is a JSON string with at least one byte.
func isNonEmptyString(v gjson.Result) bool { return v.Type == gjson.String && v.Str != "" }

// isZeroNumber reports whether the JSON number text n denotes zero (0, -0, 0.0, 0e9).
func isZeroNumber(n string) bool {
	for i := 0; i < len(n); i++ {
		switch c := n[i]; {
		case c == 'e' || c == 'E':
			return true
		case c >= '1' && c <= '9':
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string literal, replacing invalid UTF-8
// with U+FFFD so that the output is always valid JSON.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	// Most text needs no escaping: find the first byte that may, eight at
	// a time (a quote, a backslash, a control character or non-ASCII).
	i := 0
	for i+8 <= len(s) {
		x := load64(s, i)
		if m := stringStops(x) | x&highs; m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			break
		}
		i += 8
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendQueryEscape appends s percent-encoded for a URL query value
// (everything but unreserved characters is escaped).
func appendQueryEscape(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&0xF])
	}
	return dst
}

// bstr views b as a string without copying; b must not change while the
// string is in use.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// AppendValidUTF8 appends raw JSON text, writing each invalid UTF-8 byte as
// \ufffd: in valid JSON such bytes can only stand inside strings, so the
// result stays valid JSON and becomes valid UTF-8.
func AppendValidUTF8(dst []byte, raw string) []byte {
	if utf8.ValidString(raw) {
		return append(dst, raw...)
	}
	start := 0
	for i := 0; i < len(raw); {
		if raw[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(raw[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, raw[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += n
	}
	return append(dst, raw[start:]...)
}
