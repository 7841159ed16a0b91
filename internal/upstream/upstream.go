// Package upstream is the sidecar half of the service (docs/BEHAVIOUR.md §7,
// -upstream-transformer): rudder-server has one transformer URL for every
// destination and source, so this service answers Spotify Pixel itself and
// passes every other request, unchanged, to the real rudder-transformer. The
// passing is the standard library's httputil.ReverseProxy; this package adds
// the transport, its limits (timeouts, an in-flight cap, the body limit),
// the classification of failures (answered by the HTTP front), the proxy
// metrics and the merging of the upstream's /features document with ours. Which requests this service owns
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

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/metrics"
)

// Options configure an Upstream.
type Options struct {
	URL             *url.URL          // the rudder-transformer, from ParseURL
	Metrics         *metrics.Metrics  // proxy requests, durations, outcomes and upstream errors
	Logger          *zap.Logger       // nil: no logs
	FeaturesTimeout time.Duration     // longest wait for the upstream's /features; 0: 2s
	Transport       http.RoundTripper // nil: NewTransport(ConnectTimeout, ResponseHeaderTimeout)
	// The limits of every passed-on request, so that an upstream that hangs
	// holds a bounded number of requests for a bounded time.
	ConnectTimeout        time.Duration // longest wait to connect to the upstream; 0: 5s
	ResponseHeaderTimeout time.Duration // longest wait for the upstream's headers once the request is sent; 0: none
	Timeout               time.Duration // longest a passed-on request may take, answer body included; 0: none
	MaxInFlight           int           // passed-on requests at once; beyond it 503 with Retry-After; 0: no limit
	MaxBodyBytes          int64         // largest request body passed on; beyond it 413; 0: no limit
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
	timeout         time.Duration
	maxBody         int64
	sem             chan struct{}          // nil: no in-flight limit
	lastFeatures    atomic.Pointer[[]byte] // the last document merged from the upstream's
	featuresFailing atomic.Bool            // logs a failing /features once, not every poll
}

// The outcomes of a passed-on request, the label of
// proxy_outcomes_total and the access log's "outcome".
const (
	OutcomeOK          = "ok"          // the upstream answered, whatever its status
	OutcomeTimeout     = "timeout"     // 504: no connection, headers or whole answer in time
	OutcomeUnreachable = "unreachable" // 502: the connection was refused or could not be made
	OutcomeFailed      = "failed"      // 502: the upstream failed otherwise (a broken answer)
	OutcomeOverload    = "overload"    // 503: over MaxInFlight, not sent
	OutcomeTooLarge    = "too_large"   // 413: the body is over MaxBodyBytes
	OutcomeCanceled    = "canceled"    // the client went away before the answer
	OutcomeAborted     = "aborted"     // the answer was cut short mid-body
)

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
// idle pool since rudder-server sends many requests in parallel, and the
// connect and response-header timeouts (0: 5s and none).
func NewTransport(connect, responseHeader time.Duration) *http.Transport {
	if connect <= 0 {
		connect = 5 * time.Second
	}
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: responseHeader,
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
		transport = NewTransport(o.ConnectTimeout, o.ResponseHeaderTimeout)
	}
	u := &Upstream{
		target: o.URL, m: o.Metrics, log: log, featuresTimeout: o.FeaturesTimeout,
		timeout: o.Timeout, maxBody: o.MaxBodyBytes,
		client: &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	if o.MaxInFlight > 0 {
		u.sem = make(chan struct{}, o.MaxInFlight)
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

// ErrorWriter answers a request this package did not get an answer for:
// the HTTP front passes its one mapping of apperr codes to statuses.
type ErrorWriter func(http.ResponseWriter, *http.Request, error)

// call is the state of one proxied request, shared with the proxy's hooks
// through the request context.
type call struct {
	route   string      // the route pattern, for metrics
	header  http.Header // the response headers this service set before proxying
	write   ErrorWriter // how a failure is answered
	outcome string      // how the request ended
	err     error       // why the upstream gave no answer
}

type callKey struct{}

func callOf(r *http.Request) *call {
	if c, ok := r.Context().Value(callKey{}).(*call); ok {
		return c
	}
	return &call{route: "other", header: http.Header{}, write: func(http.ResponseWriter, *http.Request, error) {}}
}

// ServeProxy passes r to the upstream and relays its answer; route is the
// route pattern that labels the metrics (never the raw path). A request
// over the body limit (413) or the in-flight limit (503), or one the
// upstream gives no answer to in time (504) or at all (502), is answered
// with write and an *apperr.Error, which it also returns. The outcome (one
// of the Outcome constants) is how the request ended; when the answer is
// cut short mid-body, ServeProxy counts it as aborted and lets the panic of
// net/http (http.ErrAbortHandler) go on instead of returning.
func (u *Upstream) ServeProxy(w http.ResponseWriter, r *http.Request, route string, write ErrorWriter) (outcome string, err error) {
	start := time.Now()
	c := &call{route: route, header: w.Header(), write: write, outcome: OutcomeOK}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if rec := recover(); rec != nil {
			// ReverseProxy aborts the response with http.ErrAbortHandler when
			// the upstream fails mid-answer: count it, and let the panic
			// reach net/http, which closes the connection quietly.
			u.m.UpstreamErrors.WithLabelValues(route, OutcomeAborted).Inc()
			u.observe(route, r.Method, sw.code, OutcomeAborted, start)
			panic(rec)
		}
		u.observe(route, r.Method, sw.code, c.outcome, start)
	}()
	if !u.admit(sw, r, c) {
		return c.outcome, c.err
	}
	defer func() { u.release() }()
	ctx := context.WithValue(r.Context(), callKey{}, c)
	if u.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, u.timeout)
		defer cancel()
	}
	out := r.WithContext(ctx)
	if u.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		out.Body = http.MaxBytesReader(sw, r.Body, u.maxBody)
	}
	u.proxy.ServeHTTP(sw, out)
	return c.outcome, c.err
}

// admit takes a place for r within the body and in-flight limits, or
// answers it (413, 503 with Retry-After) and reports false.
func (u *Upstream) admit(w http.ResponseWriter, r *http.Request, c *call) bool {
	var err error
	switch {
	case u.maxBody > 0 && r.ContentLength > u.maxBody:
		c.outcome = OutcomeTooLarge
		err = apperr.New(apperr.TooLarge, "request body is %d bytes, more than the limit of %d", r.ContentLength, u.maxBody)
	case u.sem != nil:
		select {
		case u.sem <- struct{}{}:
		default:
			u.m.Rejected.WithLabelValues("upstream_in_flight_limit").Inc()
			c.outcome = OutcomeOverload
			w.Header().Set("Retry-After", "1")
			err = apperr.New(apperr.Unavailable,
				"%d requests are waiting on the upstream transformer, its limit; retry later", cap(u.sem))
		}
	}
	if err != nil {
		c.err = err
		c.write(w, r, err)
		return false
	}
	u.m.ProxyInFlight.Inc()
	return true
}

// release gives back the place admit took.
func (u *Upstream) release() {
	u.m.ProxyInFlight.Dec()
	if u.sem != nil {
		<-u.sem
	}
}

func (u *Upstream) observe(route, method string, code int, outcome string, start time.Time) {
	if code == 0 {
		code = http.StatusOK
	}
	u.m.ProxyRequests.WithLabelValues(route, methodLabel(method), strconv.Itoa(code)).Inc()
	u.m.ProxyDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	u.m.ProxyOutcomes.WithLabelValues(route, outcome).Inc()
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

// fail answers a request the upstream gave no answer to, through the
// front's error writer: 504 when it did not answer in time, 413 when the
// body went past the limit as it was sent, else 502; rudder-server retries
// 5xx answers.
func (u *Upstream) fail(w http.ResponseWriter, r *http.Request, err error) {
	c := callOf(r)
	outcome, code := classify(r.Context(), err)
	c.outcome = outcome
	h := w.Header()
	for k := range h {
		if k != requestIDHeader {
			delete(h, k)
		}
	}
	if outcome == OutcomeTooLarge {
		c.err = apperr.New(apperr.TooLarge, "request body is more than the limit of %d bytes", u.maxBody)
	} else {
		u.m.UpstreamErrors.WithLabelValues(c.route, outcome).Inc()
		c.err = &apperr.Error{Code: code, Err: err,
			Message: "upstream transformer did not answer (" + outcome + "): " + err.Error()}
	}
	c.write(w, r, c.err)
}

// reasonOf classifies an upstream failure for the metrics.
func reasonOf(ctx context.Context, err error) string {
	outcome, _ := classify(ctx, err)
	return outcome
}

// classify names the outcome of an upstream failure and the code it is
// answered with.
func classify(ctx context.Context, err error) (string, apperr.Code) {
	var ne net.Error
	var op *net.OpError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return OutcomeTooLarge, apperr.TooLarge
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return OutcomeCanceled, apperr.BadGateway // the client went away: no one reads the answer
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return OutcomeTimeout, apperr.GatewayTimeout
	case errors.As(err, &op) && op.Op == "dial":
		return OutcomeUnreachable, apperr.BadGateway
	}
	return OutcomeFailed, apperr.BadGateway
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
