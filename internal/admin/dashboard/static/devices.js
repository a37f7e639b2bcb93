// devices.js: the accounts (GET /api/v1/accounts, 100 a page) with their
// presence: online or not, the bound resources, the last activity.

import { $, h, keyed, time, count } from "./dom.js";
import { get, query } from "./api.js";
import { Pager } from "./pager.js";

const PAGE = 100;

export class Devices {
  constructor() {
    this.rows = $("devices-rows");
    this.filter = $("devices-filter");
    this.pager = new Pager($("devices-pager"), "devices", () => this.refresh());
    this.filter.addEventListener("input", () => this.render());
    this.data = null;
  }

  async refresh() {
    const r = await get("/api/v1/accounts" + query({ limit: PAGE, after: this.pager.after }));
    this.data = r.accounts ?? [];
    this.pager.update(r.next);
    this.render();
  }

  render() {
    if (!this.data) return;
    const f = this.filter.value.trim().toLowerCase();
    const shown = f ? this.data.filter((a) => a.username.toLowerCase().includes(f)) : this.data;
    keyed(this.rows, shown, (a) => a.username, row);
    const online = this.data.filter((a) => a.online).length;
    $("devices-summary").textContent =
      `${count(online)} online of ${count(this.data.length)}` + (this.pager.page > 0 || this.pager.next ? " on this page" : "");
    const empty = $("devices-empty");
    empty.hidden = shown.length > 0;
    empty.textContent = this.data.length === 0
      ? "No accounts yet. Create one with “mote account add” or POST /api/v1/accounts."
      : "No device on this page matches the filter.";
  }

  clear() {
    this.data = null;
    this.filter.value = "";
    this.pager.reset();
    keyed(this.rows, [], () => "", row);
    $("devices-summary").textContent = "";
  }
}

function row(a) {
  const resources = a.resources ?? [];
  return h("tr", { "data-testid": "device-row", "data-username": a.username, "data-online": String(!!a.online) },
    h("td", { class: "primary", "data-label": "Device" }, h("span", { class: "name" }, a.username)),
    h("td", { "data-label": "State" },
      h("span", { class: a.online ? "badge online" : "badge offline", "data-testid": "device-state" },
        a.online ? "Online" : "Offline")),
    h("td", { "data-label": "Resources" },
      resources.length
        ? h("span", { class: "chips", "data-testid": "device-resources" }, resources.map((r) => h("span", { class: "chip" }, r)))
        : h("span", { class: "muted" }, "—")),
    h("td", { "data-label": "Last activity" }, time(a.last_active)));
}
