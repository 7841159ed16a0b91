// Spotify Pixel edge emitter: a Cloudflare Worker (ES module syntax).
//
// It is a data plane for RudderStack's JavaScript SDK: the site sets
// dataPlaneUrl to the Worker and the SDK posts here as it would to
// rudder-server: one event to /v1/<type> (track, page, identify, screen,
// group, alias), {"batch": [...]} to /v1/batch, or, from sendBeacon, to
// /beacon/v1/batch?writeKey=<key> as text/plain. The write key (Basic auth,
// else ?writeKey=) picks the transformer destination (WRITE_KEYS); an unknown
// key is answered 401 and nothing is forwarded. GET /sourceConfig/ answers
// the SDK's source config, for sites that point configUrl here too.
// The Worker answers the site at once (200 "OK") and, inside ctx.waitUntil,
// forwards the events to the transformer
// (POST <TRANSFORMER_URL>/transform?destination=<id>&include=beacons)
// and fires every returned beacon with a GET, passing the visitor's
// User-Agent and IP (CF-Connecting-IP, sent as X-Forwarded-For).
//
// When the transformer is down, slow (TRANSFORMER_TIMEOUT_MS) or answers
// with a retryable status, the events are not lost silently: a log line at
// level "error", a counter, and, when the RETRY_QUEUE binding is configured,
// the events go to that queue; the queue() handler below retries them.
//
// Vars: TRANSFORMER_URL, WRITE_KEYS and/or DESTINATION_ID, ALLOWED_ORIGINS, MAX_BODY_BYTES,
// TRANSFORMER_TIMEOUT_MS, BEACON_TIMEOUT_MS, RETRY_DELAY_SECONDS.
// Secret: TRANSFORMER_TOKEN. Optional bindings: RETRY_QUEUE (Queue producer,
// with this Worker as its consumer), METRICS (Analytics Engine dataset).
// Logs are JSON lines; they never contain an IP, a User-Agent or a user id.

const DEFAULTS = Object.freeze({
  MAX_BODY_BYTES: 1048576,
  TRANSFORMER_TIMEOUT_MS: 5000,
  BEACON_TIMEOUT_MS: 5000,
  RETRY_DELAY_SECONDS: 30,
});

// Largest queue message body we build (Cloudflare Queues accept 128 KB).
const QUEUE_MESSAGE_MAX_BYTES = 120 * 1024;
const MAX_RETRY_DELAY_SECONDS = 3600;
const BEACON_CONCURRENCY = 6; // Workers keep 6 connections open per invocation.
const HEALTH_PATH = "/__spdt/health";
// The SDK's single-event endpoints: /v1/<type>; the path names the type.
const EVENT_TYPES = new Set(["track", "page", "identify", "screen", "group", "alias"]);
const ALLOW_METHODS = "GET, HEAD, POST, OPTIONS";

// Counters of this isolate, reported in the log lines, at GET /__spdt/health
// and, when the METRICS binding exists, as Analytics Engine data points.
const counters = {
  requests_accepted: 0,
  requests_rejected: 0,
  events_received: 0,
  transformer_calls: 0,
  transformer_failures: 0,
  batches_queued: 0,
  queue_failures: 0,
  events_dropped: 0,
  retries_succeeded: 0,
  beacons_fired: 0,
  beacon_failures: 0,
};

// ---------------------------------------------------------------- entry points

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === HEALTH_PATH && (request.method === "GET" || request.method === "HEAD")) {
      return json(200, { status: "ok", counters: { ...counters } });
    }
    let cfg;
    try {
      cfg = readConfig(env);
    } catch (err) {
      log("error", "worker is not configured", { error: err.message });
      return json(500, { error: `worker is not configured: ${err.message}` });
    }
    const origin = request.headers.get("Origin");
    const cors = corsHeaders(origin, cfg);
    const route = routeOf(url.pathname);

    if (request.method === "OPTIONS") {
      if (!cors) {
        count("requests_rejected");
        return new Response(null, { status: 403, headers: { Vary: "Origin" } });
      }
      // Exactly the headers the browser asks for (the SDK: anonymousid,
      // authorization, content-type, sentat; on a retry also rsa-*).
      const asked = request.headers.get("Access-Control-Request-Headers");
      const h = new Headers(cors);
      h.set("Access-Control-Allow-Methods", ALLOW_METHODS);
      if (asked && HEADER_LIST.test(asked)) h.set("Access-Control-Allow-Headers", asked);
      h.set("Access-Control-Max-Age", "86400");
      h.set("Vary", "Origin, Access-Control-Request-Headers");
      return new Response(null, { status: 204, headers: h });
    }
    if (origin !== null && !cors) {
      // A browser on a site that is not ours; refuse before reading anything.
      count("requests_rejected");
      return json(403, { error: "origin not allowed" }, { Vary: "Origin" });
    }
    if (route.sourceConfig) {
      if (request.method === "GET" || request.method === "HEAD") return sourceConfig(request, url, cfg, cors);
      return json(405, { error: "the source config is read with GET" }, cors, { Allow: "GET, HEAD, OPTIONS" });
    }
    if (request.method !== "POST") {
      return json(405, { error: "only POST (events), GET /sourceConfig and OPTIONS (CORS preflight) are served" }, cors, {
        Allow: "POST, OPTIONS",
      });
    }

    const requestId = request.headers.get("CF-Ray") || crypto.randomUUID();
    const reject = (status, error, fields = {}) => {
      count("requests_rejected");
      log("warn", "request rejected", { status, error, request_id: requestId, ...fields });
      return json(status, { error }, cors, { "X-Request-Id": requestId });
    };

    // The write key picks the destination; an unknown one is refused before
    // the body is read, so nothing of it is forwarded.
    const key = writeKeyOf(request, url);
    const destination = destinationFor(key, cfg);
    if (destination === null) {
      return reject(401, key.value ? "unknown write key" : "missing write key (Basic auth or ?writeKey=)", {
        write_key_from: key.from,
        write_key_prefix: key.value.slice(0, 4),
      });
    }

    const type = mediaType(request.headers.get("Content-Type"));
    if (type !== "" && type !== "application/json" && type !== "text/plain") {
      return reject(415, "Content-Type must be application/json or text/plain");
    }
    const body = await readLimited(request, cfg.maxBodyBytes);
    if (body === null) return reject(413, `body is larger than ${cfg.maxBodyBytes} bytes`);

    let parsed;
    try {
      parsed = JSON.parse(body);
    } catch {
      return reject(400, "body is not valid JSON");
    }
    const events = eventsOf(parsed, route.eventType);
    if (events === null) {
      return reject(400, 'body must be a RudderStack event or {"batch": [events]}');
    }

    count("requests_accepted");
    count("events_received", events.length);
    if (events.length > 0) {
      const visitor = {
        ua: request.headers.get("User-Agent") || "",
        ip: request.headers.get("CF-Connecting-IP") || "",
      };
      ctx.waitUntil(
        deliver({ events, visitor, requestId, destination, attempt: 0 }, env, cfg, "fetch").catch((err) => {
          count("events_dropped", events.length);
          log("error", "delivery failed: events dropped", { error: String((err && err.message) || err), request_id: requestId });
        }),
      );
    }
    // What rudder-server answers: 200 with a short text body.
    return new Response("OK", { status: 200, headers: { ...cors, "Content-Type": "text/plain; charset=utf-8", "X-Request-Id": requestId } });
  },

  // Consumer of RETRY_QUEUE: each message is {v, requestId, destination,
  // events, visitor, receivedAt}; it is retried until the transformer answers, with backoff,
  // up to the consumer's max_retries (then the dead-letter queue, if any).
  async queue(batch, env, ctx) {
    let cfg;
    try {
      cfg = readConfig(env);
    } catch (err) {
      log("error", "worker is not configured; queued events kept for retry", { error: err.message });
      batch.retryAll({ delaySeconds: DEFAULTS.RETRY_DELAY_SECONDS });
      return;
    }
    await Promise.all(
      batch.messages.map(async (msg) => {
        const job = msg.body;
        if (!isObject(job) || !Array.isArray(job.events) || !isObject(job.visitor)) {
          count("events_dropped");
          log("error", "malformed retry message dropped", { message_id: msg.id });
          msg.ack();
          return;
        }
        // Messages queued before write keys existed carry no destination.
        const destination = typeof job.destination === "string" && job.destination ? job.destination : cfg.destination;
        if (!destination) {
          count("events_dropped", job.events.length);
          log("error", "retry message without a destination and no DESTINATION_ID: dropped", { message_id: msg.id, events: job.events.length });
          msg.ack();
          return;
        }
        const outcome = await deliver(
          { events: job.events, visitor: job.visitor, requestId: String(job.requestId || msg.id), destination, attempt: msg.attempts },
          env,
          cfg,
          "queue",
        );
        if (outcome === "retry") {
          msg.retry({ delaySeconds: retryDelay(cfg.retryDelaySeconds, msg.attempts) });
        } else {
          msg.ack();
        }
      }),
    );
  },
};

// --------------------------------------------------------------------- delivery

// deliver forwards one set of events to the transformer and fires the beacons.
// It never throws. From fetch it queues what failed; from the queue consumer it
// answers "retry" or "done".
async function deliver(job, env, cfg, source) {
  const { events, visitor, requestId, destination } = job;
  const result = await callTransformer(cfg, destination, events, requestId);
  if (!result.ok) {
    const n = count("transformer_failures");
    const fields = {
      reason: result.reason,
      status: result.status,
      error: result.error,
      events: events.length,
      destination,
      request_id: requestId,
      source,
      attempt: job.attempt,
      counter: "transformer_failures",
      counter_value: n,
    };
    metric(env, "transformer_failure", result.reason, events.length);
    if (source === "queue") {
      if (result.retryable) {
        log("error", "transformer unavailable: retry scheduled", fields);
        return "retry";
      }
      count("events_dropped", events.length);
      metric(env, "events_dropped", result.reason, events.length);
      log("error", "transformer rejected the events: dropped", fields);
      return "done";
    }
    if (!result.retryable) {
      count("events_dropped", events.length);
      metric(env, "events_dropped", result.reason, events.length);
      log("error", "transformer rejected the events: dropped", { ...fields, queued: false });
      return "done";
    }
    if (!env.RETRY_QUEUE) {
      count("events_dropped", events.length);
      metric(env, "events_dropped", "no_queue", events.length);
      log("error", "transformer unavailable: events dropped (no RETRY_QUEUE binding)", { ...fields, queued: false });
      return "done";
    }
    const queued = await enqueue(env.RETRY_QUEUE, job);
    metric(env, queued ? "events_queued" : "events_dropped", queued ? result.reason : "queue_send", events.length);
    log("error", queued ? "transformer unavailable: events queued for retry" : "transformer unavailable: events dropped (queue send failed)", {
      ...fields,
      queued,
    });
    return "done";
  }

  const beacons = [];
  let failed = 0;
  const reasons = [];
  for (const r of result.body.results) {
    if (!isObject(r)) continue;
    if (r.status === "error") {
      failed++;
      if (reasons.length < 5 && typeof r.reason === "string") reasons.push(r.reason);
    }
    if (r.status !== "ok" || !Array.isArray(r.calls)) continue;
    for (const call of r.calls) {
      if (isObject(call) && typeof call.beacon === "string") beacons.push(call.beacon);
    }
  }
  if (failed > 0) {
    // Events the pipeline sent wrong (docs/BEHAVIOUR.md §5, status "error"): retrying cannot help.
    log("warn", "transformer reported events in error", { events_failed: failed, reasons, request_id: requestId });
  }
  const fired = await fireBeacons(beacons, visitor, cfg, requestId);
  if (source === "queue") count("retries_succeeded");
  metric(env, "beacons", "fired", fired.ok);
  if (fired.failed > 0) metric(env, "beacon_failure", "fetch", fired.failed);
  log(fired.failed > 0 ? "warn" : "info", "beacons fired", {
    events: events.length,
    destination,
    beacons: beacons.length,
    beacon_failures: fired.failed,
    request_id: requestId,
    source,
    attempt: job.attempt,
  });
  return "done";
}

async function callTransformer(cfg, destination, events, requestId) {
  count("transformer_calls");
  const headers = { "Content-Type": "application/json", "X-Request-Id": requestId.slice(0, 128) };
  if (cfg.token) headers.Authorization = `Bearer ${cfg.token}`;
  let res;
  try {
    res = await fetch(transformUrl(cfg, destination), {
      method: "POST",
      headers,
      body: JSON.stringify({ batch: events }),
      signal: AbortSignal.timeout(cfg.timeoutMs),
    });
  } catch (err) {
    const timeout = err && (err.name === "TimeoutError" || err.name === "AbortError");
    return {
      ok: false,
      retryable: true,
      reason: timeout ? "timeout" : "network",
      error: timeout ? `no answer within ${cfg.timeoutMs} ms` : String((err && err.message) || err),
    };
  }
  let text;
  try {
    text = await res.text();
  } catch (err) {
    const timeout = err && (err.name === "TimeoutError" || err.name === "AbortError");
    return { ok: false, retryable: true, reason: timeout ? "timeout" : "network", status: res.status, error: String(err && err.message) };
  }
  if (res.status !== 200) {
    let error = text.slice(0, 200);
    try {
      const e = JSON.parse(text);
      if (isObject(e) && typeof e.error === "string") error = e.error;
    } catch {
      /* not JSON: keep the text */
    }
    return { ok: false, retryable: retryableStatus(res.status), reason: `http_${res.status}`, status: res.status, error };
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!isObject(body) || !Array.isArray(body.results)) {
    return { ok: false, retryable: true, reason: "bad_response", status: 200, error: "the answer is not a /transform response" };
  }
  return { ok: true, body };
}

// Retryable: the service is down, slow, overloaded, or misconfigured in a way
// an operator fixes (token, destination id). 400/413/415/422 mean these events
// can never pass, so retrying them only delays the log line.
function retryableStatus(status) {
  if (status === 401 || status === 403 || status === 404 || status === 408 || status === 425 || status === 429) return true;
  return status >= 500;
}

async function fireBeacons(beacons, visitor, cfg, requestId) {
  const headers = {};
  if (visitor.ua) headers["User-Agent"] = visitor.ua;
  if (visitor.ip) headers["X-Forwarded-For"] = visitor.ip;
  let next = 0;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    while (next < beacons.length) {
      const url = beacons[next++];
      try {
        const u = new URL(url);
        if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error(`not an http(s) URL`);
        const res = await fetch(u.toString(), {
          method: "GET",
          headers,
          redirect: "manual",
          signal: AbortSignal.timeout(cfg.beaconTimeoutMs),
        });
        if (res.body) await res.body.cancel();
        if (res.status >= 400) throw new Error(`HTTP ${res.status}`);
        ok++;
        count("beacons_fired");
      } catch (err) {
        failed++;
        const n = count("beacon_failures");
        log("warn", "beacon failed", {
          error: String((err && err.message) || err),
          request_id: requestId,
          counter: "beacon_failures",
          counter_value: n,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BEACON_CONCURRENCY, beacons.length) }, worker));
  return { ok, failed };
}

// enqueue sends the job to the queue, split so that each message stays under
// the Queues message size limit. Events are kept whole and in order.
async function enqueue(queue, job) {
  const base = { v: 1, requestId: job.requestId, destination: job.destination, visitor: job.visitor, receivedAt: Date.now() };
  const overhead = byteLength(JSON.stringify({ ...base, events: [] }));
  const chunks = [];
  let current = [];
  let size = overhead;
  for (const ev of job.events) {
    const n = byteLength(JSON.stringify(ev === undefined ? null : ev)) + 1;
    if (overhead + n > QUEUE_MESSAGE_MAX_BYTES) {
      count("events_dropped");
      log("error", "event too large for the retry queue: dropped", { bytes: n, request_id: job.requestId });
      continue;
    }
    if (size + n > QUEUE_MESSAGE_MAX_BYTES && current.length > 0) {
      chunks.push(current);
      current = [];
      size = overhead;
    }
    current.push(ev);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  let all = true;
  for (const events of chunks) {
    try {
      await queue.send({ ...base, events }, { contentType: "json" });
      count("batches_queued");
    } catch (err) {
      all = false;
      count("queue_failures");
      count("events_dropped", events.length);
      log("error", "retry queue send failed", { error: String((err && err.message) || err), events: events.length, request_id: job.requestId });
    }
  }
  return all;
}

function retryDelay(base, attempts) {
  const a = Math.max(1, Number(attempts) || 1);
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.round(base * 2 ** (a - 1)));
}

// ----------------------------------------------------------------- the request

function readConfig(env) {
  const base = str(env.TRANSFORMER_URL);
  if (!base) throw new Error("TRANSFORMER_URL is missing");
  let u;
  try {
    u = new URL(base);
  } catch {
    throw new Error("TRANSFORMER_URL is not an absolute URL");
  }
  const writeKeys = parseWriteKeys(env.WRITE_KEYS);
  const destination = str(env.DESTINATION_ID);
  if (!writeKeys && !destination) throw new Error("set WRITE_KEYS (write key → destination id) or DESTINATION_ID");
  let path = u.pathname.replace(/\/+$/, "");
  if (!path.endsWith("/transform")) path += "/transform";
  u.pathname = path;
  u.search = "";
  u.hash = "";
  const origins = str(env.ALLOWED_ORIGINS)
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, "").toLowerCase())
    .filter(Boolean);
  return {
    transformBase: u.toString(),
    writeKeys,
    destination,
    token: str(env.TRANSFORMER_TOKEN),
    origins,
    anyOrigin: origins.includes("*"),
    maxBodyBytes: positiveInt(env.MAX_BODY_BYTES, DEFAULTS.MAX_BODY_BYTES, "MAX_BODY_BYTES"),
    timeoutMs: positiveInt(env.TRANSFORMER_TIMEOUT_MS, DEFAULTS.TRANSFORMER_TIMEOUT_MS, "TRANSFORMER_TIMEOUT_MS"),
    beaconTimeoutMs: positiveInt(env.BEACON_TIMEOUT_MS, DEFAULTS.BEACON_TIMEOUT_MS, "BEACON_TIMEOUT_MS"),
    retryDelaySeconds: nonNegativeInt(env.RETRY_DELAY_SECONDS, DEFAULTS.RETRY_DELAY_SECONDS, "RETRY_DELAY_SECONDS"),
  };
}

function transformUrl(cfg, destination) {
  const u = new URL(cfg.transformBase);
  u.searchParams.set("destination", destination);
  u.searchParams.set("include", "beacons");
  return u.toString();
}

// WRITE_KEYS: a JSON object {"<write key>": "<destination id>", ...}, as a
// string (a var or a secret) or as an object (a [vars] table in wrangler.toml).
// Empty or absent: no write key check, every request goes to DESTINATION_ID.
let writeKeysMemo = { raw: undefined, map: null };
function parseWriteKeys(raw) {
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return null;
  if (raw === writeKeysMemo.raw) return writeKeysMemo.map;
  let obj = raw;
  if (typeof raw === "string") {
    try {
      obj = JSON.parse(raw);
    } catch {
      throw new Error('WRITE_KEYS is not valid JSON (expected {"<write key>": "<destination id>"})');
    }
  }
  if (!isObject(obj)) throw new Error('WRITE_KEYS must be a JSON object {"<write key>": "<destination id>"}');
  const map = new Map();
  for (const [k, v] of Object.entries(obj)) {
    const key = k.trim();
    if (!key) throw new Error("WRITE_KEYS has an empty write key");
    if (typeof v !== "string" || !v.trim()) throw new Error(`WRITE_KEYS: the destination id of write key "${key.slice(0, 4)}..." must be a non-empty string`);
    map.set(key, v.trim());
  }
  if (map.size === 0) throw new Error("WRITE_KEYS has no write key");
  writeKeysMemo = { raw, map };
  return map;
}

// writeKeyOf reads the write key as rudder-server does: the user name of
// Basic auth (base64("<key>:")), else the writeKey query parameter (the
// sendBeacon transport, which cannot set headers). {value: "" } when none.
function writeKeyOf(request, url) {
  const auth = request.headers.get("Authorization");
  if (auth !== null) {
    const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(auth);
    if (m) {
      try {
        const bin = atob(m[1].replace(/-/g, "+").replace(/_/g, "/"));
        const text = new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
        const user = text.split(":")[0].trim();
        if (user) return { value: user, from: "authorization" };
      } catch {
        /* not base64: no key from this header */
      }
    }
  }
  const q = (url.searchParams.get("writeKey") || "").trim();
  if (q) return { value: q, from: "query" };
  return { value: "", from: auth !== null ? "authorization" : "none" };
}

// destinationFor answers the destination id for a write key, or null when the
// request must be refused (401). Without WRITE_KEYS every request, with or
// without a key, goes to DESTINATION_ID.
function destinationFor(key, cfg) {
  if (!cfg.writeKeys) return cfg.destination;
  if (!key.value) return null;
  return cfg.writeKeys.get(key.value) || null;
}

// routeOf reads what the SDK means by the path (the dataPlaneUrl may have a
// path of its own, so only the end counts): /v1/<type> names the type of the
// single event in the body; /sourceConfig is the SDK's config endpoint.
function routeOf(pathname) {
  const p = pathname.replace(/\/+$/, "");
  const m = /\/v1\/([a-z]+)$/.exec(p);
  return {
    eventType: m && EVENT_TYPES.has(m[1]) ? m[1] : null,
    sourceConfig: /(^|\/)sourceConfig$/.test(p),
  };
}

// A header list as browsers send it in Access-Control-Request-Headers.
const HEADER_LIST = /^\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*\s*$/;

// sourceConfig answers GET <dataPlaneUrl>/sourceConfig/?writeKey=... the way
// RudderStack's control plane does, with no device-mode destination: a site
// can set configUrl to the Worker and need nothing else. HEAD (the SDK's
// ad-blocker probe, ?view=ad, sent without a write key) is always 200: a
// failed probe makes the SDK send an extra "ad-block page request" page.
async function sourceConfig(request, url, cfg, cors) {
  const headers = { ...cors, "Content-Type": "application/json", "Cache-Control": "private, max-age=300" };
  if (request.method === "HEAD") return new Response(null, { status: 200, headers });
  const key = writeKeyOf(request, url);
  if (!key.value || destinationFor(key, cfg) === null) {
    count("requests_rejected");
    const error = key.value ? "unknown write key" : "missing write key (?writeKey=)";
    log("warn", "request rejected", { status: 401, error, path: "sourceConfig", write_key_prefix: key.value.slice(0, 4) });
    return json(401, { error }, cors);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key.value)));
  const id = "spdt-" + Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
  const body = {
    isHosted: false,
    source: {
      id,
      name: "spdt-edge",
      writeKey: key.value,
      enabled: true,
      workspaceId: "spdt-edge",
      config: {},
      destinations: [],
    },
  };
  return new Response(JSON.stringify(body), { status: 200, headers });
}

function corsHeaders(origin, cfg) {
  if (origin === null) return {};
  const o = origin.replace(/\/+$/, "").toLowerCase();
  if (!cfg.anyOrigin && !cfg.origins.includes(o)) return null;
  return {
    "Access-Control-Allow-Origin": origin,
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Expose-Headers": "X-Request-Id",
    Vary: "Origin",
  };
}

// eventsOf answers the events of a body: a batch, a bare array, or one
// event. On /v1/<type> the path gives the event its type, as rudder-server
// does (the body's own type, if any, is overwritten).
function eventsOf(parsed, pathType) {
  if (Array.isArray(parsed)) return parsed;
  if (!isObject(parsed)) return null;
  if ("batch" in parsed) return Array.isArray(parsed.batch) ? parsed.batch : null;
  if (pathType) return [{ ...parsed, type: pathType }];
  if (typeof parsed.type === "string") return [parsed];
  return null;
}

// readLimited reads the body as UTF-8 text, or answers null when it is over
// the limit (by Content-Length, or while reading when there is none).
async function readLimited(request, max) {
  const declared = request.headers.get("Content-Length");
  if (declared !== null && Number(declared) > max) return null;
  if (!request.body) return "";
  const reader = request.body.getReader();
  const parts = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    parts.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return new TextDecoder().decode(all);
}

// ---------------------------------------------------------------------- helpers

function mediaType(v) {
  return (v || "").split(";")[0].trim().toLowerCase();
}

function json(status, body, ...headerSets) {
  const h = new Headers({ "Content-Type": "application/json" });
  for (const set of headerSets) for (const [k, v] of Object.entries(set || {})) h.set(k, v);
  return new Response(JSON.stringify(body), { status, headers: h });
}

function count(name, n = 1) {
  counters[name] += n;
  return counters[name];
}

function metric(env, name, detail, value) {
  if (!env.METRICS || typeof env.METRICS.writeDataPoint !== "function") return;
  try {
    env.METRICS.writeDataPoint({ indexes: [name], blobs: [name, String(detail)], doubles: [value] });
  } catch (err) {
    log("warn", "METRICS.writeDataPoint failed", { error: String((err && err.message) || err) });
  }
}

function log(level, msg, fields = {}) {
  const line = JSON.stringify({ level, msg, component: "spdt-edge-worker", ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v) {
  return typeof v === "string" ? v.trim() : v === undefined || v === null ? "" : String(v).trim();
}

function positiveInt(v, dflt, name) {
  const s = str(v);
  if (s === "") return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

function nonNegativeInt(v, dflt, name) {
  const s = str(v);
  if (s === "") return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(s)}`);
  return n;
}

function byteLength(s) {
  return new TextEncoder().encode(s).byteLength;
}
