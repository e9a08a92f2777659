"""The lower-severity findings of issue 10, end to end: orphaned incomplete files in incoming/,
header_size_limit, queue_minfree and SIZE=, the mode of maillog_file."""
import os
import smtplib
import stat
import time

from test_reliability import delivered_ids, send_one


def test_old_incomplete_files_in_incoming_are_removed_at_start(instance):
    incoming = instance.queue / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    old = [incoming / f"ABCDEF{i:04X}" for i in range(3)]
    for p in old:
        p.write_bytes(b"")
        os.chmod(p, 0o600)  # no owner-execute bit: never completed
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    fresh = incoming / "ABCDEF1000"
    fresh.write_bytes(b"")
    os.chmod(fresh, 0o600)
    instance.start()
    assert not any(p.exists() for p in old)
    assert fresh.exists()  # inside the grace period
    assert "removed 3 incomplete queue files older than" in instance.maillog()
    send_one(instance.port, "after-purge@hardening.test")
    instance.wait_for(lambda: "after-purge@hardening.test" in delivered_ids(instance),
                      what="delivery")


def test_a_5mb_header_line_is_cut_at_header_size_limit(instance):
    instance.start()
    big = "X-Big: " + "a" * (5 * 1024 * 1024)
    body = (f"From: s@example.org\r\nSubject: big\r\n{big}\r\nX-After: kept\r\n"
            "Message-ID: <big@hardening.test>\r\n\r\nbody text\r\n")
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=120) as s:
        s.sendmail("s@example.org", ["user@virtual.test"], body)
    instance.wait_for(lambda: instance.maildir_messages("user"), what="delivery")
    msg = instance.maildir_messages("user")[0]
    head, _, rest = msg.partition(b"\n\n")
    big_line = [l for l in head.split(b"\n") if l.startswith(b"X-Big:")][0]
    assert len(big_line.rstrip(b"\r")) == 102400 - 1  # the field with its newline is the limit
    assert b"X-After: kept" in head  # the header section goes on after the cut
    assert b"Message-ID: <big@hardening.test>" in head
    assert rest.strip() == b"body text"


def test_queue_minfree_refuses_mail_from_with_452(instance):
    st = os.statvfs(instance.queue)
    free = st.f_bavail * st.f_frsize
    instance.write_main_cf({"queue_minfree": str(free * 2)})
    instance.start()
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as s:
        s.ehlo("client.test")
        code, text = s.mail("s@example.org")
        assert (code, text) == (452, b"4.3.1 Insufficient system storage")
    assert "452 4.3.1 Insufficient system storage" in instance.maillog()


def test_size_is_checked_against_free_space(instance):
    instance.write_main_cf({"message_size_limit": "0"})
    instance.start()
    st = os.statvfs(instance.queue)
    free = st.f_bavail * st.f_frsize
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as s:
        s.ehlo("client.test")
        code, text = s.mail("s@example.org", [f"SIZE={int(free / 1.5) + 1024 * 1024}"])
        assert code == 452 and text.startswith(b"4.3.1"), text
        code, _ = s.mail("s@example.org", ["SIZE=1000"])
        assert code == 250


def test_maillog_is_0600_by_default_and_0640_when_asked(instance):
    instance.start()
    assert stat.S_IMODE(os.stat(instance.log).st_mode) == 0o600
    instance.stop()
    instance.write_main_cf({"maillog_file_permissions": "0640"})
    instance.start()
    assert stat.S_IMODE(os.stat(instance.log).st_mode) == 0o640
    instance.stop()
    instance.write_main_cf({"maillog_file_permissions": "0644"})
    p = instance.cmd("postfix", "start")
    assert p.returncode != 0
    assert "maillog_file_permissions" in p.stderr
