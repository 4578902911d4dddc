// Line charts in SVG, drawn here: no library, nothing fetched.

import { h } from "./ui.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// series: [{label, color, values: [number|null]}], times: [ISO strings]
export function chart(title, times, series, unit) {
  const W = 600, H = 140, L = 40, B = 18;
  const all = series.flatMap((x) => x.values).filter((v) => v !== null);
  const max = Math.max(1, ...all);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
                         "aria-label": title, preserveAspectRatio: "none" });
  svg.append(s("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }));
  const ymax = s("text", { x: 2, y: 10 });
  ymax.textContent = `${Math.round(max * 100) / 100}${unit || ""}`;
  svg.append(ymax);
  const n = Math.max(1, times.length - 1);
  for (const x of series) {
    const pts = x.values.map((v, i) =>
      v === null ? null : `${L + (i / n) * (W - L)},${(H - B) - (v / max) * (H - B - 12)}`)
      .filter(Boolean).join(" ");
    if (pts) svg.append(s("polyline", { points: pts, fill: "none", stroke: x.color,
                                        "stroke-width": 2 }));
  }
  if (times.length) {
    const t0 = s("text", { x: L, y: H - 4 });
    t0.textContent = times[0].slice(11, 16);
    const t1 = s("text", { x: W - 30, y: H - 4 });
    t1.textContent = times[times.length - 1].slice(11, 16);
    svg.append(t0, t1);
  }
  const legend = h("div", { class: "muted" }, series.map((x) =>
    h("span", { style: `color:${x.color};margin-right:1rem` }, "\u25cf ",
      h("span", { class: "muted" }, x.label))));
  return h("div", { class: "card" }, h("strong", {}, title), svg, legend);
}
