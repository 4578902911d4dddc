"""Endpoint lifecycle: auto-disable after sustained failure and on 410,
operator notifications by a signed JSON POST and by SMTP (a real aiosmtpd
server), their rate limit, and retention."""

import email
import json
import re
import threading
import time

import pytest

from test_admin import Api, Tenant, ok
from harness import wait_for
from test_delivery import SECRET, path, verify


class Mailbox:
    """A real SMTP server on 127.0.0.1 keeping what it receives; with
    tls_dir, it offers STARTTLS and refuses mail without it."""

    def __init__(self, tls_dir=None):
        from aiosmtpd.controller import Controller
        from harness import free_port, tls_context

        self.messages = []
        self.lock = threading.Lock()
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with box.lock:
                    box.messages.append({
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "mail": email.message_from_bytes(envelope.content)})
                return "250 OK"

        self.port = free_port()
        tls = {}
        if tls_dir:
            self.cert, ctx = tls_context(tls_dir, "mailbox")
            tls = {"tls_context": ctx, "require_starttls": True}
        self.controller = Controller(Handler(), hostname="127.0.0.1",
                                     port=self.port, **tls)
        self.controller.start()

    def close(self):
        self.controller.stop()


@pytest.fixture(scope="module")
def mailbox():
    m = Mailbox()
    yield m
    m.close()


@pytest.fixture(scope="module")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


def notifier(daemons, receiver, mailbox, notify_path, **conf):
    settings = dict(notify_url=receiver.url + notify_path,
                    notify_secret=SECRET,
                    notify_smtp_url=f"smtp://127.0.0.1:{mailbox.port}",
                    notify_smtp_from="hookd@example.com",
                    notify_smtp_to=["ops@example.com", "oncall@example.com"],
                    notify_smtp_insecure="true",
                    housekeeping_interval="300ms")
    settings.update(conf)
    return daemons(**settings)


def notifications(receiver, notify_path):
    out = []
    for r in receiver.at(notify_path):
        h = {k.lower(): v for k, v in r["headers"].items()}
        assert verify(SECRET, h, r["body"]), "unsigned notification"
        out.append(json.loads(r["body"]))
    return out


def mails_about(mailbox, needle):
    with mailbox.lock:
        return [m for m in mailbox.messages
                if needle in m["mail"].get_payload()]


def failing_tenant(operator, receiver, p, **endpoint):
    receiver.plans[p] = [500]
    t = Tenant(operator, receiver.url + p)
    ok(operator("PATCH", f"{t.base}/endpoints/{t.ep}", dict({
        "retry_policy": {"strategy": "constant", "base_seconds": 0.1,
                         "max_attempts": 1000},
        "breaker_threshold": 1000}, **endpoint)))
    return t


def test_sustained_failures_disable_the_endpoint_and_notify_by_post_and_mail(
        operator, receiver, daemons, mailbox, pg):
    p, notify = path(), path()
    t = failing_tenant(operator, receiver, p, disable_after_failures=5)
    notifier(daemons, receiver, mailbox, notify)

    ep = wait_for(lambda: (lambda e: e if e["status"] == "disabled" else None)(
        ok(operator("GET", f"{t.base}/endpoints/{t.ep}"))), timeout=20)
    assert "5 attempts in a row failed" in ep["disabled_reason"]
    assert "HTTP 500" in ep["disabled_reason"]
    attempts = len(receiver.at(p))
    assert attempts == 5

    got = wait_for(lambda: [n for doc in notifications(receiver, notify)
                            for n in doc["notifications"]
                            if n["endpoint_id"] == t.ep
                            and n["kind"] == "endpoint_disabled"])
    assert "was disabled" in got[0]["message"] and got[0]["app_id"] == t.id
    doc = notifications(receiver, notify)[0]
    assert doc["text"].startswith("hookd: ")      # Slack-compatible
    mail = wait_for(lambda: mails_about(mailbox, t.ep))[0]
    assert mail["from"] == "hookd@example.com"
    assert sorted(mail["to"]) == ["oncall@example.com", "ops@example.com"]
    assert mail["mail"]["Subject"].startswith("hookd: ")
    assert "was disabled" in mail["mail"].get_payload()

    # disabled: no more attempts, new events are not even fanned out to it
    late = t.ingest("invoice.paid", {"n": 2})
    assert pg.query("SELECT count(*) FROM hookd.deliveries WHERE "
                    "event_id = %s", late["id"]) == [(0,)]
    # what waits is not claimed while the endpoint is disabled
    assert pg.query("SELECT status FROM hookd.endpoints WHERE id = %s",
                    t.ep) == [("disabled",)]
    assert pg.query("SELECT count(*) FROM hookd.deliveries d WHERE app_id = %s"
                    " AND hookd.delivery_status(d) = 'in_flight'", t.id) \
        == [(0,)]
    assert len(receiver.at(p)) == attempts
    wait_for(lambda: pg.query(
        "SELECT sent_at IS NOT NULL, last_error FROM hookd.notifications "
        "WHERE endpoint_id = %s AND kind = 'endpoint_disabled'",
        t.ep) == [(True, None)])
    # resume forgives the failures
    receiver.plans[p] = [200]
    ep = ok(operator("POST", f"{t.base}/endpoints/{t.ep}/resume"))
    assert ep["status"] == "enabled" and ep["disabled_reason"] is None
    wait_for(lambda: len(receiver.at(p)) > attempts)


def test_failing_for_longer_than_the_limit_disables_the_endpoint(
        operator, receiver, daemons, mailbox):
    p, notify = path(), path()
    receiver.plans[p] = [500]
    t = failing_tenant(operator, receiver, p, disable_after_seconds=1,
                       retry_policy={"strategy": "constant",
                                     "base_seconds": 0.3,
                                     "max_attempts": 1000})
    notifier(daemons, receiver, mailbox, notify)
    ep = wait_for(lambda: (lambda e: e if e["status"] == "disabled" else None)(
        ok(operator("GET", f"{t.base}/endpoints/{t.ep}"))), timeout=20)
    assert "every attempt failed since" in ep["disabled_reason"]
    assert 2 <= len(receiver.at(p)) < 20
    wait_for(lambda: mails_about(mailbox, t.ep))


def test_410_disables_and_notifies(operator, receiver, daemons, mailbox):
    p, notify = path(), path()
    receiver.plans[p] = [410]
    t = Tenant(operator, receiver.url + p)
    notifier(daemons, receiver, mailbox, notify)
    got = wait_for(lambda: [n for doc in notifications(receiver, notify)
                            for n in doc["notifications"]
                            if n["endpoint_id"] == t.ep])
    assert got[0]["kind"] == "endpoint_disabled"
    assert "410 Gone" in got[0]["message"]
    assert ok(operator("GET", f"{t.base}/endpoints/{t.ep}"))["status"] == \
        "disabled"


def test_breaker_opening_and_dead_letters_notify(operator, receiver, daemons,
                                                  mailbox):
    p, q, notify = path(), path(), path()
    t = failing_tenant(operator, receiver, p, breaker_threshold=3)
    receiver.plans[q] = [400]
    ok(operator("PATCH", f"{t.base}/endpoints/{t.ep}",
                {"event_types": ["invoice.paid"]}))
    dead = ok(operator("POST", t.base + "/endpoints", {
        "url": receiver.url + q, "event_types": ["order.*"]}), 201)
    for i in range(4):
        t.ingest("order.created", {"n": i})
    notifier(daemons, receiver, mailbox, notify, dead_letter_threshold=3,
             dead_letter_window="1h")

    def kinds():
        return {(n["endpoint_id"], n["kind"])
                for doc in notifications(receiver, notify)
                for n in doc["notifications"]}

    wait_for(lambda: {(t.ep, "breaker_opened"),
                      (dead["id"], "dead_letters")} <= kinds(), timeout=20)
    msgs = [n["message"] for doc in notifications(receiver, notify)
            for n in doc["notifications"]]
    assert any("circuit breaker" in m and t.ep in m for m in msgs)
    assert any(re.match(r"[34] deliveries to endpoint ", m) and dead["id"] in m
               for m in msgs)
    # at most one dead-letter notice per window
    time.sleep(1)
    assert sum(1 for doc in notifications(receiver, notify)
               for n in doc["notifications"]
               if n["endpoint_id"] == dead["id"]) == 1


def test_an_outage_sends_few_messages_not_one_per_endpoint(
        operator, receiver, daemons, mailbox, pg):
    notify = path()
    t = Tenant(operator)
    eps = []
    for i in range(12):
        p = path()
        receiver.plans[p] = [410]
        eps.append(ok(operator("POST", t.base + "/endpoints", {
            "url": receiver.url + p, "event_types": ["outage.test"]}),
            201)["id"])
    t.ingest("outage.test", {"n": 1})
    notifier(daemons, receiver, mailbox, notify, housekeeping_interval="2s")
    wait_for(lambda: set(eps) <= {n["endpoint_id"]
                                  for doc in notifications(receiver, notify)
                                  for n in doc["notifications"]}, timeout=20)
    # one message per tick and channel, listing every endpoint at once
    assert len(receiver.at(notify)) <= 2
    assert len(mails_about(mailbox, eps[0])) <= 2


def test_unreachable_channel_keeps_the_notification_for_later(
        operator, receiver, daemons, mailbox, pg):
    p = path()
    receiver.plans[p] = [410]
    t = Tenant(operator, receiver.url + p)
    d = daemons(notify_url="http://127.0.0.1:9/down", notify_secret=SECRET,
                housekeeping_interval="200ms")
    wait_for(lambda: pg.query(
        "SELECT tries > 0 AND last_error IS NOT NULL AND sent_at IS NULL "
        "FROM hookd.notifications WHERE endpoint_id = %s", t.ep) == [(True,)])
    d.stop()
    assert "notification not sent" in d.output()


def test_retention_removes_only_old_finished_events(operator, receiver,
                                                    daemons, pg):
    p = path()
    t = Tenant(operator, receiver.url + p)
    young = [t.ingest("invoice.paid", {"n": i})["id"] for i in range(3)]
    d = daemons()
    wait_for(lambda: pg.query(
        "SELECT count(*) FROM hookd.deliveries WHERE app_id = %s AND "
        "status = 'succeeded'", t.id)[0][0] == 4)
    d.stop()

    # two days old, as ingest would have stored them then (an id starts
    # with its time): three delivered, one still waiting to be retried
    def old_event(status):
        return pg.query("""
            WITH e AS (
                INSERT INTO hookd.events (app_id, id, event_type, payload,
                                          received_at)
                SELECT %s, hookd.id_floor('evt', at)
                           || substr(md5(random()::text), 1, 16),
                       'invoice.paid', '{}', at
                  FROM (SELECT now() - interval '2 days' AS at) t
                RETURNING app_id, id, received_at),
            d AS (
                INSERT INTO hookd.deliveries (app_id, event_id, endpoint_id,
                                              status, attempt_count,
                                              next_attempt_at, created_at)
                SELECT e.app_id, e.id, %s, %s, 1,
                       now() + interval '1 hour', e.received_at FROM e
                RETURNING app_id, id, endpoint_id, created_at)
            INSERT INTO hookd.attempts (app_id, delivery_id, endpoint_id,
                                        attempt_number, started_at,
                                        duration_ms, status_code,
                                        error_class, worker)
            SELECT d.app_id, d.id, d.endpoint_id, 1, d.created_at, 5, 200,
                   'SUCCEEDED', 'test' FROM d
            RETURNING (SELECT id FROM e)""", t.id, t.ep, status)[0][0]

    old = [old_event("succeeded") for _ in range(3)]
    waiting = old_event("pending")
    before = pg.query("SELECT count(*) FROM hookd.attempts WHERE app_id = %s",
                      t.id)[0][0]
    d = daemons(retention="1d", housekeeping_interval="200ms")
    wait_for(lambda: pg.query("SELECT count(*) FROM hookd.events WHERE "
                              "id = ANY(%s)", old)[0][0] == 0)
    d.stop()
    left = {r[0] for r in pg.query(
        "SELECT id FROM hookd.events WHERE app_id = %s", t.id)}
    assert left == set(young) | {waiting, t.event["id"]}
    assert pg.query("SELECT count(*) FROM hookd.deliveries WHERE event_id = "
                    "ANY(%s)", old)[0][0] == 0
    after = pg.query("SELECT count(*) FROM hookd.attempts WHERE app_id = %s",
                     t.id)[0][0]
    assert after == before - 3


def test_mail_goes_only_over_tls_unless_insecure(operator, receiver, daemons,
                                                 mailbox, pg, base):
    """smtp:// needs STARTTLS: a server that does not offer it gets nothing
    (the notification waits with the reason); one that does gets the mail,
    its certificate checked against ca_file."""
    p, notify = path(), path()
    t = failing_tenant(operator, receiver, p, disable_after_failures=2)
    d = notifier(daemons, receiver, mailbox, notify,
                 notify_smtp_insecure="false")
    wait_for(lambda: pg.query(
        "SELECT last_error FROM hookd.notifications WHERE endpoint_id = %s "
        "AND last_error LIKE 'notify_smtp_url%%'", t.ep), timeout=20)
    assert not mails_about(mailbox, t.ep)
    d.stop()
    # its next try, minutes away, made due
    pg.query("UPDATE hookd.notifications SET next_try_at = now() WHERE "
             "endpoint_id = %s RETURNING 1", t.ep)

    tls = Mailbox(tls_dir=base)
    try:
        notifier(daemons, receiver, tls, notify, notify_smtp_insecure="false",
                 ca_file=tls.cert)
        mail = wait_for(lambda: mails_about(tls, t.ep), timeout=20)[0]
        assert "was disabled" in mail["mail"].get_payload()
    finally:
        tls.close()


def test_a_receivers_words_in_a_notification_hurt_no_other(
        operator, receiver, daemons, mailbox):
    """Notifications of many applications share one message: a receiver
    whose answer ends up in one (a redirect to quotes, backslashes, a dot,
    bytes that are not UTF-8) leaves its neighbour's notification whole,
    by POST and by mail."""
    p, q, notify = path(), path(), path()
    evil = failing_tenant(operator, receiver, p, disable_after_failures=1)
    receiver.plans[p] = [{"status": 302, "headers": {
        "Location": 'http://x/"}]} \\ . QUIT caf\xe9'}}]
    plain = failing_tenant(operator, receiver, q, disable_after_failures=1)
    notifier(daemons, receiver, mailbox, notify)

    def disabled():
        return {n["endpoint_id"]: n["message"]
                for doc in notifications(receiver, notify)
                for n in doc["notifications"]
                if n["kind"] == "endpoint_disabled"}

    got = wait_for(lambda: (lambda d: d if {evil.ep, plain.ep} <= set(d)
                            else None)(disabled()), timeout=20)
    assert "HTTP 500" in got[plain.ep] and "redirect" in got[evil.ep]
    # what is not printable ASCII is replaced, in the log too
    assert "QUIT caf?" in got[evil.ep]
    assert wait_for(lambda: mails_about(mailbox, plain.ep), timeout=20)
    assert wait_for(lambda: mails_about(mailbox, evil.ep), timeout=20)
