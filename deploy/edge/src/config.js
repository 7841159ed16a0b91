// The Worker's settings, read from its vars and secret (see wrangler.toml).
// A bad value throws an Error naming the var: the Worker answers 500 with it.
import { isObject, str } from "./util.js";

export const DEFAULTS = Object.freeze({
  MAX_BODY_BYTES: 1048576,
  TRANSFORMER_TIMEOUT_MS: 5000,
  BEACON_TIMEOUT_MS: 5000,
  RETRY_DELAY_SECONDS: 30,
});

export function readConfig(env) {
  const transformBase = transformBaseOf(env.TRANSFORMER_URL);
  const writeKeys = parseWriteKeys(env.WRITE_KEYS);
  const destination = str(env.DESTINATION_ID);
  if (!writeKeys && !destination) throw new Error("set WRITE_KEYS (write key → destination id) or DESTINATION_ID");
  const origins = parseOrigins(env.ALLOWED_ORIGINS);
  return {
    transformBase,
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

// transformBaseOf answers TRANSFORMER_URL ending in /transform, without
// query or fragment.
export function transformBaseOf(raw) {
  const base = str(raw);
  if (!base) throw new Error("TRANSFORMER_URL is missing");
  let u;
  try {
    u = new URL(base);
  } catch {
    throw new Error("TRANSFORMER_URL is not an absolute URL");
  }
  let path = u.pathname.replace(/\/+$/, "");
  if (!path.endsWith("/transform")) path += "/transform";
  u.pathname = path;
  u.search = "";
  u.hash = "";
  return u.toString();
}

// parseOrigins reads ALLOWED_ORIGINS: comma-separated, lower-cased, without
// a trailing slash.
export function parseOrigins(raw) {
  return str(raw)
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, "").toLowerCase())
    .filter(Boolean);
}

// WRITE_KEYS: a JSON object {"<write key>": "<destination id>", ...}, as a
// string (a var or a secret) or as an object (a [vars] table in wrangler.toml).
// Empty or absent: no write key check, every request goes to DESTINATION_ID.
let writeKeysMemo = { raw: undefined, map: null };
export function parseWriteKeys(raw) {
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

export function positiveInt(v, dflt, name) {
  const s = str(v);
  if (s === "") return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

export function nonNegativeInt(v, dflt, name) {
  const s = str(v);
  if (s === "") return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(s)}`);
  return n;
}
