"""Local submission (sendmail, postdrop, pickup) and queue listings (mailq, postqueue -p/-j).

Most tests need no running mail system: sendmail writes into maildrop/ by itself, postqueue
reads the queue directly, and pickup is run by hand for a moment. The tests that need the whole
system (delivery to a virtual Maildir) skip with the reason when `postfix start` fails.
"""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import free_port

IND = " " * 41  # recipient indentation of the mailq layout
HEADING = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
MESSAGE = "Subject: test message\n\nfirst line\nsecond line\n"


def make_queue_dirs(inst):
    """Creates the queue directories (postfix check does that), falling back to mkdir."""
    p = inst.cmd("postfix", "check")
    for d in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt", "defer"):
        (inst.queue / d).mkdir(parents=True, exist_ok=True)
    return p


def queue_files(inst, name):
    d = inst.queue / name
    return sorted(p for p in d.rglob("*") if p.is_file()) if d.is_dir() else []


def postcat(inst, path):
    p = inst.cmd("postcat", str(path))
    if p.returncode != 0 and "not implemented" in p.stderr:
        pytest.skip("postcat is not implemented yet")
    assert p.returncode == 0, p.stderr
    return p.stdout


def sendmail(inst, *args, input=MESSAGE):
    return inst.cmd("sendmail", *args, input=input)


def run_pickup(inst, seconds=3.0, until=None):
    """Runs the pickup daemon by hand (no master) until `until()` is true or time runs out."""
    proc = subprocess.Popen([str(inst.bin), "pickup", "-c", str(inst.etc)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if until is not None and until():
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    return proc.returncode, err


# ---- listings ----

def test_mailq_empty_queue(instance):
    p = instance.cmd("mailq")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Mail queue is empty\n"
    p = instance.cmd("postqueue", "-p")
    assert p.returncode == 0 and p.stdout == "Mail queue is empty\n"
    p = instance.cmd("postqueue", "-j")
    assert p.returncode == 0 and p.stdout == ""


def test_postqueue_bad_usage(instance):
    for args in (("-x",), (), ("-p", "-f"), ("-p", "extra")):
        p = instance.cmd("postqueue", *args)
        assert p.returncode == 64, (args, p.stdout, p.stderr)
        assert "usage:" in p.stderr


# ---- sendmail into maildrop ----

def test_sendmail_plain_recipients_write_maildrop_file(instance):
    make_queue_dirs(instance)
    p = sendmail(instance, "-f", "alice@example.com", "bob@example.net,carol@example.net",
                 "Dave <dave@example.org>")
    assert p.returncode == 0, p.stderr
    files = queue_files(instance, "maildrop")
    assert len(files) == 1
    assert os.stat(files[0]).st_mode & 0o100, "a finished maildrop file has the owner-execute bit"
    out = postcat(instance, files[0])
    assert "sender: alice@example.com" in out
    for r in ("bob@example.net", "carol@example.net", "dave@example.org"):
        assert f"recipient: {r}" in out
    assert "Subject: test message" in out and "second line" in out

    # mailq lists the maildrop file in Postfix's layout.
    q = instance.cmd("mailq")
    assert q.returncode == 0, q.stderr
    lines = q.stdout.split("\n")
    assert lines[0] == HEADING
    assert re.match(r"^[0-9A-F]{6,}\s+\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d  alice@example\.com$",
                    lines[1]), lines[1]
    assert lines[1].split()[0] == files[0].name
    assert lines[2:5] == [IND + "bob@example.net", IND + "carol@example.net",
                          IND + "dave@example.org"]
    assert lines[5:] == ["", "-- 0 Kbytes in 1 Request.", ""]


def test_sendmail_default_sender_dot_and_crlf(instance):
    import pwd
    make_queue_dirs(instance)
    msg = "Subject: dots\r\n\r\nbefore\r\n.\r\nafter\r\n"
    p = sendmail(instance, "user@virtual.test", input=msg)
    assert p.returncode == 0, p.stderr
    p = sendmail(instance, "-oi", "user@virtual.test", input=msg)
    assert p.returncode == 0, p.stderr
    files = sorted(queue_files(instance, "maildrop"), key=lambda f: os.stat(f).st_mtime_ns)
    assert len(files) == 2
    first, second = postcat(instance, files[0]), postcat(instance, files[1])
    me = pwd.getpwuid(os.getuid()).pw_name
    assert f"sender: {me}" in first
    assert "\r" not in first
    assert "before" in first and "after" not in first  # "." ends the message
    assert "before" in second and "\n.\n" in second and "after" in second  # -oi keeps it


def test_sendmail_t_keeps_command_line_recipients(instance):
    make_queue_dirs(instance)
    msg = "To: to@example.com\nCc: cc@example.com\nBcc: bcc@example.com\nSubject: t\n\nbody\n"
    p = sendmail(instance, "-t", "-f", "alice@example.com", "extra@example.com", input=msg)
    assert p.returncode == 0, p.stderr
    (f,) = queue_files(instance, "maildrop")
    out = postcat(instance, f)
    assert "extract_recipients=yes" in out
    assert "recipient: extra@example.com" in out
    assert "Bcc: bcc@example.com" in out  # extraction (and Bcc removal) is cleanup's job


def test_sendmail_without_recipients_is_usage_error(instance):
    make_queue_dirs(instance)
    p = sendmail(instance, "-f", "alice@example.com")
    assert p.returncode == 64
    assert "Recipient addresses must be specified" in p.stderr
    assert queue_files(instance, "maildrop") == []


def test_sendmail_message_too_big(instance):
    instance.write_main_cf({"message_size_limit": "1000"})
    make_queue_dirs(instance)
    p = sendmail(instance, "bob@example.net", input="Subject: big\n\n" + ("x" * 99 + "\n") * 50)
    assert p.returncode == 69, p.stderr
    assert re.search(r"sendmail: fatal: \S+\(\d+\): message file too big", p.stderr), p.stderr
    assert queue_files(instance, "maildrop") == []
    p = sendmail(instance, "bob@example.net", input="Subject: small\n\nfits\n")
    assert p.returncode == 0, p.stderr


def test_sendmail_bad_option_and_unsupported_mode(instance):
    p = instance.cmd("sendmail", "-bt")
    assert p.returncode == 64 and "unsupported: -bt" in p.stderr
    p = instance.cmd("sendmail", "-N", "sometimes", "x@y")
    assert p.returncode == 64


def test_sendmail_bp_is_mailq(instance):
    p = instance.cmd("sendmail", "-bp")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Mail queue is empty\n"


# ---- pickup, run by hand ----

def test_pickup_moves_maildrop_into_incoming(instance):
    make_queue_dirs(instance)
    p = sendmail(instance, "-f", "alice@example.com", "-F", "Alice Example", "bob@example.net")
    assert p.returncode == 0, p.stderr
    # A file that is not a queue file: pickup moves it to corrupt/.
    bad = instance.queue / "maildrop" / "ABCDE123456"
    bad.write_bytes(b"\xffthis is not a queue file")
    os.chmod(bad, 0o744)
    # An unfinished file (no owner-execute bit) is left alone.
    unfinished = instance.queue / "maildrop" / "ABCDE654321"
    unfinished.write_bytes(b"S\x00")
    os.chmod(unfinished, 0o644)

    rc, err = run_pickup(instance, 15, until=lambda: len(queue_files(instance, "maildrop")) == 1
                         and queue_files(instance, "incoming"))
    assert [f.name for f in queue_files(instance, "maildrop")] == ["ABCDE654321"], err
    assert [f.name for f in queue_files(instance, "corrupt")] == ["ABCDE123456"]
    (qf,) = queue_files(instance, "incoming")
    log = instance.maillog()
    assert re.search(rf"pickup\[\d+\]: {qf.name}: uid={os.getuid()} from=<alice@example\.com>",
                     log), log
    assert "ABCDE123456" in log and "corrupt" in log
    out = postcat(instance, qf)
    assert "rewrite_context=local" in out
    assert "recipient: bob@example.net" in out
    assert re.search(r"From: Alice Example <alice@example\.com>", out), out

    # The queue file shows up in the listing, from incoming/.
    q = instance.cmd("postqueue", "-j")
    assert q.returncode == 0, q.stderr
    objs = [json.loads(line) for line in q.stdout.splitlines()]
    assert [(o["queue_name"], o["queue_id"]) for o in objs] == [("incoming", qf.name)]
    assert objs[0]["sender"] == "alice@example.com"
    assert objs[0]["recipients"] == [{"address": "bob@example.net"}]
    assert objs[0]["forced_expire"] is False and objs[0]["message_size"] > 0


# ---- deferred and held messages in the listing ----

def queue_one_message(inst, *args):
    make_queue_dirs(inst)
    p = sendmail(inst, *args)
    assert p.returncode == 0, p.stderr
    (f,) = queue_files(inst, "maildrop")
    return f


def test_postqueue_shows_deferred_with_reason_and_held(instance):
    f1 = queue_one_message(instance, "-f", "alice@example.com", "bob@example.net",
                           "carol@example.net")
    d = instance.queue / "deferred" / f1.name[0]
    d.mkdir(parents=True, exist_ok=True)
    os.rename(f1, d / f1.name)
    log = instance.queue / "defer" / f1.name[0]
    log.mkdir(parents=True, exist_ok=True)
    reason = "connect to mx.example.net[192.0.2.1]:25: Connection timed out"
    (log / f1.name).write_text(
        "recipient=bob@example.net\noffset=100\nstatus=4.4.1\naction=delayed\n"
        f"reason={reason}\n\n")
    p = sendmail(instance, "-f", "", "postmaster@example.com")  # null sender
    assert p.returncode == 0, p.stderr
    (f2,) = queue_files(instance, "maildrop")
    os.rename(f2, instance.queue / "hold" / f2.name)

    q = instance.cmd("postqueue", "-p")
    assert q.returncode == 0, q.stderr
    lines = q.stdout.split("\n")
    assert lines[0] == HEADING
    assert lines[1].startswith(f"{f1.name} ") and lines[1].endswith("  alice@example.com")
    assert lines[2] == " " * (76 - len(reason)) + f"({reason})"
    assert lines[3] == IND + "bob@example.net"
    assert lines[4] == " " * (76 - len("reason unavailable")) + "(reason unavailable)"
    assert lines[5] == IND + "carol@example.net"
    assert lines[6] == ""
    assert lines[7].startswith(f"{f2.name}! ") and lines[7].endswith("  MAILER-DAEMON")
    assert lines[8] == IND + "postmaster@example.com"
    assert lines[9:] == ["", "-- 0 Kbytes in 2 Requests.", ""]

    j = instance.cmd("postqueue", "-j")
    objs = [json.loads(line) for line in j.stdout.splitlines()]
    assert [o["queue_name"] for o in objs] == ["deferred", "hold"]
    assert objs[0]["recipients"][0] == {"address": "bob@example.net", "delay_reason": reason}
    assert objs[1]["sender"] == "MAILER-DAEMON"


def test_postqueue_flush_without_mail_system(instance):
    make_queue_dirs(instance)
    p = instance.cmd("postqueue", "-f")
    assert p.returncode == 69
    assert "mail system is down" in p.stderr


def test_authorized_mailq_users_root_always_allowed(instance):
    instance.write_main_cf({"authorized_mailq_users": "nobody-at-all"})
    p = instance.cmd("postqueue", "-p")
    if os.getuid() == 0:
        assert p.returncode == 0 and p.stdout == "Mail queue is empty\n"
    else:
        # The test user is mail_owner in the fixture: also always allowed.
        assert p.returncode == 0, p.stderr


# ---- with the whole mail system ----

def start_or_skip(inst):
    p = inst.cmd("postfix", "start")
    if p.returncode != 0:
        pytest.skip(f"postfix start failed (the master may not be ready): {p.stderr.strip()}")
    deadline = time.time() + 10
    while time.time() < deadline and not (inst.queue / "public" / "pickup").exists():
        time.sleep(0.1)
    if not (inst.queue / "public" / "pickup").exists():
        pytest.skip("the master did not create public/pickup")


def test_sendmail_delivers_to_virtual_maildir(instance):
    start_or_skip(instance)
    p = sendmail(instance, "-f", "alice@example.com", "user@virtual.test",
                 input="Subject: via sendmail\n\nhello from sendmail\n")
    assert p.returncode == 0, p.stderr
    msgs = instance.wait_for(lambda: instance.maildir_messages("user"), timeout=60,
                             what="delivery to user@virtual.test")
    assert len(msgs) == 1
    assert b"Subject: via sendmail" in msgs[0]
    assert b"hello from sendmail" in msgs[0]
    assert queue_files(instance, "maildrop") == []
    assert re.search(r"pickup\[\d+\]: \w+: uid=\d+ from=<alice@example\.com>", instance.maillog())


def test_sendmail_bs_smtp_dialogue(instance):
    make_queue_dirs(instance)
    dialogue = ("EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\n"
                "RCPT TO:<user@virtual.test>\r\nDATA\r\nSubject: bs\r\n\r\nvia -bs\r\n.\r\n"
                "QUIT\r\n")
    p = instance.cmd("sendmail", "-bs", input=dialogue, timeout=30)
    if not p.stdout.startswith("220 "):
        pytest.skip(f"smtpd -S (stand-alone mode) is not available: {p.stderr.strip()[:200]}")
    codes = [line[:3] for line in p.stdout.splitlines() if re.match(r"^\d{3} ", line)]
    assert codes == ["220", "250", "250", "250", "354", "250", "221"], p.stdout
    assert re.search(r"250 2\.0\.0 Ok: queued as \w+", p.stdout)
    assert len(queue_files(instance, "incoming")) == 1


def test_real_deferral_listed_and_flushed(instance):
    closed = free_port()
    instance.write_main_cf({"relayhost": f"[127.0.0.1]:{closed}", "queue_run_delay": "300s",
                            "minimal_backoff_time": "300s", "maximal_backoff_time": "600s"})
    start_or_skip(instance)
    p = sendmail(instance, "-f", "alice@example.com", "bob@remote.test")
    assert p.returncode == 0, p.stderr
    instance.wait_for(lambda: "status=deferred" in instance.maillog(), timeout=30,
                      what="the first deferral")
    (qf,) = instance.wait_for(lambda: queue_files(instance, "deferred"), timeout=10,
                              what="a file in deferred/")
    q = instance.cmd("postqueue", "-p")
    lines = q.stdout.split("\n")
    assert lines[0] == HEADING
    assert lines[1].startswith(qf.name + " ") and lines[1].endswith("  alice@example.com")
    reason = f"connect to 127.0.0.1[127.0.0.1]:{closed}: Connection refused"
    assert lines[2] == " " * (76 - len(reason)) + f"({reason})", q.stdout
    assert lines[3] == IND + "bob@remote.test"
    assert lines[4:] == ["", "-- 0 Kbytes in 1 Request.", ""]

    # -i makes the message due now: a second attempt long before the 300 s backoff.
    p = instance.cmd("postqueue", "-i", qf.name)
    assert p.returncode == 0, p.stderr
    instance.wait_for(lambda: instance.maillog().count("status=deferred") >= 2, timeout=20,
                      what="a retry after postqueue -i")
    # -f retries everything deferred.
    instance.wait_for(lambda: queue_files(instance, "deferred"), timeout=10, what="deferred again")
    p = instance.cmd("postqueue", "-f")
    assert p.returncode == 0, p.stderr
    instance.wait_for(lambda: instance.maillog().count("status=deferred") >= 3, timeout=20,
                      what="a retry after postqueue -f")
