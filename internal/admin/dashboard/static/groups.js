// groups.js: the device groups (GET /api/v1/groups) as tiles, and the
// chosen one (#groups/NAME, the first by default) live: a table of its
// members' latest readings (GET /api/v1/groups/{group}, every poll), one
// column per field, and, when the readings carry a position (numeric
// fields latitude and longitude), the fleet plot.
//
// A member's latest item is a reading, its last will or an alarm
// (sensordata.js). When it is not a reading, the node's recent items
// (GET /api/v1/pubsub/nodes/{node}/items) are read, once for that item,
// for the reading before it: the table keeps the device's values and the
// plot its last position. What the page learns stays in the browser while
// it is open: each device's latest reading, its recent positions (the
// plot's trails) and its alarms with their normal ranges; a field stays
// in alarm until a later reading is back in the range.

import { $, h, keyed, replace, time, count } from "./dom.js";
import { get, query } from "./api.js";
import { parseItem, num, withUnit, fieldLabel } from "./sensordata.js";
import { FleetPlot } from "./plot.js";

const TRAIL = 12; // positions kept per device, the latest included
const HISTORY = 10; // items read for the reading before an alarm or a last will
const MAX_LOOKUPS = 16; // node reads per poll, at most; the rest wait for the next

export class Groups {
  constructor() {
    this.tiles = $("groups-list");
    this.rows = $("group-rows");
    this.columnsRow = $("group-columns");
    this.plot = new FleetPlot($("fleet-plot"));
    this.selected = ""; // the chosen group
    this.groups = null; // GET /api/v1/groups
    this.detail = null; // GET /api/v1/groups/{selected}, null while unknown or missing
    this.missing = false; // the chosen group has no devices (404)
    this.columns = []; // the chosen group's field names, in order of appearance
    this.known = new Map(); // device name -> what the page learnt of it (see learn)
  }

  // route shows the group named in the address (#groups/NAME); for none
  // (#groups), the one shown before, if any.
  route(name) {
    if (!name && this.selected) {
      history.replaceState(null, "", "#groups/" + encodeURIComponent(this.selected));
      return;
    }
    if (name === this.selected) return;
    this.selected = name;
    this.detail = null;
    this.missing = false;
    this.columns = [];
    this.render();
  }

  async refresh() {
    const r = await get("/api/v1/groups");
    this.groups = r.groups ?? [];
    if (!this.selected && this.groups.length > 0) {
      // The first group by default, in the address too.
      history.replaceState(null, "", "#groups/" + encodeURIComponent(this.groups[0].name));
      this.route(this.groups[0].name);
    }
    const name = this.selected;
    if (name) {
      let d = null;
      try {
        d = await get("/api/v1/groups/" + encodeURIComponent(name));
      } catch (err) {
        if (err.status !== 404) throw err;
      }
      if (d) await this.learn(d.devices ?? []);
      if (name !== this.selected) return; // another group was chosen meanwhile
      this.detail = d;
      this.missing = !d;
    }
    this.render();
  }

  // learn takes the members' latest items: a new reading is the device's
  // values (and a position of its trail); an alarm or a last will is its
  // status, and the reading before it is looked up.
  async learn(members) {
    const lookups = [];
    for (const m of members) {
      let k = this.known.get(m.name);
      if (!k) {
        k = { item: "", reading: null, status: null, alarms: new Map(), trail: [] };
        this.known.set(m.name, k);
      }
      const it = m.last_item;
      const sig = it ? `${it.id} ${it.published}` : "";
      if (sig === k.item) continue;
      const p = it ? parseItem(it.payload) : null;
      if (p?.kind === "reading") {
        take(k, it, p);
        k.status = null;
        k.item = sig;
        continue;
      }
      k.status = p;
      if (p?.kind === "alarm") alarm(k, it, p);
      if (!it) k.item = sig;
      else if (lookups.length < MAX_LOOKUPS) lookups.push(this.lookup(m.node, k, sig));
    }
    await Promise.all(lookups);
  }

  // lookup reads the node's recent items (newest first) for the latest
  // reading and the alarms since.
  async lookup(node, k, sig) {
    try {
      const r = await get("/api/v1/pubsub/nodes/" + encodeURIComponent(node) + "/items" + query({ limit: HISTORY }));
      for (const it of r.items ?? []) {
        const p = parseItem(it.payload);
        if (p?.kind === "alarm") alarm(k, it, p);
        if (p?.kind === "reading") {
          take(k, it, p);
          break;
        }
      }
    } catch (err) {
      // The server did not answer: again at the next poll. No such node
      // any more, pubsub is off: the status alone shows.
      if (err.status === 0 || (err.status >= 500 && err.status !== 503)) return;
    }
    k.item = sig; // looked up once per item
  }

  render() {
    const groups = this.groups ?? [];
    keyed(this.tiles, groups.map((g) => ({ ...g, current: g.name === this.selected })), (g) => g.name, tile);
    const members = groups.reduce((n, g) => n + g.members, 0);
    const online = groups.reduce((n, g) => n + g.online, 0);
    $("groups-summary").textContent = this.groups
      ? `${count(groups.length)} group${groups.length === 1 ? "" : "s"} · ${count(members)} device${members === 1 ? "" : "s"} · ${count(online)} online`
      : "";
    const empty = $("groups-empty");
    empty.hidden = !this.groups || groups.length > 0;
    empty.textContent = "No device groups yet. Provision devices into a group: “mote device provision NAME --group GROUP”, " +
      "or POST /api/v1/devices with a group.";

    const d = this.detail;
    $("group-detail").hidden = !this.selected || (!d && !this.missing);
    $("group-title").textContent = this.selected;
    $("group-sub").textContent = d
      ? `${d.node} · ${count(d.members)} device${d.members === 1 ? "" : "s"} · ${count(d.online)} online`
      : "";
    $("group-table-card").hidden = !d;
    const missing = $("group-missing");
    missing.hidden = !this.missing;
    missing.textContent = `There is no group “${this.selected}”: no device is in it.`;
    const devices = d?.devices ?? [];

    // The columns: the fields of every reading (and alarm), in the order
    // they first appeared; a column stays once seen.
    for (const m of devices) {
      const k = this.known.get(m.name);
      for (const f of k?.reading?.fields ?? []) if (!this.columns.includes(f.name)) this.columns.push(f.name);
      for (const f of k?.alarms.keys() ?? []) if (!this.columns.includes(f)) this.columns.push(f);
    }
    const heads = JSON.stringify(this.columns);
    if (this.columnsRow.dataset.columns !== heads) {
      this.columnsRow.dataset.columns = heads;
      replace(this.columnsRow, ["Device", "State", "Last reading"].map((c) => h("th", { scope: "col" }, c)),
        this.columns.map((c) => h("th", { scope: "col", class: "num", title: c }, fieldLabel(c))));
    }
    keyed(this.rows, devices.map((m) => this.model(m)), (r) => r.name, row);
    $("group-empty").hidden = devices.length > 0 || !d;

    // The plot: the devices with a position, when there are any.
    const plotted = [];
    for (const m of devices) {
      const k = this.known.get(m.name);
      const pos = k?.trail.at(-1);
      if (!pos) continue;
      const speed = k.reading?.fields.find((f) => f.name === "speed");
      plotted.push({ name: m.name, online: m.online, lat: pos[0], lon: pos[1], trail: k.trail.slice(0, -1),
        label: speed ? `${m.name} · ${withUnit(speed.value, speed.unit)}` : m.name });
    }
    $("fleet").hidden = plotted.length === 0;
    this.plot.set(plotted);
  }

  // model is the table row of member m, as data (keyed rebuilds a row
  // when it changes).
  model(m) {
    const k = this.known.get(m.name);
    const r = k?.reading;
    const values = new Map((r?.fields ?? []).map((f) => [f.name, f]));
    const cells = this.columns.map((name) => {
      const f = values.get(name);
      const cell = { name, label: fieldLabel(name), value: f ? withUnit(f.value, f.unit) : "", warning: !!f?.warning };
      const a = k?.alarms.get(name);
      if (a) {
        // An alarm newer than the reading has the field's latest value.
        const newer = !r || a.at > Date.parse(r.published);
        if (newer) cell.value = withUnit(a.value, f?.unit ?? "");
        const v = num(newer ? a.value : f?.value);
        cell.alarm = { range: range(a), dir: v !== null && a.high !== null && v > a.high ? "high" : "low" };
      }
      return cell;
    });
    const s = k?.status;
    return {
      name: m.name,
      online: !!m.online,
      lastWill: !m.online && s?.kind === "status" ? s.state || "offline" : "",
      other: s?.kind === "other" ? s.name : "",
      at: r?.published ?? "",
      alarms: cells.filter((c) => c.alarm).map((c) => c.name),
      cells,
    };
  }

  clear() {
    this.selected = "";
    this.groups = null;
    this.detail = null;
    this.missing = false;
    this.columns = [];
    this.known.clear();
    this.render();
  }
}

// take makes the reading of item it (parsed as p) the device's latest,
// unless it has a newer one; a position goes on the trail, and an alarm
// whose field is back in its range ends.
function take(k, it, p) {
  const at = Date.parse(it.published);
  if (k.reading && Date.parse(k.reading.published) > at) return;
  if (k.reading?.id === it.id && k.reading.published === it.published) return;
  k.reading = { id: it.id, published: it.published, fields: p.fields };
  const value = (name) => num(p.fields.find((f) => f.name === name && f.type === "numeric")?.value);
  const lat = value("latitude"), lon = value("longitude");
  if (lat !== null && lon !== null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
    const last = k.trail.at(-1);
    if (!last || last[0] !== lat || last[1] !== lon) k.trail.push([lat, lon]);
    if (k.trail.length > TRAIL) k.trail.splice(0, k.trail.length - TRAIL);
  }
  for (const [name, a] of k.alarms) {
    const v = value(name);
    if (a.at <= at && v !== null && (a.low === null || v >= a.low) && (a.high === null || v <= a.high)) k.alarms.delete(name);
  }
}

// alarm records the alarm of item it (parsed as p), unless a newer one
// of the field is known.
function alarm(k, it, p) {
  const at = Date.parse(it.published);
  if (!p.field || (k.alarms.get(p.field)?.at ?? -Infinity) > at) return;
  if (k.reading && Date.parse(k.reading.published) > at) {
    // Already superseded by a reading: an alarm only if that reading is
    // still out of the range.
    const v = num(k.reading.fields.find((f) => f.name === p.field)?.value);
    if (v === null || ((p.low === null || v >= p.low) && (p.high === null || v <= p.high))) return;
  }
  k.alarms.set(p.field, { value: p.value, low: p.low, high: p.high, at });
}

function range(a) {
  if (a.low !== null && a.high !== null) return `${a.low}–${a.high}`;
  if (a.low !== null) return `≥ ${a.low}`;
  return a.high !== null ? `≤ ${a.high}` : "";
}

function tile(g) {
  return h("a", { class: "card group-tile", href: "#groups/" + encodeURIComponent(g.name), "aria-current": g.current ? "true" : null,
    "data-testid": "group-tile", "data-group": g.name },
  h("span", { class: "group-name" }, g.name),
  h("span", { class: "group-node mono muted" }, g.node),
  h("span", { class: "group-count" },
    h("span", { class: g.online > 0 ? "badge online" : "badge offline" }, `${count(g.online)} online`),
    h("span", { class: "muted small" }, `of ${count(g.members)} device${g.members === 1 ? "" : "s"}`)));
}

function row(r) {
  let state;
  if (r.lastWill) {
    state = h("span", { class: "badge warn", "data-testid": "group-state", title: "The server published the device's last will: its connection was lost" },
      `${r.lastWill[0].toUpperCase()}${r.lastWill.slice(1)} (last will)`);
  } else {
    state = h("span", { class: r.online ? "badge online" : "badge offline", "data-testid": "group-state" }, r.online ? "Online" : "Offline");
  }
  return h("tr", { "data-testid": "group-row", "data-device": r.name, "data-online": String(r.online),
    "data-alarm": r.alarms.length ? r.alarms.join(" ") : null, class: r.alarms.length ? "alarm" : null },
  h("td", { class: "primary", "data-label": "Device" }, h("span", { class: "name" }, r.name)),
  h("td", { "data-label": "State" }, h("span", { class: "cell" },
    state,
    r.alarms.length > 0 && h("span", { class: "badge alarm", "data-testid": "group-alarm" }, "Alarm"),
    r.other && h("span", { class: "chip", title: "The latest item is of another kind" }, r.other))),
  h("td", { "data-label": "Last reading" }, time(r.at)),
  r.cells.map((c) => h("td", { "data-label": c.label, "data-field": c.name, "data-testid": "group-value",
    // A field the device does not report is left out of its phone card.
    class: ["num", c.alarm && "alarm", c.warning && "warning", !c.value && "na"].filter(Boolean).join(" "),
    title: c.alarm ? `Alarm: outside the normal range ${c.alarm.range}` : c.warning ? "The device flags this value" : null },
  c.value
    ? h("span", {}, c.alarm && h("span", { class: "alarm-dir", "aria-hidden": "true" }, c.alarm.dir === "high" ? "▲" : "▼"), c.value)
    : h("span", { class: "muted" }, "—"))));
}
