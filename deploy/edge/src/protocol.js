// The RudderStack SDK's side of the wire, as rudder-server speaks it: the
// write key (Basic auth, else ?writeKey=), the event bodies (one event, a
// bare array or {"batch": [...]}; on /v1/<type> the path names the type),
// the body limit, and the source config endpoint.
import { count, log } from "./observe.js";
import { isObject, json } from "./util.js";

// readEvents reads a POST of events. It answers {events, destination}, or
// {status, error, fields} when the request is refused. An unknown write key
// is refused before the body is read, so nothing of it is forwarded.
export async function readEvents(request, url, route, cfg) {
  const key = writeKeyOf(request, url);
  const destination = destinationFor(key, cfg);
  if (destination === null) {
    return refusal(401, key.value ? "unknown write key" : "missing write key (Basic auth or ?writeKey=)", {
      write_key_from: key.from,
      write_key_prefix: key.value.slice(0, 4),
    });
  }
  const type = mediaType(request.headers.get("Content-Type"));
  if (type !== "" && type !== "application/json" && type !== "text/plain") {
    return refusal(415, "Content-Type must be application/json or text/plain");
  }
  const body = await readLimited(request, cfg.maxBodyBytes);
  if (body === null) return refusal(413, `body is larger than ${cfg.maxBodyBytes} bytes`);
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    return refusal(400, "body is not valid JSON");
  }
  const events = eventsOf(parsed, route.eventType);
  if (events === null) return refusal(400, 'body must be a RudderStack event or {"batch": [events]}');
  return { events, destination };
}

function refusal(status, error, fields = {}) {
  return { status, error, fields };
}

// writeKeyOf reads the write key as rudder-server does: the user name of
// Basic auth (base64("<key>:")), else the writeKey query parameter (the
// sendBeacon transport, which cannot set headers). {value: "" } when none.
export function writeKeyOf(request, url) {
  const auth = request.headers.get("Authorization");
  if (auth !== null) {
    const user = basicUser(auth);
    if (user) return { value: user, from: "authorization" };
  }
  const q = (url.searchParams.get("writeKey") || "").trim();
  if (q) return { value: q, from: "query" };
  return { value: "", from: auth !== null ? "authorization" : "none" };
}

// basicUser answers the user name of a Basic Authorization header, or ""
// (another scheme, not base64, no user).
export function basicUser(auth) {
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(auth);
  if (!m) return "";
  try {
    const bin = atob(m[1].replace(/-/g, "+").replace(/_/g, "/"));
    const text = new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    return text.split(":")[0].trim();
  } catch {
    return ""; // not base64: no key from this header
  }
}

// destinationFor answers the destination id for a write key, or null when the
// request must be refused (401). Without WRITE_KEYS every request, with or
// without a key, goes to DESTINATION_ID.
export function destinationFor(key, cfg) {
  if (!cfg.writeKeys) return cfg.destination;
  if (!key.value) return null;
  return cfg.writeKeys.get(key.value) || null;
}

export function mediaType(v) {
  return (v || "").split(";")[0].trim().toLowerCase();
}

// eventsOf answers the events of a body: a batch, a bare array, or one
// event. On /v1/<type> the path gives the event its type, as rudder-server
// does (the body's own type, if any, is overwritten).
export function eventsOf(parsed, pathType) {
  if (Array.isArray(parsed)) return parsed;
  if (!isObject(parsed)) return null;
  if ("batch" in parsed) return Array.isArray(parsed.batch) ? parsed.batch : null;
  if (pathType) return [{ ...parsed, type: pathType }];
  if (typeof parsed.type === "string") return [parsed];
  return null;
}

// readLimited reads the body as UTF-8 text, or answers null when it is over
// the limit (by Content-Length, or while reading when there is none).
export async function readLimited(request, max) {
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

// sourceConfig answers GET <dataPlaneUrl>/sourceConfig/?writeKey=... the way
// RudderStack's control plane does, with no device-mode destination: a site
// can set configUrl to the Worker and need nothing else. HEAD (the SDK's
// ad-blocker probe, ?view=ad, sent without a write key) is always 200: a
// failed probe makes the SDK send an extra "ad-block page request" page.
export async function sourceConfig(request, url, cfg, cors) {
  const headers = { ...cors, "Content-Type": "application/json", "Cache-Control": "private, max-age=300" };
  if (request.method === "HEAD") return new Response(null, { status: 200, headers });
  const key = writeKeyOf(request, url);
  if (!key.value || destinationFor(key, cfg) === null) {
    count("requests_rejected");
    const error = key.value ? "unknown write key" : "missing write key (?writeKey=)";
    log("warn", "request rejected", { status: 401, error, path: "sourceConfig", write_key_prefix: key.value.slice(0, 4) });
    return json(401, { error }, cors);
  }
  return new Response(JSON.stringify(await sourceConfigBody(key.value)), { status: 200, headers });
}

// sourceConfigBody is the config of the source of a write key; its id is
// stable per key and does not reveal it (a SHA-256 prefix).
export async function sourceConfigBody(writeKey) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(writeKey)));
  const id = "spdt-" + Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
  return {
    isHosted: false,
    source: {
      id,
      name: "spdt-edge",
      writeKey,
      enabled: true,
      workspaceId: "spdt-edge",
      config: {},
      destinations: [],
    },
  };
}
