// wrangler.toml, the example shipped to users, is what the Worker runs with:
// wrangler's own config reader turns it into the runtime options (vars, the
// RETRY_QUEUE producer and consumer, the METRICS dataset, WRITE_KEYS as a
// table), and the Worker runs
// with them in workerd against the real Go server, only the URLs and the
// secret overridden. `wrangler deploy --dry-run` bundles it offline.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { EDGE_DIR } from "./helpers/paths.js";
import { startTransformer } from "./helpers/transformer.js";
import { startSink } from "./helpers/sink.js";
import { startFlaky } from "./helpers/flaky.js";
import { startWorker } from "./helpers/worker.js";

const TOML = path.join(EDGE_DIR, "wrangler.toml");
const TOKEN = "toml-test-token";
let go, sink, flaky, w;

before(async () => {
  sink = await startSink();
  go = await startTransformer({ beaconUrl: sink.url, token: TOKEN });
  flaky = await startFlaky(go.url);
});
after(async () => {
  await w?.dispose();
  await flaky?.close();
  await go?.stop();
  await sink?.close();
});

describe("wrangler.toml", () => {
  it("declares every var the Worker reads, the retry queue (producer and consumer) and the metrics dataset", () => {
    const { workerOptions, main } = unstable_getMiniflareWorkerOptions(TOML);
    assert.equal(main, path.join(EDGE_DIR, "worker.js"));
    for (const v of ["TRANSFORMER_URL", "ALLOWED_ORIGINS", "MAX_BODY_BYTES", "TRANSFORMER_TIMEOUT_MS", "BEACON_TIMEOUT_MS", "RETRY_DELAY_SECONDS"]) {
      assert.equal(typeof workerOptions.bindings[v], "string", v);
    }
    // WRITE_KEYS as a TOML table: the Worker gets it as a JSON object.
    const keys = workerOptions.bindings.WRITE_KEYS;
    assert.equal(typeof keys, "object");
    assert.ok(Object.keys(keys).length > 0);
    for (const id of Object.values(keys)) assert.equal(typeof id, "string");
    assert.equal(workerOptions.bindings.TRANSFORMER_TOKEN, undefined, "the token is a secret, not a var");
    assert.equal(workerOptions.queueProducers.RETRY_QUEUE.queueName, "spdt-retry");
    assert.ok(workerOptions.queueConsumers["spdt-retry"], "the Worker consumes its own retry queue");
    assert.ok(workerOptions.analyticsEngineDatasets.METRICS);
  });

  it("runs in workerd as configured: beacons fired, and with the transformer down the events go to the configured queue and come back", async () => {
    const { workerOptions, main } = unstable_getMiniflareWorkerOptions(TOML);
    const origin = workerOptions.bindings.ALLOWED_ORIGINS.split(",")[0].trim();
    w = await startWorker({
      workerOptions: {
        ...workerOptions,
        modules: true,
        scriptPath: main,
        bindings: { ...workerOptions.bindings, TRANSFORMER_URL: flaky.url, TRANSFORMER_TOKEN: TOKEN, RETRY_DELAY_SECONDS: "1" },
      },
    });
    const [writeKey] = Object.keys(workerOptions.bindings.WRITE_KEYS);
    const send = (key = writeKey) =>
      w.fetch("/v1/track", {
        method: "POST",
        headers: {
          "Content-Type": "application/json;charset=UTF-8",
          Authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}`,
          Origin: origin,
          "User-Agent": "toml-visitor",
          "CF-Connecting-IP": "198.51.100.20",
        },
        body: JSON.stringify({ type: "track", event: "Signed Up", messageId: "toml-1", userId: "u-1", properties: { type: "email" } }),
      });
    flaky.set("up");
    assert.equal((await send("not-the-example-key")).status, 401);
    assert.equal((await send()).status, 200);
    const [hit] = await sink.waitFor(1);
    assert.equal(new URL(hit.url, sink.url).searchParams.get("a"), "lead");
    assert.equal(hit.headers["x-forwarded-for"], "198.51.100.20");

    sink.reset();
    flaky.set("down");
    assert.equal((await send()).status, 200);
    const line = await w.waitForLog((l) => l.level === "error" && l.source === "fetch");
    assert.equal(line.msg, "transformer unavailable: events queued for retry");
    assert.equal(line.queued, true);
    flaky.set("up");
    // The consumer's max_batch_timeout in wrangler.toml is 5 s.
    const [again] = await sink.waitFor(1, 20000);
    assert.equal(new URL(again.url, sink.url).searchParams.get("a"), "lead");
    assert.equal(again.headers["user-agent"], "toml-visitor");
    assert.ok(!w.raw.some((l) => /METRICS.writeDataPoint failed/.test(l)), "the Analytics Engine binding takes the data points");
  });

  it("`wrangler deploy --dry-run` bundles the Worker with its bindings, offline", async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "spdt-edge-dry-"));
    try {
      const { stdout } = await new Promise((resolve, reject) =>
        execFile(
          process.execPath,
          [path.join(EDGE_DIR, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", out, "--config", TOML],
          { cwd: out, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", WRANGLER_LOG_PATH: out }, timeout: 120000 },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve({ stdout, stderr })),
        ),
      );
      assert.match(stdout, /env\.RETRY_QUEUE \(spdt-retry\)\s+Queue/);
      assert.match(stdout, /env\.METRICS \(spdt_edge\)\s+Analytics Engine Dataset/);
      assert.match(stdout, /--dry-run: exiting now/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
