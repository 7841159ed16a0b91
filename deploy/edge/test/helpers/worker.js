// Runs deploy/edge/worker.js (and the src/ modules it imports) in the real
// Workers runtime (workerd, through Miniflare), collecting its console output as parsed JSON log lines. The
// runtime listens on a free 127.0.0.1 port (`url`, for a browser); `cf: false`
// keeps Miniflare from downloading https://workers.cloudflare.com/cf.json
// (it uses its built-in placeholder): nothing leaves the machine.
import { Miniflare } from "miniflare";
import path from "node:path";
import readline from "node:readline";
import { EDGE_DIR } from "./paths.js";

export const WORKER_PATH = path.join(EDGE_DIR, "worker.js");
// The Worker's .js files are ES modules (package.json "type": "module", as
// wrangler's bundler reads them); Miniflare follows the imports from the
// entry but by default loads a .js file it reaches as CommonJS.
export const MODULE_RULES = [{ type: "ESModule", include: ["**/*.js"] }];

export async function startWorker({ bindings = {}, queue = false, workerOptions = null, compatibilityDate = "2026-04-01" } = {}) {
  const logs = [];
  const raw = [];
  const waiters = new Set();
  const onLine = (line) => {
    raw.push(line);
    const start = line.indexOf("{");
    if (start < 0) return;
    try {
      const rec = JSON.parse(line.slice(start));
      if (rec && rec.component === "spdt-edge-worker") {
        logs.push(rec);
        for (const w of [...waiters]) w();
      }
    } catch {
      /* not one of ours */
    }
  };
  const opts = workerOptions
    ? { ...workerOptions }
    : {
        modules: true,
        scriptPath: WORKER_PATH,
        compatibilityDate,
        bindings,
        ...(queue
          ? {
              queueProducers: { RETRY_QUEUE: "spdt-retry" },
              queueConsumers: { "spdt-retry": { maxBatchTimeout: 0.1, maxRetries: 5 } },
            }
          : {}),
      };
  if (opts.modules === true) opts.modulesRules = [...MODULE_RULES, ...(opts.modulesRules || [])];
  const mf = new Miniflare({
    ...opts,
    host: "127.0.0.1",
    port: 0,
    cf: false,
    handleRuntimeStdio(stdout, stderr) {
      readline.createInterface({ input: stdout }).on("line", onLine);
      readline.createInterface({ input: stderr }).on("line", onLine);
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    mf,
    url,
    logs,
    raw,
    fetch: (url, init) => mf.dispatchFetch(new URL(url, "https://edge.test").toString(), init),
    // waitForLog resolves with the first log line that matches pred.
    waitForLog(pred, timeoutMs = 10000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs.slice(from).find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching Worker log line within ${timeoutMs} ms; lines:\n${raw.join("\n")}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    dispose: () => mf.dispose(),
  };
}
