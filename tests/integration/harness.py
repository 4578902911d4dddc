"""Real parts for the integration tests: a throwaway PostgreSQL cluster, the
stock Debian nginx loading our module, and the hookd binary."""

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("HOOKD_BUILD", os.path.join(ROOT, "build"))
HOOKD = os.path.join(BUILD, "hookd")
MODULE = os.path.join(BUILD, "ngx_http_hookd_module.so")
PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def wait_for(predicate, timeout=15.0, step=0.05):
    """The predicate's first true value, polled until timeout: tests wait
    on what they expect, not for a fixed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


class Postgres:
    """A private cluster, run as the postgres user when we are root."""

    def __init__(self, base):
        self.dir = os.path.join(base, "pg")
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        os.makedirs(self.dir, exist_ok=True)
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(base, pw.pw_uid, pw.pw_gid)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.user = "postgres" if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.conninfo = (f"host=127.0.0.1 port={self.port} dbname=hookd "
                         f"user={self.user}")

    def _run(self, *cmd, check=True):
        if self.as_root:
            cmd = ("runuser", "-u", "postgres", "--") + cmd
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def init(self):
        self._run(f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust",
                  "-U", self.user, "--no-sync")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"port = {self.port}\nlisten_addresses = 'localhost'\n"
                    f"unix_socket_directories = '{self.dir}'\n"
                    "fsync = off\nmax_connections = 200\n"
                    "shared_buffers = 128MB\n")
        self.start()
        self._run(f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p",
                  str(self.port), "-U", self.user, "hookd")

    def start(self):
        self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-l",
                  os.path.join(self.dir, "log"), "start")

    def stop(self, mode="fast"):
        self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-m", mode,
                  "stop", check=False)

    def connect(self):
        return psycopg.connect(self.conninfo, autocommit=True)

    def query(self, sql, *params):
        with self.connect() as c:
            return c.execute(sql, params).fetchall()


class Hookd:
    def __init__(self, conninfo, base):
        self.env = dict(os.environ, DATABASE_URL=conninfo,
                        HOOKD_SECRET_KEY_FILE=os.path.join(base, "secret.key"))

    def __call__(self, *args, check=True):
        p = subprocess.run((HOOKD,) + args, env=self.env, capture_output=True,
                           text=True, timeout=60)
        if check and p.returncode != 0:
            raise RuntimeError(f"hookd {' '.join(args)}: {p.stderr}")
        out = p.stdout if p.returncode == 0 else p.stderr
        return json.loads(out) if out.strip() else None


NGINX_CONF = """
load_module {module};
user root;
daemon off;
master_process on;
worker_processes {workers};
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    log_format hookd_recv '$msec $http_webhook_id';

    hookd_database "{conninfo}";
    hookd_secret_key_file {secret_key};
    hookd_pool_size {pool_size};
    hookd_db_timeout 2s;
    hookd_rate_limit_zone name=ingest_limit:1m rate=2/s burst=3;
    hookd_rate_limit_zone name=auth_failures:1m rate=1/s burst=5;
    hookd_rate_limit_zone name=admin_limit:1m rate=1/s burst=3;
    {extra_http}

    server {{
        listen 127.0.0.1:{port};
        location = /v1/events {{
            hookd_ingest;
            hookd_max_payload 64k;
            hookd_key_cache_ttl 1s;
        }}
        location = /limited/v1/events {{
            hookd_ingest;
            hookd_rate_limit ingest_limit;
        }}
        location = /big/v1/events {{
            hookd_ingest;
        }}
        location = /unclassified/v1/events {{
            hookd_ingest;
            hookd_classify off;
        }}
        # behind a load balancer: the client is X-Forwarded-For's address
        location = /guarded/v1/events {{
            hookd_ingest;
            hookd_key_cache_ttl 1s;
            hookd_auth_failure_limit auth_failures;
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
        }}
        location /guarded/v1/apps {{
            hookd_admin;
            hookd_auth_failure_limit auth_failures;
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
        }}
        location /v1/apps {{
            hookd_admin;
        }}
        location /limited/v1/apps {{
            hookd_admin;
            hookd_rate_limit admin_limit;
        }}
        # the public side: portal session tokens only
        location /portal/ {{
            hookd_admin portal;
        }}
        location /small/ {{
            hookd_admin;
            hookd_tail_buffer 64k;
        }}
        location /in/ {{
            hookd_source;
            hookd_max_payload 64k;
            hookd_key_cache_ttl 1s;
            hookd_auth_failure_limit auth_failures;
        }}
        # the same without the failed-authentication limit
        location /unlimited/in/ {{
            hookd_source;
            hookd_max_payload 64k;
            hookd_key_cache_ttl 1s;
        }}
        location /ui/ {{
            alias {web}/;
            types {{ text/html html; text/css css; text/javascript js; }}
        }}
        location = /noop {{ return 202; }}
        location = /recv {{
            access_log {dir}/recv.log hookd_recv;
            return 200 "ok";
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, base, conninfo, workers=2, pool_size=4, extra_http=""):
        self.dir = os.path.join(base, "nginx")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        # the master key hookd's CLI and daemons use (Hookd's environment)
        secret_key = os.path.join(base, "secret.key")
        if not os.path.exists(secret_key):
            fd = os.open(secret_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o600)
            os.write(fd, os.urandom(32).hex().encode() + b"\n")
            os.close(fd)
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(module=MODULE, dir=self.dir,
                                      conninfo=conninfo, port=self.port,
                                      workers=workers, pool_size=pool_size,
                                      secret_key=secret_key,
                                      web=os.path.join(BUILD, "web"),
                                      extra_http=extra_http))
        self.proc = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(
            ["/usr/sbin/nginx", "-p", self.dir, "-c", self.conf,
             "-e", os.path.join(self.dir, "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port)

    def reload(self):
        subprocess.run(["/usr/sbin/nginx", "-p", self.dir, "-c", self.conf,
                        "-e", os.path.join(self.dir, "error.log"),
                        "-s", "reload"], check=True)

    def stop(self, timeout=10):
        """A graceful shutdown (SIGQUIT: workers finish what they sent),
        within timeout, and an error log without alerts."""
        import signal as _signal
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(_signal.SIGQUIT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"nginx did not stop within {timeout} s")
            assert self.proc.returncode == 0, self.proc.returncode
        self.assert_clean()

    def log(self, since=0):
        with open(os.path.join(self.dir, "error.log")) as f:
            f.seek(since)
            return f.read()

    def log_size(self):
        return os.path.getsize(os.path.join(self.dir, "error.log"))

    def assert_clean(self, since=0):
        log = self.log(since)
        assert "[alert]" not in log and "[emerg]" not in log, log[-4000:]


def tmpdir():
    d = tempfile.mkdtemp(prefix="hookd-test-")
    os.chmod(d, 0o755)
    return d


def rmtree(d):
    shutil.rmtree(d, ignore_errors=True)


def tls_context(tls_dir, name):
    """A self-signed certificate for 127.0.0.1 and localhost (its PEM's
    path, for ca_file) and a server's TLS context with it."""
    import ssl
    cert = os.path.join(tls_dir, name + ".pem")
    key = os.path.join(tls_dir, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key,
         "-out", cert], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return cert, ctx


class Receiver:
    """A real HTTP server on 127.0.0.1 that records each request and
    answers what the test asks, per path: a list of behaviours consumed in
    order (the last one repeats). A behaviour is a status code, or a dict
    {"status", "headers", "body", "sleep"}. With tls_dir, it speaks HTTPS
    with a self-signed certificate for 127.0.0.1 (self.cert), and records
    whether each request's TLS session was resumed; with cert, a (chain,
    key) pair of PEM files, it serves that certificate instead."""

    def __init__(self, tls_dir=None, cert=None):
        import http.server
        import threading

        self.requests = []
        self.plans = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length",
                                                            0)))
                with receiver.lock:
                    receiver.requests.append({
                        "path": self.path, "headers": dict(self.headers),
                        "body": body, "at": time.time(),
                        "peer": self.client_address,
                        "resumed": getattr(self.connection,
                                           "session_reused", None)})
                    plan = receiver.plans.get(self.path, [200])
                    b = plan.pop(0) if len(plan) > 1 else plan[0]
                if isinstance(b, int):
                    b = {"status": b}
                if b.get("sleep"):
                    time.sleep(b["sleep"])
                out = b.get("body", b"ok")
                self.send_response(b.get("status", 200))
                for k, v in b.get("headers", {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST

        class Server(http.server.ThreadingHTTPServer):
            # as a real server's: hookd opens hundreds of connections at
            # once, and a listen backlog of 5 left some unanswered
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if cert:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*cert)
            self.cert = cert[0]
            self.server.socket = ctx.wrap_socket(self.server.socket,
                                                 server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        elif tls_dir:
            self.cert, ctx = tls_context(tls_dir, "receiver")
            self.server.socket = ctx.wrap_socket(self.server.socket,
                                                 server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def plan(self, path, *behaviours):
        with self.lock:
            self.plans[path] = list(behaviours)

    def at(self, path):
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def close(self):
        self.server.shutdown()


class Proxy:
    """A stand-in forward proxy on 127.0.0.1, as an operator's egress proxy:
    plain HTTP in absolute form and HTTPS through CONNECT, each recorded as
    its request line's method and target."""

    def __init__(self):
        import http.client
        import http.server
        import select
        import threading
        import urllib.parse

        self.seen = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_CONNECT(self):
                proxy.seen.append(("CONNECT", self.path))
                host, port = self.path.rsplit(":", 1)
                up = socket.create_connection((host.strip("[]"), int(port)))
                self.send_response(200, "Connection established")
                self.end_headers()
                conns = [self.connection, up]
                while True:
                    ready, _, _ = select.select(conns, [], [], 10)
                    if not ready:
                        break
                    for c in ready:
                        data = c.recv(65536)
                        if not data:
                            up.close()
                            return
                        (up if c is self.connection else
                         self.connection).sendall(data)

            def do_POST(self):
                proxy.seen.append((self.command, self.path))
                u = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length",
                                                            0)))
                up = http.client.HTTPConnection(u.hostname, u.port or 80,
                                                timeout=10)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("proxy-connection",
                                                "connection")}
                up.request(self.command, u.path or "/", body, headers)
                r = up.getresponse()
                out = r.read()
                self.send_response(r.status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                up.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.server.shutdown()


class Daemon:
    """hookd run, with a generated hookd.conf."""

    def __init__(self, hookd_env, base, **conf):
        self.env = dict(hookd_env)
        self.dir = base
        settings = {"lease": "5s", "poll_interval": "200ms",
                    "drain_timeout": "10s", "log_level": "info"}
        settings.update(conf)
        self.conf = os.path.join(base, f"hookd-{time.time_ns()}.conf")
        with open(self.conf, "w") as f:
            for k, v in settings.items():
                for one in (v if isinstance(v, list) else [v]):
                    f.write(f"{k} = {one}\n")
        self.log = self.conf + ".log"
        self.proc = None

    def start(self, *args, env=None):
        e = dict(self.env, **(env or {}))
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen((HOOKD, "run", "--config", self.conf)
                                     + args, env=e, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        return self

    def stop(self, sig=None, timeout=15):
        import signal as _signal
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig or _signal.SIGTERM)
            self.proc.wait(timeout)
        self.logf.close()
        return self.proc.returncode

    def output(self):
        with open(self.log) as f:
            return f.read()
