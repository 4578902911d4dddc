"""make bench: ingest throughput and latency, each beside its ceiling
measured in the same run on the same machine, into docs/benchmarks.md.

- ingest: durable events/s through POST /v1/events (wrk), PostgreSQL with
  fsync and synchronous_commit on;
- ceiling 1: the same wrk load against an nginx location doing `return 202`;
- ceiling 2: pgbench inserting the same event row, one per transaction,
  prepared, at 16 clients;
- latency: p50/p99 at a fixed 5k events/s (wrk with a per-connection delay).
"""

import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import ROOT, Hookd, Nginx, PG_BIN, Postgres, rmtree, tmpdir  # noqa

DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
BODY = json.dumps({"event_type": "invoice.paid",
                   "payload": {"amount": 4200, "currency": "eur",
                               "customer": "cus_8f3a"},
                   "labels": {"owner_id": "acme"}})


def wrk(url, script, connections=CONNECTIONS, duration=DURATION):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
         "-s", script, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        v = float(m.group(1))
        lat[pct] = v / 1000 if m.group(2) == "us" else (
            v * 1000 if m.group(2) == "s" else v)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"],
            "errors": int(non2xx.group(1)) if non2xx else 0, "raw": out}


def lua(path, key, delay_ms=None):
    body = BODY.replace("\\", "\\\\").replace('"', '\\"')
    with open(path, "w") as f:
        f.write(textwrap.dedent(f"""
            wrk.method = "POST"
            wrk.body = "{body}"
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["Authorization"] = "Bearer {key}"
        """))
        if delay_ms:
            f.write(f"function delay() return {delay_ms} end\n")
    return path


def main():
    base = tmpdir()
    pg = Postgres(base)
    pg.init()
    # durable: what a 202 promises
    with open(os.path.join(pg.data, "postgresql.conf"), "a") as f:
        f.write("fsync = on\nsynchronous_commit = on\n")
    pg.stop()
    pg.start()
    hookd = Hookd(pg.conninfo, base)
    hookd("migrate")
    hookd("apps", "create", "bench")
    key = hookd("keys", "create", "--app", "bench", "--scope", "ingest")["key"]
    app_id = pg.query("SELECT id FROM hookd.applications "
                      "WHERE name = 'bench'")[0][0]

    nginx = Nginx(base, pg.conninfo, workers=2,
                  pool_size=int(os.environ.get("BENCH_POOL", "4")))
    conf = open(nginx.conf).read().replace("error.log info", "error.log warn")
    open(nginx.conf, "w").write(conf)
    nginx.start()

    results = {}
    try:
        script = lua(os.path.join(base, "post.lua"), key)
        wrk(nginx.url + "/v1/events", script, duration=2)      # warm up
        before = pg.query("SELECT count(*) FROM hookd.events")[0][0]
        results["ingest"] = wrk(nginx.url + "/v1/events", script)
        after = pg.query("SELECT count(*) FROM hookd.events")[0][0]
        results["ingest"]["stored"] = after - before
        results["return202"] = wrk(nginx.url + "/noop", script)

        # fixed rate: connections x 1000 / (delay + latency) ~ 5k/s
        paced = lua(os.path.join(base, "paced.lua"), key, delay_ms=10)
        results["paced"] = wrk(nginx.url + "/v1/events", paced,
                               connections=60)

        pgb = os.path.join(base, "insert.sql")
        with open(pgb, "w") as f:
            f.write("INSERT INTO hookd.events (app_id, event_type, payload, "
                    "labels) VALUES (:app, 'invoice.paid', "
                    f"'{json.dumps(json.loads(BODY)['payload'])}', "
                    "'{\"owner_id\": \"acme\"}');\n")
        os.chmod(base, 0o755)
        os.chmod(pgb, 0o644)
        cmd = [f"{PG_BIN}/pgbench", "-n", "-M", "prepared", "-c", "16",
               "-j", "2", "-T", str(DURATION), "-f", pgb, "-D",
               f"app={app_id}", "-h", "127.0.0.1", "-p", str(pg.port),
               "-U", pg.user, "hookd"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("pgbench: " + p.stderr)
        out = p.stdout
        results["pgbench"] = float(re.search(
            r"tps = ([\d.]+) \(without initial connection time\)",
            out).group(1))
    finally:
        nginx.stop()
        pg.stop()
        rmtree(base)

    write_report(results)


def write_report(r):
    ing, ret, paced = r["ingest"], r["return202"], r["paced"]
    vs_pgbench = ing["rps"] / r["pgbench"]
    vs_return = ing["rps"] / ret["rps"]
    today = datetime.date.today().isoformat()
    table = textwrap.dedent(f"""\
        ## Ingest ({today}, {os.cpu_count()} cores, {platform.machine()}, {DURATION} s per figure)

        | figure | value | ceiling (same run) | ratio | target |
        | --- | --- | --- | --- | --- |
        | durable events/s through `POST /v1/events` ({CONNECTIONS} connections) | {ing['rps']:.0f} | pgbench, same row, 1 per transaction, prepared, 16 clients: {r['pgbench']:.0f} | {vs_pgbench:.2f}x | >= 1.5x |
        | same | {ing['rps']:.0f} | nginx `return 202`, same wrk load: {ret['rps']:.0f} | {vs_return:.1%} | >= 35% |
        | latency at {paced['rps']:.0f} events/s (60 connections, paced) | p50 {paced['p50']:.2f} ms, p99 {paced['p99']:.2f} ms | | | p99 <= 10 ms at 5k/s |
        | latency at full load | p50 {ing['p50']:.2f} ms, p99 {ing['p99']:.2f} ms | `return 202`: p99 {ret['p99']:.2f} ms | | |

        Rows stored during the ingest run: {ing['stored']} (wrk counted
        {ing['rps'] * DURATION:.0f} responses at {ing['rps']:.0f}/s; non-2xx: {ing['errors']}).
        PostgreSQL ran with `fsync = on` and `synchronous_commit = on`: every
        202 was a committed transaction.
        """)
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    head = ""
    if os.path.exists(path):
        text = open(path).read()
        head = text.split("<!-- bench:ingest -->")[0]
        tail = text.split("<!-- /bench:ingest -->")[-1] \
            if "<!-- /bench:ingest -->" in text else ""
    else:
        head, tail = "# Benchmarks\n\nWritten by `make bench`.\n\n", ""
    with open(path, "w") as f:
        f.write(head + "<!-- bench:ingest -->\n" + table +
                "<!-- /bench:ingest -->" + tail)
    print(table)


if __name__ == "__main__":
    main()
