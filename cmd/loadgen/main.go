// Command loadgen drives a transformer over HTTP with realistic batches and
// reports events/s, requests/s, latency percentiles and errors. It can start,
// in the same process, the product and a baseline server on the same stack
// (same router and middleware, canned response of the same size) and print
// the ratio product/baseline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"spotifypixel/internal/destinations"
	"spotifypixel/internal/metrics"
	"spotifypixel/internal/pipeline"
	"spotifypixel/internal/router"
	"spotifypixel/internal/spotify"
	"spotifypixel/internal/testkit/corpus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// config is the validated command line.
type config struct {
	target      string
	destination string
	include     string
	token       string
	batches     []int
	rate        int
	duration    time.Duration
	workers     uint64
	baseline    bool
	halfPeak    bool
	seed        uint64
	rounds      int
	cpuProfile  string
	memProfile  string
}

func parse(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.target, "target", "", "base URL of a running transformer (empty: start one in this process)")
	fs.StringVar(&c.destination, "destination", "demo", "configured destination id to send to")
	fs.StringVar(&c.include, "include", "beacons", "include= query value")
	fs.StringVar(&c.token, "token", "", "bearer token, when the target requires one")
	batches := fs.String("batches", "1,100,1000", "comma-separated batch sizes (events per request)")
	fs.IntVar(&c.rate, "rate", 0, "requests per second (0: as fast as the target answers)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "length of each attack")
	fs.Uint64Var(&c.workers, "workers", 8, "concurrent requests in max-throughput mode")
	fs.BoolVar(&c.baseline, "baseline", true, "also attack an in-process baseline server and print ratios")
	fs.BoolVar(&c.halfPeak, "half-peak", false, "after the max-throughput run, attack at 50% of the measured peak and report its latency")
	fs.Uint64Var(&c.seed, "seed", 1, "corpus seed")
	fs.IntVar(&c.rounds, "rounds", 5, "alternate product and baseline attacks this many times and report the median ratio (steadier on a shared machine)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (load generator and in-process servers) to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "write an allocation profile of this process (load generator and in-process servers) to this file at the end")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, b := range strings.Split(*batches, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(b))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-batches: %q is not a positive number", b)
		}
		c.batches = append(c.batches, n)
	}
	if c.rate < 0 || c.duration <= 0 || c.workers == 0 || c.rounds < 1 {
		return c, errors.New("-rate must be ≥ 0; -duration, -workers and -rounds positive")
	}
	return c, nil
}

// writeAllocs writes the allocation profile to path, so that a run can be
// compared by its allocations as well as by its speed.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("writing the allocation profile: %w", err)
	}
	return nil
}

// result is one attack's outcome.
type result struct {
	name         string
	batch        int
	m            vegeta.Metrics
	eventsPerSec float64
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	c, err := parse(args, stdout)
	if err != nil {
		return err
	}
	set, err := destinations.Load("")
	if err != nil {
		return err
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return fmt.Errorf("creating the CPU profile: %w", err)
		}
		defer func() {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("writing the CPU profile: %w", cerr)
			}
		}()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if c.memProfile != "" {
		defer func() {
			if werr := writeAllocs(c.memProfile); err == nil {
				err = werr
			}
		}()
	}
	product := c.target
	if product == "" {
		url, stop, err := serve(productHandler())
		if err != nil {
			return err
		}
		defer stop()
		product = url
	}
	fmt.Fprintf(stdout, "%-9s %6s %10s %10s %9s %9s %9s %7s %s\n", "server", "batch", "events/s", "req/s", "p50", "p90", "p99", "errors", "ratio")
	for _, n := range c.batches {
		if err := runBatch(ctx, c, set, product, n, stdout); err != nil {
			return err
		}
	}
	return nil
}

// runBatch measures one batch size: product, baseline, product, baseline...
// for c.rounds rounds, then the median ratio and, on request, the latency at
// half the product's peak.
func runBatch(ctx context.Context, c config, set *destinations.Set, product string, n int, stdout io.Writer) error {
	body := corpus.Batch(corpus.Events(c.seed, n))
	var baseURL string
	if c.baseline {
		canned, _, err := new(pipeline.Runner).Transform(nil, set, body, pipeline.Query{DestinationID: c.destination, Include: c.include})
		if err != nil {
			return fmt.Errorf("computing the canned response: %w", err)
		}
		url, stop, err := serve(baselineHandler(canned))
		if err != nil {
			return err
		}
		defer stop()
		baseURL = url
	}
	ratios, peak, failed, err := runRounds(ctx, c, product, baseURL, body, n, stdout)
	if err != nil {
		return err
	}
	if len(ratios) > 1 {
		slices.Sort(ratios)
		fmt.Fprintf(stdout, "batch %d: median product/baseline events/s over %d rounds = %.2f (min %.2f, max %.2f)\n",
			n, len(ratios), median(ratios), ratios[0], ratios[len(ratios)-1])
	}
	if c.halfPeak && c.rate == 0 && peak > 0 {
		half := attack(ctx, c, "product@50%", product, body, n, int(peak/2))
		report(stdout, half, 0)
		failed += half.failures()
	}
	if failed > 0 {
		return fmt.Errorf("batch %d: %d requests failed", n, failed)
	}
	return nil
}

// runRounds warms both servers up, then runs c.rounds rounds of attacks and
// returns the product/baseline ratios, the product's peak requests/s and the
// requests that failed.
func runRounds(ctx context.Context, c config, product, baseURL string, body []byte, n int, stdout io.Writer) (ratios []float64, peak float64, failed uint64, err error) {
	urls := map[string]string{"product": product, "baseline": baseURL}
	// A short unreported attack on each server first: the first seconds of
	// a process (heap growth, pools, connections) favour whoever runs second.
	warm := c
	warm.duration = min(c.duration, time.Second)
	for _, name := range []string{"product", "baseline"} {
		if name == "product" || c.baseline {
			failed += attack(ctx, warm, "warm-up", urls[name], body, n, c.rate).failures()
		}
	}
	for round := range c.rounds {
		// Rounds run product-baseline, then baseline-product (ABBA), so
		// that a machine drifting faster or slower favours neither side.
		order := []string{"product", "baseline"}
		if round%2 == 1 {
			order = []string{"baseline", "product"}
		}
		got := map[string]result{}
		for _, name := range order {
			if name == "baseline" && !c.baseline {
				continue
			}
			r := attack(ctx, c, name, urls[name], body, n, c.rate)
			got[name] = r
			failed += r.failures()
			ratio := 0.0
			if p, b := got["product"], got["baseline"]; len(got) == 2 && b.eventsPerSec > 0 {
				ratio = p.eventsPerSec / b.eventsPerSec
				ratios = append(ratios, ratio)
			}
			report(stdout, r, ratio)
		}
		peak = max(peak, got["product"].m.Throughput)
		if ctx.Err() != nil {
			return nil, 0, failed, ctx.Err()
		}
	}
	return ratios, peak, failed, nil
}

// median returns the median of sorted xs (the mean of the middle two when
// their number is even).
func median(xs []float64) float64 {
	m := len(xs) / 2
	if len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[m]
}

// attack sends the same batch for c.duration, at rate requests/s or as fast
// as possible (rate 0, with c.workers in flight).
func attack(ctx context.Context, c config, name, base string, body []byte, batch, rate int) result {
	hdr := http.Header{"Content-Type": []string{"application/json"}}
	if c.token != "" {
		hdr.Set("Authorization", "Bearer "+c.token)
	}
	url := strings.TrimSuffix(base, "/") + "/transform?destination=" + c.destination + "&include=" + c.include
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: url, Body: body, Header: hdr})
	// A bounded pool of keep-alive connections in both modes: at a fixed
	// rate vegeta would otherwise open a connection per worker it adds.
	opts := []func(*vegeta.Attacker){vegeta.KeepAlive(true), vegeta.Timeout(30 * time.Second),
		vegeta.Connections(int(c.workers) * 4), vegeta.MaxConnections(int(c.workers) * 4)}
	pacer := vegeta.Rate{Freq: rate, Per: time.Second}
	if rate == 0 {
		opts = append(opts, vegeta.Workers(c.workers), vegeta.MaxWorkers(c.workers))
	} else {
		opts = append(opts, vegeta.MaxWorkers(c.workers*32))
	}
	atk := vegeta.NewAttacker(opts...)
	r := result{name: name, batch: batch}
	results := atk.Attack(targeter, pacer, c.duration, name)
	for {
		select {
		case <-ctx.Done():
			atk.Stop()
		case res, ok := <-results:
			if !ok {
				r.m.Close()
				r.eventsPerSec = r.m.Throughput * float64(batch)
				return r
			}
			r.m.Add(res)
		}
	}
}

// failures counts the requests of an attack that did not succeed.
func (r result) failures() uint64 {
	return r.m.Requests - uint64(float64(r.m.Requests)*r.m.Success+0.5)
}

// report prints one attack's line, with the round's product/baseline
// ratio once both sides have run (ratio > 0).
func report(w io.Writer, r result, ratio float64) {
	errs := r.failures()
	note := ""
	if ratio > 0 {
		note = fmt.Sprintf("product/baseline = %.2f", ratio)
	}
	lat := r.m.Latencies
	fmt.Fprintf(w, "%-9s %6d %10.0f %10.1f %9s %9s %9s %7d %s\n", r.name, r.batch, r.eventsPerSec, r.m.Throughput,
		lat.P50.Round(time.Microsecond), lat.P90.Round(time.Microsecond), lat.P99.Round(time.Microsecond), errs, note)
	for _, e := range r.m.Errors {
		fmt.Fprintf(w, "          error: %s\n", e)
	}
}

// deps is what both in-process servers share: the same middleware inputs.
func deps() router.Deps {
	store, _ := destinations.NewStore("")
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel))
	return router.Deps{Store: store, Metrics: metrics.New(prometheus.NewRegistry()), Logger: log,
		MaxBodyBytes: 64 << 20, MaxBatchEvents: 100000}
}

func productHandler() http.Handler { return router.New(deps()) }

// baselineHandler is the same router, middleware, auth and body reading as
// productHandler, with a canned answer where the engine would run: the
// ratio of the two is what the engine costs.
func baselineHandler(answer []byte) http.Handler {
	d := deps()
	d.Runner = canned(answer)
	return router.New(d)
}

// canned answers every /transform body with the same response.
type canned []byte

// Transform appends the canned response, ignoring the body.
func (c canned) Transform(dst []byte, _ *destinations.Set, _ []byte, _ pipeline.Query) ([]byte, spotify.Summary, error) {
	return append(dst, c...), spotify.Summary{}, nil
}

// serve starts h on a loopback port and returns its URL and a stop function.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // http.ErrServerClosed once stopped
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
