// sessions.js: the bound client sessions (GET /api/v1/sessions), each
// with a Kick button: after an in-page confirmation, DELETE
// /api/v1/sessions/{full JID} closes it with a stream error.

import { $, h, keyed, time, count } from "./dom.js";
import { get, del, query } from "./api.js";
import { Pager } from "./pager.js";

const PAGE = 200;

const TRANSPORTS = { tcp: "TCP", tls: "TCP + TLS", websocket: "WebSocket", "websocket+tls": "WebSocket + TLS" };

export class Sessions {
  constructor({ report, toast }) {
    this.report = report;
    this.toast = toast;
    this.rows = $("sessions-rows");
    this.filter = $("sessions-filter");
    this.pager = new Pager($("sessions-pager"), "sessions", () => this.refresh());
    this.filter.addEventListener("input", () => this.render());
    this.data = null;

    this.dialog = $("confirm");
    this.pending = null; // the JID to kick once confirmed
    $("confirm-cancel").addEventListener("click", () => this.dialog.close());
    $("confirm-ok").addEventListener("click", () => this.kick());
    this.dialog.addEventListener("close", () => (this.pending = null));
  }

  async refresh() {
    const r = await get("/api/v1/sessions" + query({ limit: PAGE, after: this.pager.after }));
    this.data = r.sessions ?? [];
    this.pager.update(r.next);
    this.render();
  }

  render() {
    if (!this.data) return;
    const f = this.filter.value.trim().toLowerCase();
    const shown = f ? this.data.filter((s) => s.jid.toLowerCase().includes(f)) : this.data;
    keyed(this.rows, shown, (s) => s.jid, (s) => this.row(s));
    const avail = this.data.filter((s) => s.available).length;
    $("sessions-summary").textContent = `${count(this.data.length)} session${this.data.length === 1 ? "" : "s"}` +
      ` · ${count(avail)} available` + (this.pager.page > 0 || this.pager.next ? " on this page" : "");
    const empty = $("sessions-empty");
    empty.hidden = shown.length > 0;
    empty.textContent = this.data.length === 0 ? "No client is connected." : "No session on this page matches the filter.";
  }

  row(s) {
    const slash = s.jid.indexOf("/");
    const bare = slash < 0 ? s.jid : s.jid.slice(0, slash);
    const resource = slash < 0 ? "" : s.jid.slice(slash);
    return h("tr", { "data-testid": "session-row", "data-jid": s.jid },
      h("td", { class: "primary", "data-label": "Session" },
        h("span", { class: "name" }, bare, h("span", { class: "jid-resource" }, resource)),
        s.remote && h("span", { class: "sub mono", "data-testid": "session-remote" }, s.remote)),
      h("td", { "data-label": "Transport" },
        s.transport ? h("span", { class: "badge" }, TRANSPORTS[s.transport] ?? s.transport) : h("span", { class: "muted" }, "—")),
      h("td", { "data-label": "Presence" }, h("span", { class: "cell" },
        h("span", { class: s.available ? "badge online" : "badge offline" }, s.available ? "Available" : "Unavailable"),
        s.available && s.priority !== 0 ? h("span", { class: "muted small" }, `priority ${s.priority}`) : null,
        s.detached ? h("span", { class: "badge warn", title: "Its connection is gone; it waits for stream-management resumption (XEP-0198)" }, "Detached") : null)),
      h("td", { "data-label": "Connected" }, time(s.connected_since)),
      h("td", { "data-label": "Last activity" }, time(s.last_active)),
      h("td", { class: "actions" },
        h("button", { type: "button", class: "button danger-outline", "data-testid": "kick", "data-jid": s.jid,
          "aria-label": `Kick ${s.jid}`, on: { click: () => this.confirm(s.jid) } }, "Kick")));
  }

  confirm(jid) {
    this.pending = jid;
    const text = $("confirm-text");
    text.replaceChildren(
      h("strong", {}, jid),
      " is disconnected with a stream error (policy-violation). A device that reconnects by itself comes back: " +
        "change its password or remove its account to keep it out.");
    $("confirm-ok").disabled = false;
    this.dialog.showModal();
    $("confirm-cancel").focus();
  }

  async kick() {
    const jid = this.pending;
    if (!jid) return;
    $("confirm-ok").disabled = true;
    try {
      await del("/api/v1/sessions/" + encodeURIComponent(jid));
      this.toast(`Kicked ${jid}`);
    } catch (err) {
      if (err.code === "not_found") this.toast(`${jid} had already gone`);
      else this.report(err);
    } finally {
      this.dialog.close();
    }
    await this.refresh().catch(this.report);
  }

  clear() {
    this.data = null;
    this.filter.value = "";
    this.pager.reset();
    if (this.dialog.open) this.dialog.close();
    keyed(this.rows, [], () => "", () => null);
    $("sessions-summary").textContent = "";
  }
}
