package jsonscan

import (
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// Str views b as a string without copying, so that the scanners read a
// body in place; b must not change while the string is in use.
func Str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal, replacing invalid UTF-8
// with U+FFFD so that the output is always valid JSON.
func AppendString(dst []byte, s string) []byte {
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
