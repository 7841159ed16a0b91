// The Worker in the real Workers runtime (workerd via Miniflare), against the
// REAL Go transformer started here, with every beacon captured by a local sink
// (the server runs with -beacon-url pointing at it).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./helpers/paths.js";
import { startTransformer, transform, beaconsOf } from "./helpers/transformer.js";
import { startSink, queryOf } from "./helpers/sink.js";
import { startFlaky, closedPort } from "./helpers/flaky.js";
import { startWorker } from "./helpers/worker.js";

const TOKEN = "edge-test-token";
const SITE = "https://shop.example";
const VISITOR_UA = "Mozilla/5.0 (X11; Linux x86_64) EdgeTestVisitor/1.0";
const VISITOR_IP = "203.0.113.7";
const demoBatch = JSON.parse(readFileSync(path.join(REPO_ROOT, "testdata/demo-batch.json"), "utf8")).batch;

const order = {
  type: "track",
  event: "Order Completed",
  messageId: "edge-order-1",
  userId: "user-77",
  properties: { order_id: "o-77", total: 42.5, currency: "EUR", products: [{ product_id: "sku-1", name: "Tee", price: 42.5, quantity: 1 }] },
};

let go, sink, flaky;
const workers = [];

before(async () => {
  sink = await startSink();
  go = await startTransformer({ beaconUrl: sink.url, token: TOKEN });
  flaky = await startFlaky(go.url);
});

after(async () => {
  for (const w of workers) await w.dispose().catch(() => {});
  await flaky?.close();
  await go?.stop();
  await sink?.close();
});

async function worker(bindings = {}, opts = {}) {
  const w = await startWorker({
    bindings: {
      TRANSFORMER_URL: go.url,
      DESTINATION_ID: "demo",
      ALLOWED_ORIGINS: `${SITE}, https://www.shop.example`,
      TRANSFORMER_TOKEN: TOKEN,
      ...bindings,
    },
    ...opts,
  });
  workers.push(w);
  return w;
}

function post(w, body, { path: p = "/v1/batch", contentType = "application/json;charset=UTF-8", origin = SITE, headers = {} } = {}) {
  const h = { "User-Agent": VISITOR_UA, "CF-Connecting-IP": VISITOR_IP, ...headers };
  if (contentType) h["Content-Type"] = contentType;
  if (origin) h.Origin = origin;
  return w.fetch(p, { method: "POST", headers: h, body: typeof body === "string" ? body : JSON.stringify(body) });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sortedQueries = (urls) => urls.map(queryOf).sort();

describe("Worker in workerd, against the real transformer", () => {
  it("fires exactly the transformer's beacons for a batch, with the visitor's User-Agent and IP", async () => {
    const w = await worker();
    sink.reset();
    const expected = beaconsOf(await transform(go, demoBatch, { token: TOKEN }));
    assert.ok(expected.length >= 8, `the demo batch yields beacons (${expected.length})`);

    const res = await post(w, { batch: demoBatch, sentAt: new Date().toISOString() }, { headers: { "X-Forwarded-For": "10.9.9.9" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), SITE);
    assert.equal(await res.text(), "OK", "what rudder-server answers the SDK");

    const hits = await sink.waitFor(expected.length);
    await sleep(300); // nothing more may come
    assert.equal(sink.hits.length, expected.length, "one GET per beacon, no more");
    assert.deepEqual(sortedQueries(sink.hits.map((h) => h.url)), sortedQueries(expected));
    for (const h of hits) {
      assert.equal(h.method, "GET");
      assert.equal(h.headers["user-agent"], VISITOR_UA);
      assert.equal(h.headers["x-forwarded-for"], VISITOR_IP, "CF-Connecting-IP, not the client's own X-Forwarded-For");
      assert.equal(h.headers.authorization, undefined, "the transformer token never goes to Spotify");
    }
    // Independent of the transformer's own answer: the purchase of the demo batch.
    const purchase = sink.hits.map((h) => new URL(h.url, sink.url).searchParams).find((q) => q.get("a") === "purchase");
    assert.ok(purchase, "a purchase beacon");
    assert.equal(purchase.get("key"), "demo-pixel");
    assert.equal(purchase.get("order_id"), "order-5531");
    assert.equal(purchase.get("currency"), "USD");
    assert.equal(purchase.get("value"), "168.99");
    assert.match(purchase.get("alias"), /^[0-9a-f]{64}$/);
    assert.ok(sink.hits.some((h) => new URL(h.url, sink.url).searchParams.get("a") === "init"), "the page view as a=init");

    const done = await w.waitForLog((l) => l.msg === "beacons fired");
    assert.equal(done.beacons, expected.length);
    assert.equal(done.beacon_failures, 0);
    assert.equal(done.events, demoBatch.length);
    const logText = w.raw.join("\n");
    for (const secret of [VISITOR_IP, VISITOR_UA, "user-1001", TOKEN]) assert.ok(!logText.includes(secret), `logs never contain ${secret}`);
  });

  it("takes a single text/plain event (sendBeacon) and forwards it as application/json with the bearer token", async () => {
    const w = await worker({ TRANSFORMER_URL: flaky.url });
    flaky.set("up");
    flaky.state.requests.length = 0;
    sink.reset();
    const res = await post(w, order, { path: "/beacon/v1/batch?writeKey=wk", contentType: "text/plain;charset=UTF-8" });
    assert.equal(res.status, 200);
    const [hit] = await sink.waitFor(1);
    const q = new URL(hit.url, sink.url).searchParams;
    assert.equal(q.get("a"), "purchase");
    assert.equal(q.get("order_id"), "o-77");
    assert.equal(q.get("value"), "42.5");
    assert.equal(q.get("currency"), "EUR");
    assert.equal(flaky.state.requests.length, 1);
    const fwd = flaky.state.requests[0];
    assert.equal(fwd.url, "/transform?destination=demo&include=beacons");
    assert.equal(fwd.headers["content-type"], "application/json");
    assert.equal(fwd.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(JSON.parse(fwd.body), { batch: [order] });
  });

  it("answers the site at once while the transformer is slow; the beacons follow", async () => {
    const w = await worker({ TRANSFORMER_URL: flaky.url, TRANSFORMER_TIMEOUT_MS: "10000" });
    flaky.set("slow", { delayMs: 3000 });
    flaky.state.requests.length = 0;
    sink.reset();
    const res = await post(w, { batch: [order] });
    const answeredAt = Date.now();
    assert.equal(res.status, 200);
    assert.equal(sink.hits.length, 0, "no beacon yet when the site has its answer");
    await sink.waitFor(1, 15000);
    const [fwd] = flaky.state.requests;
    assert.ok(fwd.answeredAt > 0, "the transformer answered");
    assert.ok(answeredAt < fwd.answeredAt, `the site had its answer ${fwd.answeredAt - answeredAt} ms before the transformer answered`);
    assert.ok(fwd.answeredAt - fwd.at >= 3000);
    flaky.set("up");
  });

  it("answers CORS preflights for the configured origins only", async () => {
    const w = await worker();
    const ok = await w.fetch("/v1/batch", {
      method: "OPTIONS",
      headers: { Origin: "https://www.shop.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,authorization,anonymousid" },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://www.shop.example");
    assert.equal(ok.headers.get("access-control-allow-methods"), "GET, HEAD, POST, OPTIONS");
    assert.equal(ok.headers.get("access-control-allow-headers"), "content-type,authorization,anonymousid");
    assert.equal(ok.headers.get("access-control-allow-credentials"), "true");
    assert.match(ok.headers.get("vary"), /Origin/);

    const bad = await w.fetch("/v1/batch", { method: "OPTIONS", headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" } });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers.get("access-control-allow-origin"), null);
  });

  it("refuses a POST from another origin without calling the transformer", async () => {
    const w = await worker({ TRANSFORMER_URL: flaky.url });
    flaky.set("up");
    flaky.state.requests.length = 0;
    sink.reset();
    const res = await post(w, { batch: [order] }, { origin: "https://evil.example" });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    // No Origin at all (a server-side sender): accepted.
    const server = await post(w, { batch: [order] }, { origin: null });
    assert.equal(server.status, 200);
    await sink.waitFor(1);
    await sleep(200);
    assert.equal(flaky.state.requests.length, 1, "only the request without Origin reached the transformer");
  });

  it("enforces the body limit, by Content-Length and while streaming", async () => {
    const w = await worker({ TRANSFORMER_URL: flaky.url, MAX_BODY_BYTES: "2048" });
    flaky.set("up");
    flaky.state.requests.length = 0;
    const big = JSON.stringify({ batch: [{ ...order, properties: { ...order.properties, pad: "x".repeat(3000) } }] });
    const res = await post(w, big);
    assert.equal(res.status, 413);
    assert.equal(res.headers.get("access-control-allow-origin"), SITE, "the site can read the 413");
    assert.match((await res.json()).error, /larger than 2048 bytes/);

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += 500) c.enqueue(bytes.slice(i, i + 500));
        c.close();
      },
    });
    await w.waitForLog((l) => l.msg === "request rejected" && l.status === 413);
    const seen = w.logs.length;
    // Without Content-Length the Worker stops reading past the limit and
    // answers 413 at once; the client may still be uploading, and then sees
    // the connection closed instead. Either way the Worker's own log line
    // shows the limit was enforced while reading.
    let streamed;
    try {
      const r = await w.fetch("/v1/batch", {
        method: "POST",
        headers: { "Content-Type": "application/json", Origin: SITE },
        body: stream,
        duplex: "half",
      });
      streamed = r.status;
      await r.text();
    } catch {
      streamed = "closed during the upload";
    }
    assert.ok(streamed === 413 || streamed === "closed during the upload", String(streamed));
    const line = await w.waitForLog((l) => l.msg === "request rejected", 5000, seen);
    assert.equal(line.status, 413);

    const small = await post(w, { batch: [order] });
    assert.equal(small.status, 200);
    await sleep(300);
    assert.equal(flaky.state.requests.length, 1, "only the small body was forwarded");
  });

  it("rejects what is not a RudderStack payload", async () => {
    const w = await worker();
    const form = await post(w, "a=1", { contentType: "application/x-www-form-urlencoded" });
    assert.equal(form.status, 415);
    const notJSON = await post(w, "{batch:", {});
    assert.equal(notJSON.status, 400);
    assert.match((await notJSON.json()).error, /not valid JSON/);
    const wrongShape = await post(w, { batch: "nope" });
    assert.equal(wrongShape.status, 400);
    const get = await w.fetch("/v1/batch", { headers: { Origin: SITE } });
    assert.equal(get.status, 405);
    const health = await w.fetch("/__spdt/health");
    assert.equal(health.status, 200);
    const h = await health.json();
    assert.equal(h.counters.requests_rejected, 3);
  });

  it("transformer down and no queue: a clear error line, a counter, 200 to the site", async () => {
    const port = await closedPort();
    const w = await worker({ TRANSFORMER_URL: `http://127.0.0.1:${port}` });
    const res = await post(w, { batch: [order, order] });
    assert.equal(res.status, 200);
    const line = await w.waitForLog((l) => l.level === "error" && /transformer unavailable/.test(l.msg));
    assert.equal(line.msg, "transformer unavailable: events dropped (no RETRY_QUEUE binding)");
    assert.equal(line.reason, "network");
    assert.equal(line.events, 2);
    assert.equal(line.queued, false);
    assert.equal(line.counter, "transformer_failures");
    assert.equal(line.counter_value, 1);
    await post(w, { batch: [order] });
    const second = await w.waitForLog((l) => l.counter === "transformer_failures" && l.counter_value === 2);
    assert.equal(second.events, 1);
    const h = await (await w.fetch("/__spdt/health")).json();
    assert.equal(h.counters.transformer_failures, 2);
    assert.equal(h.counters.events_dropped, 3);
    assert.equal(h.counters.beacons_fired, 0);
  });

  it("wrong token: the transformer's 401 is logged with its sentence and counted", async () => {
    const w = await worker({ TRANSFORMER_TOKEN: "not-the-token" });
    await post(w, { batch: [order] });
    const line = await w.waitForLog((l) => l.level === "error");
    assert.equal(line.reason, "http_401");
    assert.equal(line.status, 401);
    assert.equal(typeof line.error, "string");
    assert.ok(line.error.length > 0);
    assert.ok(!w.raw.join("\n").includes("not-the-token"), "the token is never logged");
  });

  it("transformer down → queued → retried by the queue consumer once it is back, visitor UA/IP kept", async () => {
    const w = await worker({ TRANSFORMER_URL: flaky.url, RETRY_DELAY_SECONDS: "1" }, { queue: true });
    flaky.set("down");
    sink.reset();
    const res = await post(w, { batch: [order] });
    assert.equal(res.status, 200);
    const queued = await w.waitForLog((l) => l.source === "fetch" && l.level === "error");
    assert.equal(queued.msg, "transformer unavailable: events queued for retry");
    assert.equal(queued.reason, "network");
    assert.equal(queued.queued, true);
    assert.equal(queued.counter_value, 1);
    const retry = await w.waitForLog((l) => l.source === "queue" && l.msg === "transformer unavailable: retry scheduled");
    assert.equal(retry.attempt, 1);
    assert.equal(sink.hits.length, 0);

    flaky.set("up");
    const [hit] = await sink.waitFor(1, 15000);
    assert.equal(new URL(hit.url, sink.url).searchParams.get("order_id"), "o-77");
    assert.equal(hit.headers["user-agent"], VISITOR_UA);
    assert.equal(hit.headers["x-forwarded-for"], VISITOR_IP);
    const fired = await w.waitForLog((l) => l.msg === "beacons fired" && l.source === "queue");
    assert.ok(fired.attempt >= 2);
    await sleep(1500);
    assert.equal(sink.hits.length, 1, "acknowledged: not delivered twice");
    const h = await (await w.fetch("/__spdt/health")).json();
    assert.equal(h.counters.batches_queued, 1);
    assert.equal(h.counters.retries_succeeded, 1);
    assert.equal(h.counters.events_dropped, 0);
  });

  it("transformer slow past TRANSFORMER_TIMEOUT_MS → timeout logged, counted, queued, then delivered", async () => {
    const w = await worker({ TRANSFORMER_URL: flaky.url, TRANSFORMER_TIMEOUT_MS: "300", RETRY_DELAY_SECONDS: "1" }, { queue: true });
    flaky.set("slow", { delayMs: 2000 });
    sink.reset();
    assert.equal((await post(w, { batch: [order] })).status, 200);
    const line = await w.waitForLog((l) => l.source === "fetch" && l.level === "error");
    assert.equal(line.reason, "timeout");
    assert.equal(line.queued, true);
    assert.match(line.error, /300 ms/);
    flaky.set("up");
    await sink.waitFor(1, 15000);
    await w.waitForLog((l) => l.msg === "beacons fired" && l.source === "queue");
  });

  it("a request the transformer can never take (422) is dropped loudly, not queued", async () => {
    const w = await worker({ TRANSFORMER_URL: flaky.url }, { queue: true });
    flaky.set("status", { status: 422 });
    await post(w, { batch: [order] });
    const line = await w.waitForLog((l) => l.level === "error");
    assert.equal(line.msg, "transformer rejected the events: dropped");
    assert.equal(line.queued, false);
    assert.equal(line.error, "flaky front answers 422");
    await sleep(500);
    const h = await (await w.fetch("/__spdt/health")).json();
    assert.equal(h.counters.batches_queued, 0);
    assert.equal(h.counters.events_dropped, 1);
    flaky.set("up");
  });
});

// Two destinations in the real server (a destinations file), two write keys
// in the Worker: the write key the SDK sends picks the destination.
describe("write keys (WRITE_KEYS) and the RudderStack SDK's endpoints", () => {
  const KEYS = { "wk-shop": "shop", "wk-outlet": "outlet" };
  const basic = (key) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
  let go2, front, dir;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "spdt-edge-dest-"));
    const file = path.join(dir, "destinations.json");
    writeFileSync(
      file,
      JSON.stringify({
        shop: { Config: { pixelId: "shop-pixel", enableAliasCall: true } },
        outlet: { Config: { pixelId: "outlet-pixel", enableAliasCall: false } },
      }),
    );
    go2 = await startTransformer({ beaconUrl: sink.url, token: TOKEN, args: ["-destinations", file] });
    front = await startFlaky(go2.url);
  });
  after(async () => {
    await front?.close();
    await go2?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function keyed(bindings = {}, opts = {}) {
    const w = await startWorker({
      bindings: { TRANSFORMER_URL: front.url, WRITE_KEYS: JSON.stringify(KEYS), ALLOWED_ORIGINS: SITE, TRANSFORMER_TOKEN: TOKEN, ...bindings },
      ...opts,
    });
    workers.push(w);
    return w;
  }
  const reset = () => {
    front.set("up");
    front.state.requests.length = 0;
    sink.reset();
  };

  it("routes each write key to its destination: Basic auth (XHR) and ?writeKey= (sendBeacon)", async () => {
    const w = await keyed();
    reset();
    const a = await post(w, order, { path: "/v1/track", headers: { Authorization: basic("wk-shop") } });
    assert.equal(a.status, 200);
    assert.equal(await a.text(), "OK");
    const b = await post(w, { batch: [{ ...order, messageId: "edge-order-2" }], sentAt: "2026-05-01T10:00:00.000Z" }, { path: "/beacon/v1/batch?writeKey=wk-outlet", contentType: "text/plain" });
    assert.equal(b.status, 200);
    const hits = await sink.waitFor(2);
    await sleep(300);
    assert.equal(sink.hits.length, 2);
    const byKey = Object.fromEntries(hits.map((h) => [new URL(h.url, sink.url).searchParams.get("key"), new URL(h.url, sink.url).searchParams]));
    assert.deepEqual(Object.keys(byKey).sort(), ["outlet-pixel", "shop-pixel"]);
    assert.match(byKey["shop-pixel"].get("alias"), /^[0-9a-f]{64}$/, "shop has alias on");
    assert.equal(byKey["outlet-pixel"].get("alias"), null, "outlet has alias off");
    assert.deepEqual(front.state.requests.map((r) => new URL(r.url, "http://x").searchParams.get("destination")).sort(), ["outlet", "shop"]);
    for (const r of front.state.requests) assert.equal(r.headers.authorization, `Bearer ${TOKEN}`, "the transformer gets its token, never the write key");
  });

  it("an unknown, missing or malformed write key is answered 401 (readable by the page) and nothing is forwarded", async () => {
    const w = await keyed();
    reset();
    const cases = [
      { name: "unknown Basic", path: "/v1/track", headers: { Authorization: basic("wk-nope") }, error: "unknown write key" },
      { name: "unknown ?writeKey", path: "/beacon/v1/batch?writeKey=wk-nope", headers: {}, error: "unknown write key" },
      { name: "none", path: "/v1/track", headers: {}, error: /missing write key/ },
      { name: "not base64", path: "/v1/track", headers: { Authorization: "Basic !!!" }, error: /missing write key/ },
      { name: "a Bearer token", path: "/v1/track", headers: { Authorization: "Bearer wk-shop" }, error: /missing write key/ },
      { name: "Basic wins over the query", path: "/v1/track?writeKey=wk-shop", headers: { Authorization: basic("wk-nope") }, error: "unknown write key" },
    ];
    for (const c of cases) {
      const res = await post(w, order, { path: c.path, headers: c.headers });
      assert.equal(res.status, 401, c.name);
      assert.equal(res.headers.get("access-control-allow-origin"), SITE, c.name);
      const { error } = await res.json();
      if (typeof c.error === "string") assert.equal(error, c.error, c.name);
      else assert.match(error, c.error, c.name);
    }
    await sleep(300);
    assert.equal(front.state.requests.length, 0, "nothing reached the transformer");
    assert.equal(sink.hits.length, 0);
    const lines = w.logs.filter((l) => l.msg === "request rejected" && l.status === 401);
    assert.equal(lines.length, cases.length);
    assert.ok(!w.raw.join("\n").includes("wk-nope"), "a write key is never logged whole");
    // A known key in the query, without Authorization: accepted.
    assert.equal((await post(w, order, { path: "/v1/track?writeKey=wk-shop" })).status, 200);
    await sink.waitFor(1);
  });

  it("/v1/<type> gives the single event its type, as rudder-server does; a dataPlaneUrl path prefix works", async () => {
    const w = await keyed();
    reset();
    const { type, ...untyped } = order;
    assert.equal(type, "track");
    const res = await post(w, untyped, { path: "/rs/v1/track", headers: { Authorization: basic("wk-shop") } });
    assert.equal(res.status, 200);
    const page = await post(w, { type: "track", messageId: "p-1", anonymousId: "a-1", properties: { path: "/" } }, { path: "/rs/v1/page/", headers: { Authorization: basic("wk-shop") } });
    assert.equal(page.status, 200);
    const hits = await sink.waitFor(2);
    assert.deepEqual(hits.map((h) => new URL(h.url, sink.url).searchParams.get("a")).sort(), ["init", "purchase"]);
    const forwarded = front.state.requests.map((r) => JSON.parse(r.body).batch[0]).sort((x, y) => (x.messageId < y.messageId ? -1 : 1));
    assert.deepEqual(forwarded.map((e) => [e.messageId, e.type]), [["edge-order-1", "track"], ["p-1", "page"]]);
  });

  it("GET /sourceConfig/ answers a source config for a known write key (401 otherwise); HEAD (the SDK's ad-block probe) is 200", async () => {
    const w = await keyed();
    const get = (p, origin = SITE) => w.fetch(p, { headers: origin ? { Origin: origin } : {} });
    const res = await get("/sourceConfig/?p=npm&v=3.34.1&build=modern&writeKey=wk-shop&lockIntegrationsVersion=true&lockPluginsVersion=true");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), SITE);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    const cfg = await res.json();
    assert.equal(cfg.source.enabled, true);
    assert.equal(cfg.source.writeKey, "wk-shop");
    assert.match(cfg.source.id, /^spdt-[0-9a-f]{24}$/);
    assert.deepEqual(cfg.source.config, {});
    assert.deepEqual(cfg.source.destinations, [], "no device-mode destination: the Worker fires Spotify server-side");
    const again = await (await get("/rs/sourceConfig?writeKey=wk-shop")).json();
    assert.equal(again.source.id, cfg.source.id, "a stable id; a path prefix works");
    assert.notEqual((await (await get("/sourceConfig/?writeKey=wk-outlet")).json()).source.id, cfg.source.id);
    assert.equal((await get("/sourceConfig/?writeKey=wk-nope")).status, 401);
    assert.equal((await get("/sourceConfig/")).status, 401);
    assert.equal((await get("/sourceConfig/?writeKey=wk-shop", "https://evil.example")).status, 403);
    const head = await w.fetch("/sourceConfig/?view=ad", { method: "HEAD", headers: { Origin: SITE } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("access-control-allow-origin"), SITE);
    const postCfg = await w.fetch("/sourceConfig/", { method: "POST", headers: { Origin: SITE } });
    assert.equal(postCfg.status, 405);
    assert.equal(postCfg.headers.get("allow"), "GET, HEAD, OPTIONS");
  });

  it("a retry from the queue keeps the write key's destination", async () => {
    const w = await keyed({ RETRY_DELAY_SECONDS: "1" }, { queue: true });
    reset();
    front.set("down");
    assert.equal((await post(w, order, { path: "/v1/track", headers: { Authorization: basic("wk-outlet") } })).status, 200);
    const queued = await w.waitForLog((l) => l.source === "fetch" && l.level === "error");
    assert.equal(queued.queued, true);
    assert.equal(queued.destination, "outlet");
    front.set("up");
    const [hit] = await sink.waitFor(1, 15000);
    assert.equal(new URL(hit.url, sink.url).searchParams.get("key"), "outlet-pixel");
    await w.waitForLog((l) => l.msg === "beacons fired" && l.source === "queue" && l.destination === "outlet");
  });

  it("configuration errors name the var: bad WRITE_KEYS, neither WRITE_KEYS nor DESTINATION_ID", async () => {
    const cases = [
      [{ WRITE_KEYS: "{not json" }, /WRITE_KEYS is not valid JSON/],
      [{ WRITE_KEYS: '["wk"]' }, /WRITE_KEYS must be a JSON object/],
      [{ WRITE_KEYS: '{"wk-shop": ""}' }, /destination id of write key "wk-s\.\.\." must be a non-empty string/],
      [{ WRITE_KEYS: "{}" }, /WRITE_KEYS has no write key/],
      [{ WRITE_KEYS: "" }, /set WRITE_KEYS \(write key → destination id\) or DESTINATION_ID/],
    ];
    for (const [bindings, re] of cases) {
      const w = await keyed(bindings);
      const res = await post(w, order, { path: "/v1/track", headers: { Authorization: basic("wk-shop") } });
      assert.equal(res.status, 500, JSON.stringify(bindings));
      assert.match((await res.json()).error, re);
      await w.dispose();
    }
  });

  it("DESTINATION_ID alone (no WRITE_KEYS): every request goes there, write keys are not checked", async () => {
    const w = await keyed({ WRITE_KEYS: "", DESTINATION_ID: "outlet" });
    reset();
    assert.equal((await post(w, order, { path: "/v1/track", headers: { Authorization: basic("any-key") } })).status, 200);
    assert.equal((await post(w, order, { path: "/v1/track" })).status, 200);
    const hits = await sink.waitFor(2);
    for (const h of hits) assert.equal(new URL(h.url, sink.url).searchParams.get("key"), "outlet-pixel");
    const cfg = await (await w.fetch("/sourceConfig/?writeKey=any-key", { headers: { Origin: SITE } })).json();
    assert.equal(cfg.source.writeKey, "any-key");
  });
});
