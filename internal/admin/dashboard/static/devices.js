// devices.js: the accounts with their presence (online or not, the bound
// resources, the last activity) and, for the devices among them (the
// accounts provisioned to log in with a certificate), their group and
// their certificate's expiry.
//
// "All accounts" pages through GET /api/v1/accounts and reads the devices
// of the same page from GET /api/v1/devices with the same cursor: both
// list in username order and every device is an account, so the devices
// of a page of accounts are among the first page of devices after the
// same cursor. "Devices" pages through GET /api/v1/devices alone.

import { $, h, keyed, time, count, absolute } from "./dom.js";
import { get, query } from "./api.js";
import { Pager } from "./pager.js";

const PAGE = 100;
// A certificate expiring within this many days is highlighted.
const SOON_DAYS = 30;

export class Devices {
  // report shows a failed request.
  constructor(report) {
    this.report = report;
    this.rows = $("devices-rows");
    this.filter = $("devices-filter");
    this.pager = new Pager($("devices-pager"), "devices", () => this.refresh().catch(report));
    this.filter.addEventListener("input", () => this.render());
    this.kind = "all"; // or "devices"
    this.kinds = [...document.querySelectorAll("#devices-kind button")];
    for (const b of this.kinds) b.addEventListener("click", () => this.show(b.dataset.kind));
    this.data = null;
    this.seq = 0; // the refresh under way; a newer one supersedes it
  }

  // show switches between all the accounts and the devices alone.
  show(kind) {
    if (kind === this.kind) return;
    this.kind = kind;
    for (const b of this.kinds) b.setAttribute("aria-pressed", String(b.dataset.kind === kind));
    this.data = null;
    this.pager.reset();
    this.refresh().catch(this.report);
  }

  async refresh() {
    const seq = ++this.seq, kind = this.kind, after = this.pager.after;
    const page = query({ limit: PAGE, after });
    let rows, next;
    if (kind === "devices") {
      const r = await get("/api/v1/devices" + page);
      rows = (r.devices ?? []).map((d) => ({ username: d.name, online: d.online, resources: d.resources,
        last_active: d.last_active, device: device(d) }));
      next = r.next;
    } else {
      const [a, d] = await Promise.all([get("/api/v1/accounts" + page), get("/api/v1/devices" + page)]);
      const byName = new Map((d.devices ?? []).map((x) => [x.name, x]));
      rows = (a.accounts ?? []).map((x) => ({ ...x, device: device(byName.get(x.username)) }));
      next = a.next;
    }
    if (seq !== this.seq) return; // the view changed meanwhile
    this.data = rows;
    this.pager.update(next);
    this.render();
  }

  render() {
    if (!this.data) return;
    const f = this.filter.value.trim().toLowerCase();
    const shown = f ? this.data.filter((a) => a.username.toLowerCase().includes(f)) : this.data;
    // The day is part of each row's data: the certificates' "in N days"
    // change with it.
    const today = day(Date.now());
    keyed(this.rows, shown.map((a) => ({ ...a, today })), (a) => a.username, row);
    const online = this.data.filter((a) => a.online).length;
    const devices = this.data.filter((a) => a.device).length;
    // The certificates that need a look.
    const states = this.data.map((a) => certificate(a.device?.cert).state);
    const n = (state) => states.filter((s) => s === state).length;
    const certs = (k) => `${count(k)} certificate${k === 1 ? "" : "s"}`;
    const notes = [
      n("expired") && `${certs(n("expired"))} expired`,
      n("soon") && `${certs(n("soon"))} expiring within ${SOON_DAYS} days`,
      n("revoked") && `${certs(n("revoked"))} revoked`,
    ].filter(Boolean);
    const onPage = this.pager.page > 0 || this.pager.next ? " on this page" : "";
    $("devices-summary").textContent = [
      this.kind === "devices"
        ? `${count(online)} online of ${count(devices)} device${devices === 1 ? "" : "s"}`
        : `${count(online)} online of ${count(this.data.length)} · ${count(devices)} device${devices === 1 ? "" : "s"}`,
      ...notes,
    ].join(" · ") + onPage;
    const empty = $("devices-empty");
    empty.hidden = shown.length > 0;
    empty.textContent = this.data.length === 0
      ? this.kind === "devices"
        ? "No devices yet. Provision one with “mote device provision NAME --group GROUP” or POST /api/v1/devices."
        : "No accounts yet. Create one with “mote user add” or POST /api/v1/accounts."
      : "No account on this page matches the filter.";
  }

  clear() {
    this.data = null;
    this.seq++;
    this.filter.value = "";
    this.kind = "all";
    for (const b of this.kinds) b.setAttribute("aria-pressed", String(b.dataset.kind === "all"));
    this.pager.reset();
    keyed(this.rows, [], () => "", row);
    $("devices-summary").textContent = "";
  }
}

// device is what a row shows of a device (d from GET /api/v1/devices),
// null for an account that is none.
function device(d) {
  return d ? { group: d.group ?? "", cert: d.certificate ?? null } : null;
}

// day numbers the local calendar day of t (ms).
function day(t) {
  const d = new Date(t);
  return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) / 86_400_000;
}

// certificate describes a certificate's expiry: state is "none", "ok",
// "soon" (within SOON_DAYS), "expired" or "revoked"; text says when, in
// days.
function certificate(c, now = Date.now()) {
  if (!c) return { state: "none" };
  const end = Date.parse(c.not_after);
  if (Number.isNaN(end)) return { state: "none" };
  const days = day(end) - day(now);
  if (c.revoked) return { state: "revoked", text: "Revoked" };
  if (end <= now) {
    return { state: "expired", text: days === 0 ? "Expired today" : `Expired ${-days} day${days === -1 ? "" : "s"} ago` };
  }
  const text = days === 0 ? "Expires today" : days === 1 ? "Tomorrow" : `In ${count(days)} days`;
  return { state: days < SOON_DAYS ? "soon" : "ok", text };
}

function row(a) {
  const resources = a.resources ?? [];
  const dev = a.device;
  return h("tr", { "data-testid": "device-row", "data-username": a.username, "data-online": String(!!a.online),
    "data-kind": dev ? "device" : "account" },
  h("td", { class: "primary", "data-label": "Device" }, h("span", { class: "name" }, a.username),
    h("span", { class: "sub" }, dev ? "device · certificate login" : "account")),
  // An account that is no device has neither: its phone card leaves them out.
  h("td", { "data-label": "Group", class: dev ? null : "na" },
    dev?.group
      ? h("a", { class: "chip chip-link", href: "#groups/" + encodeURIComponent(dev.group), "data-testid": "device-group" }, dev.group)
      : h("span", { class: "muted" }, "—")),
  h("td", { "data-label": "State" },
    h("span", { class: a.online ? "badge online" : "badge offline", "data-testid": "device-state" },
      a.online ? "Online" : "Offline")),
  h("td", { "data-label": "Resources" },
    resources.length
      ? h("span", { class: "chips", "data-testid": "device-resources" }, resources.map((r) => h("span", { class: "chip" }, r)))
      : h("span", { class: "muted" }, "—")),
  h("td", { "data-label": "Last activity" }, time(a.last_active)),
  h("td", { "data-label": "Certificate", class: dev ? null : "na" }, certCell(dev)));
}

function certCell(dev) {
  if (!dev) return h("span", { class: "muted" }, "—");
  const c = certificate(dev.cert);
  if (c.state === "none") return h("span", { class: "muted", "data-testid": "device-cert", "data-cert": "none" }, "None issued");
  const date = new Date(dev.cert.not_after).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  const badge = { ok: "badge", soon: "badge warn", expired: "badge danger", revoked: "badge danger" }[c.state];
  return h("span", { class: "cell cert", "data-testid": "device-cert", "data-cert": c.state,
    title: `Certificate ${dev.cert.serial} valid until ${absolute(dev.cert.not_after)}${dev.cert.revoked ? ", revoked" : ""}` },
  h("time", { datetime: dev.cert.not_after, class: c.state === "revoked" ? "cert-date revoked" : "cert-date" }, date),
  h("span", { class: badge, "data-testid": "device-cert-when" }, c.text));
}
