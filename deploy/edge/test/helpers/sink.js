// A local beacon sink: the Go server runs with -beacon-url pointing here, so
// every beacon the Worker fires lands here and can be asserted.
import http from "node:http";

export async function startSink() {
  const hits = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    hits.push({ method: req.method, url: req.url, headers: req.headers, at: Date.now() });
    res.writeHead(200, { "Content-Type": "image/gif", "Cache-Control": "no-store" });
    res.end(Buffer.from("R0lGODlhAQABAAAAACw=", "base64"));
    for (const w of [...waiters]) w();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    hits,
    reset() {
      hits.length = 0;
    },
    // waitFor resolves when at least n hits arrived, or rejects after timeoutMs.
    waitFor(n, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (hits.length >= n) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            resolve(hits.slice());
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`sink: ${hits.length} of ${n} beacons after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}

// queryOf turns a beacon URL (absolute, or a path from the sink) into a
// comparable form: its query parameters, sorted (docs/BEHAVIOUR.md §5: compare beacons by
// their parsed query, not their spelling).
export function queryOf(u) {
  const url = new URL(u, "http://sink.invalid/");
  return JSON.stringify([...url.searchParams].sort((a, b) => (a[0] + "\0" + a[1] < b[0] + "\0" + b[1] ? -1 : 1)));
}
