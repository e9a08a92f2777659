"""End-to-end delivery: SMTP in, queue manager, virtual and local delivery agents.

Each test starts a real instance (conftest.py), sends with smtplib and checks the mailbox files
byte for byte, and the maillog lines Postfix tools read.
"""
import os
import pathlib
import pwd
import re
import shutil
import smtplib
import subprocess
import tempfile
import uuid

import pytest

SENDER = "sender@example.com"


def send(inst, rcpts, body, sender=SENDER):
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=30) as s:
        s.ehlo("client.example.com")
        s.sendmail(sender, rcpts, body)


def wait_removed(inst, count=1):
    return inst.wait_for(lambda: inst.maillog().count(": removed") >= count,
                         what=f"{count} message(s) removed")


def split_envelope(data: bytes):
    """Returns (first two lines, Received: block, rest) of a delivered Maildir file."""
    lines = data.split(b"\n")
    head = b"\n".join(lines[:2]) + b"\n"
    i = 2
    assert lines[i].startswith(b"Received: "), data[:500]
    i += 1
    while lines[i].startswith((b"\t", b" ")):
        i += 1
    received = b"\n".join(lines[2:i]) + b"\n"
    return head, received, b"\n".join(lines[i:])


def message(extra_headers=b"", body=b"hello\r\n"):
    return (b"From: Sender <sender@example.com>\r\n"
            b"To: user@virtual.test\r\n"
            b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            b"Message-ID: <test-" + uuid.uuid4().hex.encode() + b"@example.com>\r\n"
            b"Subject: delivery test\r\n" + extra_headers + b"\r\n" + body)


def started(inst, extra=None):
    if extra:
        inst.write_main_cf(extra)
    inst.start()
    return inst


@pytest.fixture
def open_dir():
    """A directory any user can write (alias files and commands run as default_privs)."""
    d = tempfile.mkdtemp(prefix="postern-e2e-")
    os.chmod(d, 0o777)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_virtual_maildir_exact_bytes(instance):
    started(instance)
    long_line = b"x" * 2000
    body = (b"8-bit: caf\xc3\xa9 \xff\r\n"
            b".leading dot\r\n"
            b"..two dots\r\n"
            b"From the start of a line\r\n"
            + long_line + b"\r\n"
            b"last line\r\n")
    msg = message(body=body)
    send(instance, ["user@virtual.test"], msg)
    wait_removed(instance)
    files = instance.maildir_messages("user")
    assert len(files) == 1
    head, received, rest = split_envelope(files[0])
    assert head == b"Return-Path: <sender@example.com>\nDelivered-To: user@virtual.test\n"
    assert b"by mx.example.test" in received
    assert rest == msg.replace(b"\r\n", b"\n")
    log = instance.maillog()
    assert re.search(r": from=<sender@example\.com>, size=\d+, nrcpt=1 \(queue active\)", log)
    assert re.search(r": to=<user@virtual\.test>, relay=virtual, delay=[0-9.]+, "
                     r"delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, dsn=2\.0\.0, "
                     r"status=sent \(delivered to maildir\)", log)
    # The queue is empty again.
    assert not any(p.is_file() for p in (instance.queue / "active").rglob("*"))
    assert not any(p.is_file() for p in (instance.queue / "incoming").rglob("*"))


def test_line_longer_than_line_length_limit_is_rebuilt(instance):
    started(instance)
    msg = message(body=b"y" * 5000 + b"\r\nend\r\n")
    send(instance, ["user@virtual.test"], msg)
    wait_removed(instance)
    files = instance.maildir_messages("user")
    assert files and split_envelope(files[0])[2] == msg.replace(b"\r\n", b"\n")


def test_two_recipients_one_transaction(instance):
    started(instance)
    send(instance, ["user@virtual.test", "other@virtual.test"], message())
    wait_removed(instance)
    log = instance.maillog()
    assert log.count("status=sent (delivered to maildir)") == 2
    assert re.search(r"nrcpt=2 \(queue active\)", log)
    assert len(instance.maildir_messages("user")) == 1
    other = instance.maildir_messages("other")
    assert len(other) == 1
    assert other[0].startswith(b"Return-Path: <sender@example.com>\n"
                               b"Delivered-To: other@virtual.test\n")


def test_many_messages_throughput_path(instance):
    started(instance)
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as s:
        for i in range(20):
            s.sendmail(SENDER, ["user@virtual.test"], message(body=b"n=%d\r\n" % i))
    wait_removed(instance, 20)
    files = instance.maildir_messages("user")
    assert len(files) == 20
    bodies = sorted(f.split(b"\n\n", 1)[1] for f in files)
    assert bodies == sorted(b"n=%d\n" % i for i in range(20))


def test_recipient_delimiter(instance):
    started(instance, {"recipient_delimiter": "+"})
    send(instance, ["user+tag@virtual.test"], message())
    wait_removed(instance)
    files = instance.maildir_messages("user")
    assert len(files) == 1
    assert files[0].startswith(b"Return-Path: <sender@example.com>\n"
                               b"Delivered-To: user+tag@virtual.test\n")
    assert "to=<user+tag@virtual.test>, relay=virtual" in instance.maillog()


def test_virtual_mbox_with_quoting(instance):
    started(instance, {"virtual_mailbox_maps": "inline:{ user@virtual.test=box/user.mbox }"})
    send(instance, ["user@virtual.test"], message(body=b"From here\r\n>From there\r\nend\r\n"))
    wait_removed(instance)
    data = (instance.mail / "box" / "user.mbox").read_bytes()
    assert data.startswith(b"From sender@example.com  ")
    assert data.endswith(b"\n>From here\n>>From there\nend\n\n")
    assert "status=sent (delivered to mailbox)" in instance.maillog()


def test_unavailable_transport_defers(instance):
    started(instance, {"transport_maps": "inline:{ virtual.test=nosuch: }"})
    send(instance, ["user@virtual.test"], message())
    instance.wait_for(lambda: "status=deferred (mail transport unavailable)" in instance.maillog(),
                      what="deferral")
    deferred = instance.wait_for(
        lambda: [p for p in (instance.queue / "deferred").rglob("*") if p.is_file()],
        what="file in deferred/")
    qid = deferred[0].name
    logs = [p for p in (instance.queue / "defer").rglob(qid)]
    assert logs, "defer log missing"
    text = logs[0].read_text()
    assert "recipient=user@virtual.test\n" in text
    assert "status=4.3.0\n" in text
    assert "reason=mail transport unavailable\n" in text
    assert ": removed" not in instance.maillog()
    assert re.search(r"to=<user@virtual\.test>, relay=none, .*dsn=4\.3\.0, "
                     r"status=deferred \(mail transport unavailable\)", instance.maillog())


def test_over_long_transport_maps_nexthop_is_an_error_not_a_cut(instance):
    """A transport_maps nexthop longer than the resolver keeps (511 bytes) is not cut or
    ignored: the recipient gets a temporary failure and the log names the reason."""
    hop = "h" * 600
    started(instance, {"transport_maps": "inline:{ virtual.test=smtp:[%s] }" % hop})
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(instance, ["user@virtual.test"], message())
    code, text = refused.value.recipients["user@virtual.test"]
    assert code == 451 and text.startswith(b"4.3.0"), (code, text)
    instance.wait_for(lambda: "transport_maps: nexthop \"[hhhh" in instance.maillog(),
                      what="the reason in the log")
    assert "is longer than 511 bytes" in instance.maillog()
    assert hop[:512] not in instance.maillog()  # the whole value is never echoed


# ---- local delivery ----

def local_user():
    return pwd.getpwuid(os.getuid()).pw_name


def local_config(inst, aliases_text=""):
    """aliases(5) source built with newaliases into hash:, and a spool inside the instance."""
    aliases = inst.etc / "aliases"
    aliases.write_text(aliases_text)
    spool = inst.mail / "spool"
    spool.mkdir(exist_ok=True)
    os.chmod(spool, 0o1777)
    cfg = {"alias_maps": f"hash:{aliases}", "alias_database": f"hash:{aliases}",
           "mail_spool_directory": str(spool)}
    inst.write_main_cf(cfg)
    inst.cmd("newaliases", check=True)
    return cfg


def test_local_mbox_in_spool(instance):
    user = local_user()
    started(instance, local_config(instance))
    send(instance, [f"{user}@mx.example.test"], message(body=b"From me\r\nbye\r\n"))
    wait_removed(instance)
    data = (instance.mail / "spool" / user).read_bytes()
    first, rest = data.split(b"\n", 1)
    assert re.match(rb"From sender@example\.com  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$", first)
    assert rest.startswith(b"Return-Path: <sender@example.com>\n"
                           b"Delivered-To: " + user.encode() + b"@mx.example.test\n")
    assert rest.endswith(b"\n>From me\nbye\n\n")
    assert f"to=<{user}@mx.example.test>, relay=local" in instance.maillog()
    assert "status=sent (delivered to mailbox)" in instance.maillog()


def test_local_unknown_user_is_bounced_or_rejected(instance):
    started(instance, dict(local_config(instance), local_recipient_maps=""))
    send(instance, ["no-such-user-xyz@mx.example.test"], message())
    wait_removed(instance)
    assert re.search(r"to=<no-such-user-xyz@mx\.example\.test>, relay=local, .*dsn=5\.1\.1, "
                     r"status=bounced \(unknown user: \"no-such-user-xyz\"\)", instance.maillog())


def test_aliases_file_command_and_user(instance, open_dir):
    user = local_user()
    aliases = (f"tofile: {open_dir}/file.mbox\n"
               f"tocmd: \"|cat > {open_dir}/cmd.out\"\n"
               f"touser: {user}\n"
               f"multi: tofile, touser\n")
    started(instance, local_config(instance, aliases))
    send(instance, ["tofile@mx.example.test"], message(body=b"to a file\r\n"))
    wait_removed(instance, 1)
    send(instance, ["tocmd@mx.example.test"], message(body=b"to a command\r\n"))
    wait_removed(instance, 2)
    send(instance, ["touser@mx.example.test"], message(body=b"to a user\r\n"))
    wait_removed(instance, 3)
    filebox = (open_dir / "file.mbox").read_bytes()
    assert filebox.startswith(b"From sender@example.com  ")
    assert b"Delivered-To: tofile@mx.example.test\n" in filebox
    assert filebox.endswith(b"\nto a file\n\n")
    cmd_out = (open_dir / "cmd.out").read_bytes()
    assert cmd_out.startswith(b"From sender@example.com  ")
    assert cmd_out.endswith(b"\nto a command\n")
    spool = (instance.mail / "spool" / user).read_bytes()
    assert b"Delivered-To: " + user.encode() + b"@mx.example.test\n" in spool
    assert spool.endswith(b"\nto a user\n\n")
    log = instance.maillog()
    assert f"to=<tofile@mx.example.test>, relay=local" in log
    assert f"status=sent (delivered to file: {open_dir}/file.mbox)" in log
    assert f"status=sent (delivered to command: cat > {open_dir}/cmd.out)" in log
    assert re.search(rf"to=<{user}@mx\.example\.test>, orig_to=<touser@mx\.example\.test>, "
                     r"relay=local, .*status=sent \(delivered to mailbox\)", log)


def test_command_environment_local_extension(instance, open_dir):
    """local(8)'s environment for a command: LOCAL is the whole local part, extension included;
    USER the recipient's user, EXTENSION the extension alone."""
    cfg = local_config(instance, f"envcmd: \"|env > {open_dir}/env.out\"\n")
    cfg["recipient_delimiter"] = "+"
    started(instance, cfg)
    send(instance, ["envcmd+tag@mx.example.test"], message())
    wait_removed(instance)
    env = dict(line.split("=", 1) for line in
               (open_dir / "env.out").read_text().splitlines() if "=" in line)
    assert env["LOCAL"] == "envcmd+tag", env
    assert env["EXTENSION"] == "tag", env
    assert env["DOMAIN"] == "mx.example.test", env
    assert env["RECIPIENT"] == "envcmd+tag@mx.example.test", env
    assert env["SENDER"] == "sender@example.com", env


def test_alias_command_exit_codes(instance, open_dir):
    aliases = "tempfail: \"|exit 75\"\nfail: \"|echo no such thing; exit 1\"\n"
    started(instance, local_config(instance, aliases))
    send(instance, ["fail@mx.example.test"], message())
    wait_removed(instance)
    log = instance.maillog()
    assert re.search(r"dsn=5\.3\.0, status=bounced \(Command died with status 1: "
                     r"\"echo no such thing; exit 1\"\. Command output: no such thing\)", log)
    send(instance, ["tempfail@mx.example.test"], message())
    instance.wait_for(lambda: "dsn=4.3.0, status=deferred" in instance.maillog(),
                      what="deferred command")


def test_long_command_failure_keeps_its_reason(instance):
    """A reason longer than 4 KiB is kept (it was dropped whole: "status=bounced ()")."""
    pad = "z" * 3300
    aliases = f"longcmd: \"|printf '%1000s' | tr ' ' y; exit 1; : {pad}\"\n"
    started(instance, local_config(instance, aliases))
    send(instance, ["longcmd@mx.example.test"], message())
    wait_removed(instance)
    log = instance.maillog()
    assert "status=bounced ()" not in log
    # the log line is cut visibly at 4 KiB; the reason itself starts as Postfix's does
    assert re.search(r"to=<longcmd@mx\.example\.test>, relay=local, .*dsn=5\.3\.0, "
                     r"status=bounced \(Command died with status 1: \"printf '%1000s' ", log)


def test_alias_database_missing_defers(instance):
    started(instance, dict(local_config(instance), alias_maps=f"hash:{instance.etc}/nosuch",
                           local_recipient_maps=""))
    send(instance, [f"{local_user()}@mx.example.test"], message())
    instance.wait_for(lambda: "status=deferred (alias database unavailable)" in instance.maillog(),
                      what="deferral for a missing alias database")


@pytest.fixture
def system_user(tmp_path):
    """A throwaway system user whose home is inside the test directory (root only)."""
    if os.getuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create a mailbox owner")
    name = "pt" + uuid.uuid4().hex[:8]
    home = pathlib.Path(tempfile.mkdtemp(prefix="postern-home-"))
    os.chmod(home, 0o755)
    subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", name], check=True)
    pw = pwd.getpwnam(name)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    yield pw
    subprocess.run(["userdel", name], check=False)
    shutil.rmtree(home, ignore_errors=True)


def test_home_maildir_as_the_user(instance, system_user):
    started(instance, dict(local_config(instance), home_mailbox="Maildir/"))
    send(instance, [f"{system_user.pw_name}@mx.example.test"], message(body=b"home\r\n"))
    wait_removed(instance)
    new = pathlib.Path(system_user.pw_dir) / "Maildir" / "new"
    files = list(new.iterdir())
    assert len(files) == 1
    assert files[0].stat().st_uid == system_user.pw_uid
    assert files[0].read_bytes().endswith(b"\nhome\n")
    assert "status=sent (delivered to maildir)" in instance.maillog()


def test_dot_forward(instance, system_user, open_dir):
    home = pathlib.Path(system_user.pw_dir)
    fwd = home / ".forward"
    fwd.write_text(f"# keep a copy\n\\{system_user.pw_name}, {open_dir}/fwd.mbox\n")
    os.chown(fwd, system_user.pw_uid, system_user.pw_gid)
    started(instance, dict(local_config(instance), home_mailbox="Maildir/"))
    send(instance, [f"{system_user.pw_name}@mx.example.test"], message(body=b"fwd\r\n"))
    wait_removed(instance)
    assert len(list((home / "Maildir" / "new").iterdir())) == 1
    copy = (open_dir / "fwd.mbox").read_bytes()
    assert copy.endswith(b"\nfwd\n\n")
    assert (open_dir / "fwd.mbox").stat().st_uid == system_user.pw_uid


# ---- no silent truncation of mailbox paths ----

def long_dir(root, length):
    """A path under root exactly length bytes long, in components the kernel accepts."""
    path = str(root)
    while len(path) < length:
        path += "/" + "d" * min(200, length - len(path) - 1)
    assert len(path) == length
    return path


def test_virtual_mailbox_base_longer_than_path_max_is_refused(instance):
    base = long_dir(instance.mail, 4200)
    started(instance, {"virtual_mailbox_base": base})
    send(instance, ["user@virtual.test"], message())
    instance.wait_for(lambda: "parameter virtual_mailbox_base: path longer than 4095 bytes"
                      in instance.maillog(), what="configuration error")
    assert "status=sent" not in instance.maillog()
    assert ": removed" not in instance.maillog()
    # nothing was written below a cut prefix of the base
    assert not list(instance.mail.rglob("new"))


def test_virtual_mailbox_path_too_long_defers_with_reason(instance):
    base = long_dir(instance.mail, 4093)  # base fits; base + "/user/" does not
    started(instance, {"virtual_mailbox_base": base})
    send(instance, ["user@virtual.test"], message())
    instance.wait_for(lambda: "mailbox path too long" in instance.maillog(), what="deferral")
    log = instance.maillog()
    assert re.search(r"to=<user@virtual\.test>, relay=virtual, .*dsn=4\.3\.5, "
                     r"status=deferred \(mail system configuration error: mailbox path too long\)",
                     log), log[-2000:]
    # the warning names the parameter and the whole base (a log line is cut, visibly, at 4 KiB)
    assert "warning: recipient user@virtual.test: virtual_mailbox_base " + base[:3000] in log
    assert not list(instance.mail.rglob("new"))


def test_bad_local_setting_is_refused_at_start(instance):
    """local's typed settings are checked by postfix check and start (and by the agent when it
    starts), naming the service and parameter, with the service's master.cf -o overrides."""
    instance.write_master_cf(instance.master_cf_text().replace(
        "local     unix  -       n       n       -       -       local\n",
        "local     unix  -       n       n       -       -       local"
        " -o command_time_limit=0\n"))
    for verb in ("check", "start"):
        p = instance.cmd("postfix", verb)
        assert p.returncode != 0, (verb, p.stderr)
        assert "service local: parameter command_time_limit: value 0 is not above 0" in \
            p.stderr, (verb, p.stderr)
    instance.write_master_cf(instance.master_cf_text().replace(" -o command_time_limit=0", ""))
    instance.write_main_cf({"mailbox_delivery_lock": ""})
    p = instance.cmd("postfix", "check")
    assert p.returncode != 0 and "mailbox_delivery_lock" in p.stderr, p.stderr


def test_message_drop_headers(instance):
    """Postfix's default message_drop_headers (bcc, content-length, resent-bcc, return-path):
    cleanup removes them from every message, so a Bcc: the client left in goes to no
    recipient, and the only Return-Path: is the one delivery writes. An empty setting keeps
    them, as in Postfix."""
    started(instance)
    extra = (b"Bcc: hidden@example.org\r\nResent-Bcc: hidden2@example.org\r\n"
             b"Return-Path: <forged@example.org>\r\nContent-Length: 12\r\nX-Kept: yes\r\n")
    send(instance, ["user@virtual.test"], message(extra))
    wait_removed(instance)
    (msg,) = instance.maildir_messages("user")
    headers = msg.split(b"\n\n", 1)[0]
    for gone in (b"Bcc:", b"Resent-Bcc:", b"Content-Length:", b"forged@example.org"):
        assert gone not in headers, headers
    assert headers.count(b"Return-Path: ") == 1 and b"X-Kept: yes" in headers, headers
    instance.stop()
    instance.write_main_cf({"message_drop_headers": ""})
    instance.start()
    send(instance, ["user@virtual.test"], message(extra))
    wait_removed(instance, 2)
    kept = [m for m in instance.maildir_messages("user") if m != msg]
    assert len(kept) == 1 and b"Bcc: hidden@example.org" in kept[0], kept
