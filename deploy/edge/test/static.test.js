// Source-level guarantees, checked without a runtime.
import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { EDGE_DIR } from "./helpers/paths.js";
import { buildClassic } from "../scripts/build-classic.mjs";

const read = (f) => readFileSync(path.join(EDGE_DIR, f), "utf8");
// Comments say "no eval, no innerHTML"; the code must not use them.
const code = (s) => s.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'\\])\/\/.*$/gm, "$1");

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

it("the Worker has no dependency and never logs the visitor's IP or User-Agent", () => {
  const src = code(read("worker.js"));
  assert.doesNotMatch(src, /^\s*import\b/m);
  // log(...) calls never take the visitor object or its fields.
  for (const m of src.matchAll(/log\(([^;]*?)\);/gs)) assert.doesNotMatch(m[1], /visitor|\.ua\b|\.ip\b|User-Agent|Connecting-IP/, m[0]);
});
