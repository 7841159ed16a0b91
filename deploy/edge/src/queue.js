// The producer side of the retry queue: events the transformer could not
// take are sent to RETRY_QUEUE, split so that each message stays under the
// Queues message size limit. Events are kept whole and in order.
import { count, log } from "./observe.js";
import { byteLength, errorText } from "./util.js";

// Largest queue message body we build (Cloudflare Queues accept 128 KB).
export const QUEUE_MESSAGE_MAX_BYTES = 120 * 1024;

// enqueue answers true when every message was sent.
export async function enqueue(queue, job) {
  const base = { v: 1, requestId: job.requestId, destination: job.destination, visitor: job.visitor, receivedAt: Date.now() };
  const overhead = byteLength(JSON.stringify({ ...base, events: [] }));
  const { chunks, tooLarge } = chunkEvents(job.events, overhead, QUEUE_MESSAGE_MAX_BYTES);
  for (const bytes of tooLarge) {
    count("events_dropped");
    log("error", "event too large for the retry queue: dropped", { bytes, request_id: job.requestId });
  }
  let all = true;
  for (const events of chunks) {
    try {
      await queue.send({ ...base, events }, { contentType: "json" });
      count("batches_queued");
    } catch (err) {
      all = false;
      count("queue_failures");
      count("events_dropped", events.length);
      log("error", "retry queue send failed", { error: errorText(err), events: events.length, request_id: job.requestId });
    }
  }
  return all;
}

// chunkEvents splits events into runs whose message (overhead bytes plus
// each event's JSON and a comma) stays within max bytes. tooLarge holds the
// sizes of the events that fit in no message: they are left out.
export function chunkEvents(events, overhead, max) {
  const chunks = [];
  const tooLarge = [];
  let current = [];
  let size = overhead;
  for (const ev of events) {
    const n = byteLength(JSON.stringify(ev === undefined ? null : ev)) + 1;
    if (overhead + n > max) {
      tooLarge.push(n);
      continue;
    }
    if (size + n > max && current.length > 0) {
      chunks.push(current);
      current = [];
      size = overhead;
    }
    current.push(ev);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return { chunks, tooLarge };
}
