// A few DOM helpers: elements, tables, time, messages.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function badge(value) {
  return h("span", { class: "badge s-" + value }, value);
}

export function when(t) {
  if (!t) return "";
  const d = new Date(t);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function table(columns, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty || "Nothing yet.");
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((row) =>
      h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))));
}

let toastTimer;
export function toast(message) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 2500);
}

export function failure(e) {
  return h("p", { class: "error", role: "alert" }, e.message || String(e));
}

// a button that runs an action, and says how it went
export function action(label, run, cls) {
  const b = h("button", { type: "button", class: cls }, label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const msg = await run();
      if (msg) toast(msg);
    } catch (e) {
      toast(e.message || String(e));
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

export function json(value) {
  return h("pre", {}, JSON.stringify(value, null, 2));
}
