package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"
)

// runHealthcheck exits 0 when a local server's /health answers 200, for a
// container HEALTHCHECK in an image without a shell or curl.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", "", "host:port of the server (default: from TRANSFORMER_LISTEN, else 127.0.0.1:8080)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	target := *addr
	if target == "" {
		target = localAddr(getenv("TRANSFORMER_LISTEN"))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+"/health", http.NoBody)
	if err != nil {
		return usageError{fmt.Errorf("-addr %q: %w", target, err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s answered %d", target, resp.StatusCode)
	}
	return nil
}

// localAddr turns a listen address (":8080", "0.0.0.0:8080") into one to dial.
func localAddr(listen string) string {
	if listen == "" {
		return "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
