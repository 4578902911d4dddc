// The dashboard in Debian's chromium, driven by playwright-core, against the
// real stack tests/integration/test_dashboard.py set up. One scenario per
// run: `node dashboard.mjs <operator|portal> <json>`; it throws (exit 1)
// at the first thing that is not as the database says, and prints what it
// measured as JSON.

import { chromium } from "playwright-core";

const [scenario, arg] = process.argv.slice(2);
const cfg = JSON.parse(arg);
const base = cfg.url;

function check(ok, what) {
  if (!ok) throw new Error(what);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const foreign = [];
const errors = [];
page.on("request", (r) => {
  if (!r.url().startsWith(base + "/")) foreign.push(r.url());
});
page.on("response", (r) => {
  if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
});
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
page.on("pageerror", (e) => errors.push(String(e)));

async function shot(name) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 1280, `${name}: ${width}px wide at 1280x800`);
  await page.screenshot({ path: `${cfg.shots}/${name}.png` });
}

async function text() {
  return page.locator("main").innerText();
}

async function api(method, path, body, key) {
  const r = await fetch(base + path, {
    method, headers: Object.assign({ Authorization: `Bearer ${key || cfg.key}` },
                                   body ? { "Content-Type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.status === 204 ? null : r.json();
}

async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error("timed out: " + what);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

const out = {};
const app = `#/apps/${cfg.app}`;

if (scenario === "operator") {
  await page.goto(base + "/ui/");
  await page.getByLabel("Admin API key").waitFor();
  // what came over the wire for the first screen (headers included)
  out.first_load_bytes = await page.evaluate(() =>
    performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"))
      .reduce((n, e) => n + e.transferSize, 0));
  out.first_load_files = await page.evaluate(() =>
    1 + performance.getEntriesByType("resource").length);
  await shot("login");
  await page.getByLabel("Admin API key").fill(cfg.key);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("link", { name: cfg.app_name }).waitFor();
  await shot("applications");

  await page.getByRole("link", { name: cfg.app_name }).click();
  await page.getByText("Delivery success").waitFor();
  await page.getByText("Deliveries per minute").waitFor();
  await shot("overview");

  await page.getByRole("link", { name: "Endpoints" }).click();
  for (const u of cfg.endpoint_urls) await page.getByRole("link", { name: u }).waitFor();
  await shot("endpoints");

  // pause and resume, as the database sees them
  await page.getByRole("link", { name: cfg.ok_url }).click();
  await page.getByRole("button", { name: "Pause" }).click();
  await page.getByRole("button", { name: "Resume" }).waitFor();
  check((await api("GET", `/v1/apps/${cfg.app}/endpoints/${cfg.ok_ep}`)).status === "paused",
        "the endpoint is not paused");
  await page.getByRole("button", { name: "Resume" }).click();
  await page.getByRole("button", { name: "Pause" }).waitFor();
  check((await api("GET", `/v1/apps/${cfg.app}/endpoints/${cfg.ok_ep}`)).status === "enabled",
        "the endpoint is not enabled again");
  await page.getByRole("button", { name: "Preview" }).click();
  await page.getByText("this payload would be delivered").waitFor();
  await page.getByRole("button", { name: "Rotate secret" }).click();
  await page.getByText("New secret, shown this once").waitFor();
  check((await page.locator("main code").first().innerText()).startsWith("whsec_"),
        "the rotated secret is not shown");
  await page.getByRole("button", { name: "Send test event" }).click();
  await page.getByText(/Test event evt_\w+ queued/).waitFor();
  await shot("endpoint");

  await page.getByRole("link", { name: "Events" }).click();
  for (const id of cfg.event_ids) await page.getByRole("link", { name: id }).waitFor();
  await page.getByLabel("Type").fill("order.created");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: cfg.order_event }).waitFor();
  check(!(await text()).includes(cfg.event_ids[0]) || cfg.event_ids[0] === cfg.order_event,
        "the search by type shows other types");
  await shot("events");
  await page.getByRole("link", { name: cfg.order_event }).click();
  await page.getByText('"sku": "A-1"').waitFor();
  await shot("event");

  // a dead letter: its attempt's response body, and a retry by keyboard
  await page.getByRole("link", { name: "Dead letters" }).click();
  await page.getByRole("link", { name: cfg.dead_delivery }).waitFor();
  await shot("dead-letters");
  await page.getByRole("link", { name: cfg.dead_delivery }).click();
  await page.getByText(cfg.dead_body).waitFor();
  const before = (await api("GET", `/v1/apps/${cfg.app}/deliveries/${cfg.dead_delivery}`)).attempts.length;
  await shot("delivery");
  let tabs = 0;
  for (;;) {
    await page.keyboard.press("Tab");
    tabs++;
    const label = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    if (label === "Retry") break;
    check(tabs < 40, "Tab never reached the Retry button");
  }
  await page.keyboard.press("Enter");
  await page.getByText("Queued again").waitFor();
  await until("a new attempt", async () =>
    (await api("GET", `/v1/apps/${cfg.app}/deliveries/${cfg.dead_delivery}`)).attempts.length > before);
  out.tabs_to_retry = tabs;

  // and every dead letter at once, once the retried one failed again
  await until("the retried one to fail again", async () =>
    (await api("GET", `/v1/apps/${cfg.app}/deliveries/${cfg.dead_delivery}`)).status === "failed");
  await page.getByRole("link", { name: "Dead letters" }).click();
  await page.getByRole("button", { name: /^Retry all/ }).click();
  await page.getByText(/[1-9]\d* deliveries queued again/).waitFor();

  await page.getByRole("link", { name: "Sources" }).click();
  await page.getByRole("cell", { name: cfg.source_name, exact: true }).first().waitFor();
  await shot("sources");

  await page.getByRole("link", { name: "Live tail" }).click();
  // exact: "Live tail" in the heading and the menu matches "live" at once,
  // before the stream is open, and an event posted then is never shown
  await page.getByText("live", { exact: true }).waitFor();
  const ev = await api("POST", "/v1/events",
                       { event_type: "tail.shown", payload: { n: 1 } }, cfg.ingest_key);
  await page.locator(`tr[data-id="${ev.id}"]`).waitFor();
  await shot("tail");
} else if (scenario === "portal") {
  await page.goto(`${base}/ui/#/portal?token=${cfg.token}`);
  await page.getByText("Delivery success").waitFor();
  check(!page.url().includes("hkp_"), "the token stays in the address bar");
  await shot("portal");
  const navText = await page.locator("nav").innerText();
  check(!navText.includes("Sources"), "a portal view links to sources");
  await page.getByRole("link", { name: "Endpoints" }).click();
  await page.getByRole("link", { name: cfg.own_url }).waitFor();
  const listed = await text();
  for (const u of cfg.hidden_urls) check(!listed.includes(u), `a portal view shows ${u}`);
  await shot("portal-endpoints");
  for (const route of ["/sources", "/api-keys"]) {
    const r = await api("GET", `/portal/v1/apps/${cfg.app}${route}`, null, cfg.token);
    check(r.error && r.error.code === "not_found", `${route} answers a portal token`);
  }
  // another application: refused (the 404 the browser logs is the point)
  const seen = errors.length;
  await page.goto(`${base}/ui/#/apps/${cfg.other_app}/endpoints`);
  await page.getByRole("alert").waitFor();
  const refused = errors.splice(seen);
  check(refused.length && refused.every((e) => /404/.test(e)),
        "another application's endpoints: " + refused.join(" | "));
  const shown = await text();
  check(!shown.includes(cfg.other_name), "a portal view shows another application");
  for (const word of ["hk_", "whsec_", "api-keys"]) {
    check(!(await page.content()).includes(word), `a portal view shows ${word}`);
  }
}

check(!foreign.length, "requests to another host: " + foreign.join(", "));
check(!errors.length, "console errors: " + errors.join(" | "));
await browser.close();
console.log(JSON.stringify(out));
