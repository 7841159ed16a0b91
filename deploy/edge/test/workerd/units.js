// A Worker for test/units.test.js: it runs one exported function of a module
// of src/ in workerd and answers what it returned, so that the pure helpers
// are tested in the runtime the Worker runs in. POST {module, fn, args}:
// args are JSON, with {$request: {url, method, headers, body}}, {$url} and
// {$map: [[k, v], ...]} for the values JSON cannot carry. The answer is
// {value} or {throws: message}; a Map comes back as {$map}, a Response as
// {$response: {status, headers, body}}.
import * as beacons from "../../src/beacons.js";
import * as config from "../../src/config.js";
import * as delivery from "../../src/delivery.js";
import * as protocol from "../../src/protocol.js";
import * as queue from "../../src/queue.js";
import * as retry from "../../src/retry.js";
import * as routing from "../../src/routing.js";
import * as util from "../../src/util.js";

const MODULES = { beacons, config, delivery, protocol, queue, retry, routing, util };

function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (typeof v !== "object" || v === null) return v;
  if ("$request" in v) return new Request(v.$request.url, { method: v.$request.method, headers: v.$request.headers, body: v.$request.body });
  if ("$url" in v) return new URL(v.$url);
  if ("$map" in v) return new Map(v.$map);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
}

async function encode(v) {
  if (v instanceof Map) return { $map: [...v] };
  if (v instanceof Response) return { $response: { status: v.status, headers: Object.fromEntries(v.headers), body: await v.text() } };
  if (v instanceof Set) return { $set: [...v] };
  return v;
}

export default {
  async fetch(request) {
    const { module, fn, args = [] } = await request.json();
    const f = MODULES[module] && MODULES[module][fn];
    if (typeof f !== "function") return Response.json({ throws: `no function ${module}.${fn}` }, { status: 404 });
    try {
      return Response.json({ value: await encode(await f(...decode(args))) });
    } catch (err) {
      return Response.json({ throws: String((err && err.message) || err) });
    }
  },
};
