package destinations

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	os.WriteFile(path, []byte("a:\n  Config:\n    pixelId: one\n"), 0o644)
	s, err := NewStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Current().Generation; g != 1 {
		t.Errorf("generation %d", g)
	}
	os.WriteFile(path, []byte("a:\n  Config: {}\n"), 0o644)
	if err := s.Reload(); err == nil {
		t.Fatal("bad file accepted")
	}
	if d, _ := s.Current().Get("a"); d.Config.PixelID != "one" || s.Current().Generation != 1 {
		t.Error("bad file replaced the config")
	}
	os.WriteFile(path, []byte("a:\n  Config:\n    pixelId: two\n"), 0o644)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Current().Get("a"); d.Config.PixelID != "two" || s.Current().Generation != 2 {
		t.Error("good file not taken")
	}
}

func TestWatchSeesChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.json")
	os.WriteFile(path, []byte(`{"a":{"Config":{"pixelId":"one"}}}`), 0o644)
	s, err := NewStore(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, 10)
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, 20*time.Millisecond, func(err error) { results <- err }) }()
	time.Sleep(100 * time.Millisecond) // let the watcher start
	os.WriteFile(path, []byte(`{"a":{"Config":{"pixelId":"two"}}}`), 0o644)
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
