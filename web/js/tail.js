// The live tail, read with fetch: EventSource cannot send Authorization.
// Resumes with the last id on a lost connection (the server replays what
// was missed), and dedupes on id.

import { headers, url } from "./api.js";

export function openTail(app, onMessage, onState) {
  const seen = new Set();
  let last = null;
  let stopped = false;
  let controller = null;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const r = await fetch(url(`/v1/apps/${app}/tail`), {
          headers: headers(last ? { "Last-Event-ID": last } : {}),
          signal: controller.signal,
        });
        // 503: the worker's feed is reconnecting; come back as it says
        if (r.status === 503) throw new Error("unavailable");
        if (!r.ok) { onState("error", `HTTP ${r.status}`); return; }
        onState("live");
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let at;
          while ((at = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, at);
            buf = buf.slice(at + 2);
            const m = {};
            for (const line of block.split("\n")) {
              if (!line || line.startsWith(":")) continue;
              const i = line.indexOf(": ");
              m[line.slice(0, i)] = line.slice(i + 2);
            }
            if (!m.event) continue;
            if (m.event === "end") {
              const why = JSON.parse(m.data).reason;
              if (why === "revoked" || why === "expired") {
                onState("ended", why);
                stopped = true;
              }
              continue;
            }
            if (m.id) {
              if (seen.has(m.id)) continue;
              seen.add(m.id);
              last = m.id;
            }
            onMessage(m.event, m.data ? JSON.parse(m.data) : null);
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      if (!stopped) {
        onState("reconnecting");
        await new Promise((ok) => setTimeout(ok, 1000));
      }
    }
  }

  run();
  return () => { stopped = true; if (controller) controller.abort(); };
}
