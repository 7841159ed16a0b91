// Generates spdt-emitter.classic.js (a classic script: window.spdtEmitter)
// from spdt-emitter.js (the ES module). `node scripts/build-classic.mjs --check`
// exits 1 when the committed file is not what the module generates.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = readFileSync(path.join(dir, "spdt-emitter.js"), "utf8");
const out = path.join(dir, "spdt-emitter.classic.js");

export function buildClassic(source) {
  const m = source.match(/^export \{([^}]*)\};\s*$/m);
  if (!m) throw new Error("spdt-emitter.js must end with one `export { ... };` line");
  const body = source.slice(0, m.index) + source.slice(m.index + m[0].length);
  if (/^\s*export\s/m.test(body)) throw new Error("spdt-emitter.js may export only through its last `export { ... };` line");
  const names = m[1].split(",").map((s) => s.trim()).filter(Boolean);
  const indented = body.trimEnd().split("\n").map((l) => (l ? "  " + l : l)).join("\n");
  return [
    "// GENERATED from spdt-emitter.js by `npm run build`: do not edit.",
    "// Classic-script form of the emitter: <script src=\"spdt-emitter.classic.js\"></script>",
    "// then window.spdtEmitter.emit(response).",
    "(function (root) {",
    '  "use strict";',
    indented,
    "",
    `  root.spdtEmitter = { ${names.join(", ")} };`,
    '})(typeof window !== "undefined" ? window : globalThis);',
    "",
  ].join("\n");
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const want = buildClassic(src);
  if (process.argv.includes("--check")) {
    let have = "";
    try {
      have = readFileSync(out, "utf8");
    } catch {}
    if (have !== want) {
      console.error("spdt-emitter.classic.js is stale: run `npm run build`");
      process.exit(1);
    }
  } else {
    writeFileSync(out, want);
    console.log(`wrote ${path.relative(process.cwd(), out) || out}`);
  }
}
