// Small value helpers shared by the modules of the Worker; no state, no I/O.

export function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// str reads a var as trimmed text: absent is "", a non-string is its String().
export function str(v) {
  return typeof v === "string" ? v.trim() : v === undefined || v === null ? "" : String(v).trim();
}

export function byteLength(s) {
  return new TextEncoder().encode(s).byteLength;
}

// errorText is what a log line says of a caught value, Error or not.
export function errorText(err) {
  return String((err && err.message) || err);
}

// json answers a JSON body; later header sets win over earlier ones.
export function json(status, body, ...headerSets) {
  const h = new Headers({ "Content-Type": "application/json" });
  for (const set of headerSets) for (const [k, v] of Object.entries(set || {})) h.set(k, v);
  return new Response(JSON.stringify(body), { status, headers: h });
}
