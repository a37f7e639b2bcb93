// chart.js: a small live line chart drawn on a <canvas>: a moving time
// window (the last few minutes, "now" at the right edge), one line per
// series, gaps where a sample is missing (null), a y axis scaled to a
// round maximum. Colours come from CSS custom properties on the canvas
// (--series-1, --series-2, --grid, --axis), so the theme styles it.

import { canvas2d } from "./dom.js";

export class LineChart {
  // series: [{key, label}]; windowMs: the visible span.
  constructor(canvas, series, { windowMs = 5 * 60_000 } = {}) {
    this.canvas = canvas;
    this.series = series;
    this.windowMs = windowMs;
    this.points = []; // {t (ms), v: {key: number|null}}, oldest first
    new ResizeObserver(() => this.draw()).observe(canvas);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.draw());
  }

  // push adds a sample at time t (ms since the epoch) and drops those
  // that left the window.
  push(t, values) {
    this.points.push({ t, v: values });
    const oldest = t - this.windowMs - 10_000;
    while (this.points.length > 0 && this.points[0].t < oldest) this.points.shift();
    // For tests (and the curious): how many samples the chart holds.
    this.canvas.dataset.samples = this.points.filter((p) => Object.keys(p.v).length > 0).length;
  }

  // gap ends the lines (after a pause, say) so that no line bridges it.
  gap(t) {
    this.push(t, {});
  }

  draw(now = Date.now()) {
    const c = this.canvas;
    const cv = canvas2d(c);
    if (!cv) return; // hidden
    const { g, w, hgt, css, color } = cv;
    const font = `12px ${css.fontFamily}`;
    g.font = font;

    // The window grows with the history, from half a minute to
    // windowMs, so that a page opened a moment ago shows its few samples
    // wide.
    const first = this.points.find((p) => Object.keys(p.v).length > 0);
    const span = Math.min(this.windowMs, Math.max(30_000, Math.ceil((now - (first?.t ?? now)) / 30_000) * 30_000));
    const t0 = now - span;
    let max = 0;
    for (const p of this.points) {
      if (p.t < t0) continue;
      for (const s of this.series) if (p.v[s.key] > max) max = p.v[s.key];
    }
    const { top, step } = scale(max);
    const label = (v) => String(+v.toFixed(2));
    const padL = Math.max(...[0, top / 2, top].map((v) => g.measureText(label(v)).width)) + 12;
    const padR = 8, padT = 8, padB = 22;
    const pw = w - padL - padR, ph = hgt - padT - padB;
    const x = (t) => padL + ((t - t0) / span) * pw;
    const y = (v) => padT + ph - (v / top) * ph;

    // Grid and y labels.
    g.lineWidth = 1;
    g.strokeStyle = color("--grid", "#e5e7eb");
    g.fillStyle = color("--axis", "#6b7280");
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let v = 0; v <= top + step / 2; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      g.beginPath();
      g.moveTo(padL, yy);
      g.lineTo(padL + pw, yy);
      g.stroke();
      g.fillText(label(v), padL - 6, yy);
    }
    // Time labels, fewer when narrow.
    g.textBaseline = "alphabetic";
    const most = pw < 360 ? 3 : 6;
    const every = [10e3, 15e3, 30e3, 60e3, 120e3, 300e3].find((d) => span / d <= most) ?? span;
    for (let ago = 0; ago <= span; ago += every) {
      g.textAlign = ago === 0 ? "right" : ago >= span ? "left" : "center";
      const text = ago === 0 ? "now" : ago < 60_000 ? `−${ago / 1000} s` : `−${ago / 60_000} min`;
      g.fillText(text, x(now - ago), hgt - 6);
    }

    // Lines, each with a faint area under it.
    g.save();
    g.beginPath();
    g.rect(padL, padT - 2, pw, ph + 4);
    g.clip();
    this.series.forEach((s, i) => {
      const stroke = color(`--series-${i + 1}`, i === 0 ? "#2563eb" : "#f59e0b");
      const runs = [];
      let run = [];
      for (const p of this.points) {
        const v = p.v[s.key];
        if (v === null || v === undefined) {
          if (run.length) runs.push(run);
          run = [];
        } else run.push([x(p.t), y(v)]);
      }
      if (run.length) runs.push(run);
      for (const r of runs) {
        g.beginPath();
        r.forEach(([px, py], j) => (j ? g.lineTo(px, py) : g.moveTo(px, py)));
        g.lineJoin = "round";
        g.lineWidth = 2;
        g.strokeStyle = stroke;
        // The second series is dashed: where the two coincide, both show.
        g.setLineDash(i === 0 ? [] : [6, 4]);
        g.stroke();
        g.setLineDash([]);
        if (r.length > 1) {
          g.lineTo(r[r.length - 1][0], y(0));
          g.lineTo(r[0][0], y(0));
          g.closePath();
          g.globalAlpha = 0.1;
          g.fillStyle = stroke;
          g.fill();
          g.globalAlpha = 1;
        } else {
          g.fillStyle = stroke;
          g.beginPath();
          g.arc(r[0][0], r[0][1], 2, 0, 2 * Math.PI);
          g.fill();
        }
      }
    });
    g.restore();
  }
}

// scale returns a round top for the y axis at or above max, and the step
// of four grid lines: steps of 1, 2 or 5 times a power of ten.
function scale(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 4;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= raw);
  return { top: step * 4, step };
}
