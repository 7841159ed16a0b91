// The playground page: no framework, no network but this service. It lists
// the configured destinations (ids and pixel ids only), posts the events to
// /transform?explain=1 and renders each result with its decision steps.
"use strict";

const exampleConfig = {
  pixelId: "playground-pixel",
  enableAliasCall: true,
  eventFilteringOption: "blacklistedEvents",
  blacklistedEvents: [{ eventName: "Internal Test" }],
  oneTrustCookieCategories: [{ oneTrustCookieCategory: "C0004" }],
};

const exampleEvents = [
  { type: "page", messageId: "page-1", context: { page: { url: "https://shop.example/shoes" } }, properties: { title: "Shoes" } },
  { type: "track", event: "Order Completed", messageId: "order-1", userId: "user-1",
    properties: { order_id: "o-1", total: 59.9, currency: "EUR", products: [{ product_id: "sku-1", name: "Runner", price: 59.9 }] } },
  { type: "track", event: "Product Added", messageId: "add-1",
    properties: { products: [{ product_id: "sku-1", price: 10 }, { product_id: "sku-2", price: 5 }] } },
  { type: "track", event: "Internal Test", messageId: "test-1" },
  { type: "track", event: "Order Completed", messageId: "consent-1",
    context: { consentManagement: { provider: "oneTrust", deniedConsentIds: ["C0004"] } } },
  { type: "identify", messageId: "identify-1", userId: "user-1" },
];

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function headers(json) {
  const h = json ? { "Content-Type": "application/json" } : {};
  const token = $("token").value;
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

async function loadDestinations() {
  const resp = await fetch("/playground/destinations", { headers: headers(false) });
  if (resp.status === 401) {
    $("token-label").hidden = false;
    return;
  }
  if (!resp.ok) return;
  const body = await resp.json();
  const select = $("destination");
  while (select.options.length > 1) select.remove(1);
  for (const d of body.destinations) {
    const o = el("option", "", d.id + " (pixel " + d.pixelId + ")");
    o.value = d.id;
    select.append(o);
  }
}

function request() {
  let events;
  try {
    events = JSON.parse($("events").value);
  } catch (e) {
    throw new Error("events: not JSON: " + e.message);
  }
  if (!Array.isArray(events)) throw new Error("events: must be a JSON array");
  const params = new URLSearchParams({ explain: "1", include: $("capi").checked ? "beacons,capi" : "beacons" });
  const id = $("destination").value;
  const body = { batch: events };
  if (id) {
    params.set("destination", id);
  } else {
    try {
      body.destination = { ID: "playground", Config: JSON.parse($("config").value) };
    } catch (e) {
      throw new Error("config: not JSON: " + e.message);
    }
  }
  return { url: "/transform?" + params, body: JSON.stringify(body) };
}

function renderResult(r, event) {
  const card = el("article", "result " + r.status);
  const title = el("h2");
  title.append(el("span", "status", r.status), " #" + r.index + " " + (event.type || "?") + (event.event ? " “" + event.event + "”" : ""));
  card.append(title);
  if (r.reason) card.append(el("p", "reason", r.reason));
  for (const c of r.calls || []) {
    card.append(el("pre", "call", "spdt('" + c.command + "', " + JSON.stringify(c.params) + ")"));
    if (c.beacon) card.append(el("p", "beacon", "beacon: " + c.beacon));
  }
  if (r.capi) card.append(el("pre", "capi", "CAPI: " + JSON.stringify(r.capi, null, 1)));
  if (r.capiSkipped) card.append(el("p", "reason", "CAPI skipped: " + r.capiSkipped));
  for (const w of r.warnings || []) card.append(el("p", "reason", "warning: " + w));
  const table = el("table", "explain");
  for (const s of r.explain || []) {
    const tr = el("tr");
    tr.append(el("td", "step", s.step), el("td", "verdict", s.verdict), el("td", "detail", s.detail));
    table.append(tr);
  }
  card.append(table);
  return card;
}

async function run() {
  $("error").hidden = true;
  $("results").replaceChildren();
  $("summary").textContent = "";
  let req;
  try {
    req = request();
  } catch (e) {
    showError(e.message);
    return;
  }
  const resp = await fetch(req.url, { method: "POST", headers: headers(true), body: req.body });
  const answer = await resp.json().catch(() => ({ error: "the answer is not JSON" }));
  if (!resp.ok) {
    if (resp.status === 401) $("token-label").hidden = false;
    showError(resp.status + ": " + answer.error);
    return;
  }
  const events = JSON.parse(req.body).batch;
  const s = answer.summary;
  $("summary").textContent = s.events + " events: " + s.ok + " ok, " + s.filtered + " filtered, " + s.failed + " failed, " + s.calls + " calls (pixel " + answer.pixelId + ")";
  for (const r of answer.results) $("results").append(renderResult(r, events[r.index] || {}));
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

$("config").value = JSON.stringify(exampleConfig, null, 2);
$("events").value = JSON.stringify(exampleEvents, null, 2);
$("run").addEventListener("click", () => run().catch((e) => showError(e.message)));
$("token").addEventListener("change", () => loadDestinations());
loadDestinations().catch(() => {});
