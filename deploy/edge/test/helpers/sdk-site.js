// A local shop site for the RudderStack SDK tests: the page and its script
// (test/fixtures/rudderstack-site/) and the REAL SDK from npm
// (@rudderstack/analytics-js, the package's "./bundled" export: the modern
// build with its plugins bundled, so nothing is loaded from RudderStack's CDN).
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EDGE_DIR } from "./paths.js";

export const SDK_FILE = fileURLToPath(import.meta.resolve("@rudderstack/analytics-js/bundled"));
export const SDK_VERSION = JSON.parse(readFileSync(path.join(EDGE_DIR, "node_modules/@rudderstack/analytics-js/package.json"), "utf8")).version;
const SITE_DIR = path.join(EDGE_DIR, "test/fixtures/rudderstack-site");

const files = {
  "/": ["text/html; charset=utf-8", () => readFileSync(path.join(SITE_DIR, "index.html"))],
  "/site.js": ["text/javascript; charset=utf-8", () => readFileSync(path.join(SITE_DIR, "site.js"))],
  "/vendor/@rudderstack/analytics-js/bundled.mjs": ["text/javascript; charset=utf-8", () => readFileSync(SDK_FILE)],
};

export async function startSdkSite() {
  const server = http.createServer((req, res) => {
    const f = files[new URL(req.url, "http://x").pathname];
    if (req.url === "/favicon.ico") {
      res.writeHead(204);
      res.end();
      return;
    }
    if (!f) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "Content-Type": f[0], "Cache-Control": "no-store" });
    res.end(f[1]());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}
