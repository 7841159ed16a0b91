// The fetch handler: which path and method is what (health, CORS preflight,
// source config, events), the CORS answer for the site's origin, and the
// answers to the site. Events are answered 200 "OK" at once; their delivery
// runs in ctx.waitUntil.
import { readConfig } from "./config.js";
import { deliverLater } from "./delivery.js";
import { count, log, snapshot } from "./observe.js";
import { readEvents, sourceConfig } from "./protocol.js";
import { json } from "./util.js";

export const HEALTH_PATH = "/__spdt/health";
// The SDK's single-event endpoints: /v1/<type>; the path names the type.
export const EVENT_TYPES = new Set(["track", "page", "identify", "screen", "group", "alias"]);
const ALLOW_METHODS = "GET, HEAD, POST, OPTIONS";
// A header list as browsers send it in Access-Control-Request-Headers.
const HEADER_LIST = /^\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*\s*$/;

export async function handleFetch(request, env, ctx) {
  const url = new URL(request.url);
  const read = request.method === "GET" || request.method === "HEAD";
  if (url.pathname === HEALTH_PATH && read) return json(200, { status: "ok", counters: snapshot() });
  let cfg;
  try {
    cfg = readConfig(env);
  } catch (err) {
    log("error", "worker is not configured", { error: err.message });
    return json(500, { error: `worker is not configured: ${err.message}` });
  }
  const origin = request.headers.get("Origin");
  const cors = corsHeaders(origin, cfg);
  if (request.method === "OPTIONS") return preflight(request, cors);
  if (origin !== null && !cors) {
    // A browser on a site that is not ours; refuse before reading anything.
    count("requests_rejected");
    return json(403, { error: "origin not allowed" }, { Vary: "Origin" });
  }
  const route = routeOf(url.pathname);
  if (route.sourceConfig) {
    if (read) return sourceConfig(request, url, cfg, cors);
    return json(405, { error: "the source config is read with GET" }, cors, { Allow: "GET, HEAD, OPTIONS" });
  }
  if (request.method !== "POST") {
    return json(405, { error: "only POST (events), GET /sourceConfig and OPTIONS (CORS preflight) are served" }, cors, {
      Allow: "POST, OPTIONS",
    });
  }
  return postEvents(request, url, route, { env, ctx, cfg, cors });
}

async function postEvents(request, url, route, { env, ctx, cfg, cors }) {
  const requestId = request.headers.get("CF-Ray") || crypto.randomUUID();
  const got = await readEvents(request, url, route, cfg);
  if (got.error) {
    count("requests_rejected");
    log("warn", "request rejected", { status: got.status, error: got.error, request_id: requestId, ...got.fields });
    return json(got.status, { error: got.error }, cors, { "X-Request-Id": requestId });
  }
  const { events, destination } = got;
  count("requests_accepted");
  count("events_received", events.length);
  if (events.length > 0) {
    const visitor = {
      ua: request.headers.get("User-Agent") || "",
      ip: request.headers.get("CF-Connecting-IP") || "",
    };
    deliverLater(ctx, { events, visitor, requestId, destination, attempt: 0 }, env, cfg);
  }
  // What rudder-server answers: 200 with a short text body.
  return new Response("OK", { status: 200, headers: { ...cors, "Content-Type": "text/plain; charset=utf-8", "X-Request-Id": requestId } });
}

// routeOf reads what the SDK means by the path (the dataPlaneUrl may have a
// path of its own, so only the end counts): /v1/<type> names the type of the
// single event in the body; /sourceConfig is the SDK's config endpoint.
export function routeOf(pathname) {
  const p = pathname.replace(/\/+$/, "");
  const m = /\/v1\/([a-z]+)$/.exec(p);
  return {
    eventType: m && EVENT_TYPES.has(m[1]) ? m[1] : null,
    sourceConfig: /(^|\/)sourceConfig$/.test(p),
  };
}

// corsHeaders answers the CORS headers for the request's Origin: {} without
// one (not a browser), null for an origin that is not allowed.
export function corsHeaders(origin, cfg) {
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

function preflight(request, cors) {
  if (!cors) {
    count("requests_rejected");
    return new Response(null, { status: 403, headers: { Vary: "Origin" } });
  }
  const headers = preflightHeaders(cors, request.headers.get("Access-Control-Request-Headers"));
  return new Response(null, { status: 204, headers });
}

// preflightHeaders allows exactly the headers the browser asks for (the SDK:
// anonymousid, authorization, content-type, sentat; on a retry also rsa-*),
// when they are a well-formed header list.
export function preflightHeaders(cors, asked) {
  const h = { ...cors, "Access-Control-Allow-Methods": ALLOW_METHODS };
  if (asked && HEADER_LIST.test(asked)) h["Access-Control-Allow-Headers"] = asked;
  h["Access-Control-Max-Age"] = "86400";
  h.Vary = "Origin, Access-Control-Request-Headers";
  return h;
}
