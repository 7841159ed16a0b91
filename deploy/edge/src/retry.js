// The consumer of RETRY_QUEUE: each message is {v, requestId, destination,
// events, visitor, receivedAt}; it is retried until the transformer answers,
// with backoff, up to the consumer's max_retries (then the dead-letter queue,
// if any).
import { DEFAULTS, readConfig } from "./config.js";
import { deliver } from "./delivery.js";
import { count, log } from "./observe.js";
import { isObject } from "./util.js";

const MAX_RETRY_DELAY_SECONDS = 3600;

export async function handleQueue(batch, env) {
  let cfg;
  try {
    cfg = readConfig(env);
  } catch (err) {
    log("error", "worker is not configured; queued events kept for retry", { error: err.message });
    batch.retryAll({ delaySeconds: DEFAULTS.RETRY_DELAY_SECONDS });
    return;
  }
  await Promise.all(batch.messages.map((msg) => retryMessage(msg, env, cfg)));
}

async function retryMessage(msg, env, cfg) {
  const got = jobOf(msg, cfg.destination);
  if (got.drop) {
    count("events_dropped", got.events);
    log("error", got.drop, got.fields);
    msg.ack();
    return;
  }
  const outcome = await deliver(got.job, env, cfg, "queue");
  if (outcome === "retry") {
    msg.retry({ delaySeconds: retryDelay(cfg.retryDelaySeconds, msg.attempts) });
  } else {
    msg.ack();
  }
}

// jobOf reads a queue message: {job} to deliver, or {drop, fields, events}
// (the log message, its fields and how many events are lost) for a message
// that cannot be delivered. Messages queued before write keys existed carry
// no destination: they go to DESTINATION_ID.
export function jobOf(msg, fallbackDestination) {
  const job = msg.body;
  if (!isObject(job) || !Array.isArray(job.events) || !isObject(job.visitor)) {
    return { drop: "malformed retry message dropped", fields: { message_id: msg.id }, events: 1 };
  }
  const destination = typeof job.destination === "string" && job.destination ? job.destination : fallbackDestination;
  if (!destination) {
    const fields = { message_id: msg.id, events: job.events.length };
    return { drop: "retry message without a destination and no DESTINATION_ID: dropped", fields, events: job.events.length };
  }
  const requestId = String(job.requestId || msg.id);
  return { job: { events: job.events, visitor: job.visitor, requestId, destination, attempt: msg.attempts } };
}

// retryDelay doubles the base delay per attempt, up to an hour.
export function retryDelay(base, attempts) {
  const a = Math.max(1, Number(attempts) || 1);
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.round(base * 2 ** (a - 1)));
}
