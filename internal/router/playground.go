package router

import (
	"embed"
	"io/fs"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"spotifypixel/internal/jsonscan"
)

// The playground (GET /playground) is a page that runs events through
// /transform?explain=1 and shows what each became and why. Its files are
// embedded, so it works offline; they hold no data, so they are served
// without auth, while everything with data (the destinations list and
// /transform itself) takes the bearer token when one is set: the page asks
// for it and sends it.

//go:embed playground/index.html playground/app.js playground/style.css
var playgroundFiles embed.FS

// playgroundTypes are the media types of the page's files, set explicitly
// so that they do not depend on the machine's MIME tables.
var playgroundTypes = map[string]string{
	"index.html": "text/html; charset=utf-8",
	"app.js":     "text/javascript; charset=utf-8",
	"style.css":  "text/css; charset=utf-8",
}

// mountPlayground declares the playground's routes.
func mountPlayground(r chi.Router, d Deps, auth func(http.Handler) http.Handler) {
	r.Get("/playground", playgroundFile("index.html"))
	r.Get("/playground/app.js", playgroundFile("app.js"))
	r.Get("/playground/style.css", playgroundFile("style.css"))
	r.With(auth).Get("/playground/destinations", playgroundDestinations(d))
}

// playgroundFile serves one embedded file of the page.
func playgroundFile(name string) http.HandlerFunc {
	body, err := fs.ReadFile(playgroundFiles, "playground/"+name)
	if err != nil { // the embed directive names every file: cannot happen
		panic("playground: " + err.Error())
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", playgroundTypes[name])
		h.Set("Cache-Control", "no-cache")
		// The page runs its own script and talks to this origin only.
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		_, _ = w.Write(body)
	}
}

// playgroundDestinations lists the configured destinations by id with
// their pixel ids; nothing else of a config (its CAPI token least of all)
// leaves the service.
func playgroundDestinations(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		set := d.Store.Current()
		ids := set.IDs()
		slices.Sort(ids)
		out := append(make([]byte, 0, 64+32*len(ids)), `{"destinations":[`...)
		for _, id := range ids {
			dest, err := set.Get(id)
			if err != nil {
				continue // IDs and Get read the same set: cannot happen
			}
			if out[len(out)-1] != '[' {
				out = append(out, ',')
			}
			out = append(out, `{"id":`...)
			out = jsonscan.AppendString(out, id)
			out = append(out, `,"pixelId":`...)
			out = jsonscan.AppendString(out, dest.Config.PixelID)
			out = append(out, '}')
		}
		writeJSON(w, append(out, "]}"...))
	}
}
