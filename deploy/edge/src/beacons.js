// The beacons: read from the transformer's /transform?include=beacons answer
// and fired with a GET each, with the visitor's User-Agent and IP
// (X-Forwarded-For), a few at a time.
import { count, log } from "./observe.js";
import { errorText, isObject } from "./util.js";

const BEACON_CONCURRENCY = 6; // Workers keep 6 connections open per invocation.

// beaconsOf reads the results of a /transform answer: the beacon URLs of the
// events in status "ok", in order, and how many events are in status "error"
// with the first five of their reasons.
export function beaconsOf(results) {
  const beacons = [];
  let failed = 0;
  const reasons = [];
  for (const r of results) {
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
  return { beacons, failed, reasons };
}

// beaconHeaders passes the visitor on to the pixel endpoint.
export function beaconHeaders(visitor) {
  const headers = {};
  if (visitor.ua) headers["User-Agent"] = visitor.ua;
  if (visitor.ip) headers["X-Forwarded-For"] = visitor.ip;
  return headers;
}

// fireBeacons fires every beacon once and answers how many went out and how
// many failed (a network error, a timeout, a status >= 400, not http(s)).
export async function fireBeacons(beacons, visitor, cfg, requestId) {
  const headers = beaconHeaders(visitor);
  let next = 0;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    while (next < beacons.length) {
      const url = beacons[next++];
      if (await fireOne(url, headers, cfg, requestId)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(BEACON_CONCURRENCY, beacons.length) }, worker));
  return { ok, failed };
}

async function fireOne(url, headers, cfg, requestId) {
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
    count("beacons_fired");
    return true;
  } catch (err) {
    const n = count("beacon_failures");
    log("warn", "beacon failed", { error: errorText(err), request_id: requestId, counter: "beacon_failures", counter_value: n });
    return false;
  }
}
