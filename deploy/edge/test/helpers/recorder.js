// A recording HTTP front on 127.0.0.1: forwards every request unchanged to
// the target (the Worker in workerd) and the answer unchanged back, and keeps
// what went over the wire (method, path, headers, body, status, answer
// headers). The browser tests point the SDK's dataPlaneUrl here, so they see
// exactly what Chromium sent, preflights included.
import http from "node:http";
import zlib from "node:zlib";

const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

export async function startRecorder(targetUrl) {
  const target = new URL(targetUrl);
  const requests = [];
  const waiters = new Set();
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const entry = { method: req.method, url: req.url, headers: { ...req.headers }, body: body.toString("utf8"), status: 0, answer: "", answerHeaders: {} };
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
    headers.host = target.host;
    if (body.length) headers["content-length"] = String(body.length);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (upRes) => {
      const answer = [];
      upRes.on("data", (c) => answer.push(c));
      upRes.on("end", () => {
        const buf = Buffer.concat(answer);
        entry.status = upRes.statusCode;
        const enc = upRes.headers["content-encoding"];
        try {
          entry.answer = (enc === "gzip" ? zlib.gunzipSync(buf) : enc === "br" ? zlib.brotliDecompressSync(buf) : enc === "deflate" ? zlib.inflateSync(buf) : buf).toString("utf8");
        } catch {
          entry.answer = buf.toString("latin1");
        }
        entry.answerHeaders = { ...upRes.headers };
        const out = {};
        for (const [k, v] of Object.entries(upRes.headers)) if (!HOP.has(k)) out[k] = v;
        if (req.method !== "HEAD") out["content-length"] = String(buf.length);
        res.writeHead(upRes.statusCode, out);
        res.end(req.method === "HEAD" ? undefined : buf);
        requests.push(entry);
        for (const w of [...waiters]) w();
      });
    });
    up.on("error", (err) => {
      entry.status = 502;
      entry.answer = String(err);
      requests.push(entry);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    up.end(body.length ? body : undefined);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    // waitFor resolves when pred(requests) is true, or rejects after timeoutMs.
    waitFor(pred, timeoutMs = 10000, what = "requests") {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(requests)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(requests.slice());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`recorder: no ${what} within ${timeoutMs} ms; seen: ${requests.map((r) => `${r.method} ${r.url} ${r.status}`).join(", ")}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}
