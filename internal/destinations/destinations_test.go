package destinations

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/spotify"
)

func TestParseJSONAndYAML(t *testing.T) {
	for name, doc := range map[string]string{
		"json": `{"a":{"Config":{"pixelId":"pa"}},"b":{"Config":{"pixelId":" pb ","enableAliasCall":true}}}`,
		"yaml": "a:\n  Config:\n    pixelId: pa\nb:\n  Config:\n    pixelId: ' pb '\n    enableAliasCall: true\n",
	} {
		set, err := Parse([]byte(doc), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := strings.Join(set.IDs(), ","); got != "a,b" {
			t.Errorf("%s: ids %s", name, got)
		}
		b, err := set.Get("b")
		if err != nil || b.Config.PixelID != "pb" {
			t.Errorf("%s: b = %+v, %v", name, b, err)
		}
	}
}

// TestJSONFileKeepsConfigAsWritten checks that a JSON destinations file is
// read as JSON: escapes YAML lacks (\/, surrogate pairs) are accepted, a
// character YAML would fold (U+0085) is kept, and the config is the one the
// same text sent inline gives.
func TestJSONFileKeepsConfigAsWritten(t *testing.T) {
	for _, c := range []struct{ doc, pixel string }{
		{`{"t1":{"Config":{"pixelId":"px-\ud83d\ude00"}}}`, "px-\U0001F600"},
		{`{"t1":{"Config":{"pixelId":"a\/b"}}}`, "a/b"},
		{"{\"t1\":{\"Config\":{\"pixelId\":\"a\u0085b\"}}}", "a\u0085b"},
		{"\xef\xbb\xbf \n\t{\"t1\":{\"Config\":{\"pixelId\":\"p\"}}}", "p"},
	} {
		set, err := Parse([]byte(c.doc), "f.json")
		if err != nil {
			t.Errorf("%q: %v", c.doc, err)
			continue
		}
		d, err := set.Get("t1")
		if err != nil {
			t.Fatal(err)
		}
		inline, err := spotify.ParseConfig([]byte(gjson.Get(strings.TrimPrefix(c.doc, "\xef\xbb\xbf"), "t1.Config").Raw))
		if err != nil {
			t.Fatal(err)
		}
		if d.Config.PixelID != c.pixel || inline.PixelID != c.pixel {
			t.Errorf("%q: pixelId from the file %q, inline %q, want %q", c.doc, d.Config.PixelID, inline.PixelID, c.pixel)
		}
	}
	for doc, want := range map[string]string{
		`{"a":{"Config":{"pixelId":"p"}},"a":{"Config":{"pixelId":"q"}}}`:     `destination "a" is defined twice`,
		`{"a":{"Config":{"pixelId":"p"}}`:                                     "not valid JSON (at byte 31)",
		`{"a":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`: "deeper than 1000 levels",
	} {
		if _, err := Parse([]byte(doc), "f.json"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: err %v, want %q", doc, err, want)
		}
	}
}

func TestParseErrorsNameDestinationAndKey(t *testing.T) {
	cases := map[string]string{
		`{"shop":{"Config":{"pixelId":""}}}`:                          `destination "shop": pixelId is required`,
		`{"shop":{"Config":{"pixelId":"p","whitelistedEvents":"x"}}}`: `destination "shop": whitelistedEvents must be an array`,
		`{"shop":"nope"}`:                   `destination "shop" must be an object with a Config`,
		`{"shop":{}}`:                       `destination "shop": Config must be a JSON object`,
		`{}`:                                "no destinations",
		"a: [unclosed":                      "parsing destinations",
		`{"shop":{"Config":{"pixelId":1}}}`: `pixelId must be a string`,
	}
	for doc, want := range cases {
		_, err := Parse([]byte(doc), "f")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", doc, err, want)
		}
	}
}

func TestEmbeddedDemo(t *testing.T) {
	set, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	d, err := set.Get(DemoID)
	if err != nil || d.Config.PixelID != "demo-pixel" {
		t.Fatalf("demo: %+v %v", d, err)
	}
	if _, err := set.Get("other"); err == nil {
		t.Error("unknown id found")
	}
}

func TestStoreReloadKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.yaml")
	write(t, path, "a:\n  Config:\n    pixelId: one\n")
	s, err := NewStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Current().Generation; g != 1 {
		t.Errorf("generation %d", g)
	}
	write(t, path, "a:\n  Config: {}\n")
	if err := s.Reload(); err == nil {
		t.Fatal("bad file accepted")
	}
	if d, _ := s.Current().Get("a"); d.Config.PixelID != "one" || s.Current().Generation != 1 {
		t.Error("bad file replaced the config")
	}
	write(t, path, "a:\n  Config:\n    pixelId: two\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Current().Get("a"); d.Config.PixelID != "two" || s.Current().Generation != 2 {
		t.Error("good file not taken")
	}
}

func TestWatchSeesChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.json")
	write(t, path, `{"a":{"Config":{"pixelId":"one"}}}`)
	s, err := NewStore(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, 10)
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, 20*time.Millisecond, func(err error) { results <- err }) }()
	time.Sleep(100 * time.Millisecond) // let the watcher start
	write(t, path, `{"a":{"Config":{"pixelId":"two"}}}`)
	select {
	case err := <-results:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reload after a change")
	}
	if d, _ := s.Current().Get("a"); d.Config.PixelID != "two" {
		t.Errorf("pixel %s", d.Config.PixelID)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch returned %v", err)
	}
}

// write puts content at path for a store to load, failing the test when it
// cannot.
func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
