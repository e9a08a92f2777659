"""End-to-end tests of a message's life in the queue: deferral and backoff, flush, bounces
(RFC 3464 notices), expiry, the delay warning and dead-destination suspension.

Each test starts a whole instance (conftest.py) that routes sink.test to an SMTP sink
(smtp_peers.Sink; transport_maps = inline:{ sink.test=smtp:[127.0.0.1]:PORT }); the sink answers
RCPT with whatever the test says (450, 550, 250). Senders are virtual mailboxes of the instance, so
notifications land in instance.mail/<user>/new and are checked with dsn_check.py.
"""
import os
import re
import smtplib
import time
import uuid

import pytest

from conftest import free_port
from dsn_check import check_dsn
from smtp_peers import Sink

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAVE_SMTP_CLIENT = "deliver_server_run" in open(
    os.path.join(ROOT, "src/deliver/smtp_client.c")).read()
needs_smtp = pytest.mark.skipif(not HAVE_SMTP_CLIENT, reason="smtp client agent not built")

SENDER = "user@virtual.test"
RCPT = "rcpt@sink.test"
TEMP = "450 4.2.0 <rcpt@sink.test>: mailbox busy, try later"
PERM = "550 5.1.1 <rcpt@sink.test>: Recipient address rejected: no such user"
OK = "250 2.1.5 Ok"


@pytest.fixture
def sink():
    s = Sink(rcpt_reply=OK)  # the test may change rcpt_reply at any time
    yield s
    s.close()


def start(instance, sink_port, extra=None):
    cfg = {"transport_maps": f"inline:{{ sink.test=smtp:[127.0.0.1]:{sink_port}, "
                             f"{{ fail.test = error:5.1.1 no such user here }} }}",
           "minimal_backoff_time": "1s",
           "maximal_backoff_time": "4s",
           "queue_run_delay": "1s"}
    cfg.update(extra or {})
    instance.write_main_cf(cfg)
    instance.start()


def send(instance, rcpts, sender=SENDER, subject="lifecycle"):
    body = (f"From: <{sender}>\r\nTo: <{rcpts[0]}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@virtual.test>\r\n\r\nhello\r\n").encode()
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as s:
        s.ehlo("client.example.com")
        s.sendmail(sender, rcpts, body)


def queue_id_of(instance, rcpt):
    """The queue id of the first delivery attempt logged for rcpt."""
    m = instance.wait_for(
        lambda: re.search(r"(\w+): to=<" + re.escape(rcpt) + ">", instance.maillog()),
        what=f"a delivery attempt for {rcpt}")
    return m.group(1)


def deferred_file(instance, qid):
    files = [p for p in (instance.queue / "deferred").rglob(qid) if p.is_file()]
    return files[0] if files else None


def mailbox(instance, user="user"):
    return instance.maildir_messages(user)


def wait_mailbox(instance, count, user="user", timeout=30):
    return instance.wait_for(lambda: len(mailbox(instance, user)) >= count and mailbox(instance, user),
                             timeout=timeout, what=f"{count} message(s) in {user}'s mailbox")


def queue_empty(instance):
    for name in ("incoming", "active", "deferred"):
        if any(p.is_file() for p in (instance.queue / name).rglob("*")):
            return False
    return True


@needs_smtp
def test_deferred_backoff_then_flush_delivers(instance, sink):
    sink.rcpt_reply = TEMP
    start(instance, sink.port)
    send(instance, [RCPT])
    qid = queue_id_of(instance, RCPT)
    instance.wait_for(lambda: deferred_file(instance, qid), what="the message in deferred/")
    assert re.search(qid + r": to=<rcpt@sink\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, "
                     r".*dsn=4\.2\.0, status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: "
                     r"450 4\.2\.0", instance.maillog())

    # postqueue -p: the queue id, the sender, and the reason in parentheses.
    listing = instance.cmd("postqueue", "-p", check=True).stdout
    assert qid in listing and SENDER in listing, listing
    assert re.search(r"\(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 450 4\.2\.0 .*mailbox busy",
                     listing), listing
    assert RCPT in listing

    # The next attempt time (the file's mtime) moves further out as the message ages:
    # minimal_backoff_time (1s) at first, up to maximal_backoff_time (4s).
    samples, last_mtime = [], None
    deadline = time.time() + 40
    while time.time() < deadline:
        f = deferred_file(instance, qid)
        try:
            mtime = f.stat().st_mtime if f else None
        except FileNotFoundError:
            mtime = None
        if mtime is not None and mtime != last_mtime:
            samples.append(mtime - time.time())
            last_mtime = mtime
            if samples[-1] > 2.5:
                break
        time.sleep(0.02)
    assert len(samples) >= 2, samples
    assert samples[0] <= 1.1, samples
    assert max(samples) > 2.5, samples
    assert all(s <= 4.1 for s in samples), samples
    attempts = instance.maillog().count(f"{qid}: to=<{RCPT}>")
    assert attempts >= 2

    # The next attempt is seconds away; postqueue -f ignores the schedule.
    due = last_mtime
    sink.rcpt_reply = OK
    instance.cmd("postqueue", "-f", check=True)
    instance.wait_for(lambda: f"{qid}: removed" in instance.maillog(), timeout=20,
                      what="delivery after postqueue -f")
    assert time.time() < due + 0.5, "delivered only at the scheduled time, not by the flush"
    assert re.search(qid + r": to=<rcpt@sink\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, "
                     r".*dsn=2\.\d\.\d, status=sent", instance.maillog())
    assert len(sink.messages) == 1 and b"Subject: lifecycle" in sink.messages[0]
    assert queue_empty(instance)
    assert mailbox(instance) == []  # no notice of any kind


@needs_smtp
def test_permanent_failure_returns_a_dsn(instance, sink):
    sink.rcpt_reply = PERM
    start(instance, sink.port)
    send(instance, [RCPT], subject="will bounce")
    qid = queue_id_of(instance, RCPT)
    notices = wait_mailbox(instance, 1)
    log = instance.maillog()
    assert re.search(qid + r": to=<rcpt@sink\.test>, .*dsn=5\.1\.1, status=bounced", log)
    m = re.search(qid + r": sender non-delivery notification: (\w+)", log)
    assert m, log
    instance.wait_for(lambda: f"{qid}: removed" in instance.maillog(), what="original removed")
    dsn = check_dsn(notices[0])
    assert dsn["headers"]["Subject"] == "Undelivered Mail Returned to Sender"
    (r,) = dsn["recipients"]
    assert r["Final-Recipient"] == "rfc822; rcpt@sink.test"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Diagnostic-Code"].startswith("smtp; 550 5.1.1 <rcpt@sink.test>"), r
    assert r.get("Remote-MTA") == "dns; 127.0.0.1", r
    assert dsn["per_message"]["Reporting-MTA"] == "dns; mx.example.test"
    assert dsn["returned"] == "message/rfc822"
    assert b"Subject: will bounce" in notices[0]
    # The notice itself was delivered and removed; nothing is left.
    instance.wait_for(lambda: queue_empty(instance), what="an empty queue")
    assert len(mailbox(instance)) == 1


def test_error_transport_bounce(instance):
    start(instance, free_port())
    send(instance, ["someone@fail.test", "user@virtual.test"], sender="other@virtual.test")
    notices = wait_mailbox(instance, 1, user="other")
    dsn = check_dsn(notices[0])
    (r,) = dsn["recipients"]  # only the failed one
    assert r["Final-Recipient"] == "rfc822; someone@fail.test"
    assert r["Status"] == "5.1.1" and r["Action"] == "failed"
    assert "no such user here" in r["Diagnostic-Code"]
    assert len(wait_mailbox(instance, 1, user="user")) == 1  # the other recipient got it
    assert re.search(r"to=<someone@fail\.test>, relay=none, .*dsn=5\.1\.1, status=bounced "
                     r"\(no such user here\)", instance.maillog())
    instance.wait_for(lambda: queue_empty(instance), what="an empty queue")


@needs_smtp
def test_undeliverable_bounce_is_not_bounced_again(instance, sink):
    sink.rcpt_reply = PERM
    # The sender is not a mailbox: its bounce fails; with notify_classes=2bounce the postmaster
    # gets a double bounce, which fails too (unknown mailbox) and is discarded.
    start(instance, sink.port, {"notify_classes": "2bounce",
                                "2bounce_notice_recipient": "nobody-pm@virtual.test"})
    send(instance, [RCPT], sender="nobody@virtual.test")
    qid = queue_id_of(instance, RCPT)
    log = instance.wait_for(
        lambda: "undeliverable postmaster notification discarded" in instance.maillog()
        and instance.maillog(), what="the double bounce to be discarded")
    bounce_id = re.search(qid + r": sender non-delivery notification: (\w+)", log).group(1)
    assert re.search(bounce_id + r": from=<>", log)
    assert re.search(bounce_id + r": to=<nobody@virtual\.test>, .*status=bounced", log)
    double_id = re.search(bounce_id + r": postmaster non-delivery notification: (\w+)",
                          log).group(1)
    assert re.search(double_id + r": to=<nobody-pm@virtual\.test>, .*status=bounced", log)
    assert f"{double_id}: undeliverable postmaster notification discarded" in log
    instance.wait_for(lambda: queue_empty(instance), what="an empty queue")
    time.sleep(1.5)
    log = instance.maillog()
    assert log.count("non-delivery notification:") == 2, log
    assert f"{double_id}: sender non-delivery notification" not in log
    assert f"{double_id}: postmaster non-delivery notification" not in log
    assert queue_empty(instance)


@needs_smtp
def test_queue_lifetime_expires_with_a_dsn(instance, sink):
    sink.rcpt_reply = TEMP
    start(instance, sink.port, {"maximal_queue_lifetime": "2s"})
    send(instance, [RCPT], subject="too slow")
    qid = queue_id_of(instance, RCPT)
    notices = wait_mailbox(instance, 1, timeout=30)
    # the log lines may land after the notice is in the mailbox: wait for them
    instance.wait_for(lambda: re.search(qid + r": sender non-delivery notification: \w+",
                                        instance.maillog()), what="the notification logged")
    log = instance.maillog()
    assert f"{qid}: from=<{SENDER}>, status=expired, returned to sender" in log
    assert log.count(f"{qid}: to=<{RCPT}>") >= 2  # tried more than once before giving up
    dsn = check_dsn(notices[0])
    (r,) = dsn["recipients"]
    assert r["Action"] == "failed"
    assert r["Status"] == "4.2.0"  # the last temporary status
    assert r["Diagnostic-Code"].startswith("smtp; 450 4.2.0"), r
    instance.wait_for(lambda: f"{qid}: removed" in instance.maillog(), what="expired removed")
    instance.wait_for(lambda: queue_empty(instance), what="an empty queue")
    assert sink.messages == []


@needs_smtp
def test_one_delay_warning(instance, sink):
    sink.rcpt_reply = TEMP
    start(instance, sink.port, {"delay_warning_time": "1s"})
    send(instance, [RCPT], subject="slow one")
    qid = queue_id_of(instance, RCPT)
    notices = wait_mailbox(instance, 1, timeout=30)
    assert re.search(qid + r": sender delay notification: \w+", instance.maillog())
    dsn = check_dsn(notices[0])
    assert dsn["headers"]["Subject"].startswith("Delayed Mail")
    (r,) = dsn["recipients"]
    assert r["Action"] == "delayed"
    assert r["Status"] == "4.2.0"
    assert dsn["returned"] in (None, "text/rfc822-headers")

    # The flag is in the queue file (postcat: last field of message_size).
    f = instance.wait_for(lambda: deferred_file(instance, qid), what="deferred file")
    out = instance.cmd("postcat", "-e", str(f), check=True).stdout
    assert re.search(r"^message_size: +\d+ +\d+ +1 +1$", out, re.M), out  # fixed-width fields

    # More attempts, still one notice.
    seen = instance.maillog().count(f"{qid}: to=<{RCPT}>")
    instance.wait_for(lambda: instance.maillog().count(f"{qid}: to=<{RCPT}>") >= seen + 2,
                      timeout=30, what="two more attempts")
    time.sleep(0.5)
    assert len(mailbox(instance)) == 1
    assert instance.maillog().count(f"{qid}: sender delay notification") == 1
    sink.rcpt_reply = OK
    instance.cmd("postqueue", "-f", check=True)
    instance.wait_for(lambda: f"{qid}: removed" in instance.maillog(), what="delivery")


@needs_smtp
def test_dead_destination_is_suspended_others_continue(instance, sink):
    closed_port = free_port()  # nothing listens here: connection refused
    start(instance, closed_port, {
        "transport_maps": f"inline:{{ sink.test=smtp:[127.0.0.1]:{closed_port}, "
                          f"live.test=smtp:[127.0.0.1]:{sink.port} }}",
        "minimal_backoff_time": "30s", "maximal_backoff_time": "60s", "queue_run_delay": "30s"})
    send(instance, [RCPT], subject="first")
    first = queue_id_of(instance, RCPT)
    instance.wait_for(lambda: re.search(first + r": to=<rcpt@sink\.test>, .*dsn=4\.4\.1, "
                                        r"status=deferred \(connect to 127\.0\.0\.1",
                                        instance.maillog()), what="connection refused")
    send(instance, ["second@sink.test"], subject="second")
    m = instance.wait_for(lambda: re.search(
        r"(\w+): to=<second@sink\.test>, relay=none, .*dsn=4\.4\.1, status=deferred "
        r"\(delivery temporarily suspended: connect to 127\.0\.0\.1\[127\.0\.0\.1\]:"
        + str(closed_port), instance.maillog()), what="suspended destination")
    assert m.group(1) != first
    tries = re.findall(r"/smtp\[\d+\]: connect to 127\.0\.0\.1\[127\.0\.0\.1\]:" + str(closed_port),
                       instance.maillog())
    assert len(tries) == 1  # the second message was not tried
    # Another destination of the same transport, and another transport, are not affected.
    send(instance, ["someone@live.test"], subject="third")
    instance.wait_for(lambda: re.search(r"to=<someone@live\.test>, relay=127\.0\.0\.1.*status=sent",
                                        instance.maillog()), what="delivery to live.test")
    send(instance, ["user@virtual.test"], sender="other@virtual.test", subject="fourth")
    instance.wait_for(lambda: re.search(r"to=<user@virtual\.test>, relay=virtual, .*status=sent",
                                        instance.maillog()), what="virtual delivery")
    assert len(sink.messages) == 1
    assert len(mailbox(instance)) == 1

def test_notify_success_and_never(instance):
    start(instance, free_port())
    body = b"From: <other@virtual.test>\r\nSubject: dsn success\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as s:
        s.ehlo("client.example.com")
        s.mail("other@virtual.test")
        assert s.rcpt("user@virtual.test", ["NOTIFY=SUCCESS"])[0] == 250
        assert s.rcpt("nobody@fail.test", ["NOTIFY=NEVER"])[0] == 250
        assert s.data(body)[0] == 250
    notices = wait_mailbox(instance, 1, user="other")
    dsn = check_dsn(notices[0])
    assert dsn["headers"]["Subject"] == "Successful Mail Delivery Report"
    (r,) = dsn["recipients"]  # NOTIFY=NEVER: no failure notice about nobody@fail.test
    assert r["Final-Recipient"] == "rfc822; user@virtual.test"
    assert r["Action"] == "delivered" and r["Status"].startswith("2.")
    log = instance.wait_for(lambda: queue_empty(instance) and instance.maillog(),
                            what="an empty queue")
    assert re.search(r"to=<nobody@fail\.test>, relay=none, .*status=bounced", log)
    assert "sender delivery status notification:" in log
    assert "non-delivery notification" not in log
    time.sleep(0.5)
    assert len(mailbox(instance, "other")) == 1


@needs_smtp
def test_failure_kept_until_the_bounce_is_queued(instance, sink):
    sink.rcpt_reply = TEMP
    start(instance, sink.port, {"minimal_backoff_time": "30s", "maximal_backoff_time": "60s",
                                "queue_run_delay": "30s"})
    send(instance, [RCPT], subject="bounce later")
    qid = queue_id_of(instance, RCPT)
    instance.wait_for(lambda: deferred_file(instance, qid), what="deferred")
    # No incoming/ directory: the notice cannot be queued.
    incoming = instance.queue / "incoming"
    hidden = instance.queue / "incoming.hidden"
    incoming.rename(hidden)
    try:
        sink.rcpt_reply = PERM
        instance.cmd("postqueue", "-f", check=True)
        instance.wait_for(lambda: "cannot queue the non-delivery notification" in instance.maillog(),
                          what="the failed notice")
        f = instance.wait_for(lambda: deferred_file(instance, qid), what="still deferred")
        out = instance.cmd("postcat", "-e", str(f), check=True).stdout
        assert f"\nrecipient: {RCPT}\n" in out, out  # not marked done
        listing = instance.cmd("postqueue", "-p", check=True).stdout
        assert "bounce notification failed" in listing, listing
    finally:
        hidden.rename(incoming)
    instance.cmd("postqueue", "-f", check=True)
    notices = wait_mailbox(instance, 1)
    r = check_dsn(notices[0])["recipients"][0]
    assert r["Action"] == "failed" and r["Status"] == "5.1.1"
    instance.wait_for(lambda: f"{qid}: removed" in instance.maillog(), what="original removed")


@needs_smtp
def test_null_sender_uses_bounce_queue_lifetime(instance, sink):
    sink.rcpt_reply = TEMP
    # 0: one attempt only. maximal_queue_lifetime (5d) does not apply to the null sender.
    start(instance, sink.port, {"bounce_queue_lifetime": "0"})
    send(instance, [RCPT], sender="")
    qid = queue_id_of(instance, RCPT)
    instance.wait_for(lambda: f"{qid}: removed" in instance.maillog(), what="expired at once")
    log = instance.maillog()
    assert f"{qid}: from=<>, status=expired, returned to sender" in log
    assert log.count(f"{qid}: to=<{RCPT}>") == 1
    # A bounce is never bounced to the null sender; no double bounce without notify_classes.
    assert "non-delivery notification" not in log
    assert queue_empty(instance)
    # A normal sender still has five days.
    send(instance, ["later@sink.test"])
    other = queue_id_of(instance, "later@sink.test")
    instance.wait_for(lambda: deferred_file(instance, other), what="normal sender deferred")
    assert f"{other}: from=<{SENDER}>, status=expired" not in instance.maillog()
