package destinations

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestYAMLErrorsNeverQuoteValues feeds YAML documents whose decoding fails
// next to, or on, a CAPI token: YAML's own messages quote the offending
// value, so the error must name only the line and the key.
func TestYAMLErrorsNeverQuoteValues(t *testing.T) {
	const tok = "tok-SECRET-4711"
	for _, c := range []struct{ doc, want string }{
		{"d1:\n  Config:\n    pixelId: p\n    capiConnectionId: c\n    capiAccessToken: !!int " + tok + "\n", "line 5"},
		{"d1:\n  Config:\n    capiAccessToken: " + tok + "\n    enableAliasCall: !!bool maybe\n", "line 4"},
		{"d1:\n  Config:\n    pixelId: p\n    capiAccessToken: !!timestamp " + tok + "\n", "capiAccessToken"},
		{tok + "\n", "line 1"},
		{"d1:\n  Config:\n    capiAccessToken: " + tok + "\n    ? {" + tok + ": 1}\n    : x\n", "line 4"},
		{"d1:\n  Config:\n    capiAccessToken: '" + tok + "\n", "line"},
		{"d1:\n  Config:\n    capiAccessToken: " + tok + "\n    x: *" + tok + "\n", "not valid YAML"},
		{"d1:\n  Config:\n    capiAccessToken: " + tok + "\n    capiAccessToken: " + tok + "x\n", "capiAccessToken"},
	} {
		_, err := Parse([]byte(c.doc), "d.yaml")
		if err == nil {
			t.Errorf("%q: accepted", c.doc)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%q: the error quotes the token: %v", c.doc, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %q does not name %q", c.doc, err, c.want)
		}
	}
}

// TestReloadDefersWhileOpenForWriting rewrites the file in place in two
// writes through one open file: while the writer holds it open a reload
// refuses to read it (the first half is a valid document), and once it is
// closed the whole file is taken.
func TestReloadDefersWhileOpenForWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.yaml")
	write(t, path, "a:\n  Config:\n    pixelId: one\nb:\n  Config:\n    pixelId: bee-one\n")
	s, err := NewStore(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	full := "a:\n  Config:\n    pixelId: two\nb:\n  Config:\n    pixelId: bee-two\n"
	half := strings.Index(full, "-two") // "b: pixelId: bee" is valid on its own
	f.WriteString(full[:half])
	if err := s.Reload(); !IsBeingWritten(err) {
		t.Errorf("reload of a file open for writing: %v", err)
	}
	if d, _ := s.Current().Get("b"); d.Config.PixelID != "bee-one" || s.Current().Generation != 1 {
		t.Errorf("the half-written file was taken: b = %q, generation %d", d.Config.PixelID, s.Current().Generation)
	}
	f.WriteString(full[half:])
	f.Close()
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Current().Get("b"); d.Config.PixelID != "bee-two" {
		t.Errorf("b = %q after the writer closed", d.Config.PixelID)
	}
}
