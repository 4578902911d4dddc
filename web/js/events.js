// Events (search by type, label and time), one event with its deliveries,
// one delivery with every attempt's response, and the dead letters.

import { api, qs } from "./api.js";
import { deliveriesTable } from "./endpoints.js";
import { action, badge, h, json, table, when } from "./ui.js";

export async function events(app, go, params) {
  const q = { event_type: params.get("event_type"), since: params.get("since"),
              until: params.get("until"), limit: 50, cursor: params.get("cursor") };
  const label = params.get("label");
  if (label && label.includes("=")) {
    const [k, v] = label.split("=", 2);
    q["label." + k] = v;
  }
  const page = await api("GET", `/v1/apps/${app}/events${qs(q)}`);
  const type = h("input", { name: "event_type", value: q.event_type || "",
                            placeholder: "invoice.paid", "aria-label": "Event type" });
  const lab = h("input", { name: "label", value: label || "", placeholder: "owner_id=acme",
                           "aria-label": "Label" });
  const since = h("input", { name: "since", value: q.since || "",
                             placeholder: "2026-12-01T00:00:00Z", "aria-label": "Since" });
  const form = h("form", { class: "row", role: "search", onsubmit: (ev) => {
    ev.preventDefault();
    go(`#/apps/${app}/events${qs({ event_type: type.value, label: lab.value,
                                    since: since.value })}`);
  } }, h("label", {}, "Type", type), h("label", {}, "Label", lab),
     h("label", {}, "Since", since), h("button", { type: "submit" }, "Search"));
  return [h("h1", {}, "Events"), form,
    table([["Event", (e) => h("a", { href: `#/apps/${app}/events/${e.id}` }, e.id)],
           ["Type", (e) => e.event_type],
           ["Labels", (e) => Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(", ")],
           ["Source", (e) => e.source],
           ["Received", (e) => when(e.received_at)]], page.data, "No event matches."),
    page.next_cursor ? h("p", {}, h("a", { href: `#/apps/${app}/events${qs({
      event_type: q.event_type, label, since: q.since, cursor: page.next_cursor })}` }, "Older \u2192"))
      : null];
}

export async function event(app, id) {
  const [ev, dls] = await Promise.all([
    api("GET", `/v1/apps/${app}/events/${id}`),
    api("GET", `/v1/apps/${app}/events/${id}/deliveries`),
  ]);
  return [h("h1", {}, ev.event_type),
    h("p", { class: "muted" }, `${ev.id} \u2014 received ${when(ev.received_at)} from ${ev.source}`),
    h("h2", {}, "Payload"), json(ev.payload),
    Object.keys(ev.labels).length ? [h("h2", {}, "Labels"), json(ev.labels)] : null,
    h("h2", {}, "Deliveries"), deliveriesTable(app, dls.data)];
}

export async function delivery(app, id, go) {
  const d = await api("GET", `/v1/apps/${app}/deliveries/${id}`);
  const finished = !["pending", "in_flight"].includes(d.status);
  return [h("h1", {}, "Delivery ", badge(d.status)),
    h("p", { class: "muted" }, d.id, " of event ",
      h("a", { href: `#/apps/${app}/events/${d.event_id}` }, d.event_id), " to endpoint ",
      h("a", { href: `#/apps/${app}/endpoints/${d.endpoint_id}` }, d.endpoint_id)),
    h("div", { class: "actions" }, finished
      ? action("Retry", async () => {
          await api("POST", `/v1/apps/${app}/deliveries/${id}/retry`);
          setTimeout(() => go(location.hash, true), 600);
          return "Queued again";
        })
      : h("span", { class: "muted" }, d.next_attempt_at ? `next attempt ${when(d.next_attempt_at)}` : "")),
    h("h2", {}, "Attempts"),
    d.attempts.length ? d.attempts.map((a) => h("div", { class: "card" },
      h("strong", {}, `#${a.attempt_number} `), badge(a.error_class.toLowerCase() === "succeeded"
        ? "succeeded" : "failed"),
      ` ${when(a.started_at)} \u2014 ${a.duration_ms} ms \u2014 `,
      a.status_code ? `HTTP ${a.status_code}` : (a.error || ""),
      a.error && a.status_code ? h("div", { class: "error" }, a.error) : null,
      a.response_body !== null ? [h("div", { class: "muted" }, "Response body"),
                                  h("pre", {}, a.response_body)] : null))
      : h("p", { class: "muted" }, "Not attempted yet.")];
}

export async function deadLetters(app, go) {
  const page = await api("GET", `/v1/apps/${app}/deliveries?status=failed&limit=250`);
  const out = h("div");
  return [h("h1", {}, "Dead letters"),
    h("p", { class: "muted" }, "Deliveries that failed for good: replay them once the endpoint is fixed."),
    h("div", { class: "actions" },
      action(`Retry all ${page.data.length}${page.next_cursor ? "+" : ""}`, async () => {
        const r = await api("POST", `/v1/apps/${app}/deliveries/retry`, { status: "failed" });
        setTimeout(() => go(location.hash, true), 300);
        return `${r.retried} deliveries queued again`;
      }, page.data.length ? "" : "secondary")), out,
    deliveriesTable(app, page.data)];
}

export async function sources(app) {
  const page = await api("GET", `/v1/apps/${app}/sources?limit=250`);
  return [h("h1", {}, "Sources"),
    h("p", { class: "muted" }, "Providers' webhooks, verified at the edge: POST /in/<source id>."),
    table([["Name", (s) => s.name], ["Provider", (s) => s.provider],
           ["Receives at", (s) => h("code", {}, `/in/${s.id}`)],
           ["Created", (s) => when(s.created_at)]], page.data, "No source yet.")];
}
