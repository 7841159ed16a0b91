// RudderStack's REAL JavaScript SDK (@rudderstack/analytics-js from npm, the
// bundled build) in headless Chromium, with dataPlaneUrl = the Worker running
// in workerd (Miniflare), which talks to the REAL Go transformer built from
// this repository, whose beacons go to a local sink (-beacon-url). The shop
// page calls page(), identify(), track("Order Completed"), track("Product
// Added") in the SDK's three transports (XHR per event, XHR batch,
// sendBeacon); the beacons the Worker fired must be exactly the ones the
// server's include=beacons answer defines for the events the SDK sent.
//
// Offline: Chromium resolves no host name but 127.0.0.1 and sends anything
// not on loopback to a dead proxy (helpers/browser.js); every request the
// page made is checked to be on 127.0.0.1.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startTransformer, transform, beaconsOf } from "./helpers/transformer.js";
import { startSink, queryOf } from "./helpers/sink.js";
import { startWorker } from "./helpers/worker.js";
import { startRecorder } from "./helpers/recorder.js";
import { startSdkSite, SDK_VERSION } from "./helpers/sdk-site.js";
import { findChromium, CHROMIUM_CANDIDATES, CHROMIUM_ARGS } from "./helpers/browser.js";

const chromium = findChromium();
const skip = chromium
  ? false
  : `no Chromium at ${CHROMIUM_CANDIDATES.join(" or ")}: run ./run-tests.sh (installs Debian's chromium) or apt-get install -y chromium`;
if (skip) console.log(`RudderStack SDK browser tests skipped: ${skip}`);

const TOKEN = "sdk-e2e-token";
const WRITE_KEY = "2SdkE2eWriteKey0demo";
const USER_ID = "user-4711";
const ALIAS = createHash("sha256").update(USER_ID, "utf8").digest("hex");
const CALLS = ["page", "identify", "track:Order Completed", "track:Product Added"];
const b64 = (s) => Buffer.from(s, "utf8").toString("base64");

let go, sink, worker, dp, site, browser;

before(async () => {
  if (skip) return;
  const { chromium: pw } = await import("playwright-core");
  sink = await startSink();
  go = await startTransformer({ beaconUrl: sink.url, token: TOKEN });
  site = await startSdkSite();
  worker = await startWorker({
    bindings: {
      TRANSFORMER_URL: go.url,
      TRANSFORMER_TOKEN: TOKEN,
      WRITE_KEYS: JSON.stringify({ [WRITE_KEY]: "demo" }),
      ALLOWED_ORIGINS: site.origin,
    },
  });
  dp = await startRecorder(worker.url); // the dataPlaneUrl: the Worker, with a recorder in front
  browser = await pw.launch({ executablePath: chromium, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await dp?.close();
  await worker?.dispose();
  await site?.close();
  await go?.stop();
  await sink?.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sortedQueries = (urls) => urls.map(queryOf).sort();
const params = (hit) => new URL(hit.url, sink.url).searchParams;

// The events a recorded POST carried, as the Worker reads them: /v1/<type>
// is one event of that type, the batch endpoints {"batch": [...]}.
function eventsOf(req) {
  const body = JSON.parse(req.body);
  const m = /\/v1\/([a-z]+)(\?|$)/.exec(req.url);
  if (m && m[1] !== "batch") return [{ ...body, type: m[1] }];
  return body.batch;
}

// openSite loads the shop page in a fresh browser context (new cookies and
// storage: a new anonymous visitor) and records every request the page made.
async function openSite({ mode, config = "worker", writeKey = WRITE_KEY }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const urls = [];
  const errors = [];
  const sdkLogs = [];
  page.on("request", (r) => urls.push(r.url()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => (m.type() === "error" || m.type() === "warning") && sdkLogs.push(`${m.type()}: ${m.text()}`));
  const q = new URLSearchParams({ writeKey, dataPlane: dp.url, mode, config });
  await page.goto(`${site.origin}/?${q}`);
  await page.waitForFunction(() => window.__sdkCalled === true);
  return { context, page, urls, errors, sdkLogs };
}

function assertOffline(urls) {
  assert.ok(urls.length > 0);
  for (const u of urls) assert.match(u, /^http:\/\/127\.0\.0\.1:\d+\//, `the page only talked to 127.0.0.1: ${u}`);
}

// Runs one transport end to end; answers what the test needs to look at.
async function runMode(mode, config) {
  sink.reset();
  const from = dp.requests.length;
  const posts = () => dp.requests.slice(from).filter((r) => r.method === "POST");
  const tab = await openSite({ mode, config });
  // The four calls reached the Worker (in 4 posts, 1 batch, or 1 beacon).
  await dp.waitFor(() => posts().reduce((n, r) => n + eventsOf(r).length, 0) >= 4, 15000, `4 events (${mode})`);
  const events = posts().flatMap(eventsOf);
  const names = events.map((e) => `${e.type}${e.event ? ":" + e.event : ""}`);
  // One XHR per event: the four requests run concurrently and may arrive in
  // any order; a batch keeps the call order.
  assert.deepEqual(mode === "xhr" ? names.sort() : names, mode === "xhr" ? [...CALLS].sort() : CALLS);
  for (const e of events.filter((e) => e.type === "track")) assert.equal(e.userId, USER_ID, "identify() set the userId of the later events");
  // What the server defines for exactly these events.
  const expected = beaconsOf(await transform(go, events, { token: TOKEN }));
  const hits = await sink.waitFor(expected.length, 15000);
  await sleep(500); // nothing more may come
  assert.equal(sink.hits.length, expected.length, "one GET per beacon, no more");
  assert.deepEqual(sortedQueries(hits.map((h) => h.url)), sortedQueries(expected));
  const ua = await tab.page.evaluate(() => navigator.userAgent);
  await tab.page.waitForFunction(() => window.__rudderReady === true);
  const anonymousId = await tab.page.evaluate(() => window.__anonymousId);
  assertOffline(tab.urls);
  assert.deepEqual(tab.errors, []);
  assert.deepEqual(tab.sdkLogs, [], "no console error or warning: the SDK delivered everything at the first attempt");
  await tab.context.close();
  return { wire: dp.requests.slice(from), posts: posts(), events, hits, ua, anonymousId };
}

// The beacons, independently of the server's own answer: the demo pixel,
// a view (init) for the page, purchase for Order Completed, one addtocart per
// product added, the alias of the identified user on the conversions, and
// nothing for identify.
function assertBeacons({ hits, ua }) {
  const byAction = {};
  for (const h of hits) {
    const q = params(h);
    assert.equal(q.get("key"), "demo-pixel");
    (byAction[q.get("a")] ||= []).push(q);
    assert.equal(h.method, "GET");
    assert.equal(h.headers["user-agent"], ua, "fired with the visitor's own User-Agent");
    assert.equal(h.headers.authorization, undefined);
  }
  assert.deepEqual(Object.keys(byAction).sort(), ["addtocart", "init", "purchase"]);
  assert.equal(byAction.init.length, 1);
  assert.equal(byAction.init[0].get("alias"), null, "a page view has no alias");
  assert.equal(byAction.purchase.length, 1);
  const p = byAction.purchase[0];
  assert.equal(p.get("order_id"), "order-4711");
  assert.equal(p.get("value"), "59.9");
  assert.equal(p.get("currency"), "EUR");
  assert.equal(p.get("discount_code"), "SPRING");
  assert.equal(p.get("alias"), ALIAS, "alias = SHA-256 of the userId set by identify()");
  assert.equal(byAction.addtocart.length, 2, "one addtocart per product");
  assert.deepEqual(byAction.addtocart.map((q) => q.get("value")).sort(), ["24", "7.5"]);
  for (const q of byAction.addtocart) {
    assert.equal(q.get("alias"), ALIAS);
    assert.equal(q.get("currency"), "EUR");
  }
}

function assertSourceConfigServed(wire) {
  const get = wire.find((r) => r.method === "GET" && r.url.startsWith("/sourceConfig/"));
  assert.ok(get, "the SDK fetched its source config from the Worker");
  const u = new URL(get.url, "http://x");
  assert.equal(u.searchParams.get("writeKey"), WRITE_KEY);
  assert.equal(u.searchParams.get("v"), SDK_VERSION);
  assert.equal(get.status, 200);
  assert.equal(JSON.parse(get.answer).source.enabled, true);
  const probe = wire.find((r) => r.method === "HEAD" && r.url === "/sourceConfig/?view=ad");
  assert.ok(probe, "the SDK's ad-block probe (sendAdblockPage) reached the Worker");
  assert.equal(probe.status, 200, "answered 200, so the SDK sends no 'ad-block page request' page");
  // The probe carries the SDK's Authorization header: Chromium preflights it.
  for (const r of wire.filter((x) => x.method === "OPTIONS" && x.url.startsWith("/sourceConfig/"))) {
    assert.equal(r.status, 204);
    assert.equal(r.answerHeaders["access-control-allow-headers"], r.headers["access-control-request-headers"]);
    assert.match(r.answerHeaders["access-control-allow-methods"], new RegExp(`\\b${r.headers["access-control-request-method"]}\\b`));
  }
}

describe(`RudderStack JavaScript SDK ${SDK_VERSION} (npm, bundled build) → Worker → real transformer`, { skip }, () => {
  it("default transport: one XHR per event to /v1/<type>, Basic auth, preflighted; exactly the server's beacons fired", async () => {
    const run = await runMode("xhr", "worker");
    assertBeacons(run);
    assertSourceConfigServed(run.wire);
    assert.deepEqual(run.posts.map((r) => r.url).sort(), ["/v1/identify", "/v1/page", "/v1/track", "/v1/track"]);
    for (const r of run.posts) {
      assert.equal(r.headers.authorization, `Basic ${b64(WRITE_KEY + ":")}`);
      assert.equal(r.headers["content-type"], "application/json;charset=UTF-8");
      assert.equal(r.headers.anonymousid, b64(run.anonymousId));
      assert.match(r.headers.sentat, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(r.headers.origin, site.origin);
      assert.equal(r.status, 200);
      assert.equal(r.answer, "OK");
      assert.equal(r.answerHeaders["access-control-allow-origin"], site.origin);
    }
    // Cross-origin with Authorization: Chromium preflighted, the Worker allowed
    // exactly what was asked.
    const preflights = run.wire.filter((r) => r.method === "OPTIONS" && r.url.startsWith("/v1/"));
    assert.ok(preflights.length >= 1, "at least one CORS preflight");
    for (const r of preflights) {
      assert.equal(r.headers["access-control-request-method"], "POST");
      assert.equal(r.headers["access-control-request-headers"], "anonymousid,authorization,content-type,sentat");
      assert.equal(r.status, 204);
      assert.equal(r.answerHeaders["access-control-allow-headers"], "anonymousid,authorization,content-type,sentat");
      assert.equal(r.answerHeaders["access-control-allow-origin"], site.origin);
      assert.match(r.answerHeaders["access-control-allow-methods"], /\bPOST\b/);
    }
    const paths = new Set(preflights.map((r) => r.url));
    for (const p of ["/v1/page", "/v1/identify", "/v1/track"]) assert.ok(paths.has(p), `preflight for ${p}`);
  });

  it("batching: one XHR POST /v1/batch of {batch, sentAt} (source config from getSourceConfig); exactly the server's beacons fired", async () => {
    const run = await runMode("batch", "local");
    assertBeacons(run);
    assert.equal(run.posts.length, 1);
    const [r] = run.posts;
    assert.equal(r.url, "/v1/batch");
    assert.equal(r.headers.authorization, `Basic ${b64(WRITE_KEY + ":")}`);
    const body = JSON.parse(r.body);
    assert.equal(body.batch.length, 4);
    assert.match(body.sentAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(r.status, 200);
    assert.ok(!run.wire.some((x) => x.url.startsWith("/sourceConfig")), "getSourceConfig: no config request");
  });

  it("sendBeacon: POST /beacon/v1/batch?writeKey= as text/plain, no Authorization, no preflight; exactly the server's beacons fired", async () => {
    const run = await runMode("beacon", "worker");
    assertBeacons(run);
    assertSourceConfigServed(run.wire);
    assert.equal(run.posts.length, 1);
    const [r] = run.posts;
    assert.equal(r.url, `/beacon/v1/batch?writeKey=${WRITE_KEY}`);
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.headers["content-type"], "text/plain", "a CORS-safelisted type: no preflight");
    assert.equal(r.headers.origin, site.origin, "Chromium sends Origin with a beacon: ALLOWED_ORIGINS applies");
    assert.equal(JSON.parse(r.body).batch.length, 4);
    assert.equal(r.status, 200);
    assert.ok(!run.wire.some((x) => x.method === "OPTIONS" && x.url.startsWith("/beacon/")), "sendBeacon needed no preflight");
  });

  it("an unknown write key: 401 to every post (XHR and sendBeacon), nothing reaches the transformer, no beacon", async () => {
    const before = (await (await worker.fetch("/__spdt/health")).json()).counters;
    sink.reset();
    const from = dp.requests.length;
    const refused = () => dp.requests.slice(from).filter((r) => r.method === "POST");
    // XHR: four posts, each refused (a 4xx is not retried by the SDK).
    const xhr = await openSite({ mode: "xhr", config: "local", writeKey: "wk-not-ours" });
    await dp.waitFor(() => refused().length >= 4, 15000, "4 refused XHR posts");
    await xhr.page.waitForFunction(() => window.__rudderReady === true);
    assertOffline(xhr.urls);
    assert.ok(xhr.sdkLogs.some((l) => /401/.test(l)), `the SDK saw the 401: ${xhr.sdkLogs.join(" | ")}`);
    await xhr.context.close();
    // sendBeacon: the key is in the query.
    const beacon = await openSite({ mode: "beacon", config: "local", writeKey: "wk-not-ours" });
    await dp.waitFor(() => refused().length >= 5, 15000, "the refused beacon post");
    assertOffline(beacon.urls);
    await beacon.context.close();

    const posts = refused();
    assert.deepEqual(posts.map((r) => r.url.replace(/\?.*/, "")).sort(), ["/beacon/v1/batch", "/v1/identify", "/v1/page", "/v1/track", "/v1/track"]);
    for (const r of posts) {
      assert.equal(r.status, 401, r.url);
      assert.equal(JSON.parse(r.answer).error, "unknown write key");
      assert.equal(r.answerHeaders["access-control-allow-origin"], site.origin, "the page can read the 401");
    }
    await sleep(500);
    const now = (await (await worker.fetch("/__spdt/health")).json()).counters;
    assert.equal(now.transformer_calls, before.transformer_calls, "nothing forwarded to the transformer");
    assert.equal(now.requests_rejected - before.requests_rejected, 5);
    assert.equal(sink.hits.length, 0, "no beacon");
  });
});
