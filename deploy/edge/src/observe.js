// What the Worker tells its operator: JSON log lines (never an IP, a
// User-Agent or a user id), the counters of this isolate (in log lines and at
// GET /__spdt/health) and, when the METRICS binding exists, Analytics Engine
// data points.
import { errorText } from "./util.js";

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

// count adds n to a counter and answers its new value (for the log line).
export function count(name, n = 1) {
  counters[name] += n;
  return counters[name];
}

// snapshot answers a copy of the counters, for the health endpoint.
export function snapshot() {
  return { ...counters };
}

export function metric(env, name, detail, value) {
  if (!env.METRICS || typeof env.METRICS.writeDataPoint !== "function") return;
  try {
    env.METRICS.writeDataPoint({ indexes: [name], blobs: [name, String(detail)], doubles: [value] });
  } catch (err) {
    log("warn", "METRICS.writeDataPoint failed", { error: errorText(err) });
  }
}

export function log(level, msg, fields = {}) {
  const line = JSON.stringify({ level, msg, component: "spdt-edge-worker", ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
