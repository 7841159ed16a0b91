// Package upstream is the sidecar half of the service (SPEC 7,
// -upstream-transformer): rudder-server has one transformer URL for every
// destination and source, so this service answers Spotify Pixel itself and
// passes every other request, unchanged, to the real rudder-transformer. The
// passing is the standard library's httputil.ReverseProxy; this package adds
// the transport, the JSON 502, the proxy metrics and the merging of the
// upstream's /features document with ours. Which requests this service owns
// is decided by the HTTP front (internal/router), not here.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"spotifypixel/internal/metrics"
	"spotifypixel/internal/spotify"
)

// Options configure an Upstream.
type Options struct {
	URL             *url.URL          // the rudder-transformer, from ParseURL
	Metrics         *metrics.Metrics  // proxy requests, durations and upstream errors
	Logger          *zap.Logger       // nil: no logs
	FeaturesTimeout time.Duration     // longest wait for the upstream's /features; 0: 2s
	Transport       http.RoundTripper // nil: NewTransport()
}

// Upstream passes requests to one rudder-transformer. It is safe for
// concurrent use; the caller closes it when the server has stopped.
type Upstream struct {
	target          *url.URL
	proxy           *httputil.ReverseProxy
	client          *http.Client
	m               *metrics.Metrics
	log             *zap.Logger
	featuresTimeout time.Duration
	lastFeatures    atomic.Pointer[[]byte] // the last document merged from the upstream's
	featuresFailing atomic.Bool            // logs a failing /features once, not every poll
}

// ParseURL validates an upstream address: an absolute http(s) URL with a
// host, optionally a base path, and no credentials, query or fragment
// (they would be silently ignored).
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return nil, fmt.Errorf("%q carries credentials; the upstream gets the request's own headers", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%q has a query or fragment", raw)
	}
	return u, nil
}

// NewTransport is the transport to one upstream host: direct (no
// HTTP_PROXY: the sidecar talks to its own upstream), never decompressing
// (Accept-Encoding and gzip bodies pass through unchanged), with a large
// idle pool since rudder-server sends many requests in parallel.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// New builds the proxy to o.URL.
func New(o Options) (*Upstream, error) {
	if o.URL == nil || o.Metrics == nil {
		return nil, errors.New("upstream: URL and Metrics are required")
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	transport := o.Transport
	if transport == nil {
		transport = NewTransport()
	}
	u := &Upstream{
		target: o.URL, m: o.Metrics, log: log, featuresTimeout: o.FeaturesTimeout,
		client: &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	if u.featuresTimeout <= 0 {
		u.featuresTimeout = 2 * time.Second
	}
	stdlog, _ := zap.NewStdLogAt(log.Named("proxy"), zap.WarnLevel)
	u.proxy = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      transport,
		ErrorLog:       stdlog,
		ErrorHandler:   u.fail,
		ModifyResponse: u.relay,
	}
	return u, nil
}

// String is the upstream's address, for logs.
func (u *Upstream) String() string { return u.target.Redacted() }

// Close drops the idle connections to the upstream.
func (u *Upstream) Close() { u.client.CloseIdleConnections() }

// requestIDHeader is the request id header (canonical form) that this
// service's middleware sets on every response.
const requestIDHeader = "X-Request-Id"

// call is the state of one proxied request, shared with the proxy's hooks
// through the request context.
type call struct {
	route  string      // the route pattern, for metrics
	header http.Header // the response headers this service set before proxying
	err    error       // why the upstream gave no answer
}

type callKey struct{}

func callOf(r *http.Request) *call {
	if c, ok := r.Context().Value(callKey{}).(*call); ok {
		return c
	}
	return &call{route: "other", header: http.Header{}}
}

// ServeProxy passes r to the upstream and relays its answer; route is the
// route pattern that labels the metrics (never the raw path). It returns
// why the upstream gave no answer (the client then got a JSON 502), or nil.
func (u *Upstream) ServeProxy(w http.ResponseWriter, r *http.Request, route string) error {
	start := time.Now()
	c := &call{route: route, header: w.Header()}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if rec := recover(); rec != nil {
			// ReverseProxy aborts the response with http.ErrAbortHandler when
			// the upstream fails mid-answer: count it, and let the panic
			// reach net/http, which closes the connection quietly.
			u.m.UpstreamErrors.WithLabelValues(route, "aborted").Inc()
			u.observe(route, r.Method, sw.code, start)
			panic(rec)
		}
		u.observe(route, r.Method, sw.code, start)
	}()
	u.proxy.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
	return c.err
}

func (u *Upstream) observe(route, method string, code int, start time.Time) {
	if code == 0 {
		code = http.StatusOK
	}
	u.m.ProxyRequests.WithLabelValues(route, methodLabel(method), strconv.Itoa(code)).Inc()
	u.m.ProxyDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
}

// rewrite routes the outbound request to the upstream and keeps it as the
// client sent it: the same path (under the upstream's base path), the raw
// query byte for byte, and the client's forwarding headers (ReverseProxy
// strips them before Rewrite). The Host header becomes the upstream's, and
// hop-by-hop headers are dropped, as by any proxy.
func (u *Upstream) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(u.target)
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
}

// relay drops the response headers this service's middleware set before
// proxying, so that the answer carries the upstream's headers only, as it
// sent them; the one exception is the request id, kept when the upstream
// sent none.
func (u *Upstream) relay(res *http.Response) error {
	c := callOf(res.Request)
	for k := range c.header {
		if k != requestIDHeader {
			delete(c.header, k)
		}
	}
	if _, ok := res.Header[requestIDHeader]; ok {
		delete(c.header, requestIDHeader)
	}
	return nil
}

// fail answers a request the upstream gave no answer to: a JSON 502, which
// rudder-server retries.
func (u *Upstream) fail(w http.ResponseWriter, r *http.Request, err error) {
	c := callOf(r)
	reason := reasonOf(r.Context(), err)
	u.m.UpstreamErrors.WithLabelValues(c.route, reason).Inc()
	c.err = fmt.Errorf("upstream transformer %s: %s: %w", u, reason, err)
	h := w.Header()
	for k := range h {
		if k != requestIDHeader {
			delete(h, k)
		}
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusBadGateway)
	msg := "upstream transformer did not answer (" + reason + "): " + err.Error()
	w.Write(append(spotify.AppendJSONString([]byte(`{"error":`), msg), "}\n"...))
}

// reasonOf classifies an upstream failure for the metrics.
func reasonOf(ctx context.Context, err error) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return "canceled" // the client went away
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.As(err, &op) && op.Op == "dial":
		return "unreachable"
	}
	return "failed"
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusWriter records the status of the answer. Unwrap lets
// http.ResponseController (which ReverseProxy uses to flush and to switch
// protocols) reach the writer underneath.
type statusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader records the status for the proxy's metrics and passes it on.
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write passes the body on, recording an implicit 200 first.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
