// The admin API, with the key or portal token the user logged in with.
// A portal token goes to the public location (/portal/v1/...), which takes
// nothing else; keys to the operators' one.

const store = window.sessionStorage;

export const session = {
  get key() { return store.getItem("hookd.key"); },
  get portal() { return store.getItem("hookd.portal") === "1"; },
  login(key, portal) {
    store.setItem("hookd.key", key);
    store.setItem("hookd.portal", portal ? "1" : "0");
  },
  logout() { store.removeItem("hookd.key"); store.removeItem("hookd.portal"); },
};

export class ApiError extends Error {
  constructor(status, error) {
    super(error && error.message ? error.message : `HTTP ${status}`);
    this.status = status;
    this.code = error && error.code;
  }
}

function root() {
  // the page is served at <prefix>/ui/: the API is beside it
  const at = location.pathname.lastIndexOf("/ui/");
  return at > 0 ? location.pathname.slice(0, at) : "";
}

export function url(path) {
  return root() + (session.portal ? "/portal" : "") + path;
}

export function headers(extra) {
  return Object.assign({ Authorization: "Bearer " + session.key }, extra || {});
}

export async function api(method, path, body) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(url(path), init);
  const text = await r.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!r.ok) throw new ApiError(r.status, data && data.error);
  return data;
}

export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return s ? "?" + s : "";
}
