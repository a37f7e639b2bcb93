// overview.js: the figures of GET /api/v1/stats as cards, and two live
// charts of rates computed from the counters' deltas between polls:
// messages in and out (stats.stanzas.in/out.message) and pubsub
// publishes and deliveries (stats.pubsub.publishes/deliveries).

import { $, bytes, count, duration, absolute, rate } from "./dom.js";
import { LineChart } from "./chart.js";

const WINDOW_MS = 5 * 60_000;
// A longer pause between two samples (the tab was hidden, the server
// did not answer) leaves a gap in the lines rather than a bridge.
const MAX_GAP_MS = 10_000;

export class Overview {
  constructor() {
    this.messages = new LineChart($("chart-messages"), [{ key: "in" }, { key: "out" }], { windowMs: WINDOW_MS });
    this.pubsub = new LineChart($("chart-pubsub"), [{ key: "publishes" }, { key: "deliveries" }], { windowMs: WINDOW_MS });
    this.prev = null; // {t, uptime, counters}
    this.last = null; // the latest stats
  }

  // sample takes a stats response polled at time t (ms): it updates the
  // rates and the cards.
  sample(st, t) {
    const c = {
      in: st.stanzas?.in?.message ?? 0,
      out: st.stanzas?.out?.message ?? 0,
      publishes: st.pubsub?.publishes ?? 0,
      deliveries: st.pubsub?.deliveries ?? 0,
    };
    const p = this.prev;
    if (p && t <= p.t) return; // an older poll answering late
    this.last = st;
    // The server's uptime is the clock of the counters; a smaller uptime
    // or counter means the server restarted.
    const dt = p ? st.uptime_seconds - p.uptime : 0;
    const restarted = p && (dt < 0 || Object.keys(c).some((k) => c[k] < p.counters[k]));
    if (p && !restarted && dt < 0.5) {
      // Too close to the previous sample for a rate (a view change
      // polls at once): keep the previous one as the base.
      this.render();
      return;
    }
    this.prev = { t, uptime: st.uptime_seconds, counters: c };
    if (p) {
      if (restarted || t - p.t > MAX_GAP_MS) {
        this.messages.gap(t);
        this.pubsub.gap(t);
      } else {
        const r = (k) => (c[k] - p.counters[k]) / dt;
        this.rates = { in: r("in"), out: r("out"), publishes: r("publishes"), deliveries: r("deliveries") };
        this.messages.push(t, { in: this.rates.in, out: this.rates.out });
        this.pubsub.push(t, { publishes: this.rates.publishes, deliveries: this.rates.deliveries });
      }
    }
    this.render();
  }

  // pause marks that polling stopped (the tab is hidden).
  pause() {
    this.prev = null;
    this.messages.gap(Date.now());
    this.pubsub.gap(Date.now());
  }

  render() {
    const st = this.last;
    if (!st) return;
    $("stat-connections").textContent = count(st.connections);
    const pending = st.connections - st.sessions;
    $("stat-connections-note").textContent = pending > 0 ? `${count(pending)} not bound yet` : "all bound";
    $("stat-sessions").textContent = count(st.sessions);
    $("stat-accounts").textContent = count(st.accounts);
    $("stat-nodes").textContent = st.pubsub?.service ? count(st.pubsub.nodes) : "—";
    $("stat-nodes-note").textContent = st.pubsub?.service || "pubsub is off";
    $("stat-uptime").textContent = duration(st.uptime_seconds);
    $("stat-started").textContent = st.started ? `since ${since(st.started)}` : "";
    $("stat-started").title = absolute(st.started);
    $("stat-heap").textContent = bytes(st.go?.heap_bytes ?? 0);
    $("stat-heap-note").textContent = st.go ? `${count(st.go.goroutines)} goroutines` : "";
    $("overview-sub").textContent = [st.domain, st.version && `mote ${st.version}`, st.go?.version].filter(Boolean).join(" · ");
    const r = this.rates ?? {};
    $("rate-msg-in").textContent = rate(r.in);
    $("rate-msg-out").textContent = rate(r.out);
    $("rate-publishes").textContent = rate(r.publishes);
    $("rate-deliveries").textContent = rate(r.deliveries);
    this.messages.draw();
    this.pubsub.draw();
  }
}

// since formats the start time: the time of day if today, else the date.
function since(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toDateString() === new Date().toDateString()
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" });
}
