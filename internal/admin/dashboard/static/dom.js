// dom.js: building the page safely, and formatting.
//
// Every piece of data from the server reaches the page through h() or
// text(), which create text nodes: no markup is ever parsed from data
// (nothing assigns markup), so a username or a payload cannot inject
// script or markup.

// h creates an element. attrs sets attributes (class, data-*, aria-*,
// ...) and event handlers (on: {click: fn}); children are nodes or
// strings (as text), null and false are skipped, arrays are flattened.
export function h(tag, attrs, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "on") {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === "style") {
      throw new Error("dom: no style attributes (the CSP forbids them); use a class");
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace replaces the children of el.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// $ returns the element with the ID.
export const $ = (id) => document.getElementById(id);

// relative formats a time as "12 s ago" ("in 3 s" in the future, which
// a clock skew can produce), or "—" when there is none.
export function relative(t, now = Date.now()) {
  if (!t) return "—";
  const ms = now - new Date(t).getTime();
  if (Number.isNaN(ms)) return "—";
  const s = Math.round(Math.abs(ms) / 1000);
  let v;
  if (s < 5 && ms >= 0) return "just now";
  if (s < 60) v = `${s} s`;
  else if (s < 3600) v = `${Math.floor(s / 60)} min`;
  else if (s < 86400) v = `${Math.floor(s / 3600)} h`;
  else v = `${Math.floor(s / 86400)} d`;
  return ms >= 0 ? `${v} ago` : `in ${v}`;
}

// absolute formats a time for a tooltip.
export function absolute(t) {
  if (!t) return "";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

// duration formats seconds as "3 d 4 h", "2 h 5 min", "4 min 2 s".
export function duration(sec) {
  sec = Math.max(0, Math.floor(sec));
  const d = Math.floor(sec / 86400), hr = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60), s = sec % 60;
  if (d > 0) return `${d} d ${hr} h`;
  if (hr > 0) return `${hr} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

// bytes formats a byte count in binary units.
export function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

// count formats an integer with grouping.
export const count = (n) => (typeof n === "number" ? n.toLocaleString("en") : "—");

// rate formats a per-second rate.
export function rate(r) {
  if (r === null || r === undefined || Number.isNaN(r)) return "—";
  if (r === 0) return "0";
  if (r < 10) return r.toFixed(1);
  return Math.round(r).toLocaleString("en");
}

const keys = new WeakMap(); // container -> Map(key -> {sig, el})

// keyed makes container's children one element per item, in order,
// reusing the element of an item whose data did not change since the
// last call: a refresh then leaves untouched what did not change (a
// button under the pointer stays the same element).
export function keyed(container, items, key, render) {
  const old = keys.get(container) ?? new Map();
  const next = new Map();
  const els = items.map((it) => {
    const k = key(it);
    const sig = JSON.stringify(it);
    let e = old.get(k);
    if (!e || e.sig !== sig) e = { sig, el: render(it) };
    next.set(k, e);
    return e.el;
  });
  keys.set(container, next);
  const cur = container.children;
  if (cur.length !== els.length || els.some((el, i) => cur[i] !== el)) container.replaceChildren(...els);
}

// time is a <time> showing t relative to now, kept current by
// updateTimes; its tooltip is the absolute time.
export function time(t) {
  if (!t) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: t, "data-time": t, title: absolute(t) }, relative(t));
}

// updateTimes refreshes the relative times under root.
export function updateTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll("[data-time]")) {
    const s = relative(el.dataset.time, now);
    if (el.textContent !== s) el.textContent = s;
  }
}

// canvas2d sizes canvas for its CSS box at the device's pixel ratio and
// returns a cleared 2D context drawing in CSS pixels, with the box's
// width and height and a reader of the canvas's CSS custom properties;
// null while the canvas is hidden.
export function canvas2d(canvas) {
  const w = canvas.clientWidth, hgt = canvas.clientHeight;
  if (w === 0 || hgt === 0) return null;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, hgt);
  const css = getComputedStyle(canvas);
  const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return { g, w, hgt, css, color };
}
