package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/errgroup"

	"spotifypixel/internal/capi"
	"spotifypixel/internal/destinations"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/metrics"
	"spotifypixel/internal/router"
	"spotifypixel/internal/tail"
	"spotifypixel/internal/upstream"
)

// serveConfig is the validated configuration of the serve command.
type serveConfig struct {
	Listen         string
	MetricsListen  string
	Destinations   string
	AuthToken      string
	AuthTokenFile  string
	TokenInArgs    bool // the token was given with -auth-token, which ps shows
	MaxBodyBytes   int64
	MaxBatchEvents int
	ShutdownGrace  time.Duration
	DrainDelay     time.Duration
	LogLevel       string
	LogFormat      string
	UpstreamURL    string
	// The limits of requests passed to -upstream-transformer.
	UpstreamConnectTimeout time.Duration
	UpstreamHeaderTimeout  time.Duration
	UpstreamTimeout        time.Duration
	UpstreamMaxInFlight    int
	BeaconURL              string
	ReadHeaderTimeout      time.Duration
	ReadTimeout            time.Duration
	WriteTimeout           time.Duration
	IdleTimeout            time.Duration
	RequestTimeout         time.Duration
	MaxInFlight            int
	BodyBudget             int64 // resolved: never 0 after parseServeConfig
	MaxJSONDepth           int
	ReloadSettle           time.Duration
	Pprof                  bool
	CAPIURL                string
	CAPIBatchSize          int
	Playground             bool
	LiveTail               bool
	LiveTailRate           float64
	LiveTailSubscribers    int
}

// serveEnv maps each serve flag to its environment fallback (docs/BEHAVIOUR.md §7).
var serveEnv = map[string]string{
	"listen":                           "TRANSFORMER_LISTEN",
	"metrics-listen":                   "TRANSFORMER_METRICS_LISTEN",
	"destinations":                     "TRANSFORMER_DESTINATIONS",
	"auth-token":                       "TRANSFORMER_AUTH_TOKEN",
	"auth-token-file":                  "TRANSFORMER_AUTH_TOKEN_FILE",
	"max-body-bytes":                   "TRANSFORMER_MAX_BODY_BYTES",
	"max-batch-events":                 "TRANSFORMER_MAX_BATCH_EVENTS",
	"shutdown-grace":                   "TRANSFORMER_SHUTDOWN_GRACE",
	"drain-delay":                      "TRANSFORMER_DRAIN_DELAY",
	"log-level":                        "TRANSFORMER_LOG_LEVEL",
	"log-format":                       "TRANSFORMER_LOG_FORMAT",
	"upstream-transformer":             "TRANSFORMER_UPSTREAM_URL",
	"upstream-connect-timeout":         "TRANSFORMER_UPSTREAM_CONNECT_TIMEOUT",
	"upstream-response-header-timeout": "TRANSFORMER_UPSTREAM_RESPONSE_HEADER_TIMEOUT",
	"upstream-timeout":                 "TRANSFORMER_UPSTREAM_TIMEOUT",
	"upstream-max-inflight":            "TRANSFORMER_UPSTREAM_MAX_INFLIGHT",
	"beacon-url":                       "TRANSFORMER_BEACON_URL",
	"read-header-timeout":              "TRANSFORMER_READ_HEADER_TIMEOUT",
	"read-timeout":                     "TRANSFORMER_READ_TIMEOUT",
	"write-timeout":                    "TRANSFORMER_WRITE_TIMEOUT",
	"idle-timeout":                     "TRANSFORMER_IDLE_TIMEOUT",
	"request-timeout":                  "TRANSFORMER_REQUEST_TIMEOUT",
	"max-inflight":                     "TRANSFORMER_MAX_INFLIGHT",
	"body-budget-bytes":                "TRANSFORMER_BODY_BUDGET_BYTES",
	"max-json-depth":                   "TRANSFORMER_MAX_JSON_DEPTH",
	"pprof":                            "TRANSFORMER_PPROF",
	"capi-url":                         "TRANSFORMER_CAPI_URL",
	"capi-batch-size":                  "TRANSFORMER_CAPI_BATCH_SIZE",
	"playground":                       "TRANSFORMER_PLAYGROUND",
	"live-tail":                        "TRANSFORMER_LIVE_TAIL",
	"live-tail-rate":                   "TRANSFORMER_LIVE_TAIL_RATE",
	"live-tail-subscribers":            "TRANSFORMER_LIVE_TAIL_SUBSCRIBERS",
}

func parseServeConfig(args []string, getenv func(string) string, out io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Listen, "listen", ":8080", "address of the HTTP listener")
	fs.StringVar(&c.MetricsListen, "metrics-listen", "", "separate address for /metrics (empty: /metrics on the main listener)")
	fs.StringVar(&c.Destinations, "destinations", "", "destinations file, JSON or YAML: id → {Config} (empty: the embedded demo destination)")
	fs.StringVar(&c.AuthToken, "auth-token", "", "bearer token required on /transform (empty: no auth); ps shows it, prefer TRANSFORMER_AUTH_TOKEN or -auth-token-file")
	fs.StringVar(&c.AuthTokenFile, "auth-token-file", "", "file holding the bearer token (trailing line breaks dropped); instead of -auth-token")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 10<<20, "largest request body accepted, in bytes")
	fs.IntVar(&c.MaxBatchEvents, "max-batch-events", 10000, "most events accepted in one batch")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 20*time.Second, "how long in-flight requests may run after SIGTERM")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 0, "after SIGTERM, how long /ready answers 503 while still serving, before the listener closes")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.UpstreamURL, "upstream-transformer", "", "rudder-transformer to pass every request for another destination or source to (sidecar mode; empty: none)")
	fs.DurationVar(&c.UpstreamConnectTimeout, "upstream-connect-timeout", 5*time.Second, "longest wait to connect to -upstream-transformer; past it: 504")
	fs.DurationVar(&c.UpstreamHeaderTimeout, "upstream-response-header-timeout", 30*time.Second, "longest wait for -upstream-transformer's response headers once the request is sent; past it: 504")
	fs.DurationVar(&c.UpstreamTimeout, "upstream-timeout", 60*time.Second, "longest a request passed to -upstream-transformer may take, its answer included; past it: 504, or the answer is cut short")
	fs.IntVar(&c.UpstreamMaxInFlight, "upstream-max-inflight", 64, "requests waiting on -upstream-transformer at once; beyond it: 503 with Retry-After (0: no limit)")
	fs.StringVar(&c.BeaconURL, "beacon-url", "https://img.byspotify.com/", "base URL of every beacon")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 5*time.Second, "time allowed to read request headers")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 30*time.Second, "read bound of a request -request-timeout does not cover (GETs, requests passed to -upstream-transformer), headers included; also the longest wait for the next line of an NDJSON stream")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 60*time.Second, "time allowed from the end of the headers to the end of the response")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 120*time.Second, "how long an idle keep-alive connection stays open")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 30*time.Second, "for POST bodies this service parses (not NDJSON): replaces -read-timeout; the body must arrive within it (else 408) and the handler's context ends at it")
	fs.IntVar(&c.MaxInFlight, "max-inflight", 256, "requests with a body served at once, each counted once its body has arrived (NDJSON streams: at most half of them, from their start); beyond it: 503 with Retry-After (0: no limit)")
	fs.Int64Var(&c.BodyBudget, "body-budget-bytes", 0, "request body bytes (received, and inflated from gzip) all requests hold at once; beyond it: 503 with Retry-After (0: a quarter of GOMEMLIMIT when it is set, else 256 MiB)")
	fs.IntVar(&c.MaxJSONDepth, "max-json-depth", jsonscan.MaxDepth, "deepest nesting of JSON arrays and objects accepted in a body")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve /debug/pprof/ on the metrics listener (needs -metrics-listen)")
	fs.StringVar(&c.CAPIURL, "capi-url", "https://capi.spotify.com/capi-direct/events/", "Spotify Conversions API endpoint (a proxy or a test sink)")
	fs.IntVar(&c.CAPIBatchSize, "capi-batch-size", capi.DefaultBatchSize, "most events per Conversions API request body")
	fs.BoolVar(&c.Playground, "playground", true, "serve the playground page at /playground (its data behind -auth-token when set)")
	fs.BoolVar(&c.LiveTail, "live-tail", true, "serve GET /debug/events?destination=<id>, a Server-Sent Events sample of that destination's results (behind -auth-token when set)")
	fs.Float64Var(&c.LiveTailRate, "live-tail-rate", 10, "most results a second each live-tail subscriber is sent; the rest are not shown")
	fs.IntVar(&c.LiveTailSubscribers, "live-tail-subscribers", 4, "most live-tail subscribers at once; beyond: 503 with Retry-After")
	c.ReloadSettle = 100 * time.Millisecond
	if err := parseFlags(fs, args, getenv, serveEnv); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, usageError{fmt.Errorf("serve takes no arguments, got %q", fs.Args())}
	}
	c.TokenInArgs = c.AuthToken != "" && c.AuthToken != getenv(serveEnv["auth-token"])
	if c.BodyBudget == 0 {
		c.BodyBudget = defaultBodyBudget(debug.SetMemoryLimit(-1))
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	// The token is read before c is returned: the order of the two operands of a return is unspecified.
	err := c.readTokenFile()
	return c, err
}

// defaultBodyBudget is the body budget when -body-budget-bytes is not set:
// a quarter of the memory limit (the rest is for the responses, which are
// about as large as the requests, the pools and the heap's headroom), or 256
// MiB when no limit is set (memLimit is math.MaxInt64).
func defaultBodyBudget(memLimit int64) int64 {
	if memLimit <= 0 || memLimit == math.MaxInt64 {
		return 256 << 20
	}
	return memLimit / 4
}

// readTokenFile sets the token from -auth-token-file, so that the secret
// never has to be on the command line; an empty file is an error, since it
// would silently turn auth off.
func (c *serveConfig) readTokenFile() error {
	if c.AuthTokenFile == "" {
		return nil
	}
	if c.AuthToken != "" {
		return usageError{errors.New("-auth-token and -auth-token-file are both set; give the token once")}
	}
	b, err := os.ReadFile(c.AuthTokenFile)
	if err != nil {
		return fmt.Errorf("reading -auth-token-file: %w", err)
	}
	c.AuthToken = strings.TrimRight(string(b), "\r\n")
	if c.AuthToken == "" {
		return fmt.Errorf("-auth-token-file %s is empty", c.AuthTokenFile)
	}
	return nil
}

func (c serveConfig) validate() error {
	switch {
	case c.Listen == "":
		return usageError{errors.New("-listen must not be empty")}
	case c.MaxBodyBytes <= 0:
		return usageError{errors.New("-max-body-bytes must be positive")}
	case c.MaxBatchEvents <= 0:
		return usageError{errors.New("-max-batch-events must be positive")}
	case c.ShutdownGrace <= 0:
		return usageError{errors.New("-shutdown-grace must be positive")}
	case c.DrainDelay < 0:
		return usageError{errors.New("-drain-delay must not be negative")}
	case c.LiveTail && (c.LiveTailRate <= 0 || c.LiveTailSubscribers <= 0):
		return usageError{errors.New("-live-tail-rate and -live-tail-subscribers must be positive with -live-tail")}
	case c.LogFormat != "json" && c.LogFormat != "console":
		return usageError{fmt.Errorf("-log-format must be json or console, got %q", c.LogFormat)}
	case c.Pprof && c.MetricsListen == "":
		return usageError{errors.New("-pprof needs -metrics-listen: profiles are never served on the public listener")}
	}
	if c.UpstreamURL != "" {
		if _, err := upstream.ParseURL(c.UpstreamURL); err != nil {
			return usageError{fmt.Errorf("-upstream-transformer must be an absolute http(s) URL: %w", err)}
		}
	}
	if _, err := zapcore.ParseLevel(c.LogLevel); err != nil {
		return usageError{fmt.Errorf("-log-level: %w", err)}
	}
	if u, err := url.Parse(c.BeaconURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("-beacon-url must be an absolute http(s) URL, got %q", c.BeaconURL)}
	}
	if u, err := url.Parse(c.CAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("-capi-url must be an absolute http(s) URL, got %q", c.CAPIURL)}
	}
	if c.CAPIBatchSize < 1 {
		return usageError{errors.New("-capi-batch-size must be positive")}
	}
	if c.MaxInFlight < 0 {
		return usageError{errors.New("-max-inflight must not be negative")}
	}
	if c.UpstreamMaxInFlight < 0 {
		return usageError{errors.New("-upstream-max-inflight must not be negative")}
	}
	if c.MaxJSONDepth <= 0 {
		return usageError{errors.New("-max-json-depth must be positive")}
	}
	if c.BodyBudget < c.MaxBodyBytes {
		return usageError{fmt.Errorf("-body-budget-bytes (%d, a quarter of GOMEMLIMIT when not set) must be at least -max-body-bytes (%d), or the largest body could never be served", c.BodyBudget, c.MaxBodyBytes)}
	}
	for name, d := range map[string]time.Duration{"read-header-timeout": c.ReadHeaderTimeout, "read-timeout": c.ReadTimeout, "write-timeout": c.WriteTimeout, "idle-timeout": c.IdleTimeout, "request-timeout": c.RequestTimeout,
		"upstream-connect-timeout": c.UpstreamConnectTimeout, "upstream-response-header-timeout": c.UpstreamHeaderTimeout, "upstream-timeout": c.UpstreamTimeout} {
		if d <= 0 {
			return usageError{fmt.Errorf("-%s must be positive", name)}
		}
	}
	return nil
}

func newLogger(c serveConfig, out io.Writer) *zap.Logger {
	level, _ := zapcore.ParseLevel(c.LogLevel)
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	encoder := zapcore.NewJSONEncoder(enc)
	if c.LogFormat == "console" {
		encoder = zapcore.NewConsoleEncoder(enc)
	}
	return zap.New(zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(out)), level))
}

// runServe runs the HTTP service until ctx ends, then drains and exits.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseServeConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	defer func() { _ = log.Sync() }() // stdout may be a terminal, whose sync fails harmlessly
	if cfg.TokenInArgs {
		log.Warn("the auth token was given with -auth-token, which any local user can read in ps; use TRANSFORMER_AUTH_TOKEN or -auth-token-file")
	}

	store, err := destinations.NewStore(cfg.Destinations)
	if err != nil {
		return fmt.Errorf("loading destinations: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	observeConfig(m, store.Current())
	up, err := newUpstream(cfg, m, log)
	if err != nil {
		return err
	}
	if up != nil {
		defer up.Close()
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	var metricsLn net.Listener
	if cfg.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return errors.Join(fmt.Errorf("listening on %s for metrics: %w", cfg.MetricsListen, err), ln.Close())
		}
	}

	var readyFlag atomic.Bool
	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	deps := router.Deps{
		Store: store, Metrics: m, Logger: log, Ready: &readyFlag,
		AuthToken: cfg.AuthToken, MaxBodyBytes: cfg.MaxBodyBytes,
		MaxBatchEvents: cfg.MaxBatchEvents, BeaconURL: cfg.BeaconURL,
		StreamTimeout: cfg.ReadTimeout,
		MaxInFlight:   cfg.MaxInFlight, BodyBudget: cfg.BodyBudget, RequestTimeout: cfg.RequestTimeout, MaxJSONDepth: cfg.MaxJSONDepth,
		CAPIBatchSize: cfg.CAPIBatchSize, CAPIURL: cfg.CAPIURL, Playground: cfg.Playground,
	}
	if cfg.LiveTail {
		deps.Tail = tail.New(cfg.LiveTailSubscribers, cfg.LiveTailRate)
	}
	if metricsLn == nil {
		deps.MetricsHandler = metricsHandler
	}
	deps.Upstream = up // nil without -upstream-transformer
	servers := []*http.Server{newServer(cfg, router.New(deps), log)}
	listeners := []net.Listener{ln}
	if metricsLn != nil {
		servers = append(servers, newServer(cfg, metricsMux(cfg, router.MetricsOnly(metricsHandler)), log))
		listeners = append(listeners, metricsLn)
	}

	reload := reporter(store, m, log)
	g, gctx := errgroup.WithContext(ctx)
	for i := range servers {
		srv, l := servers[i], listeners[i]
		g.Go(func() error {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serving %s: %w", l.Addr(), err)
			}
			return nil
		})
	}
	g.Go(func() error { return store.Watch(gctx, cfg.ReloadSettle, func(err error) { reload("file", err) }) })
	g.Go(func() error { return reloadOnSIGHUP(gctx, store, reload) })
	g.Go(func() error {
		<-gctx.Done()
		return shutdown(cfg, servers, &readyFlag, log)
	})

	readyFlag.Store(true)
	log.Info("listening", listeningFields(ln, metricsLn, store, up)...)
	return g.Wait()
}

// observeConfig records a loaded generation in the metrics.
func observeConfig(m *metrics.Metrics, set *destinations.Set) {
	m.ObserveConfig(set.Generation, set.Source, set.Len(), time.Now())
}

// reporter returns what a reload reports: counted, logged, and on success
// the new generation observed.
func reporter(store *destinations.Store, m *metrics.Metrics, log *zap.Logger) func(how string, err error) {
	return func(how string, err error) {
		if how == "file" && destinations.IsBeingWritten(err) {
			log.Info("config reload deferred: the destinations file is open for writing; retrying until it is closed", zap.String("trigger", how))
			return
		}
		if err != nil {
			// Destination errors name keys and lines, never values (no token).
			m.ConfigReloads.WithLabelValues("failure").Inc()
			m.ConfigReloadFailures.Inc()
			log.Error("config reload failed; keeping the last good config", zap.String("trigger", how), zap.Error(err))
			return
		}
		m.ConfigReloads.WithLabelValues("success").Inc()
		set := store.Current()
		observeConfig(m, set)
		log.Info("config reloaded", zap.String("trigger", how), zap.Uint64("generation", set.Generation), zap.Int("destinations", set.Len()))
	}
}

// reloadOnSIGHUP reloads the destinations file on every SIGHUP until ctx ends.
func reloadOnSIGHUP(ctx context.Context, store *destinations.Store, reload func(string, error)) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			reload("SIGHUP", store.Reload())
		}
	}
}

// listeningFields are the fields of the "listening" log line, which tests
// and operators read the bound addresses from.
func listeningFields(ln, metricsLn net.Listener, store *destinations.Store, up *upstream.Upstream) []zap.Field {
	fields := []zap.Field{zap.String("addr", ln.Addr().String()), zap.String("version", version),
		zap.String("destinations", store.Current().Source), zap.Int("destination_count", store.Current().Len())}
	if metricsLn != nil {
		fields = append(fields, zap.String("metrics_addr", metricsLn.Addr().String()))
	}
	if up != nil {
		fields = append(fields, zap.String("upstream", up.String()))
	}
	return fields
}

// newUpstream is the sidecar's proxy to the upstream rudder-transformer;
// nil without -upstream-transformer.
func newUpstream(cfg serveConfig, m *metrics.Metrics, log *zap.Logger) (*upstream.Upstream, error) {
	if cfg.UpstreamURL == "" {
		return nil, nil
	}
	target, err := upstream.ParseURL(cfg.UpstreamURL)
	if err != nil {
		return nil, usageError{fmt.Errorf("-upstream-transformer: %w", err)}
	}
	return upstream.New(upstream.Options{URL: target, Metrics: m, Logger: log,
		ConnectTimeout: cfg.UpstreamConnectTimeout, ResponseHeaderTimeout: cfg.UpstreamHeaderTimeout,
		Timeout: cfg.UpstreamTimeout, MaxInFlight: cfg.UpstreamMaxInFlight, MaxBodyBytes: cfg.MaxBodyBytes})
}

func newServer(cfg serveConfig, h http.Handler, log *zap.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
}

// shutdown turns /ready to 503, keeps serving for the drain delay, then lets
// in-flight requests finish within the grace period.
func shutdown(cfg serveConfig, servers []*http.Server, readyFlag *atomic.Bool, log *zap.Logger) error {
	readyFlag.Store(false)
	log.Info("shutting down", zap.Duration("drain_delay", cfg.DrainDelay), zap.Duration("grace", cfg.ShutdownGrace))
	time.Sleep(cfg.DrainDelay)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutting down: %w", err), srv.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// metricsMux adds the pprof handlers to the metrics listener when asked.
func metricsMux(cfg serveConfig, h http.Handler) http.Handler {
	if !cfg.Pprof {
		return h
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", cmdline(os.Args))
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}

// cmdline answers /debug/pprof/cmdline as net/http/pprof does, with the
// value of -auth-token replaced, so that a profile never carries the token.
func cmdline(args []string) http.HandlerFunc {
	body := strings.Join(redactArgs(args), "\x00")
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, body) // a client that left has no one to tell
	}
}

// redactArgs copies args with the value of every -auth-token (any spelling:
// -auth-token v, --auth-token v, -auth-token=v) replaced by "[redacted]".
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "auth-token" {
			continue
		}
		if hasValue {
			out[i] = a[:strings.Index(a, "=")+1] + "[redacted]"
		} else if i+1 < len(out) {
			out[i+1] = "[redacted]"
		}
	}
	return out
}
