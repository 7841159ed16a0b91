// The pure helpers of each module of src/, run in workerd (through Miniflare,
// as the Worker runs) by the test Worker test/workerd/units.js.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { EDGE_DIR } from "./helpers/paths.js";
import { startWorker } from "./helpers/worker.js";

let w;
before(async () => {
  w = await startWorker({
    workerOptions: { modules: true, scriptPath: path.join(EDGE_DIR, "test/workerd/units.js"), modulesRoot: EDGE_DIR, compatibilityDate: "2026-04-01" },
  });
});
after(async () => {
  await w?.dispose();
});

// call runs module.fn(...args) in workerd: it answers the value, or throws
// an Error with the message of what the function threw.
async function call(module, fn, ...args) {
  const res = await w.fetch("/", { method: "POST", body: JSON.stringify({ module, fn, args }) });
  const out = await res.json();
  if ("throws" in out) throw new Error(out.throws);
  return out.value;
}
const request = (url, { method = "POST", headers = {}, body } = {}) => ({ $request: { url, method, headers, body } });
const basic = (user) => `Basic ${Buffer.from(`${user}:`).toString("base64")}`;
const cfg = (over = {}) => ({ origins: ["https://shop.example"], anyOrigin: false, writeKeys: null, destination: "", ...over });

describe("routing.js", () => {
  it("routeOf: /v1/<type> names the event type at the end of any path; /sourceConfig is the config endpoint", async () => {
    const cases = {
      "/v1/track": { eventType: "track", sourceConfig: false },
      "/prefix/v1/page/": { eventType: "page", sourceConfig: false },
      "/v1/alias": { eventType: "alias", sourceConfig: false },
      "/v1/batch": { eventType: null, sourceConfig: false },
      "/v1/Track": { eventType: null, sourceConfig: false },
      "/beacon/v1/batch": { eventType: null, sourceConfig: false },
      "/sourceConfig/": { eventType: null, sourceConfig: true },
      "/edge/sourceConfig": { eventType: null, sourceConfig: true },
      "/mysourceConfig": { eventType: null, sourceConfig: false },
    };
    for (const [p, want] of Object.entries(cases)) assert.deepEqual(await call("routing", "routeOf", p), want, p);
  });

  it("corsHeaders: {} without an Origin, null for another site, the origin as sent for an allowed one", async () => {
    assert.deepEqual(await call("routing", "corsHeaders", null, cfg()), {});
    assert.equal(await call("routing", "corsHeaders", "https://evil.example", cfg()), null);
    const h = await call("routing", "corsHeaders", "https://SHOP.example/", cfg());
    assert.equal(h["Access-Control-Allow-Origin"], "https://SHOP.example/");
    assert.equal(h["Access-Control-Allow-Credentials"], "true");
    assert.equal(h["Access-Control-Expose-Headers"], "X-Request-Id");
    assert.equal(h.Vary, "Origin");
    assert.ok(await call("routing", "corsHeaders", "https://any.example", cfg({ origins: ["*"], anyOrigin: true })));
  });

  it("preflightHeaders: exactly the asked headers when they are a header list, none otherwise", async () => {
    const cors = { "Access-Control-Allow-Origin": "https://shop.example", Vary: "Origin" };
    const asked = "anonymousid,authorization, content-type ,sentat";
    const h = await call("routing", "preflightHeaders", cors, asked);
    assert.equal(h["Access-Control-Allow-Headers"], asked);
    assert.equal(h["Access-Control-Allow-Methods"], "GET, HEAD, POST, OPTIONS");
    assert.equal(h["Access-Control-Max-Age"], "86400");
    assert.equal(h.Vary, "Origin, Access-Control-Request-Headers");
    assert.equal(h["Access-Control-Allow-Origin"], "https://shop.example");
    for (const bad of [null, "", "a b", "x-a,,x-b", "content-type;"]) {
      assert.equal((await call("routing", "preflightHeaders", cors, bad))["Access-Control-Allow-Headers"], undefined, JSON.stringify(bad));
    }
  });
});

describe("protocol.js", () => {
  it("basicUser: the user name of Basic auth, url-safe base64 too; '' for another scheme or not base64", async () => {
    assert.equal(await call("protocol", "basicUser", basic("wk-1")), "wk-1");
    assert.equal(await call("protocol", "basicUser", `basic  ${Buffer.from("wk>?:pw").toString("base64url")}`), "wk>?");
    assert.equal(await call("protocol", "basicUser", "Bearer d2stMTo="), "");
    assert.equal(await call("protocol", "basicUser", "Basic !!!"), "");
    assert.equal(await call("protocol", "basicUser", "Basic a"), "");
    assert.equal(await call("protocol", "basicUser", basic("")), "");
  });

  it("writeKeyOf: Basic auth wins over ?writeKey=, which serves sendBeacon; where a missing key was looked for", async () => {
    const u = "https://edge.test/v1/batch?writeKey=from-query";
    assert.deepEqual(await call("protocol", "writeKeyOf", request(u, { headers: { Authorization: basic("from-basic") } }), { $url: u }), {
      value: "from-basic",
      from: "authorization",
    });
    assert.deepEqual(await call("protocol", "writeKeyOf", request(u, { headers: { Authorization: "Bearer x" } }), { $url: u }), { value: "from-query", from: "query" });
    const bare = "https://edge.test/v1/batch?writeKey=%20";
    assert.deepEqual(await call("protocol", "writeKeyOf", request(bare), { $url: bare }), { value: "", from: "none" });
    assert.deepEqual(await call("protocol", "writeKeyOf", request(bare, { headers: { Authorization: "Bearer x" } }), { $url: bare }), { value: "", from: "authorization" });
  });

  it("destinationFor: the write key's destination, null when refused; without WRITE_KEYS always DESTINATION_ID", async () => {
    const keys = cfg({ writeKeys: { $map: [["wk-1", "d1"]] } });
    assert.equal(await call("protocol", "destinationFor", { value: "wk-1" }, keys), "d1");
    assert.equal(await call("protocol", "destinationFor", { value: "wk-2" }, keys), null);
    assert.equal(await call("protocol", "destinationFor", { value: "" }, keys), null);
    assert.equal(await call("protocol", "destinationFor", { value: "" }, cfg({ destination: "demo" })), "demo");
    assert.equal(await call("protocol", "destinationFor", { value: "any" }, cfg({ destination: "demo" })), "demo");
  });

  it("eventsOf: a batch, a bare array or one typed event; the path's type overrides the body's", async () => {
    const ev = { type: "track", event: "x" };
    assert.deepEqual(await call("protocol", "eventsOf", { batch: [ev], sentAt: "t" }, null), [ev]);
    assert.deepEqual(await call("protocol", "eventsOf", [ev, 1], null), [ev, 1]);
    assert.deepEqual(await call("protocol", "eventsOf", ev, null), [ev]);
    assert.deepEqual(await call("protocol", "eventsOf", { ...ev, type: "page" }, "track"), [ev]);
    assert.deepEqual(await call("protocol", "eventsOf", { event: "x" }, "track"), [{ event: "x", type: "track" }]);
    assert.deepEqual(await call("protocol", "eventsOf", { batch: [] }, "track"), []);
    for (const bad of [{ batch: {} }, { event: "x" }, { type: 1 }, "track", 3, null]) {
      assert.equal(await call("protocol", "eventsOf", bad, null), null, JSON.stringify(bad));
    }
  });

  it("mediaType: the lower-cased type without parameters", async () => {
    assert.equal(await call("protocol", "mediaType", "Application/JSON; charset=UTF-8"), "application/json");
    assert.equal(await call("protocol", "mediaType", " text/plain "), "text/plain");
    assert.equal(await call("protocol", "mediaType", null), "");
  });

  it("readLimited: the body as UTF-8 text, null over the limit by Content-Length or by what was read", async () => {
    assert.equal(await call("protocol", "readLimited", request("https://edge.test/", { body: "héllo" }), 6), "héllo");
    assert.equal(await call("protocol", "readLimited", request("https://edge.test/", { body: "héllo" }), 5), null);
    assert.equal(await call("protocol", "readLimited", request("https://edge.test/", { body: "{}", headers: { "Content-Length": "99" } }), 10), null);
    assert.equal(await call("protocol", "readLimited", request("https://edge.test/", { method: "GET" }), 10), "");
  });

  it("sourceConfigBody: the key's source with no destination, an id stable per key that does not contain it", async () => {
    const a = await call("protocol", "sourceConfigBody", "wk-1");
    assert.match(a.source.id, /^spdt-[0-9a-f]{24}$/);
    assert.equal(a.source.writeKey, "wk-1");
    assert.deepEqual(a.source.destinations, []);
    assert.equal(a.isHosted, false);
    assert.equal((await call("protocol", "sourceConfigBody", "wk-1")).source.id, a.source.id);
    assert.notEqual((await call("protocol", "sourceConfigBody", "wk-2")).source.id, a.source.id);
  });
});

describe("config.js", () => {
  const env = (over = {}) => ({ TRANSFORMER_URL: "https://t.example", DESTINATION_ID: "demo", ...over });

  it("readConfig: the transform URL, defaults, origins; the var named when it is wrong or missing", async () => {
    const c = await call("config", "readConfig", env({ ALLOWED_ORIGINS: " https://Shop.example/ ,*" }));
    assert.equal(c.transformBase, "https://t.example/transform");
    assert.deepEqual(c.origins, ["https://shop.example", "*"]);
    assert.equal(c.anyOrigin, true);
    assert.deepEqual([c.maxBodyBytes, c.timeoutMs, c.beaconTimeoutMs, c.retryDelaySeconds], [1048576, 5000, 5000, 30]);
    assert.equal(c.token, "");
    assert.equal(c.writeKeys, null);
    const errors = {
      "TRANSFORMER_URL is missing": env({ TRANSFORMER_URL: " " }),
      "TRANSFORMER_URL is not an absolute URL": env({ TRANSFORMER_URL: "/transform" }),
      "set WRITE_KEYS (write key → destination id) or DESTINATION_ID": env({ DESTINATION_ID: "" }),
      'MAX_BODY_BYTES must be a positive integer, got "0"': env({ MAX_BODY_BYTES: "0" }),
      'RETRY_DELAY_SECONDS must be a non-negative integer, got "-1"': env({ RETRY_DELAY_SECONDS: "-1" }),
    };
    for (const [msg, e] of Object.entries(errors)) await assert.rejects(call("config", "readConfig", e), { message: msg });
  });

  it("transformBaseOf: /transform appended once, query and fragment dropped", async () => {
    assert.equal(await call("config", "transformBaseOf", "https://t.example/api/"), "https://t.example/api/transform");
    assert.equal(await call("config", "transformBaseOf", "https://t.example/transform/?x=1#f"), "https://t.example/transform");
    assert.equal(await call("config", "transformBaseOf", "http://127.0.0.1:8080"), "http://127.0.0.1:8080/transform");
  });

  it("parseWriteKeys: a JSON string or an object of key → destination, trimmed; null when empty; errors say what is wrong", async () => {
    assert.deepEqual(await call("config", "parseWriteKeys", '{" wk-1 ": " d1 ", "wk-2": "d2"}'), { $map: [["wk-1", "d1"], ["wk-2", "d2"]] });
    assert.deepEqual(await call("config", "parseWriteKeys", { "wk-1": "d1" }), { $map: [["wk-1", "d1"]] });
    assert.equal(await call("config", "parseWriteKeys", " "), null);
    assert.equal(await call("config", "parseWriteKeys", null), null);
    await assert.rejects(call("config", "parseWriteKeys", "{"), /WRITE_KEYS is not valid JSON/);
    await assert.rejects(call("config", "parseWriteKeys", "[]"), /WRITE_KEYS must be a JSON object/);
    await assert.rejects(call("config", "parseWriteKeys", "{}"), /WRITE_KEYS has no write key/);
    await assert.rejects(call("config", "parseWriteKeys", '{" ": "d"}'), /WRITE_KEYS has an empty write key/);
    await assert.rejects(call("config", "parseWriteKeys", '{"secret-key": 1}'), { message: 'WRITE_KEYS: the destination id of write key "secr..." must be a non-empty string' });
  });

  it("positiveInt / nonNegativeInt: the default when empty, integers only", async () => {
    assert.equal(await call("config", "positiveInt", "", 5, "X"), 5);
    assert.equal(await call("config", "positiveInt", " 7 ", 5, "X"), 7);
    assert.equal(await call("config", "positiveInt", 9, 5, "X"), 9);
    await assert.rejects(call("config", "positiveInt", "1.5", 5, "X"), { message: 'X must be a positive integer, got "1.5"' });
    await assert.rejects(call("config", "positiveInt", "0", 5, "X"), /positive integer/);
    assert.equal(await call("config", "nonNegativeInt", "0", 5, "X"), 0);
    await assert.rejects(call("config", "nonNegativeInt", "ten", 5, "X"), { message: 'X must be a non-negative integer, got "ten"' });
  });
});

describe("delivery.js", () => {
  it("retryableStatus: down, slow, overloaded or misconfigured is retried; a request that can never pass is not", async () => {
    for (const s of [401, 403, 404, 408, 425, 429, 500, 502, 503, 504]) assert.equal(await call("delivery", "retryableStatus", s), true, String(s));
    for (const s of [400, 405, 413, 415, 422]) assert.equal(await call("delivery", "retryableStatus", s), false, String(s));
  });

  it("answerOf: a /transform response, else a failure with the service's error or the start of its text", async () => {
    assert.deepEqual(await call("delivery", "answerOf", 200, '{"results": []}'), { ok: true, body: { results: [] } });
    const bad = { ok: false, retryable: true, reason: "bad_response", status: 200, error: "the answer is not a /transform response" };
    assert.deepEqual(await call("delivery", "answerOf", 200, "OK"), bad);
    assert.deepEqual(await call("delivery", "answerOf", 200, '{"results": {}}'), bad);
    assert.deepEqual(await call("delivery", "answerOf", 422, '{"error": "batch is empty"}'), {
      ok: false,
      retryable: false,
      reason: "http_422",
      status: 422,
      error: "batch is empty",
    });
    const down = await call("delivery", "answerOf", 503, "x".repeat(300));
    assert.deepEqual([down.retryable, down.reason, down.error], [true, "http_503", "x".repeat(200)]);
  });

  it("transformUrl: the destination and include=beacons on the transform base", async () => {
    assert.equal(await call("delivery", "transformUrl", { transformBase: "https://t.example/api/transform" }, "d 1"), "https://t.example/api/transform?destination=d+1&include=beacons");
  });

  it("failureFields: what the log line of a failed call says, never the visitor", async () => {
    const job = { events: [{}, {}], visitor: { ua: "UA", ip: "1.2.3.4" }, requestId: "r1", destination: "d1", attempt: 2 };
    const f = await call("delivery", "failureFields", job, { reason: "timeout", error: "no answer" }, "queue", 7);
    assert.deepEqual(f, { reason: "timeout", error: "no answer", events: 2, destination: "d1", request_id: "r1", source: "queue", attempt: 2, counter: "transformer_failures", counter_value: 7 });
  });
});

describe("beacons.js", () => {
  it("beaconsOf: the beacons of the events in status ok, in order; the count and first five reasons of those in error", async () => {
    const results = [
      { status: "ok", calls: [{ beacon: "https://p/1" }, { beacon: 3 }, null, { beacon: "https://p/2" }] },
      { status: "skipped", calls: [{ beacon: "https://p/skipped" }] },
      ...Array.from({ length: 6 }, (_, i) => ({ status: "error", reason: `r${i}` })),
      { status: "error" },
      "junk",
      { status: "ok" },
      { status: "ok", calls: [{ beacon: "https://p/3" }] },
    ];
    assert.deepEqual(await call("beacons", "beaconsOf", results), {
      beacons: ["https://p/1", "https://p/2", "https://p/3"],
      failed: 7,
      reasons: ["r0", "r1", "r2", "r3", "r4"],
    });
  });

  it("beaconHeaders: the visitor's User-Agent and IP (as X-Forwarded-For), when known", async () => {
    assert.deepEqual(await call("beacons", "beaconHeaders", { ua: "UA/1", ip: "203.0.113.7" }), { "User-Agent": "UA/1", "X-Forwarded-For": "203.0.113.7" });
    assert.deepEqual(await call("beacons", "beaconHeaders", { ua: "", ip: "" }), {});
  });
});

describe("queue.js and retry.js", () => {
  it("chunkEvents: whole events in order, each message within the limit; an event too large for any is left out", async () => {
    // Each ev(i) is 10 bytes of JSON plus a comma: 11; two fit in 20 + 22 bytes.
    const ev = (i) => ({ i: 1000 + i });
    const events = Array.from({ length: 5 }, (_, i) => ev(i));
    assert.deepEqual(await call("queue", "chunkEvents", events, 20, 1000), { chunks: [events], tooLarge: [] });
    assert.deepEqual(await call("queue", "chunkEvents", events, 20, 42), { chunks: [events.slice(0, 2), events.slice(2, 4), events.slice(4)], tooLarge: [] });
    const big = { s: "x".repeat(50) };
    assert.deepEqual(await call("queue", "chunkEvents", [ev(0), big, ev(1)], 20, 42), { chunks: [[ev(0), ev(1)]], tooLarge: [59] });
    assert.deepEqual(await call("queue", "chunkEvents", [], 20, 40), { chunks: [], tooLarge: [] });
  });

  it("retryDelay: the base doubled per attempt, at most an hour", async () => {
    const cases = [[30, 1, 30], [30, 0, 30], [30, 3, 120], [30, 100, 3600], [0, 5, 0], [1, "x", 1]];
    for (const [base, attempts, want] of cases) assert.equal(await call("retry", "retryDelay", base, attempts), want, `${base}, ${attempts}`);
  });

  it("jobOf: a queue message's job, its destination or DESTINATION_ID; a malformed message or no destination is dropped", async () => {
    const body = { v: 1, requestId: "r1", destination: "d1", events: [{}], visitor: { ua: "", ip: "" }, receivedAt: 1 };
    assert.deepEqual(await call("retry", "jobOf", { id: "m1", attempts: 2, body }, "demo"), {
      job: { events: [{}], visitor: { ua: "", ip: "" }, requestId: "r1", destination: "d1", attempt: 2 },
    });
    const old = await call("retry", "jobOf", { id: "m2", attempts: 1, body: { ...body, destination: undefined, requestId: undefined } }, "demo");
    assert.deepEqual([old.job.destination, old.job.requestId], ["demo", "m2"]);
    assert.deepEqual(await call("retry", "jobOf", { id: "m3", body: { ...body, destination: "" } }, ""), {
      drop: "retry message without a destination and no DESTINATION_ID: dropped",
      fields: { message_id: "m3", events: 1 },
      events: 1,
    });
    for (const bad of [null, [], { ...body, events: {} }, { ...body, visitor: null }]) {
      assert.deepEqual(await call("retry", "jobOf", { id: "m4", body: bad }, "demo"), { drop: "malformed retry message dropped", fields: { message_id: "m4" }, events: 1 });
    }
  });
});

describe("util.js", () => {
  it("isObject, str, byteLength, errorText", async () => {
    assert.deepEqual(await Promise.all([{}, [], null, "x"].map((v) => call("util", "isObject", v))), [true, false, false, false]);
    assert.deepEqual(await Promise.all([" a ", null, 3, undefined].map((v) => call("util", "str", v))), ["a", "", "3", ""]);
    assert.equal(await call("util", "byteLength", "hé"), 3);
    assert.equal(await call("util", "errorText", { message: "boom" }), "boom");
    assert.equal(await call("util", "errorText", "plain"), "plain");
  });

  it("json: a JSON answer, later header sets winning", async () => {
    const r = await call("util", "json", 401, { error: "x" }, { Vary: "Origin", A: "1" }, null, { A: "2" });
    assert.equal(r.$response.status, 401);
    assert.deepEqual(JSON.parse(r.$response.body), { error: "x" });
    assert.deepEqual([r.$response.headers["content-type"], r.$response.headers.vary, r.$response.headers.a], ["application/json", "Origin", "2"]);
  });
});
