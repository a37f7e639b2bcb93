// app.js: the dashboard's shell: login with the admin token, hash
// routing between the views (#overview, #devices, #groups, #nodes,
// #sessions; #groups/NAME shows a group), and polling: every 2 s while
// the tab is visible, the statistics (for the overview's charts,
// whichever view shows) and the shown view.

import { $, updateTimes } from "./dom.js";
import { get, token, onUnauthorized } from "./api.js";
import { Overview } from "./overview.js";
import { Devices } from "./devices.js";
import { Groups } from "./groups.js";
import { Nodes } from "./nodes.js";
import { Sessions } from "./sessions.js";

const INTERVAL_MS = 2000;

const TITLES = { overview: "Overview", devices: "Devices", groups: "Groups", nodes: "Pubsub nodes", sessions: "Sessions" };

let views; // name -> view, made at the first sign-in
let current = "overview";
let signedIn = false;
let timer = 0;
let round = 0; // the poll under way; a newer one supersedes it

// report shows a failed request in the banner (a 401 has already sent
// the page back to the login form).
function report(err) {
  if (!signedIn || err?.status === 401) return;
  const banner = $("banner");
  banner.textContent = err?.message ? `Cannot update: ${err.message}` : "Cannot update";
  banner.hidden = false;
  live("error", err?.message);
}

function live(state, why) {
  const el = $("live");
  el.dataset.state = state;
  el.textContent = { ok: "Live", paused: "Paused", error: "Offline" }[state];
  el.title = why ?? el.textContent;
}

let toastTimer = 0;
function toast(msg) {
  const el = $("toast");
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 4000);
}

// poll refreshes the statistics and the shown view, then schedules the
// next poll; it does nothing while the tab is hidden.
async function poll() {
  clearTimeout(timer);
  if (!signedIn || document.hidden) return;
  const mine = ++round;
  try {
    const t = Date.now();
    const tasks = [get("/api/v1/stats").then((st) => views.overview.sample(st, t))];
    if (current !== "overview") tasks.push(views[current].refresh());
    await Promise.all(tasks);
    if (mine !== round || !signedIn) return;
    $("banner").hidden = true;
    live("ok");
    const st = views.overview.last;
    $("server-domain").textContent = st?.domain ?? "";
    $("server-version").textContent = st?.version ? `· mote ${st.version}` : "";
  } catch (err) {
    report(err);
  }
  updateTimes();
  if (mine === round && signedIn) timer = setTimeout(poll, INTERVAL_MS);
}

// route shows the view of the address: #VIEW, or #VIEW/ARG for a view
// that takes an argument (the group of #groups/NAME).
function route() {
  const hash = location.hash.slice(1);
  const slash = hash.indexOf("/");
  const name = slash < 0 ? hash : hash.slice(0, slash);
  let arg = "";
  try {
    arg = slash < 0 ? "" : decodeURIComponent(hash.slice(slash + 1));
  } catch {
    // not percent-encoded: no argument
  }
  if (!Object.hasOwn(TITLES, name)) {
    history.replaceState(null, "", "#overview");
    return route();
  }
  current = name;
  for (const v of Object.keys(TITLES)) $(`view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll(".nav a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${TITLES[name]} · mote`;
  if (signedIn) {
    views[name].route?.(arg);
    poll();
  }
}

function enter() {
  signedIn = true;
  views ??= {
    overview: new Overview(),
    devices: new Devices(report),
    groups: new Groups(),
    nodes: new Nodes(report),
    sessions: new Sessions({ report, toast }),
  };
  $("login").hidden = true;
  $("app").hidden = false;
  live("ok");
  route();
}

// leave returns to the login form, forgetting the token and what the
// views showed.
function leave(message) {
  signedIn = false;
  clearTimeout(timer);
  round++;
  token.clear();
  if (views) for (const v of Object.values(views)) v.clear?.();
  $("banner").hidden = true;
  $("app").hidden = true;
  $("login").hidden = false;
  const err = $("login-error");
  err.textContent = message ?? "";
  err.hidden = !message;
  $("token-input").focus();
}

async function signIn(e) {
  e.preventDefault();
  const input = $("token-input");
  const err = $("login-error");
  const tok = input.value.trim();
  if (!tok) {
    err.textContent = "Enter the admin token.";
    err.hidden = false;
    return;
  }
  const button = $("login-submit");
  button.disabled = true;
  err.hidden = true;
  try {
    await get("/api/v1/stats", { tok });
    token.set(tok);
    input.value = "";
    enter();
  } catch (e) {
    err.textContent = e.status === 401 ? "Wrong token: the server refused it." : `Cannot sign in: ${e.message}`;
    err.hidden = false;
    input.select();
  } finally {
    button.disabled = false;
  }
}

onUnauthorized(() => leave("The server no longer accepts the token. Sign in again."));
$("login-form").addEventListener("submit", signIn);
$("logout").addEventListener("click", () => leave());
window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => {
  if (!signedIn) return;
  if (document.hidden) {
    clearTimeout(timer);
    round++;
    views.overview.pause();
    live("paused");
  } else {
    poll();
  }
});

// A token in this tab's session storage signs in again (after a reload).
if (token.get()) {
  get("/api/v1/stats")
    .then(() => enter())
    .catch((err) => (err.status === 401 ? null : enter())); // 401: leave() ran
} else {
  leave();
}
