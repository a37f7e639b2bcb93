// e2e.mjs CONFIG_JSON
//
// Drives the dashboard in Debian's headless Chromium (playwright-core from
// npm, the pinned version in package-lock.json, with the system's
// browser), step by step with the Go test (../../browser_test.go) over
// stdin and stdout. The protocol is lines:
//
//   script -> test   STEP <name>     the script reached <name> and waits;
//                                    the test acts (connects a device,
//                                    publishes, checks the kick) and
//   test -> script   GO              answers; the script goes on.
//   script -> test   SHOT <file>     a screenshot was saved
//   script -> test   LOG <text>      for the test's log
//   script -> test   DONE            every step passed (exit status 0)
//
// Failures go to stderr as "FAIL: ..." with a screenshot fail-*.png, and
// the exit status is 1. CONFIG_JSON is {url, token, chromium, out, device,
// resource, node, value, fleet, ward, truck, lost, revoked, monitor,
// alarmed, track}: the groups, the provisioned devices the script checks
// and the latitudes the truck reports, step by step.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { join } from "node:path";

const cfg = JSON.parse(process.argv[2] ?? "{}");
for (const k of ["url", "token", "chromium", "out", "device", "resource", "node", "value", "fleet", "ward", "truck", "lost",
  "revoked", "monitor", "alarmed", "track"]) {
  if (!cfg[k]) {
    console.error(`usage: e2e.mjs CONFIG_JSON (missing ${k})`);
    process.exit(2);
  }
}
const deviceJID = `${cfg.device}/${cfg.resource}`;
const username = cfg.device.split("@")[0];

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
let step = "start";

// sync tells the test we reached name and waits for its GO.
async function sync(name) {
  step = name;
  console.log(`STEP ${name}`);
  const { value, done } = await lines.next();
  if (done) throw new Error(`stdin closed at step ${name}`);
  if (value.trim() !== "GO") throw new Error(`at step ${name} the test said ${JSON.stringify(value)}`);
}

const log = (...a) => console.log("LOG", ...a);

let shotPage = null; // the page a failure screenshot shows
// shot saves a screenshot of the whole page, or of the viewport only
// (for a modal dialog, whose backdrop covers the viewport), or of one
// element.
async function shot(page, name, { fullPage = true, element = null } = {}) {
  const file = join(cfg.out, `${name}.png`);
  if (element) await element.screenshot({ path: file, animations: "disabled" });
  else await page.screenshot({ path: file, fullPage, animations: "disabled" });
  console.log(`SHOT ${file}`);
}

// Every wait has a bound: playwright's default timeout per action, and a
// watchdog over the whole run (the Go test kills the process later).
const watchdog = setTimeout(() => {
  console.error(`FAIL: the script timed out at step ${step}`);
  process.exit(1);
}, 50_000);

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  timeout: 20_000,
});

// newPage opens a page in a fresh context (fresh sessionStorage) that
// fails the run on a page error or a console error (a CSP violation
// shows as one).
async function newPage(viewport, extra = {}) {
  const ctx = await browser.newContext({ viewport, colorScheme: "light", ...extra });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  const problems = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (m) => {
    // The wrong-token login is a 401 on purpose; the browser reports it.
    if (m.type() === "error" && !/status of 401/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.problems = problems;
  shotPage = page;
  return page;
}

function clean(page) {
  if (page.problems.length) throw new Error(page.problems.join("\n"));
}

async function login(page) {
  await page.locator("#token-input").fill(cfg.token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("view-overview").waitFor();
}

async function view(page, name) {
  await page.locator(`.nav a[data-view="${name}"]`).click();
  await page.getByTestId(`view-${name}`).waitFor();
}

const deviceRow = (page, online) =>
  page.locator(`[data-testid="device-row"][data-username="${username}"][data-online="${online}"]`);
const sessionRow = (page) => page.locator(`[data-testid="session-row"][data-jid="${deviceJID}"]`);
const nodeCard = (page) => page.locator(`[data-testid="node-card"][data-node="${cfg.node}"]`);
const accountRow = (page, name) => page.locator(`[data-testid="device-row"][data-username="${name}"]`);
const groupRow = (page, name) => page.locator(`[data-testid="group-row"][data-device="${name}"]`);
const cell = (page, name, field) => groupRow(page, name).locator(`[data-field="${field}"]`);
const plot = (page) => page.getByTestId("fleet-plot");

// latitude waits until the truck's row shows its latitude at step i of
// its track.
async function latitude(page, i) {
  await cell(page, cfg.truck, "latitude").filter({ hasText: new RegExp(`^${cfg.track[i].replace(".", "\\.")}$`) }).waitFor();
}

// group chooses a group by its tile.
async function group(page, name) {
  await page.locator(`[data-testid="group-tile"][data-group="${name}"]`).click();
  await page.locator(`[data-testid="group-tile"][data-group="${name}"][aria-current="true"]`).waitFor();
  await page.locator("#group-title").filter({ hasText: name }).waitFor();
}

// provisioned checks the provisioned devices on the Devices page: the
// truck with its group and a certificate valid for two years, the
// revoked sensor flagged.
async function provisioned(page) {
  const truck = accountRow(page, cfg.truck);
  await truck.and(page.locator('[data-kind="device"][data-online="true"]')).waitFor();
  const groupName = await truck.getByTestId("device-group").textContent();
  if (groupName !== cfg.fleet) throw new Error(`the truck's group: ${groupName}`);
  const cert = truck.getByTestId("device-cert");
  const when = await cert.getByTestId("device-cert-when").textContent();
  if ((await cert.getAttribute("data-cert")) !== "ok" || !/^In 7[23]\d days$/.test(when)) {
    throw new Error(`the truck's certificate: ${await cert.textContent()}`);
  }
  if (!(await cert.textContent()).includes(String(new Date().getFullYear() + 2))) {
    throw new Error(`the truck's certificate date: ${await cert.textContent()}`);
  }
  const revoked = accountRow(page, cfg.revoked).getByTestId("device-cert");
  if ((await revoked.getAttribute("data-cert")) !== "revoked") throw new Error(`the revoked certificate: ${await revoked.textContent()}`);
  // A plain account shows no certificate.
  if ((await accountRow(page, username).getAttribute("data-kind")) !== "account" ||
    (await accountRow(page, username).getByTestId("device-cert").count()) !== 0) {
    throw new Error("a plain account shows as a device");
  }
}

try {
  // Desktop.
  let page = await newPage({ width: 1280, height: 800 });
  const resp = await page.goto(cfg.url + "/");
  if (!resp.ok() || !page.url().endsWith("/dashboard/")) throw new Error(`/ led to ${page.url()} (${resp.status()})`);
  for (const [h, want] of [["x-frame-options", "DENY"], ["x-content-type-options", "nosniff"]]) {
    if (resp.headers()[h] !== want) throw new Error(`${h}: ${resp.headers()[h]}`);
  }
  await page.locator("#token-input").waitFor();
  await shot(page, "desktop-login");

  // A wrong token is refused and the form says so.
  await page.locator("#token-input").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("login-error").filter({ hasText: "Wrong token" }).waitFor();
  await shot(page, "desktop-login-wrong-token");
  if (await page.evaluate(() => sessionStorage.length) !== 0) throw new Error("a wrong token was stored");

  await login(page);
  // Two polls make a rate: the legend shows a number.
  await page.locator("#rate-msg-in").filter({ hasText: /^[\d.,]+$/ }).waitFor();
  log("overview:", await page.getByTestId("stat-accounts").textContent(), "accounts");
  await sync("logged-in");

  // The test connected the device: it shows online, with its resource.
  await view(page, "devices");
  await deviceRow(page, true).waitFor();
  const res = await deviceRow(page, true).getByTestId("device-resources").textContent();
  if (!res.includes(cfg.resource)) throw new Error(`device resources: ${res}`);
  // The filter narrows the list.
  await page.getByTestId("devices-filter").fill(username);
  if ((await page.getByTestId("device-row").count()) !== 1) throw new Error("the filter did not narrow the list");
  await page.getByTestId("devices-filter").fill("");
  await provisioned(page);
  await shot(page, "desktop-devices");
  // The devices alone: no plain account.
  await page.getByTestId("devices-kind-devices").click();
  await deviceRow(page, true).waitFor({ state: "detached" });
  await accountRow(page, cfg.revoked).waitFor();
  if ((await page.locator('[data-testid="device-row"][data-kind="account"]').count()) !== 0) {
    throw new Error("the devices' list shows accounts");
  }
  await shot(page, "desktop-devices-only");
  await page.getByTestId("devices-kind-all").click();
  await deviceRow(page, true).waitFor();
  await sync("device-online");

  // The test published a reading: its value shows on the node's card.
  await view(page, "nodes");
  await nodeCard(page).getByTestId("node-value").filter({ hasText: new RegExp(`^${cfg.value.replace(".", "\\.")}$`) }).waitFor();
  const payload = await nodeCard(page).getByTestId("node-payload").textContent();
  if (!payload.includes("<reading")) throw new Error(`payload shown as ${payload}`);
  // The probe's payload holds markup: it shows as text.
  const probe = await page.locator('[data-node="lab/notes"] [data-testid="node-value"]').textContent();
  if (probe !== "<svg onload=xss()>" || (await page.locator("main svg[onload]").count()) !== 0) {
    throw new Error(`the markup in a payload became ${probe}`);
  }
  await shot(page, "desktop-nodes");
  await nodeCard(page).getByTestId("node-open").click();
  await page.getByTestId("node-items").filter({ hasText: cfg.value }).waitFor();
  await shot(page, "desktop-node-detail", { fullPage: false });
  await page.getByTestId("node-detail-close").click();
  await page.getByTestId("node-detail").waitFor({ state: "hidden" });
  await sync("reading-shown");

  // The groups: the first, fleet, shows its vehicles' readings and
  // positions.
  await view(page, "groups");
  await page.locator(`[data-testid="group-tile"][data-group="${cfg.fleet}"][aria-current="true"]`).waitFor();
  await latitude(page, 0);
  const speed = await cell(page, cfg.truck, "speed").textContent();
  if (speed !== "42.5 km/h") throw new Error(`the truck's speed: ${speed}`);
  await page.locator('[data-testid="fleet-plot"][data-devices="3"][data-online="3"]').waitFor();
  await sync("fleet-shown");
  // They moved, and truck-3's connection was lost: its last will shows,
  // and the plot keeps it, grey, where it was.
  await latitude(page, 1);
  await groupRow(page, cfg.lost).getByTestId("group-state").filter({ hasText: "Offline (last will)" }).waitFor();
  await page.locator('[data-testid="fleet-plot"][data-devices="3"][data-online="2"]').waitFor();
  await sync("fleet-moved");
  await latitude(page, 2);
  // Each moving vehicle has a trail of its two earlier positions.
  await page.locator('[data-testid="fleet-plot"][data-trail="4"]').waitFor();
  await shot(page, "desktop-groups");
  await shot(page, "desktop-fleet-plot", { element: page.getByTestId("fleet") });
  // The ward: a monitor in alarm, its heart rate out of range.
  await group(page, cfg.ward);
  await cell(page, cfg.monitor, "heartRate").filter({ hasText: /^72 bpm$/ }).waitFor();
  await groupRow(page, cfg.alarmed).and(page.locator('[data-alarm="heartRate"]')).waitFor();
  const alarmed = await cell(page, cfg.alarmed, "heartRate").textContent();
  if (!alarmed.includes("142 bpm")) throw new Error(`the alarm's value: ${alarmed}`);
  if (!(await page.getByTestId("fleet").isHidden())) throw new Error("the ward has positions");
  await shot(page, "desktop-group-ward");

  // Kick the device's session, confirming in the page.
  await view(page, "sessions");
  await sessionRow(page).waitFor();
  await shot(page, "desktop-sessions");
  await sessionRow(page).getByTestId("kick").click();
  await page.getByTestId("confirm").waitFor();
  await shot(page, "desktop-kick-confirm", { fullPage: false });
  await page.getByTestId("confirm-ok").click();
  await sessionRow(page).waitFor({ state: "detached" });
  await sync("kicked");

  // Back to the overview for its picture, once the charts hold a few
  // samples of the test's traffic.
  await view(page, "overview");
  await page.waitForFunction(() => Number(document.getElementById("chart-messages").dataset.samples) >= 6, null,
    { timeout: 25_000 });
  await shot(page, "desktop-overview");
  // The dark theme (prefers-color-scheme).
  await page.emulateMedia({ colorScheme: "dark" });
  await shot(page, "desktop-overview-dark");
  await view(page, "nodes");
  await shot(page, "desktop-nodes-dark");
  await view(page, "groups");
  await group(page, cfg.fleet);
  await latitude(page, 2);
  await page.locator("#toast").waitFor({ state: "hidden" }); // the kick's
  await shot(page, "desktop-groups-dark");
  await page.emulateMedia({ colorScheme: "light" });
  // Logging out forgets the token.
  await page.getByTestId("logout").click();
  await page.locator("#token-input").waitFor();
  if (await page.evaluate(() => sessionStorage.length) !== 0) throw new Error("the token outlived the logout");
  clean(page);
  await page.context().close();
  await sync("desktop-done");

  // Phone (the test reconnected the device for the pictures).
  page = await newPage({ width: 390, height: 844 }, { deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await page.goto(cfg.url + "/dashboard/");
  await page.locator("#token-input").waitFor();
  await shot(page, "phone-login");
  await login(page);
  await page.waitForFunction(() => Number(document.getElementById("chart-messages").dataset.samples) >= 3, null,
    { timeout: 15_000 });
  await shot(page, "phone-overview");
  await view(page, "devices");
  await deviceRow(page, true).waitFor();
  await provisioned(page);
  await shot(page, "phone-devices");
  // The fleet on the phone: the vehicles move on, leaving a trail.
  await view(page, "groups");
  await latitude(page, 2);
  await sync("phone-fleet");
  await latitude(page, 3);
  await page.locator('[data-testid="fleet-plot"][data-trail="2"]').waitFor();
  await shot(page, "phone-groups");
  await shot(page, "phone-fleet-plot", { element: page.getByTestId("fleet") });
  await group(page, cfg.ward);
  await groupRow(page, cfg.alarmed).and(page.locator('[data-alarm="heartRate"]')).waitFor();
  await shot(page, "phone-group-ward");
  await view(page, "nodes");
  await nodeCard(page).getByTestId("node-value").waitFor();
  await shot(page, "phone-nodes");
  await nodeCard(page).getByTestId("node-open").click();
  await page.getByTestId("node-items").waitFor();
  await shot(page, "phone-node-detail", { fullPage: false });
  await page.getByTestId("node-detail-close").click();
  await view(page, "sessions");
  await sessionRow(page).waitFor();
  await shot(page, "phone-sessions");
  clean(page);
  await page.context().close();

  console.log("DONE");
  await browser.close();
  clearTimeout(watchdog);
  process.exit(0);
} catch (err) {
  console.error(`FAIL: at step ${step}: ${err?.stack ?? err}`);
  if (shotPage) await shotPage.screenshot({ path: join(cfg.out, `fail-${step}.png`), fullPage: true }).catch(() => {});
  await browser.close().catch(() => {});
  process.exit(1);
}
