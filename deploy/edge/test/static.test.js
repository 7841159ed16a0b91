// Source-level guarantees, checked without a runtime.
import { it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { EDGE_DIR } from "./helpers/paths.js";
import { WORKER_PATH } from "./helpers/worker.js";
import { buildClassic } from "../scripts/build-classic.mjs";
import { functionsOf, importsOf } from "./helpers/source.js";

const read = (f) => readFileSync(path.join(EDGE_DIR, f), "utf8");
// Comments say "no eval, no innerHTML"; the code must not use them.
const code = (s) => s.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'\\])\/\/.*$/gm, "$1");

const SRC_DIR = path.join(EDGE_DIR, "src");
const sources = readdirSync(SRC_DIR)
  .filter((f) => f.endsWith(".js"))
  .map((f) => path.join(SRC_DIR, f));
const workerFiles = [WORKER_PATH, ...sources];
const rel = (f) => path.relative(EDGE_DIR, f);

it("spdt-emitter.classic.js is exactly what `npm run build` generates from spdt-emitter.js", () => {
  assert.equal(read("spdt-emitter.classic.js"), buildClassic(read("spdt-emitter.js")));
});

it("the emitter has no dependency and uses no eval-like or HTML-parsing API", () => {
  for (const f of ["spdt-emitter.js", "spdt-emitter.classic.js"]) {
    const src = code(read(f));
    assert.doesNotMatch(src, /\bimport\b|\brequire\s*\(/, `${f}: no imports`);
    assert.doesNotMatch(src, /\beval\b|\bFunction\s*\(|innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|setTimeout|setInterval/, f);
  }
});

it("the Worker's modules are worker.js and src/*.js: no package, and every module is reached from worker.js", () => {
  assert.ok(sources.length > 0, "src/ has the Worker's modules");
  // workerd (Miniflare's module locator) and wrangler's bundler load what
  // worker.js imports, and what those import: a file not reached is dead.
  const reached = new Set();
  const visit = (file) => {
    if (reached.has(file)) return;
    reached.add(file);
    const src = code(readFileSync(file, "utf8"));
    assert.doesNotMatch(src, /\brequire\s*\(|\bimport\s*\(/, `${rel(file)}: static imports only`);
    for (const spec of importsOf(src)) {
      assert.match(spec, /^\.\.?\//, `${rel(file)} imports "${spec}": only the Worker's own modules`);
      const target = path.resolve(path.dirname(file), spec);
      assert.ok(workerFiles.includes(target), `${rel(file)} imports "${spec}", which is not worker.js or src/*.js`);
      visit(target);
    }
  };
  visit(WORKER_PATH);
  assert.deepEqual([...reached].map(rel).sort(), workerFiles.map(rel).sort());
});

it("the Worker's modules are small: at most 200 lines each, no function over 60 lines", () => {
  for (const file of workerFiles) {
    const src = readFileSync(file, "utf8");
    const lines = src.split("\n").length - (src.endsWith("\n") ? 1 : 0);
    assert.ok(lines <= 200, `${rel(file)} has ${lines} lines`);
    for (const fn of functionsOf(src)) assert.ok(fn.lines <= 60, `${rel(file)}:${fn.line}: ${fn.name} has ${fn.lines} lines`);
  }
});

it("the Worker never logs the visitor's IP or User-Agent", () => {
  for (const file of workerFiles) {
    const src = code(readFileSync(file, "utf8"));
    // log(...) calls never take the visitor object or its fields.
    for (const m of src.matchAll(/log\(([^;]*?)\);/gs)) assert.doesNotMatch(m[1], /visitor|\.ua\b|\.ip\b|User-Agent|Connecting-IP/, `${rel(file)}: ${m[0]}`);
  }
});
