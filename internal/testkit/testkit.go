// Package testkit holds the helpers that tests of several packages share,
// and that the service never runs: the production packages hold production
// code only. Its subpackage corpus generates realistic traffic.
package testkit

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
)

// Gzip compresses b as a client sending Content-Encoding: gzip would.
func Gzip(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(b) // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	return out.Bytes()
}

// DecodeNumbers decodes JSON keeping each number's text (1.50 stays 1.50),
// so that a comparison sees what the engine wrote; invalid UTF-8 decodes as
// U+FFFD. Text that is not JSON decodes as a string naming it and the error,
// which no JSON value equals.
func DecodeNumbers(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Sprintf("undecodable %q: %v", b, err)
	}
	return v
}
