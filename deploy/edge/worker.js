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
// the events go to that queue; the queue() handler (src/retry.js) retries them.
//
// Vars: TRANSFORMER_URL, WRITE_KEYS and/or DESTINATION_ID, ALLOWED_ORIGINS, MAX_BODY_BYTES,
// TRANSFORMER_TIMEOUT_MS, BEACON_TIMEOUT_MS, RETRY_DELAY_SECONDS.
// Secret: TRANSFORMER_TOKEN. Optional bindings: RETRY_QUEUE (Queue producer,
// with this Worker as its consumer), METRICS (Analytics Engine dataset).
// Logs are JSON lines; they never contain an IP, a User-Agent or a user id.
//
// This file is the entry point; the code is in src/: routing.js (paths,
// CORS, the answers to the site), protocol.js (the SDK's write key, event
// bodies and source config), delivery.js (the transformer call, timeouts,
// failures), beacons.js (reading and firing the beacons), queue.js and
// retry.js (the retry queue's producer and consumer), config.js (the vars),
// observe.js (logs, counters, metrics), util.js (small shared helpers).

import { handleFetch } from "./src/routing.js";
import { handleQueue } from "./src/retry.js";

export default {
  fetch: handleFetch,
  queue: handleQueue,
};
