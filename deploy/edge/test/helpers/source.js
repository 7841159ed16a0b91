// Reading the Worker's source as text, for static.test.js: its imports and
// the length of its functions. The code is formatted (one statement per line,
// a block's closing brace indented as the line that opened it), which is
// what functionsOf relies on.

// importsOf answers the specifiers of the static imports and re-exports of a
// module (comments removed beforehand).
export function importsOf(src) {
  const specs = [];
  for (const m of src.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm)) specs.push(m[1] ?? m[2]);
  return specs;
}

const OPENERS = [
  /^(\s*)(?:export\s+)?(?:async\s+)?function\*?\s*([\w$]+)\s*\(.*\{\s*$/, // function name(...) {
  /^(\s*)(?:async\s+)?([\w$]+)\s*\([^)]*\)\s*\{\s*$/, // name(...) { (a method)
  /^(\s*)(?:.*?\b([\w$]+)\s*=\s*)?.*=>\s*\{\s*$/, // (...) => {
];
const KEYWORDS = new Set(["if", "for", "while", "switch", "catch", "with"]);

// functionsOf answers every function of a module with its first line
// (1-based) and its length in lines, from its opening line to its closing
// brace.
export function functionsOf(src) {
  const lines = src.split("\n");
  const out = [];
  lines.forEach((text, i) => {
    for (const re of OPENERS) {
      const m = re.exec(text);
      if (!m || KEYWORDS.has(m[2])) continue;
      const close = new RegExp(`^${m[1]}\\}`);
      let end = i + 1;
      while (end < lines.length && !close.test(lines[end])) end++;
      out.push({ name: m[2] || "(arrow function)", line: i + 1, lines: end - i + 1 });
      break;
    }
  });
  return out;
}
