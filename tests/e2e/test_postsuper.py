"""postsuper (delete, hold, release, requeue, structure check, purge) and the DSN format.

No mail system runs: sendmail writes maildrop/ files, pickup is run by hand for a moment to
turn them into incoming/ queue files, and postsuper works on the queue directly, as it does
for an administrator while Postfix is stopped.

The DSN check runs the C unit test of the bounce module (it writes the notification it builds
to $POSTERN_DSN_SAMPLE) and parses the result with tests/e2e/dsn_check.py.
"""
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import dsn_check  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
MESSAGE = "Subject: postsuper test\n\nbody line\n"


# ---- helpers ----

def queue_ids(inst, name):
    d = inst.queue / name
    return sorted(p.name for p in d.rglob("*") if p.is_file()) if d.is_dir() else []


def queue_file(inst, name, qid):
    hits = [p for p in (inst.queue / name).rglob(qid) if p.is_file()]
    return hits[0] if hits else None


def postsuper(inst, *args, input=None):
    return inst.cmd("postsuper", *args, input=input)


def make_queue(inst):
    inst.cmd("postfix", "check")
    for d in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt", "defer",
              "bounce", "trace"):
        (inst.queue / d).mkdir(parents=True, exist_ok=True)


def run_pickup(inst, want, seconds=15.0):
    """Runs pickup by hand until incoming/ holds `want` files and maildrop/ is empty."""
    proc = subprocess.Popen([str(inst.bin), "pickup", "-c", str(inst.etc)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + seconds
        while time.time() < deadline and proc.poll() is None:
            if len(queue_ids(inst, "incoming")) >= want and not queue_ids(inst, "maildrop"):
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=10)


def queued_messages(inst, count):
    """Submits `count` messages and returns their incoming/ queue ids."""
    make_queue(inst)
    for i in range(count):
        p = inst.cmd("sendmail", "-f", "sender@example.org", f"rcpt{i}@example.net",
                     input=MESSAGE)
        assert p.returncode == 0, p.stderr
    run_pickup(inst, count)
    ids = queue_ids(inst, "incoming")
    if len(ids) != count:
        pytest.skip(f"pickup did not queue the messages (incoming has {ids})")
    return ids


# ---- postsuper ----

def test_hold_release_delete_by_id(instance):
    a, b = queued_messages(instance, 2)
    p = postsuper(instance, "-h", a)
    assert p.returncode == 0, p.stderr
    assert "postsuper: Placed on hold: 1 message\n" in p.stderr
    assert queue_ids(instance, "hold") == [a]
    assert queue_ids(instance, "incoming") == [b]
    assert f"{a}: placed on hold" in instance.maillog()

    held = queue_file(instance, "hold", a)
    old = time.time() - 3600
    os.utime(held, (old, old))
    p = postsuper(instance, "-H", a)
    assert p.returncode == 0, p.stderr
    assert "postsuper: Released from hold: 1 message\n" in p.stderr
    released = queue_file(instance, "deferred", a)
    assert released is not None and queue_ids(instance, "hold") == []
    assert released.parent.name == a[0]  # hashed: deferred/X/ID
    assert released.stat().st_mtime > time.time() - 120  # due now
    assert f"{a}: released from hold" in instance.maillog()

    # a defer log goes with the message
    log = instance.queue / "defer" / a[0] / a
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("recipient=rcpt0@example.net\n")
    p = postsuper(instance, "-d", a)
    assert p.returncode == 0, p.stderr
    assert "postsuper: Deleted: 1 message\n" in p.stderr
    assert queue_ids(instance, "deferred") == [] and not log.exists()
    assert f"{a}: removed" in instance.maillog()
    assert queue_ids(instance, "incoming") == [b]

    # nothing to do: no count line
    p = postsuper(instance, "-d", a)
    assert p.returncode == 0 and "Deleted" not in p.stderr


def test_all_and_ids_from_stdin(instance):
    ids = queued_messages(instance, 3)
    p = postsuper(instance, "-h", "ALL")
    assert p.returncode == 0, p.stderr
    assert "postsuper: Placed on hold: 3 messages" in p.stderr
    assert queue_ids(instance, "hold") == ids

    p = postsuper(instance, "-H", "-", input=f"{ids[0]}\n  {ids[1]}  \nbad/../id\n")
    assert p.returncode == 0, p.stderr
    assert "postsuper: Released from hold: 2 messages" in p.stderr
    assert "invalid mail queue id: bad/../id" in p.stderr
    assert queue_ids(instance, "deferred") == ids[:2]
    assert queue_ids(instance, "hold") == ids[2:]

    p = postsuper(instance, "-r", "ALL")
    assert p.returncode == 0, p.stderr
    assert "postsuper: Requeued: 3 messages" in p.stderr
    assert queue_ids(instance, "maildrop") == ids
    assert queue_ids(instance, "deferred") == [] and queue_ids(instance, "hold") == []

    p = postsuper(instance, "-d", "ALL")
    assert p.returncode == 0, p.stderr
    assert "postsuper: Deleted: 3 messages" in p.stderr
    assert queue_ids(instance, "maildrop") == []


def test_delete_all_in_one_queue_only(instance):
    a, b = queued_messages(instance, 2)
    assert postsuper(instance, "-h", a).returncode == 0
    p = postsuper(instance, "-d", "ALL", "hold")
    assert p.returncode == 0, p.stderr
    assert "Deleted: 1 message\n" in p.stderr
    assert queue_ids(instance, "hold") == [] and queue_ids(instance, "incoming") == [b]


def test_requeued_message_goes_through_pickup_again(instance):
    (a,) = queued_messages(instance, 1)
    before = queue_file(instance, "incoming", a).read_bytes()
    p = postsuper(instance, "-r", a)
    assert p.returncode == 0, p.stderr
    assert "postsuper: Requeued: 1 message" in p.stderr
    assert queue_ids(instance, "maildrop") == [a] and queue_ids(instance, "incoming") == []
    run_pickup(instance, 1)
    after = queue_ids(instance, "incoming")
    assert len(after) == 1 and queue_ids(instance, "maildrop") == []
    p = instance.cmd("postcat", "-q", after[0])
    if p.returncode == 0:
        assert "body line" in p.stdout and "rcpt0@example.net" in p.stdout
    assert len(before) > 0


def test_structure_check_fixes_names_and_hash_levels(instance):
    a, b = queued_messages(instance, 2)
    # a copy under a name that does not match its inode, with a defer log
    wrong = "12345ABCDEF"
    src = queue_file(instance, "incoming", a)
    (instance.queue / "incoming" / wrong).write_bytes(src.read_bytes())
    os.chmod(instance.queue / "incoming" / wrong, 0o700)
    (instance.queue / "defer" / "1").mkdir(parents=True, exist_ok=True)
    (instance.queue / "defer" / "1" / wrong).write_text("log\n")
    # a deferred file at the wrong hash level
    os.rename(queue_file(instance, "incoming", b), instance.queue / "deferred" / b)

    p = postsuper(instance, "-s")
    assert p.returncode == 0, p.stderr
    assert "postsuper: Renamed to match inode number: 1 message" in p.stderr
    fixed = [n for n in queue_ids(instance, "incoming") if n.startswith("12345")]
    assert len(fixed) == 1 and fixed[0] != wrong
    path = queue_file(instance, "incoming", fixed[0])
    assert int(fixed[0][5:], 16) == path.stat().st_ino
    assert queue_ids(instance, "defer") == fixed  # the log followed
    assert (instance.queue / "deferred" / b[0] / b).is_file()
    assert not (instance.queue / "deferred" / b).exists()
    # a second run finds nothing to fix
    p = postsuper(instance, "-s")
    assert p.returncode == 0 and "Renamed" not in p.stderr


def test_purge_removes_stale_incomplete_files_only(instance):
    (a,) = queued_messages(instance, 1)
    stale = instance.queue / "incoming" / "ABCDE123"
    young = instance.queue / "incoming" / "ABCDF124"
    for f in (stale, young):
        f.write_text("partial")
        os.chmod(f, 0o600)  # no owner-execute bit: never completed
    old = time.time() - 2 * 86400
    os.utime(stale, (old, old))
    done = queue_file(instance, "incoming", a)
    os.utime(done, (old, old))
    p = postsuper(instance, "-p")
    assert p.returncode == 0, p.stderr
    assert not stale.exists()
    assert young.exists() and done.exists()


def test_usage_and_bad_queue_name(instance):
    make_queue(instance)
    p = postsuper(instance, "-x")
    assert p.returncode == 64 and "usage: postsuper" in p.stderr
    p = postsuper(instance, "-d", "ALL", "nosuchqueue")
    assert p.returncode == 1 and "invalid directory name: nosuchqueue" in p.stderr


# ---- the DSN format ----

def dsn_sample(tmp_path):
    """Runs the bounce unit test so it writes a fresh notification; falls back to the sample
    a previous `make check` left in build/check."""
    unit = ROOT / "build/check/unit/test_bounce"
    out = tmp_path / "dsn-sample.eml"
    if unit.exists():
        env = dict(os.environ, POSTERN_DSN_SAMPLE=str(out))
        p = subprocess.run([str(unit)], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert out.exists(), "test_bounce did not write the sample notification"
        return out.read_bytes()
    fallback = ROOT / "build/check/dsn-sample.eml"
    if fallback.exists():
        return fallback.read_bytes()
    pytest.skip("build the bounce unit test first (make build/check/unit/test_bounce)")


def test_failure_notification_is_a_valid_dsn(tmp_path):
    data = dsn_sample(tmp_path)
    report = dsn_check.check_dsn(data)
    assert report["headers"]["Subject"] == "Undelivered Mail Returned to Sender"
    assert "MAILER-DAEMON@" in report["headers"]["From"]
    assert report["per_message"]["Reporting-MTA"] == "dns; mx.example.test"
    assert "X-Postern-Queue-ID" in report["per_message"]
    (rcpt,) = report["recipients"]
    assert rcpt["Final-Recipient"] == "rfc822; bad@example.net"
    assert rcpt["Action"] == "failed" and rcpt["Status"] == "5.1.1"
    assert rcpt["Diagnostic-Code"].startswith("smtp; 550 5.1.1")
    assert report["returned"] == "message/rfc822"
    inner = report["returned_part"].get_payload()[0]
    assert inner["Subject"] == "hello there"
    assert "bad@example.net" in report["text"]


def test_dsn_check_rejects_what_is_not_a_dsn(tmp_path):
    plain = b"Subject: hi\n\nnot a report\n"
    with pytest.raises(AssertionError):
        dsn_check.check_dsn(plain)
    data = dsn_sample(tmp_path)
    broken = data.replace(b"Final-Recipient:", b"X-Final-Recipient:")
    with pytest.raises(AssertionError, match="Final-Recipient"):
        dsn_check.check_dsn(broken)
    # the script form
    f = tmp_path / "plain.eml"
    f.write_bytes(plain)
    p = subprocess.run([sys.executable, str(pathlib.Path(dsn_check.__file__)), str(f)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "not multipart/report" in p.stdout
