// hookd's dashboard: a hash router over the admin API. An admin key sees
// the applications it manages; a portal link (#/portal?token=hkp_...) sees
// its customer's view only.

import { api, session } from "./api.js";
import { endpoint, endpoints } from "./endpoints.js";
import { deadLetters, delivery, event, events, sources } from "./events.js";
import { live } from "./live.js";
import { apps, overview } from "./overview.js";
import { failure, h } from "./ui.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let leave = null;
let portalApp = null;

function go(hash, again) {
  if (location.hash === hash && again) render();
  else location.hash = hash;
}

function loginView(message) {
  const key = h("input", { type: "password", name: "key", autocomplete: "off",
                           placeholder: "hk_\u2026", "aria-label": "Admin API key", required: true });
  return h("div", { class: "login card" }, h("h1", {}, "Log in to hookd"),
    message ? h("p", { class: "error", role: "alert" }, message) : null,
    h("form", { onsubmit: (ev) => {
      ev.preventDefault();
      session.login(key.value.trim(), false);
      go("#/");
    } }, h("label", { style: "width:100%" }, "An admin API key", key),
      h("p", {}, h("button", { type: "submit" }, "Log in"))),
    h("p", { class: "muted" }, "Your customers use the portal link their application gives them."));
}

function sections(app) {
  const items = [["", "Overview"], ["/endpoints", "Endpoints"], ["/events", "Events"],
                 ["/dead-letters", "Dead letters"]];
  if (!session.portal) items.push(["/sources", "Sources"]);
  items.push(["/tail", "Live tail"]);
  const here = location.hash.split("?")[0];
  nav.replaceChildren(...items.map(([p, label]) => {
    const href = `#/apps/${app}${p}`;
    const current = p === "" ? here === href : here.startsWith(href);
    return h("a", { href, "aria-current": current ? "page" : null }, label);
  }));
}

async function route(path, params) {
  if (path === "/portal") {
    const token = params.get("token");
    if (!token) return loginView("This portal link has no token.");
    session.login(token, true);
    history.replaceState(null, "", location.pathname + "#/");
    portalApp = null;
    path = "/";
  }
  if (path === "/login") {
    if (params.get("key")) {
      session.login(params.get("key"), false);
      history.replaceState(null, "", location.pathname + "#/");
      path = "/";
    } else {
      return loginView();
    }
  }
  if (!session.key) return loginView();

  if (session.portal && !portalApp) {
    const mine = await api("GET", "/v1/apps");
    portalApp = mine.data[0];
  }
  who.replaceChildren(session.portal ? `Portal \u2014 ${portalApp ? portalApp.name : ""}` : "Operator",
    h("button", { type: "button", class: "secondary", onclick: () => {
      session.logout(); portalApp = null; go("#/login");
    } }, "Log out"));

  const seg = path.split("/").filter(Boolean);
  if (!seg.length) {
    if (session.portal) { go(`#/apps/${portalApp.id}`); return []; }
    nav.replaceChildren();
    return apps();
  }
  if (seg[0] !== "apps" || !seg[1]) return [h("h1", {}, "Not found")];
  const app = seg[1];
  sections(app);
  const [what, id] = [seg[2] || "", seg[3]];
  switch (what) {
    case "": return overview(app);
    case "endpoints": return id ? endpoint(app, id, go) : endpoints(app, go);
    case "events": return id ? event(app, id) : events(app, go, params);
    case "deliveries": return delivery(app, id, go);
    case "dead-letters": return deadLetters(app, go);
    case "sources": return sources(app);
    case "tail": return live(app, (stop) => { leave = stop; });
    default: return [h("h1", {}, "Not found")];
  }
}

async function render() {
  if (leave) { leave(); leave = null; }
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  try {
    const view = await route(path, new URLSearchParams(query || ""));
    main.replaceChildren(...[view].flat(2).filter(Boolean));
  } catch (e) {
    if (e.status === 401 || (e.status === 403 && /revoked|expired|key/.test(e.message))) {
      session.logout();
      main.replaceChildren(loginView(e.message));
    } else {
      main.replaceChildren(failure(e));
    }
  }
  main.focus();
}

window.addEventListener("hashchange", render);
render();
