// A switchable front for the real transformer: "up" forwards every request to
// it unchanged, "down" resets the connection, "slow" answers after delayMs,
// "status" answers with a fixed status. The Worker's TRANSFORMER_URL points
// here when a test needs the transformer to fail and come back.
import http from "node:http";

export async function startFlaky(targetUrl) {
  const state = { mode: "up", delayMs: 0, status: 503, requests: [] };
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const entry = { mode: state.mode, url: req.url, headers: req.headers, body: body.toString("utf8"), at: Date.now(), answeredAt: 0 };
    state.requests.push(entry);
    if (state.mode === "down") {
      req.socket.destroy();
      return;
    }
    if (state.mode === "status") {
      res.writeHead(state.status, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: `flaky front answers ${state.status}` }));
      return;
    }
    if (state.mode === "slow") await new Promise((r) => setTimeout(r, state.delayMs));
    try {
      const headers = { ...req.headers };
      delete headers.host;
      delete headers["content-length"];
      delete headers.connection;
      const up = await fetch(targetUrl + req.url, { method: req.method, headers, body: body.length ? body : undefined });
      const text = await up.text();
      entry.answeredAt = Date.now();
      res.writeHead(up.status, { "Content-Type": up.headers.get("content-type") || "application/json" });
      res.end(text);
    } catch (err) {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    set(mode, opts = {}) {
      state.mode = mode;
      Object.assign(state, opts);
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}

// closedPort answers a loopback port that nothing listens on.
export async function closedPort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
