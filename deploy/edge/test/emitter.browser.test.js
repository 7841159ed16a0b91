// The browser emitter in a real browser engine: headless Chromium (Debian's
// package, driven by playwright-core), under a CSP without 'unsafe-eval' or
// 'unsafe-inline', with traps on eval/Function/innerHTML & co. Both forms of
// the emitter (ES module and classic script) run every scenario. The main
// input is a REAL /transform response from the Go server started here.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./helpers/paths.js";
import { startTransformer, transform } from "./helpers/transformer.js";
import { findChromium, CHROMIUM_CANDIDATES, CHROMIUM_ARGS, FAKE_PIXEL, PIXEL_URL, INSTRUMENT, startPageServer } from "./helpers/browser.js";

const chromium = findChromium();
const skip = chromium
  ? false
  : `no Chromium at ${CHROMIUM_CANDIDATES.join(" or ")}: run ./run-tests.sh (installs Debian's chromium) or apt-get install -y chromium`;
if (skip) console.log(`browser emitter tests skipped: ${skip}`);

const demoBatch = JSON.parse(readFileSync(path.join(REPO_ROOT, "testdata/demo-batch.json"), "utf8")).batch;

let go, pages, browser, response;

before(async () => {
  if (skip) return;
  const { chromium: pw } = await import("playwright-core");
  go = await startTransformer();
  response = await transform(go, demoBatch);
  pages = await startPageServer();
  browser = await pw.launch({ executablePath: chromium, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await go?.stop();
});

// The calls the page must see after conf: every ok result's calls, in order,
// as [command, params] (the beacon field is not a param).
function expectedCalls(res) {
  const out = [];
  for (const r of res.results) if (r.status === "ok") for (const c of r.calls) out.push([c.command, c.params]);
  return out;
}

async function open(kind) {
  const context = await browser.newContext();
  let pixelRequests = 0;
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(pages.origin + "/")) return route.continue();
    if (url === PIXEL_URL) {
      pixelRequests++;
      return route.fulfill({ status: 200, contentType: "text/javascript", body: FAKE_PIXEL });
    }
    return route.abort(); // nothing else leaves the machine
  });
  const page = await context.newPage();
  const consoleWarnings = [];
  page.on("console", (m) => m.type() === "warning" && consoleWarnings.push(m.text()));
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.addInitScript(INSTRUMENT);
  await page.goto(`${pages.origin}/page.html?kind=${kind}`);
  await page.waitForFunction(() => window.__emitter && typeof window.__emitter.emit === "function");
  assert.equal(await page.evaluate(() => window.__emitterKind), kind);
  return {
    page,
    consoleWarnings,
    pageErrors,
    pixelRequests: () => pixelRequests,
    async clean() {
      const { forbidden, violations } = await page.evaluate(() => ({ forbidden: window.__forbidden, violations: window.__violations }));
      assert.deepEqual(forbidden, [], "no eval, Function, innerHTML, document.write, setTimeout(string)...");
      assert.deepEqual(violations, [], "no CSP violation");
      assert.deepEqual(pageErrors, []);
      await context.close();
    },
  };
}

for (const kind of ["module", "classic"]) {
  describe(`spdt-emitter (${kind}) in Chromium`, { skip }, () => {
    it("with a recording spdt stub: one conf, then every call in order with exactly its params", async () => {
      const t = await open(kind);
      const out = await t.page.evaluate((res) => {
        window.__keepStub = true; // the fake pixel must not replace the stub
        const calls = [];
        window.spdt = function () {
          calls.push(Array.prototype.slice.call(arguments));
        };
        const first = window.__emit(res);
        // Same objects, not copies: spdt gets the response's own params.
        const okCalls = res.results.filter((r) => r.status === "ok").flatMap((r) => r.calls);
        const sameObjects = okCalls.every((c, i) => calls[i + 1][1] === c.params && calls[i + 1].length === 2);
        const second = window.__emit(res); // same page, same pixel: no second conf
        const other = window.__emit({ ...res, pixelId: "other-pixel" });
        const scripts = [...document.querySelectorAll("script#spdt-capture")].map((s) => ({ src: s.src, async: s.async }));
        return { calls, first, second, other, sameObjects, scripts };
      }, response);
      const want = expectedCalls(response);
      assert.ok(want.length >= 10, `the demo response has calls (${want.length})`);
      assert.deepEqual(out.first, { configured: true, fired: want.length });
      assert.deepEqual(out.second, { configured: false, fired: want.length });
      assert.deepEqual(out.other, { configured: true, fired: want.length });
      assert.deepEqual(out.calls, [
        ["conf", { key: "demo-pixel" }],
        ...want,
        ...want,
        ["conf", { key: "other-pixel" }],
        ...want,
      ]);
      assert.equal(out.calls.filter((c) => c[0] === "conf" && c[1].key === "demo-pixel").length, 1);
      assert.ok(out.sameObjects, "each spdt call gets (command, params) and the very params object");
      // Sanity of the order against the demo batch: alias before its conversion, view first.
      assert.equal(out.calls[1][0], "view");
      assert.ok(want.findIndex((c) => c[0] === "purchase") > want.findIndex((c) => c[0] === "checkout"));
      assert.deepEqual(out.scripts, [{ src: PIXEL_URL, async: true }], "the pixel script, added once");
      await t.page.waitForFunction(() => window.__pixelLoads === 1);
      assert.equal(t.pixelRequests(), 1);
      assert.deepEqual(t.consoleWarnings, []);
      await t.clean();
    });

    it("without spdt on the page: queues like the official snippet, loads the pixel once, which replays the queue", async () => {
      const t = await open(kind);
      const queued = await t.page.evaluate((res) => {
        const r = window.__emit(res);
        // Before the async script has run: the snippet's queue.
        return { r, q: window.spdt.q.map((a) => Array.prototype.slice.call(a)), scripts: document.querySelectorAll("script#spdt-capture").length };
      }, response);
      const want = expectedCalls(response);
      assert.deepEqual(queued.q, [["conf", { key: "demo-pixel" }], ...want]);
      assert.equal(queued.scripts, 1);
      await t.page.waitForFunction(() => window.__pixelLoads === 1 && Array.isArray(window.__pixelLog));
      // Once loaded, later responses go straight to the pixel's spdt, without a second conf or script.
      const after = await t.page.evaluate((res) => {
        const r = window.__emit(res);
        return { r, log: window.__pixelLog, scripts: document.querySelectorAll("script#spdt-capture").length };
      }, response);
      assert.deepEqual(after.r, { configured: false, fired: want.length });
      assert.deepEqual(after.log, [["conf", { key: "demo-pixel" }], ...want, ...want]);
      assert.equal(after.scripts, 1);
      assert.equal(t.pixelRequests(), 1);
      await t.clean();
    });

    it("leaves a page that already has the pixel script alone, and honours loadScript: false", async () => {
      const t = await open(kind);
      const out = await t.page.evaluate((res) => {
        const s = document.createElement("script");
        s.id = "spdt-capture";
        document.head.appendChild(s); // the site's own snippet tag (no src: nothing to load)
        window.__emit(res);
        const withTag = document.querySelectorAll("script#spdt-capture").length;
        s.remove();
        delete window.spdt;
        window.__emit({ ...res, pixelId: "p2" }, { loadScript: false });
        return { withTag, after: document.querySelectorAll("script").length, q: window.spdt.q.length };
      }, response);
      assert.equal(out.withTag, 1);
      assert.equal(out.q, 1 + expectedCalls(response).length);
      assert.equal(t.pixelRequests(), 0);
      await t.clean();
    });

    it("ignores a malformed response with one console warning, firing nothing", async () => {
      const t = await open(kind);
      const okCall = { command: "purchase", params: { value: 1 } };
      const bad = [
        null,
        42,
        "not json {",
        "[]",
        [],
        {},
        { pixelId: "", results: [] },
        { pixelId: 7, results: [] },
        { pixelId: "p", results: {} },
        { pixelId: "p", results: [null] },
        { pixelId: "p", results: [{ status: "ok" }] },
        { pixelId: "p", results: [{ status: "ok", calls: [{ command: "purchase", params: "value=1" }] }] },
        { pixelId: "p", results: [{ status: "ok", calls: [{ command: "purchase", params: [1] }] }] },
        { pixelId: "p", results: [{ status: "ok", calls: [{ params: {} }] }] },
        { pixelId: "p", results: [{ status: "ok", calls: [{ command: "alert(1)//", params: {} }] }] },
        { pixelId: "p", results: [{ status: "ok", calls: [{ command: "conf", params: { key: "x" } }] }] },
        // valid first result, broken second: all or nothing
        { pixelId: "p", results: [{ status: "ok", calls: [okCall] }, { status: "ok", calls: [okCall, 5] }] },
      ];
      const out = await t.page.evaluate((inputs) => {
        const calls = [];
        window.spdt = function () {
          calls.push(Array.prototype.slice.call(arguments));
        };
        const results = inputs.map((x) => window.__emit(x));
        return { results, calls, warnings: window.__warnings, scripts: document.querySelectorAll("script#spdt-capture").length };
      }, bad);
      assert.deepEqual(out.results, bad.map(() => null));
      assert.deepEqual(out.calls, [], "spdt never called");
      assert.equal(out.scripts, 0, "no pixel script for a malformed response");
      assert.equal(out.warnings.length, bad.length, "one warning per malformed response");
      for (const w of out.warnings) assert.match(w, /^\[spdt-emitter\] malformed response: .+; nothing was fired$/);
      assert.equal(t.consoleWarnings.length, bad.length, "the warnings reach the browser console");
      await t.clean();
    });

    it("a response with nothing to fire neither configures nor loads the pixel; a throwing call does not stop the others", async () => {
      const t = await open(kind);
      const out = await t.page.evaluate(() => {
        const none = window.__emit({
          pixelId: "p",
          results: [
            { index: 0, status: "filtered", statusCode: 298, reason: "x" },
            { index: 1, status: "error", statusCode: 400, reason: "y", errorType: "instrumentation" },
            { index: 2, status: "ok", calls: [] },
          ],
        });
        const noScript = document.querySelectorAll("script#spdt-capture").length;
        const calls = [];
        window.__keepStub = true;
        window.spdt = function (cmd, params) {
          if (cmd === "lead") throw new Error("boom");
          calls.push([cmd, params]);
        };
        const some = window.__emit(
          JSON.stringify({
            pixelId: "p",
            results: [{ index: 0, status: "ok", calls: [{ command: "lead", params: { a: 1 } }, { command: "signup", params: { b: 2 } }] }],
          }),
        );
        return { none, noScript, some, calls, warnings: window.__warnings };
      });
      assert.deepEqual(out.none, { configured: false, fired: 0 });
      assert.equal(out.noScript, 0);
      assert.deepEqual(out.some, { configured: true, fired: 1 });
      assert.deepEqual(out.calls, [
        ["conf", { key: "p" }],
        ["signup", { b: 2 }],
      ]);
      assert.equal(out.warnings.length, 1);
      assert.match(out.warnings[0], /spdt\('lead'\) threw: boom/);
      await t.clean();
    });
  });
}
