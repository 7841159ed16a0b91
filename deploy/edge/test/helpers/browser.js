// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// and a local page server for the emitter tests. No network beyond loopback:
// the Spotify pixel script URL is answered by a fake pixel (route.fulfill).
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { EDGE_DIR } from "./paths.js";

// CHROMIUM_PATH, when set, is the only candidate.
export const CHROMIUM_CANDIDATES = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function findChromium() {
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p)) || null;
}

// Offline: no host name resolves but 127.0.0.1 (Chromium would otherwise
// look up accounts.google.com through the machine's resolver, off the box),
// and anything not on loopback goes to a proxy port nothing serves (loopback
// always bypasses the proxy). Requests the tests fulfil with route() never
// reach either.
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
  "--proxy-server=http://127.0.0.1:9",
];

export const PIXEL_URL = "https://pixel.byspotify.com/ping.min.js";

// What the real pixel script does with the snippet's queue, reduced to a
// recorder: replay window.spdt.q, then replace window.spdt. With
// window.__keepStub set it only counts its load (the test's own stub stays).
export const FAKE_PIXEL = `(function () {
  window.__pixelLoads = (window.__pixelLoads || 0) + 1;
  if (window.__keepStub) return;
  var q = (window.spdt && window.spdt.q) || [];
  var log = (window.__pixelLog = window.__pixelLog || []);
  var rec = function () { log.push(Array.prototype.slice.call(arguments)); };
  for (var i = 0; i < q.length; i++) rec.apply(null, q[i]);
  window.spdt = rec;
})();`;

// CSP: no 'unsafe-eval', no 'unsafe-inline'; scripts only from the page's own
// origin and the Spotify pixel host.
export const CSP = `default-src 'self'; script-src 'self' https://pixel.byspotify.com; object-src 'none'; base-uri 'none'`;

const files = {
  "/spdt-emitter.js": () => readFileSync(path.join(EDGE_DIR, "spdt-emitter.js")),
  "/spdt-emitter.classic.js": () => readFileSync(path.join(EDGE_DIR, "spdt-emitter.classic.js")),
  "/load-module.js": () => `import * as m from "./spdt-emitter.js";\nwindow.__emitter = m;\nwindow.__emitterKind = "module";\n`,
  "/use-classic.js": () => `window.__emitter = window.spdtEmitter;\nwindow.__emitterKind = "classic";\n`,
};

function page(kind) {
  const scripts =
    kind === "module"
      ? `<script type="module" src="/load-module.js"></script>`
      : `<script src="/spdt-emitter.classic.js"></script>\n<script src="/use-classic.js"></script>`;
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>spdt-emitter ${kind}</title>\n${scripts}\n</head><body><p>shop</p></body></html>\n`;
}

export async function startPageServer() {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    if (u.pathname === "/page.html") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP });
      res.end(page(u.searchParams.get("kind") === "classic" ? "classic" : "module"));
      return;
    }
    const f = files[u.pathname];
    if (!f) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" });
    res.end(f());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}

// Installed before any page script: traps for every API the emitter must not
// use, console.warn capture, and CSP violation capture. The traps record only
// while armed, that is inside window.__emit (the scenarios' way to call the
// emitter): Playwright's own evaluate uses eval in the page, which is not the
// emitter's doing.
export const INSTRUMENT = () => {
  window.__armed = false;
  window.__emit = (...args) => {
    window.__armed = true;
    try {
      return window.__emitter.emit(...args);
    } finally {
      window.__armed = false;
    }
  };
  window.__forbidden = [];
  window.__warnings = [];
  window.__violations = [];
  const hit = (label) => {
    if (window.__armed) window.__forbidden.push(label);
  };
  const trap = (obj, prop, label, when = () => true) => {
    const d = Object.getOwnPropertyDescriptor(obj, prop);
    if (!d) return;
    if (d.set) {
      Object.defineProperty(obj, prop, {
        ...d,
        set(v) {
          hit(label);
          return d.set.call(this, v);
        },
      });
    } else if (typeof d.value === "function") {
      const orig = d.value;
      Object.defineProperty(obj, prop, {
        ...d,
        value: function (...args) {
          if (when(args)) hit(label);
          return orig.apply(this, args);
        },
      });
    }
  };
  trap(Element.prototype, "innerHTML", "innerHTML");
  trap(Element.prototype, "outerHTML", "outerHTML");
  trap(Element.prototype, "insertAdjacentHTML", "insertAdjacentHTML");
  trap(ShadowRoot.prototype, "innerHTML", "ShadowRoot.innerHTML");
  trap(Document.prototype, "write", "document.write");
  trap(Document.prototype, "writeln", "document.writeln");
  trap(Range.prototype, "createContextualFragment", "createContextualFragment");
  trap(window, "eval", "eval");
  trap(window, "setTimeout", "setTimeout(string)", (args) => typeof args[0] === "string");
  trap(window, "setInterval", "setInterval(string)", (args) => typeof args[0] === "string");
  const OrigFunction = window.Function;
  window.Function = new Proxy(OrigFunction, {
    apply(t, self, args) {
      hit("Function");
      return Reflect.apply(t, self, args);
    },
    construct(t, args) {
      hit("Function");
      return Reflect.construct(t, args);
    },
  });
  const warn = console.warn.bind(console);
  console.warn = (...args) => {
    window.__warnings.push(args.map(String).join(" "));
    warn(...args);
  };
  document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
};
