// plot.js: the fleet plot: devices' positions (latitude, longitude) drawn
// on a <canvas> without a map: a scatter plot with x = longitude and
// y = latitude, equally scaled on the ground (a degree of longitude is
// cos(latitude) as long as one of latitude), the bounds fitted to the
// positions with some padding. Each device is a dot with its name (and
// speed) and a short trail of its recent positions; offline devices are
// grey. Colours come from CSS custom properties on the canvas (--series-1,
// --offline, --grid, --axis, --text, --surface), so the theme styles it.

import { canvas2d } from "./dom.js";

const METRES_PER_DEGREE = 111_320; // of latitude (and of longitude at the equator)
const MIN_SPAN = 0.002; // degrees (about 200 m): the smallest view, around one device

export class FleetPlot {
  constructor(canvas) {
    this.canvas = canvas;
    this.devices = [];
    new ResizeObserver(() => this.draw()).observe(canvas);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.draw());
  }

  // set takes the devices to draw: [{name, lat, lon, online, label,
  // trail: [[lat, lon], ...] oldest first, ending at the position}].
  set(devices) {
    this.devices = devices;
    // For tests (and the curious): what the plot shows.
    this.canvas.dataset.devices = devices.length;
    this.canvas.dataset.online = devices.filter((d) => d.online).length;
    this.canvas.dataset.trail = devices.reduce((n, d) => n + d.trail.length, 0);
    this.canvas.setAttribute("aria-label", `Positions of ${devices.length} device${devices.length === 1 ? "" : "s"}: ` +
      devices.map((d) => `${d.label} at ${d.lat}, ${d.lon}${d.online ? "" : " (offline)"}`).join("; "));
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const cv = canvas2d(c);
    if (!cv) return; // hidden
    const { g, w, hgt, css, color } = cv;
    if (this.devices.length === 0) return;
    const online = color("--series-1", "#0d9488");
    const offline = color("--offline", "#9ca3af");
    const text = color("--text", "#111827");
    const muted = color("--axis", "#6b7280");
    const surface = color("--surface", "#ffffff");
    g.font = `12px ${css.fontFamily}`;

    // The bounds of every position, trails included, at least MIN_SPAN
    // wide and high, with a tenth of padding on each side.
    let s = Infinity, n = -Infinity, west = Infinity, east = -Infinity;
    for (const d of this.devices) {
      for (const [la, lo] of d.trail.concat([[d.lat, d.lon]])) {
        s = Math.min(s, la);
        n = Math.max(n, la);
        west = Math.min(west, lo);
        east = Math.max(east, lo);
      }
    }
    const midLat = (s + n) / 2, midLon = (west + east) / 2;
    const k = Math.max(0.05, Math.cos((midLat * Math.PI) / 180)); // ground length of a degree of longitude
    const latFit = Math.max(n - s, MIN_SPAN) * 1.2;
    const lonFit = Math.max(east - west, MIN_SPAN / k) * 1.2;

    // The plot area, then the spans widened so that both axes have the
    // same ground scale and fill it. The left margin fits the latitudes'
    // labels, which depend on the scale (a second pass when they are
    // wider than guessed); on a narrow canvas they go inside the plot,
    // over their grid lines, leaving the width to the positions.
    const inside = w < 520;
    const padR = 12, padT = 12, padB = 26;
    const ph = Math.max(10, hgt - padT - padB);
    const layout = (padL) => {
      const pw = Math.max(10, w - padL - padR);
      const scale = Math.min(pw / (lonFit * k), ph / latFit); // pixels per degree of latitude
      const L = { padL, pw, scale, lonSpan: pw / (scale * k), latSpan: ph / scale };
      L.lon0 = midLon - L.lonSpan / 2;
      L.lat0 = midLat - L.latSpan / 2;
      L.latStep = niceBelow(L.latSpan / Math.max(2, Math.floor(ph / 70)));
      L.lonStep = niceBelow(L.lonSpan / Math.max(2, Math.floor(pw / 100)));
      L.latLabels = [];
      for (let la = Math.ceil(L.lat0 / L.latStep) * L.latStep; la <= L.lat0 + L.latSpan; la += L.latStep) {
        L.latLabels.push([la, degrees(la, L.latStep, "N", "S")]);
      }
      L.need = 12 + Math.max(0, ...L.latLabels.map(([, t]) => g.measureText(t).width));
      return L;
    };
    let L = layout(inside ? 8 : 12 + g.measureText("00.000° N").width);
    if (!inside && L.need > L.padL) L = layout(L.need);
    const { padL, pw, scale, lon0, lat0, lonStep, lonSpan } = L;
    const x = (lo) => padL + (lo - lon0) * scale * k;
    const y = (la) => padT + ph - (la - lat0) * scale;
    const taken = []; // boxes of the labels drawn, which the devices' labels keep off
    const overlaps = (r) => taken.some((o) => r.x < o.x + o.w && o.x < r.x + r.w && r.y < o.y + o.h && o.y < r.y + r.h);

    // Grid lines at round degrees, the longitudes labelled below.
    g.lineWidth = 1;
    g.strokeStyle = color("--grid", "#e5e7eb");
    g.fillStyle = muted;
    for (const [la] of L.latLabels) {
      const yy = Math.round(y(la)) + 0.5;
      g.beginPath();
      g.moveTo(padL, yy);
      g.lineTo(padL + pw, yy);
      g.stroke();
    }
    g.textAlign = "center";
    g.textBaseline = "alphabetic";
    let right = -Infinity; // the end of the last longitude's label: the next keeps off
    for (let lo = Math.ceil(lon0 / lonStep) * lonStep; lo <= lon0 + lonSpan; lo += lonStep) {
      const xx = Math.round(x(lo)) + 0.5;
      g.beginPath();
      g.moveTo(xx, padT);
      g.lineTo(xx, padT + ph);
      g.stroke();
      const label = degrees(lo, lonStep, "E", "W");
      const half = g.measureText(label).width / 2;
      if (xx - half >= Math.max(0, right + 10) && xx + half <= w) {
        g.fillText(label, xx, hgt - 8);
        right = xx + half;
      }
    }
    g.strokeRect(padL + 0.5, padT + 0.5, pw - 1, ph - 1);

    g.save();
    g.beginPath();
    g.rect(padL, padT, pw, ph);
    g.clip();
    // The latitudes on their lines when inside.
    g.textAlign = "left";
    g.textBaseline = "middle";
    for (const [la, label] of inside ? L.latLabels : []) {
      const yy = Math.round(y(la)) + 0.5;
      if (yy - 16 < padT) continue;
      halo(g, surface, label, padL + 5, yy - 8, "left");
      g.fillStyle = muted;
      g.fillText(label, padL + 5, yy - 8);
      taken.push({ x: padL + 3, y: yy - 16, w: g.measureText(label).width + 4, h: 15 });
    }
    // A scale bar, bottom right, under the devices: a round distance at
    // most a quarter as wide.
    const metresPerPx = METRES_PER_DEGREE / scale;
    const metres = niceBelow(metresPerPx * pw * 0.25);
    const barW = metres / metresPerPx;
    const bx = padL + pw - 12 - barW, by = padT + ph - 10;
    const barText = metres >= 1000 ? `${+(metres / 1000).toFixed(1)} km` : `${metres} m`;
    g.globalAlpha = 0.8;
    g.fillStyle = surface;
    g.fillRect(bx - 6, by - 22, barW + 12, 26);
    g.globalAlpha = 1;
    g.strokeStyle = muted;
    g.lineWidth = 2;
    g.lineCap = "butt";
    g.beginPath();
    g.moveTo(bx, by - 5);
    g.lineTo(bx, by);
    g.lineTo(bx + barW, by);
    g.lineTo(bx + barW, by - 5);
    g.stroke();
    g.fillStyle = muted;
    g.textAlign = "center";
    g.textBaseline = "alphabetic";
    g.fillText(barText, bx + barW / 2, by - 8);
    taken.push({ x: bx - 6, y: by - 22, w: barW + 12, h: 26 });

    // Offline devices first, under the online ones.
    const order = [...this.devices].sort((a, b) => Number(a.online) - Number(b.online));
    // Trails: a line through the recent positions to the latest, fading
    // with age.
    g.lineJoin = "round";
    g.lineCap = "round";
    for (const d of order) {
      const pts = d.trail.concat([[d.lat, d.lon]]).map(([la, lo]) => [x(lo), y(la)]);
      g.strokeStyle = d.online ? online : offline;
      g.fillStyle = g.strokeStyle;
      g.lineWidth = 2;
      for (let i = 1; i < pts.length; i++) {
        g.globalAlpha = 0.2 + (0.5 * i) / pts.length;
        g.beginPath();
        g.moveTo(...pts[i - 1]);
        g.lineTo(...pts[i]);
        g.stroke();
      }
      for (let i = 0; i < pts.length - 1; i++) {
        g.globalAlpha = 0.35 + (0.5 * i) / pts.length;
        g.beginPath();
        g.arc(pts[i][0], pts[i][1], 2.5, 0, 2 * Math.PI);
        g.fill();
      }
      g.globalAlpha = 1;
    }
    // Dots, ringed so that close ones stay apart.
    for (const d of order) {
      g.beginPath();
      g.arc(x(d.lon), y(d.lat), 5.5, 0, 2 * Math.PI);
      g.fillStyle = d.online ? online : offline;
      g.fill();
      g.lineWidth = 2;
      g.strokeStyle = surface;
      g.stroke();
      taken.push({ x: x(d.lon) - 6, y: y(d.lat) - 6, w: 12, h: 12 });
    }

    // Labels beside the dots, where they overlap no other label (or
    // none at all: the dot stays), with a halo over the trails.
    g.textAlign = "left";
    g.textBaseline = "middle";
    for (const d of [...order].reverse()) {
      const px = x(d.lon), py = y(d.lat);
      const tw = g.measureText(d.label).width, th = 14;
      const spot = [
        { x: px + 9, y: py - th / 2 },
        { x: px - 9 - tw, y: py - th / 2 },
        { x: px - tw / 2, y: py - 10 - th },
        { x: px - tw / 2, y: py + 10 },
      ].map((r) => ({ ...r, w: tw, h: th })).find((r) =>
        r.x >= padL + 2 && r.x + tw <= padL + pw - 2 && r.y >= padT + 2 && r.y + th <= padT + ph - 2 && !overlaps(r));
      if (!spot) continue;
      taken.push(spot);
      halo(g, surface, d.label, spot.x, spot.y + th / 2, "left");
      g.fillStyle = d.online ? text : muted;
      g.fillText(d.label, spot.x, spot.y + th / 2);
    }
    g.restore();

    // The latitudes beside the plot.
    if (!inside) {
      g.fillStyle = muted;
      g.textAlign = "right";
      g.textBaseline = "middle";
      for (const [la, label] of L.latLabels) g.fillText(label, padL - 6, Math.round(y(la)) + 0.5);
    }
  }
}

// halo outlines text in the background colour, so that it reads over
// lines.
function halo(g, colour, text, x, y, align) {
  g.save();
  g.textAlign = align;
  g.lineWidth = 3;
  g.lineJoin = "round";
  g.strokeStyle = colour;
  g.strokeText(text, x, y);
  g.restore();
}

// niceBelow returns 1, 2 or 5 times a power of ten, at or below v.
function niceBelow(v) {
  if (!(v > 0)) return 1;
  const pow = 10 ** Math.floor(Math.log10(v));
  return [5, 2, 1].map((m) => m * pow).find((s) => s <= v * 1.001);
}

// degrees formats a coordinate with as many decimals as step needs:
// "52.52° N", "0.004° W", "0°".
function degrees(v, step, pos, neg) {
  const dec = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  const s = Math.abs(v).toFixed(dec);
  if (Number(s) === 0) return "0°";
  return `${s}° ${v > 0 ? pos : neg}`;
}
