// The live tail screen.

import { openTail } from "./tail.js";
import { badge, h, when } from "./ui.js";

export function live(app, onLeave) {
  const state = h("span", { class: "muted" }, "connecting\u2026");
  const list = h("tbody");
  const row = (kind, d) => kind === "event"
    ? h("tr", { "data-id": d.id }, h("td", {}, when(d.received_at)), h("td", {}, "event"),
        h("td", {}, h("a", { href: `#/apps/${app}/events/${d.id}` }, d.event_type)),
        h("td", {}, d.id))
    : h("tr", { "data-id": d.id }, h("td", {}, when(d.started_at)), h("td", {}, "attempt"),
        h("td", {}, badge(d.outcome), ` ${d.status_code ? "HTTP " + d.status_code : d.error || ""} `
          + `${d.duration_ms} ms`),
        h("td", {}, h("a", { href: `#/apps/${app}/deliveries/${d.delivery_id}` }, d.delivery_id)));
  const stop = openTail(app, (kind, data) => {
    if (kind !== "event" && kind !== "attempt") return;
    list.prepend(row(kind, data));
    while (list.children.length > 500) list.lastChild.remove();
  }, (s, why) => { state.textContent = why ? `${s}: ${why}` : s; });
  onLeave(stop);
  return [h("h1", {}, "Live tail ", state),
    h("div", { class: "card tail" }, h("table", { "aria-live": "polite" },
      h("thead", {}, h("tr", {}, ["At", "Kind", "What", "Id"].map((x) => h("th", {}, x)))),
      list))];
}
