// `npm test`: builds the Go transformer once (go build ./cmd/transformer from
// the repository root), then runs every test/*.test.js with Node's test
// runner. The tests start that binary themselves (serve -listen 127.0.0.1:0).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const edge = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const root = path.resolve(edge, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "spdt-edge-"));
const bin = path.join(tmp, "transformer");

const t0 = Date.now();
try {
  execFileSync("go", ["build", "-o", bin, "./cmd/transformer"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, GOFLAGS: process.env.GOFLAGS || "-buildvcs=false" },
  });
} catch (err) {
  console.error(`could not build the Go transformer (go build -o ${bin} ./cmd/transformer in ${root}): ${err.message}`);
  process.exit(1);
}
console.log(`# built the transformer in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const files = readdirSync(path.join(edge, "test"))
  .filter((f) => f.endsWith(".test.js"))
  .sort()
  .map((f) => path.join("test", f));
// A test that hangs (a runtime that never starts, a browser that never
// answers) fails after 2 minutes instead of blocking CI.
const child = spawn(process.execPath, ["--test", "--test-concurrency=1", "--test-timeout=120000", ...files, ...process.argv.slice(2)], {
  cwd: edge,
  stdio: "inherit",
  env: { ...process.env, SPDT_TRANSFORMER_BIN: bin },
});
child.on("exit", (code, signal) => {
  rmSync(tmp, { recursive: true, force: true });
  process.exit(signal ? 1 : code);
});
