package jsonscan

import "bytes"

// TrimBOM drops a leading UTF-8 byte order mark, which RFC 8259 lets a
// parser ignore, so that every front reads the same JSON text.
func TrimBOM(b []byte) []byte { return bytes.TrimPrefix(b, utf8BOM) }

var utf8BOM = []byte("\xef\xbb\xbf")

// Span is where one element of an array stands in the array's text: a
// batch's events are split across cores by their spans.
type Span struct{ Start, End int }

// AppendSpans appends the position of every element of the array at the
// start of s to dst, so that callers can count a batch's events and split it
// without reading them: it checks only the array's brackets and commas, and
// follows strings and brackets within elements (skipRaw), leaving each
// element for its reader to check. It returns the index just past the array,
// or len(s) when it is malformed.
func AppendSpans(dst []Span, s string) ([]Span, int) {
	end := Elements(s, 0, func(at int) int {
		end := skipRaw(s, at)
		if end > at && end < len(s) {
			dst = append(dst, Span{at, end})
			return end
		}
		return len(s)
	})
	return dst, end
}

// CountElements returns the number of elements of the array s (checked
// text) without decoding them.
func CountElements(s string) int {
	n := 0
	Elements(s, 0, func(at int) int { n++; return SkipValue(s, at, NoLimit) })
	return n
}
