// The REAL Go transformer, built from this repository and run on a free
// loopback port. Tests never mock it.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { REPO_ROOT } from "./paths.js";

// buildTransformer builds ./cmd/transformer once per test process, or uses
// SPDT_TRANSFORMER_BIN (set by scripts/test.mjs, which builds it once for all files).
let built = process.env.SPDT_TRANSFORMER_BIN || "";
export function buildTransformer() {
  if (built && existsSync(built)) return built;
  const dir = mkdtempSync(path.join(os.tmpdir(), "spdt-edge-go-"));
  const bin = path.join(dir, "transformer");
  execFileSync("go", ["build", "-o", bin, "./cmd/transformer"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, GOFLAGS: process.env.GOFLAGS || "-buildvcs=false" },
  });
  built = bin;
  return bin;
}

// startTransformer runs `transformer serve -listen 127.0.0.1:0 ...` and waits
// for its {"msg":"listening","addr":...} line on stdout.
export async function startTransformer({ beaconUrl, token, args = [] } = {}) {
  const bin = buildTransformer();
  const argv = ["serve", "-listen", "127.0.0.1:0", "-log-format", "json"];
  if (beaconUrl) argv.push("-beacon-url", beaconUrl);
  if (token) argv.push("-auth-token", token);
  argv.push(...args);
  const proc = spawn(bin, argv, { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH || "" } });
  const logs = [];
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const rl = readline.createInterface({ input: proc.stdout });
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`transformer did not log "listening" within 20 s; stderr: ${stderr}`)), 20000);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`transformer exited with ${code} before listening; stderr: ${stderr}`));
    });
    rl.on("line", (line) => {
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(rec);
      if (rec.msg === "listening" && typeof rec.addr === "string") {
        clearTimeout(timer);
        resolve(rec.addr);
      }
    });
  });
  return {
    addr,
    url: `http://${addr}`,
    logs,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

// transform calls the real server directly: what the Worker should see.
export async function transform(server, batch, { token, destination = "demo" } = {}) {
  const res = await fetch(`${server.url}/transform?destination=${destination}&include=beacons`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ batch }),
  });
  if (res.status !== 200) throw new Error(`transform: HTTP ${res.status}: ${await res.text()}`);
  return res.json();
}

export function beaconsOf(response) {
  const out = [];
  for (const r of response.results) for (const c of r.calls || []) if (c.beacon) out.push(c.beacon);
  return out;
}
