package main

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshot, when set, is where TestPlaygroundInBrowser saves its PNG
// of the page (the README's is made with -screenshot ../../docs/playground.png).
var screenshot = flag.String("screenshot", "", "save the playground screenshot to this file")

// browserPath finds Debian's Chromium. .ci/run installs it and sets
// TRANSFORMER_REQUIRE_BROWSER, so that there the test cannot be skipped.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("TRANSFORMER_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium (scripts/install-chromium.sh installs it)")
	}
	t.Skip("no Chromium; scripts/install-chromium.sh installs it")
	return ""
}

// page drives a headless Chromium for a test, with the flags that keep it
// off the network but for the page's own origin; every step is bounded.
type page struct {
	t   *testing.T
	ctx context.Context
}

func newPage(t *testing.T) *page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1500))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser: no timeout on it, or the timeout
	// would end the browser too.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return &page{t: t, ctx: ctx}
}

// do runs steps within 30 seconds.
func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// TestPlaygroundInBrowser loads the playground in a real Chromium, runs
// its example, and reads what the page shows: the summary, one card per
// event with its status, the calls and explain steps; then a configured
// destination, picked from the list the page loaded; then a bad config,
// whose error names the key.
func TestPlaygroundInBrowser(t *testing.T) {
	p := newPage(t)
	s := startServer(t, nil)
	p.do(chromedp.Navigate(s.url+"/playground"),
		chromedp.WaitVisible(chromedp.CSS("#run")),
		chromedp.WaitReady(chromedp.CSS(`#destination option[value="demo"]`)),
		chromedp.Click(chromedp.CSS("#run")),
		chromedp.WaitVisible(chromedp.CSS(".result")))
	summary := eval[string](p, `document.getElementById("summary").textContent`)
	cards := eval[int](p, `document.querySelectorAll(".result").length`)
	if summary != "6 events: 3 ok, 3 filtered, 0 failed, 5 calls (pixel playground-pixel)" || cards != 6 {
		t.Errorf("summary %q with %d cards", summary, cards)
	}
	if st := eval[string](p, `[...document.querySelectorAll(".result .status")].map(e => e.textContent).join(" ")`); st != "ok ok ok filtered filtered filtered" {
		t.Errorf("statuses %q", st)
	}
	if call := eval[string](p, `document.querySelector(".result pre.call").textContent`); !strings.HasPrefix(call, "spdt('view', ") {
		t.Errorf("first call %q", call)
	}
	if b := eval[string](p, `document.querySelector(".result .beacon").textContent`); !strings.HasPrefix(b, "beacon: https://img.byspotify.com/?key=playground-pixel&a=init") {
		t.Errorf("first beacon %q", b)
	}
	// The event whose consent was denied stops at the consent step.
	if steps := eval[string](p, `[...document.querySelectorAll(".result")[4].querySelectorAll("td.step")].map(e => e.textContent).join(" ")`); steps != "shape config integrations consent" {
		t.Errorf("explain steps of the denied event: %q", steps)
	}
	if shown := eval[string](p, `getComputedStyle(document.getElementById("token-label")).display`); shown != "none" {
		t.Errorf("the token field shows without auth: display %q", shown)
	}
	if opts := eval[string](p, `[...document.querySelectorAll("#destination option")].map(e => e.textContent).join("|")`); opts != "inline config (below)|demo (pixel demo-pixel)" {
		t.Errorf("destinations listed: %q", opts)
	}
	if *screenshot != "" {
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	p.do(chromedp.SetValue(chromedp.CSS("#destination"), "demo"),
		chromedp.Click(chromedp.CSS("#run")),
		chromedp.Poll[chromedp.Void](`document.getElementById("summary").textContent.includes("demo-pixel")`))
	if demo := eval[string](p, `document.getElementById("summary").textContent`); !strings.HasPrefix(demo, "6 events: ") {
		t.Errorf("with the demo destination: %q", demo)
	}
	p.do(chromedp.SetValue(chromedp.CSS("#destination"), ""),
		chromedp.SetValue(chromedp.CSS("#config"), `{"pixelId": 5}`),
		chromedp.Click(chromedp.CSS("#run")),
		chromedp.WaitVisible(chromedp.CSS("#error")))
	if e := eval[string](p, `document.getElementById("error").textContent`); !strings.HasPrefix(e, "422: destination.Config: pixelId") {
		t.Errorf("config error shown: %q", e)
	}
}

// TestPlaygroundRoutes: the page's files are served with their types and
// no data; the destinations list names ids and pixel ids only and takes
// the token when auth is on; -playground=false removes the page.
func TestPlaygroundRoutes(t *testing.T) {
	s := startServer(t, map[string]string{"TRANSFORMER_AUTH_TOKEN": "pg-token"})
	for path, ctype := range map[string]string{"/playground": "text/html", "/playground/app.js": "text/javascript", "/playground/style.css": "text/css"} {
		if r := s.do(http.MethodGet, path, "", nil); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %s", path, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := s.do(http.MethodGet, "/playground/destinations", "", nil); r.status != 401 {
		t.Errorf("destinations without the token: %d", r.status)
	}
	r := s.do(http.MethodGet, "/playground/destinations", "", nil, "Authorization", "Bearer pg-token")
	if r.status != 200 || string(r.body) != `{"destinations":[{"id":"demo","pixelId":"demo-pixel"}]}` {
		t.Errorf("destinations: %d %s", r.status, r.body)
	}
	off := startServer(t, nil, "-playground=false")
	if r := off.do(http.MethodGet, "/playground", "", nil); r.status != 404 {
		t.Errorf("-playground=false: %d", r.status)
	}
}
