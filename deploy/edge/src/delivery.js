// Delivery of one set of events: POST <TRANSFORMER_URL>/transform?destination=
// <id>&include=beacons within TRANSFORMER_TIMEOUT_MS, then the beacons. When
// the transformer is down, slow or answers a retryable status, the events are
// not lost silently: a log line at level "error", a counter and, with the
// RETRY_QUEUE binding, the retry queue.
import { beaconsOf, fireBeacons } from "./beacons.js";
import { count, log, metric } from "./observe.js";
import { enqueue } from "./queue.js";
import { errorText, isObject } from "./util.js";

// deliverLater delivers the events of a request after its answer.
export function deliverLater(ctx, job, env, cfg) {
  ctx.waitUntil(
    deliver(job, env, cfg, "fetch").catch((err) => {
      count("events_dropped", job.events.length);
      log("error", "delivery failed: events dropped", { error: errorText(err), request_id: job.requestId });
    }),
  );
}

// deliver forwards one set of events to the transformer and fires the beacons.
// It never throws. From fetch it queues what failed; from the queue consumer it
// answers "retry" or "done".
export async function deliver(job, env, cfg, source) {
  const result = await callTransformer(cfg, job.destination, job.events, job.requestId);
  if (!result.ok) return onFailure(job, result, env, source);
  const { beacons, failed, reasons } = beaconsOf(result.body.results);
  if (failed > 0) {
    // Events the pipeline sent wrong (docs/BEHAVIOUR.md §5, status "error"): retrying cannot help.
    log("warn", "transformer reported events in error", { events_failed: failed, reasons, request_id: job.requestId });
  }
  const fired = await fireBeacons(beacons, job.visitor, cfg, job.requestId);
  if (source === "queue") count("retries_succeeded");
  metric(env, "beacons", "fired", fired.ok);
  if (fired.failed > 0) metric(env, "beacon_failure", "fetch", fired.failed);
  log(fired.failed > 0 ? "warn" : "info", "beacons fired", {
    events: job.events.length,
    destination: job.destination,
    beacons: beacons.length,
    beacon_failures: fired.failed,
    request_id: job.requestId,
    source,
    attempt: job.attempt,
  });
  return "done";
}

async function onFailure(job, result, env, source) {
  const n = job.events.length;
  const fields = failureFields(job, result, source, count("transformer_failures"));
  metric(env, "transformer_failure", result.reason, n);
  const drop = (detail, msg, extra) => {
    count("events_dropped", n);
    metric(env, "events_dropped", detail, n);
    log("error", msg, { ...fields, ...extra });
    return "done";
  };
  if (source === "queue") {
    if (!result.retryable) return drop(result.reason, "transformer rejected the events: dropped", {});
    log("error", "transformer unavailable: retry scheduled", fields);
    return "retry";
  }
  if (!result.retryable) return drop(result.reason, "transformer rejected the events: dropped", { queued: false });
  if (!env.RETRY_QUEUE) return drop("no_queue", "transformer unavailable: events dropped (no RETRY_QUEUE binding)", { queued: false });
  const queued = await enqueue(env.RETRY_QUEUE, job);
  metric(env, queued ? "events_queued" : "events_dropped", queued ? result.reason : "queue_send", n);
  log("error", queued ? "transformer unavailable: events queued for retry" : "transformer unavailable: events dropped (queue send failed)", {
    ...fields,
    queued,
  });
  return "done";
}

// failureFields are the fields of the log line of a failed transformer call.
export function failureFields(job, result, source, counterValue) {
  return {
    reason: result.reason,
    status: result.status,
    error: result.error,
    events: job.events.length,
    destination: job.destination,
    request_id: job.requestId,
    source,
    attempt: job.attempt,
    counter: "transformer_failures",
    counter_value: counterValue,
  };
}

// callTransformer answers {ok: true, body} or {ok: false, retryable, reason,
// status, error}.
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
    const reason = isTimeout(err) ? "timeout" : "network";
    return { ok: false, retryable: true, reason, error: reason === "timeout" ? `no answer within ${cfg.timeoutMs} ms` : errorText(err) };
  }
  let text;
  try {
    text = await res.text();
  } catch (err) {
    return { ok: false, retryable: true, reason: isTimeout(err) ? "timeout" : "network", status: res.status, error: String(err && err.message) };
  }
  return answerOf(res.status, text);
}

function isTimeout(err) {
  return Boolean(err && (err.name === "TimeoutError" || err.name === "AbortError"));
}

// answerOf reads the transformer's answer: 200 with a /transform response,
// else a failure carrying the service's {"error": ...} or the start of the text.
export function answerOf(status, text) {
  if (status !== 200) {
    let error = text.slice(0, 200);
    try {
      const e = JSON.parse(text);
      if (isObject(e) && typeof e.error === "string") error = e.error;
    } catch {
      /* not JSON: keep the text */
    }
    return { ok: false, retryable: retryableStatus(status), reason: `http_${status}`, status, error };
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
export function retryableStatus(status) {
  if (status === 401 || status === 403 || status === 404 || status === 408 || status === 425 || status === 429) return true;
  return status >= 500;
}

export function transformUrl(cfg, destination) {
  const u = new URL(cfg.transformBase);
  u.searchParams.set("destination", destination);
  u.searchParams.set("include", "beacons");
  return u.toString();
}
