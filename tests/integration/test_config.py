"""nginx configuration: bad directives are refused with a clear message;
host names in hookd_database are resolved when the configuration is read."""

import os
import subprocess

import requests

from harness import Nginx


def nginx_t(n):
    return subprocess.run(["/usr/sbin/nginx", "-t", "-p", n.dir, "-c", n.conf,
                           "-e", os.path.join(n.dir, "error.log")],
                          capture_output=True, text=True)


def rewrite(n, old, new):
    conf = open(n.conf).read()
    assert old in conf
    open(n.conf, "w").write(conf.replace(old, new))


def test_bad_configurations_are_refused_with_the_reason(base, pg):
    cases = [
        ('hookd_database "', 'hookd_database "nonsense_option=1 '),
        ("hookd_pool_size 4;", "hookd_pool_size 0;"),
        ("rate=2/s", "rate=fast"),
        ("burst=3", "burst=0"),
    ]
    for i, (old, new) in enumerate(cases):
        n = Nginx(os.path.join(base, f"badconf{i}"), pg.conninfo)
        rewrite(n, old, new)
        p = nginx_t(n)
        assert p.returncode != 0, (new, p.stderr)
        assert "[emerg]" in p.stderr, p.stderr

    n = Nginx(os.path.join(base, "nodb"), pg.conninfo)
    rewrite(n, f'hookd_database "{pg.conninfo}";', "")
    p = nginx_t(n)
    assert p.returncode != 0 and "needs \"hookd_database\"" in p.stderr


def test_a_host_name_is_resolved_at_configuration_time(base, pg, app):
    conninfo = pg.conninfo.replace("host=127.0.0.1", "host=localhost")
    n = Nginx(os.path.join(base, "byname"), conninfo, workers=1)
    n.start()
    try:
        r = requests.post(n.url + "/v1/events",
                          headers={"Authorization": f"Bearer {app.key}"},
                          json={"event_type": "a.b", "payload": {}},
                          timeout=10)
        assert r.status_code == 202, r.text
        rows = pg.query("SELECT count(*) FROM pg_stat_activity "
                        "WHERE application_name = 'hookd-nginx'")
        assert rows[0][0] >= 1
    finally:
        n.stop()


def test_the_admin_api_needs_a_good_master_key(base, pg):
    n = Nginx(os.path.join(base, "nokey"), pg.conninfo)
    key_line = [line for line in open(n.conf).read().splitlines()
                if "hookd_secret_key_file" in line][0]
    rewrite(n, key_line, "")
    p = nginx_t(n)
    assert p.returncode != 0
    assert 'needs "hookd_secret_key_file"' in p.stderr, p.stderr

    n = Nginx(os.path.join(base, "badkey"), pg.conninfo)
    with open(os.path.join(base, "badkey", "secret.key"), "w") as f:
        f.write("not hex\n")
    p = nginx_t(n)
    assert p.returncode != 0 and "64 hex digits" in p.stderr, p.stderr


def test_hookd_refuses_bad_settings_with_the_reason(base, hookd):
    from harness import HOOKD
    cases = [
        ("notify_url = http://127.0.0.1:9/n\n", "notify_secret"),
        ("notify_url = ftp://x\nnotify_secret = whsec_"
         "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "http://"),
        ("notify_smtp_url = smtp://127.0.0.1:25\n", "notify_smtp_from"),
        ("notify_smtp_to = not-an-address\n", "notify_smtp_to"),
        ("retention = forever\n", "retention"),
        ("ca_file = /nonexistent/ca.pem\n", "ca_file"),
        ("assist_url = ftp://x\nassist_model = m\n", "assist_url"),
        ("assist_url = http://127.0.0.1:9/v1\n", "assist_model"),
        ("assist_url = http://127.0.0.1:9/v1\nassist_model = m\n"
         "assist_key_file = /nonexistent/key\n", "assist_key_file"),
        ("assist_requests_per_hour = 0\n", "assist_requests_per_hour"),
    ]
    for i, (text, needle) in enumerate(cases):
        conf = os.path.join(base, f"notify{i}.conf")
        with open(conf, "w") as f:
            f.write(text)
        p = subprocess.run([HOOKD, "run", "--config", conf], env=hookd.env,
                           capture_output=True, text=True, timeout=10)
        assert p.returncode != 0 and "bad_config" in p.stderr, p.stderr
        assert needle in p.stderr, (text, p.stderr)
