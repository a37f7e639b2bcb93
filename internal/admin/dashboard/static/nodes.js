// nodes.js: the nodes of the pubsub component (GET /api/v1/pubsub/nodes)
// as cards with their subscribers and latest item, the reading in it
// shown large when the payload is simple (a number in an element); a
// node's detail (configuration, subscriptions, latest items) in a
// drawer.
//
// Payloads are XML from devices: they are parsed with DOMParser into an
// inert XML document, only to read text and attributes, and shown as
// text. Nothing from them becomes markup.

import { $, h, replace, keyed, time, count, updateTimes } from "./dom.js";
import { get, query } from "./api.js";

export class Nodes {
  constructor(report) {
    this.report = report;
    this.grid = $("nodes-grid");
    this.dialog = $("node-detail");
    this.open = null; // the node in the drawer
    this.shown = null; // what the drawer shows (JSON), to skip rebuilding it
    $("node-detail-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => (this.open = null));
    // A click on the backdrop (outside the drawer's box) closes it.
    this.dialog.addEventListener("click", (e) => {
      if (e.target === this.dialog) this.dialog.close();
    });
    this.data = null;
  }

  async refresh() {
    const r = await get("/api/v1/pubsub/nodes");
    this.data = r;
    this.render();
    if (this.open) await this.loadDetail(this.open);
  }

  render() {
    const nodes = this.data?.nodes ?? [];
    keyed(this.grid, nodes, (n) => n.node, (n) => this.card(n));
    const leaves = nodes.filter((n) => n.type !== "collection").length;
    $("nodes-summary").textContent = this.data
      ? `${count(nodes.length)} node${nodes.length === 1 ? "" : "s"} on ${this.data.service || "the pubsub service"}` +
        (leaves !== nodes.length ? ` · ${count(leaves)} leaves` : "")
      : "";
    const empty = $("nodes-empty");
    empty.hidden = !this.data || nodes.length > 0;
    empty.textContent = "No nodes yet. Devices create them when they first publish, or with a pubsub create request.";
  }

  card(n) {
    const it = n.last_item;
    const reading = it ? parsePayload(it.payload) : null;
    let body;
    if (n.type === "collection") {
      body = h("p", { class: "reading reading-none" }, "Collection node");
    } else if (!it) {
      body = h("p", { class: "reading reading-none" }, "No items yet");
    } else {
      body = [
        reading?.value !== undefined
          ? h("p", { class: "reading", "data-testid": "node-reading" },
            h("span", { class: reading.numeric ? "reading-value" : "reading-value text", "data-testid": "node-value" },
              reading.value),
            reading.unit && h("span", { class: "reading-unit" }, reading.unit))
          : null,
        reading?.fields
          ? h("dl", { class: "fields", "data-testid": "node-fields" },
            reading.fields.map(([k, v, u]) => h("div", {}, h("dt", {}, k), h("dd", {}, u ? `${v} ${u}` : v))))
          : null,
        it.payload
          ? h("pre", { class: "payload", "data-testid": "node-payload" }, it.payload)
          : h("p", { class: "muted small" }, "Item without payload"),
      ];
    }
    return h("article", { class: "card node", "data-testid": "node-card", "data-node": n.node },
      h("div", { class: "node-head" },
        h("div", {},
          h("h2", {}, h("button", { type: "button", class: "node-name", "data-testid": "node-open",
            on: { click: () => this.show(n.node) } }, n.node)),
          n.title && h("p", { class: "node-title muted" }, n.title)),
        h("span", { class: "badge accent" }, n.type || "leaf")),
      body,
      h("div", { class: "node-meta" },
        h("span", { "data-testid": "node-subscribers" }, h("strong", {}, count(n.subscribers ?? 0)),
          n.subscribers === 1 ? " subscriber" : " subscribers"),
        n.type !== "collection" && h("span", {}, h("strong", {}, count(n.items ?? 0)), n.items === 1 ? " item" : " items"),
        it && h("span", {}, "updated ", time(it.published), it.publisher ? ` by ${it.publisher}` : "")));
  }

  async show(node) {
    this.open = node;
    this.shown = null;
    $("node-detail-title").textContent = node;
    $("node-detail-kind").textContent = "Loading…";
    replace($("node-detail-body"));
    if (!this.dialog.open) this.dialog.showModal();
    try {
      await this.loadDetail(node);
    } catch (err) {
      this.report(err);
      $("node-detail-kind").textContent = err.message;
    }
  }

  async loadDetail(node) {
    const path = "/api/v1/pubsub/nodes/" + encodeURIComponent(node);
    const [d, items] = await Promise.all([
      get(path),
      get(path + "/items" + query({ limit: 10 })).catch(() => null), // a collection has none
    ]);
    if (this.open !== node) return;
    // Polling reloads the drawer: rebuild it only when something changed,
    // so that a selection or the scroll position survives.
    const sig = JSON.stringify([d, items]);
    if (sig === this.shown) return;
    this.shown = sig;
    $("node-detail-kind").textContent = `${d.type} node · ${this.data?.service ?? ""}`;
    const kv = (pairs) => h("dl", { class: "kv" },
      pairs.filter(([, v]) => v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0))
        .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    const list = (entries, empty) => entries.length
      ? h("ul", { class: "list" }, entries.map(([a, b, title]) =>
        h("li", { title }, h("span", {}, a), h("span", { class: "muted" }, b))))
      : h("p", { class: "muted small" }, empty);
    const body = $("node-detail-body");
    replace(body,
      kv([
        ["Title", d.title],
        ["Creator", d.creator],
        ["Created", d.created && time(d.created)],
        ["Collections", (d.parents ?? []).join(", ")],
        ["Children", (d.children ?? []).join(", ")],
        ["Items", d.type === "collection" ? null : count(d.items)],
        ["Subscribers", count(d.subscribers)],
      ]),
      d.type !== "collection" && [
        h("h3", {}, `Latest items${items?.count > 10 ? ` (10 of ${count(items.count)})` : ""}`),
        items?.items?.length
          ? h("div", { "data-testid": "node-items" }, items.items.map((it) =>
            h("div", { class: "item" },
              h("div", { class: "item-head" }, h("span", { class: "mono" }, it.id),
                h("span", { class: "muted" }, it.publisher ? `${it.publisher} · ` : "", time(it.published))),
              it.payload ? h("pre", { class: "payload" }, it.payload) : null)))
          : h("p", { class: "muted small" }, "No items."),
      ],
      h("h3", {}, "Subscriptions"),
      list((d.subscriptions ?? []).map((s) => [s.jid, s.state, s.subid && `subscription ID ${s.subid}`]), "No subscriptions."),
      h("h3", {}, "Affiliations"),
      list((d.affiliations ?? []).map((a) => [a.jid, a.affiliation]), "No affiliations."),
      h("h3", {}, "Configuration"),
      kv(Object.entries(d.config ?? {}).sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k.replace(/^pubsub#/, ""), Array.isArray(v) ? v.join(", ") : String(v)])));
    updateTimes(body);
  }

  clear() {
    this.data = null;
    if (this.dialog.open) this.dialog.close();
    keyed(this.grid, [], () => "", () => null);
    $("nodes-summary").textContent = "";
  }
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const UNITS = { C: "°C", F: "°F", K: "K", celsius: "°C", fahrenheit: "°F", percent: "%", pct: "%" };

// parsePayload reads a reading from a simple payload: an element with a
// number (or a short text) as its only content or in a value attribute,
// its unit from a unit attribute, like
// <reading xmlns='urn:example:sensor' unit='C'>21.5</reading>; or up to
// six numeric child elements or attributes as fields. It returns
// {value, unit, numeric}, {fields: [[name, value, unit]]}, or null.
export function parsePayload(xml) {
  if (!xml) return null;
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  if (doc.getElementsByTagName("parsererror").length > 0) return null;
  const root = doc.documentElement;
  const num = (s) => {
    s = (s ?? "").trim();
    return NUMBER.test(s) ? s : null;
  };
  const unit = (el) => {
    const u = el.getAttribute("unit") ?? el.getAttribute("units") ?? el.getAttribute("uom") ?? "";
    return UNITS[u] ?? u;
  };
  const kids = [...root.children];
  if (kids.length === 0) {
    const text = root.textContent.trim();
    const v = num(text) ?? num(root.getAttribute("value"));
    if (v !== null) return { value: v, unit: unit(root), numeric: true };
    if (text && text.length <= 24 && !text.includes("\n")) return { value: text, unit: "" };
    const attrs = [...root.attributes]
      .filter((a) => !a.name.startsWith("xmlns") && num(a.value) !== null)
      .map((a) => [a.localName, a.value.trim(), ""]);
    return attrs.length ? { fields: attrs.slice(0, 6) } : null;
  }
  const fields = kids
    .filter((k) => k.children.length === 0)
    .map((k) => [k.localName, num(k.textContent) ?? num(k.getAttribute("value")), unit(k)])
    .filter(([, v]) => v !== null);
  if (fields.length === 1) return { value: fields[0][1], unit: fields[0][2], numeric: true };
  return fields.length ? { fields: fields.slice(0, 6) } : null;
}
