// The applications (an operator's choice) and one application's overview.

import { api, session } from "./api.js";
import { chart } from "./chart.js";
import { badge, h, table, when } from "./ui.js";

export async function apps() {
  const page = await api("GET", "/v1/apps?limit=250");
  return [h("h1", {}, "Applications"),
    table([["Name", (a) => h("a", { href: `#/apps/${a.id}` }, a.name)],
           ["Id", (a) => a.id], ["Created", (a) => when(a.created_at)]],
          page.data, "No application yet: POST /v1/apps makes one.")];
}

export async function overview(app) {
  const [stats, eps] = await Promise.all([
    api("GET", `/v1/apps/${app}/stats`),
    api("GET", `/v1/apps/${app}/endpoints?limit=250`),
  ]);
  const pts = stats.points;
  const times = pts.map((p) => p.t);
  const sum = (k) => pts.reduce((n, p) => n + (p[k] || 0), 0);
  const attempts = sum("attempts");
  const ratio = attempts ? (100 * sum("succeeded") / attempts).toFixed(1) + " %" : "\u2013";
  const open = eps.data.filter((e) => e.breaker.state !== "closed");
  const last = pts.length ? pts[pts.length - 1] : null;
  const kpi = (label, value) => h("div", { class: "card" },
    h("div", { class: "muted" }, label), h("div", { class: "kpi" }, value));
  return [
    h("h1", {}, "Overview"),
    h("div", { class: "grid" },
      kpi("Events, last hour", session.portal && pts[0] && pts[0].events === null
          ? "\u2013" : String(sum("events"))),
      kpi("Delivery success", ratio),
      kpi("Backlog age", last ? `${Math.round(last.backlog_age_seconds)} s` : "0 s"),
      kpi("Open breakers", String(open.length))),
    h("div", { class: "grid" },
      chart("Events ingested per minute", times,
            [{ label: "events", color: "#2756c5", values: pts.map((p) => p.events) }]),
      chart("Deliveries per minute", times,
            [{ label: "succeeded", color: "#1f7a3f", values: pts.map((p) => p.succeeded) },
             { label: "failed attempts", color: "#b3261e", values: pts.map((p) => p.failed) }]),
      chart("Attempt latency", times,
            [{ label: "p50", color: "#2756c5",
               values: pts.map((p) => p.latency_ms ? p.latency_ms.p50 : null) },
             { label: "p99", color: "#9a6700",
               values: pts.map((p) => p.latency_ms ? p.latency_ms.p99 : null) }], " ms"),
      chart("Backlog", times,
            [{ label: "due, not sent", color: "#9a6700", values: pts.map((p) => p.backlog) }])),
    h("p", { class: "muted" }, "Stats are per closed minute (the current one shows within a minute). "
      + "For what happens now, open the live tail."),
    open.length ? [h("h2", {}, "Breakers not closed"),
      table([["Endpoint", (e) => h("a", { href: `#/apps/${app}/endpoints/${e.id}` }, e.url)],
             ["Breaker", (e) => badge(e.breaker.state)],
             ["Until", (e) => when(e.breaker.until)]], open)] : null,
  ];
}
