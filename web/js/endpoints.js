// Endpoints with their health; one endpoint: its actions, its filter with
// a preview, its deliveries and their attempts.

import { api, qs } from "./api.js";
import { action, badge, failure, h, table, toast, when } from "./ui.js";

export async function endpoints(app, go) {
  const page = await api("GET", `/v1/apps/${app}/endpoints?limit=250`);
  const url = h("input", { name: "url", placeholder: "https://example.com/hook", size: 40,
                           "aria-label": "URL of a new endpoint" });
  const types = h("input", { name: "event_types", placeholder: "*", size: 16,
                             "aria-label": "Event types of a new endpoint" });
  const out = h("div");
  const form = h("form", { class: "row", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const body = { url: url.value };
      if (types.value) body.event_types = types.value.split(",").map((x) => x.trim());
      const ep = await api("POST", `/v1/apps/${app}/endpoints`, body);
      out.replaceChildren(h("p", {}, "Its signing secret, shown this once: ",
                            h("code", {}, ep.secret || ep.public_key)));
      toast("Endpoint created");
      setTimeout(() => go(`#/apps/${app}/endpoints/${ep.id}`), 50);
    } catch (e) { out.replaceChildren(failure(e)); }
  } }, h("label", {}, "URL", url), h("label", {}, "Event types", types),
     h("button", { type: "submit" }, "Add endpoint"));
  return [h("h1", {}, "Endpoints"), form, out,
    table([["URL", (e) => h("a", { href: `#/apps/${app}/endpoints/${e.id}` }, e.url)],
           ["Status", (e) => badge(e.status)],
           ["Breaker", (e) => badge(e.breaker.state)],
           ["Event types", (e) => e.event_types.join(", ")],
           ["Labels", (e) => Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(", ")]],
          page.data, "No endpoint yet.")];
}

export async function endpoint(app, id, go) {
  const base = `/v1/apps/${app}/endpoints/${id}`;
  const [ep, health, dls] = await Promise.all([
    api("GET", base), api("GET", base + "/health"),
    api("GET", `/v1/apps/${app}/deliveries${qs({ endpoint_id: id, limit: 50 })}`),
  ]);
  const reload = () => go(location.hash, true);
  const since = h("input", { type: "datetime-local", "aria-label": "Recover failed deliveries since" });
  const secret = h("div");
  const actions = h("div", { class: "actions" },
    ep.status === "enabled"
      ? action("Pause", async () => { await api("POST", base + "/pause"); reload(); return "Paused"; }, "secondary")
      : action("Resume", async () => { await api("POST", base + "/resume"); reload(); return "Resumed"; }),
    action("Send test event", async () => {
      const r = await api("POST", base + "/test");
      return `Test event ${r.event_id} queued`;
    }, "secondary"),
    action("Rotate secret", async () => {
      const r = await api("POST", base + "/rotate-secret", {});
      secret.replaceChildren(h("p", {}, "New secret, shown this once: ",
        h("code", {}, r.secret || r.public_key),
        r.old_secrets_expire_at ? ` (the old one signs until ${when(r.old_secrets_expire_at)})` : ""));
      return "Secret rotated";
    }, "secondary"),
    h("label", {}, "Recover failed since", since),
    action("Recover", async () => {
      if (!since.value) throw new Error("choose a time to recover from");
      const r = await api("POST", base + "/recover",
                          { since: new Date(since.value).toISOString() });
      reload();
      return `${r.recovered} deliveries queued again`;
    }, "secondary"));
  return [
    h("h1", {}, ep.url, " ", badge(ep.status)),
    h("p", { class: "muted" }, ep.id, ep.description ? " \u2014 " + ep.description : "",
      ep.disabled_reason ? h("span", { class: "error" }, " \u2014 " + ep.disabled_reason) : ""),
    actions, secret,
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("strong", {}, "Health"),
        h("p", {}, "Breaker ", badge(health.breaker.state),
          ` \u2014 ${health.pending} pending, failing for ${health.failure_streak} attempts`),
        h("p", { class: "muted" }, `last hour: ${health.last_1h.attempts || 0} attempts, `
          + `${health.last_1h.succeeded || 0} succeeded`),
        health.last_error ? h("p", { class: "error" },
          `last error ${when(health.last_error.at)}: ${health.last_error.error || "HTTP " + health.last_error.status_code}`) : null),
      filterEditor(app, base, ep)),
    h("h2", {}, "Deliveries"),
    deliveriesTable(app, dls.data),
  ];
}

function filterEditor(app, base, ep) {
  const text = h("textarea", { rows: 6, "aria-label": "Filter (JSON)" },
                 ep.filter ? JSON.stringify(ep.filter, null, 2) : "");
  const payload = h("textarea", { rows: 4, "aria-label": "A payload to try the filter on" },
                    '{"amount": 120, "currency": "eur"}');
  const out = h("p", { class: "muted" }, "Try the filter on a payload before saving it.");
  const parse = (t) => (t.trim() ? JSON.parse(t) : null);
  return h("div", { class: "card" }, h("strong", {}, "Filter"), text,
    h("div", { class: "muted" }, "Payload to try"), payload,
    h("div", { class: "actions" },
      action("Preview", async () => {
        const f = parse(text.value);
        const r = await api("POST", base + "/filter/test",
                            f === null ? { payload: parse(payload.value) }
                                       : { payload: parse(payload.value), filter: f });
        out.replaceChildren(r.matches ? "\u2714 this payload would be delivered"
                                      : "\u2718 this payload would be filtered out");
        return null;
      }, "secondary"),
      action("Save filter", async () => {
        await api("PATCH", base, { filter: parse(text.value) });
        return "Filter saved";
      })), out);
}

export function deliveriesTable(app, rows) {
  return table([
    ["Delivery", (d) => h("a", { href: `#/apps/${app}/deliveries/${d.id}` }, d.id)],
    ["Event", (d) => h("a", { href: `#/apps/${app}/events/${d.event_id}` }, d.event_id)],
    ["Status", (d) => badge(d.status)],
    ["Attempts", (d) => String(d.attempt_count)],
    ["Last error", (d) => d.last_error || ""],
    ["Updated", (d) => when(d.updated_at)]], rows, "No delivery yet.");
}
