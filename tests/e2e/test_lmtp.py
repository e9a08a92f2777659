"""End-to-end tests of the lmtp delivery agent (the smtp client started as "lmtp").

A whole instance (postfix start) with an `lmtp` line in master.cf routes lmtp.test to an LMTP
server written here on a loopback TCP port and lmtpu.test to the same kind of server on a
UNIX-domain socket. The server answers LHLO, takes MAIL/RCPT/DATA and, after the final dot,
gives one reply per accepted recipient (RFC 2033), chosen by the recipient's local part, so a
single transaction can end with one recipient delivered and another bounced.
"""
import os
import pathlib
import shutil
import tempfile

import pytest

from loopback import LoopbackServer, closing_factory, read_data

SENDER = "user@virtual.test"  # bounces come back to a virtual mailbox the test can read


def final_reply(rcpt):
    """The after-DATA reply for one recipient: 550 for bad@..., 452 for busy@..., else 250."""
    if rcpt.startswith("bad@"):
        return f"550 5.1.1 <{rcpt}> User doesn't exist"
    if rcpt.startswith("busy@"):
        return f"452 4.2.2 <{rcpt}> Mailbox full"
    return f"250 2.0.0 <{rcpt}> Saved"


class LmtpServer(LoopbackServer):
    """A small LMTP server on a TCP port (family AF_INET) or a socket path (AF_UNIX).

    Records every connection, command, transaction (sender, recipients, data) and which
    greeting verb the client used.
    """

    def __init__(self, path=None):
        self.path = path
        self.commands = []
        self.transactions = []  # (sender, [recipients], data bytes)
        super().__init__(unix_path=path, backlog=10)

    def session(self, conn):
        f = conn.makefile("rb")

        def say(text):
            conn.sendall(text.encode() + b"\r\n")

        sender, rcpts = None, []
        try:
            say("220 lmtp.test LMTP ready")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode("latin-1")
                with self.lock:
                    self.commands.append(cmd)
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "LHLO":
                    say("250-lmtp.test")
                    say("250-PIPELINING")
                    say("250-ENHANCEDSTATUSCODES")
                    say("250 8BITMIME")
                elif verb in ("EHLO", "HELO"):
                    say("500 5.5.1 this is an LMTP server: use LHLO")
                elif verb == "MAIL":
                    sender, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                    say("250 2.1.0 Ok")
                elif verb == "RCPT":
                    rcpt = cmd[8:].split(">")[0].lstrip("<")
                    rcpts.append(rcpt)
                    say("250 2.1.5 Ok")
                elif verb == "RSET":
                    sender, rcpts = None, []
                    say("250 2.0.0 Ok")
                elif verb == "DATA":
                    say("354 End data with <CR><LF>.<CR><LF>")
                    data = read_data(f)
                    if data is None:
                        return
                    with self.lock:
                        self.transactions.append((sender, list(rcpts), data))
                    for r in rcpts:  # LMTP: one reply per accepted recipient
                        say(final_reply(r))
                    sender, rcpts = None, []
                elif verb == "QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.2 Error: command not recognized")
        except OSError:
            pass
        finally:
            conn.close()


@pytest.fixture
def short_dir():
    """A short directory for UNIX socket paths (sun_path holds 108 bytes)."""
    d = tempfile.mkdtemp(prefix="lmtp", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def servers():
    yield from closing_factory(LmtpServer)


def lmtp_instance(instance, transport_maps):
    instance.write_master_cf(instance.master_cf_text() +
                             "lmtp      unix  -       -       n       -       -       lmtp\n")
    instance.write_main_cf({"transport_maps": transport_maps, "lmtp_lhlo_name": "lhlo.test",
                            "smtp_helo_name": "helo.test"})
    instance.start()
    return instance


def send(instance, *rcpts, body="Subject: lmtp test\n\nhello over lmtp\n"):
    instance.cmd("sendmail", "-f", SENDER, *rcpts, input=body, check=True)


def wait_log(instance, needle, count=1, timeout=40):
    return instance.wait_for(lambda: instance.maillog().count(needle) >= count, timeout=timeout,
                             what=f"{count} x {needle!r} in the maillog")


def log_lines(instance, needle):
    return [l for l in instance.maillog().splitlines() if needle in l]


def test_lmtp_over_tcp_delivers(instance, servers):
    s = servers()
    lmtp_instance(instance, f"inline:{{ lmtp.test=lmtp:inet:127.0.0.1:{s.port} }}")
    send(instance, "one@lmtp.test")
    wait_log(instance, "to=<one@lmtp.test>")
    lines = log_lines(instance, "to=<one@lmtp.test>")
    assert len(lines) == 1, lines
    line = lines[0]
    assert "/lmtp[" in line, line  # syslog_name/lmtp[pid]
    assert f"relay=127.0.0.1[127.0.0.1]:{s.port}," in line, line
    assert "dsn=2.0.0, status=sent (250 2.0.0 <one@lmtp.test> Saved)" in line, line
    # The LMTP dialogue: LHLO, never EHLO/HELO; the message arrives once, with CRLF lines.
    assert s.commands[0] == "LHLO lhlo.test", s.commands  # lmtp_lhlo_name, not smtp_helo_name
    assert not any(c.split(" ")[0] in ("EHLO", "HELO") for c in s.commands), s.commands
    assert len(s.transactions) == 1
    sender, rcpts, data = s.transactions[0]
    assert sender == SENDER and rcpts == ["one@lmtp.test"]
    assert b"Subject: lmtp test\r\n" in data and b"hello over lmtp\r\n" in data
    instance.wait_for(lambda: "removed" in instance.maillog(), what="queue file removed")


def test_lmtp_per_recipient_status_in_one_transaction(instance, servers):
    s = servers()
    lmtp_instance(instance, f"inline:{{ lmtp.test=lmtp:inet:127.0.0.1:{s.port} }}")
    send(instance, "good@lmtp.test", "bad@lmtp.test")
    wait_log(instance, "to=<good@lmtp.test>")
    wait_log(instance, "to=<bad@lmtp.test>")
    # Both recipients went in one transaction; the server answered each on its own.
    assert len(s.transactions) == 1, s.transactions
    assert sorted(s.transactions[0][1]) == ["bad@lmtp.test", "good@lmtp.test"]
    good = log_lines(instance, "to=<good@lmtp.test>")
    bad = log_lines(instance, "to=<bad@lmtp.test>")
    assert len(good) == 1 and len(bad) == 1, (good, bad)
    assert "dsn=2.0.0, status=sent (250 2.0.0 <good@lmtp.test> Saved)" in good[0]
    assert (f"relay=127.0.0.1[127.0.0.1]:{s.port}, " in bad[0] and
            "dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 "
            "<bad@lmtp.test> User doesn't exist (in reply to end of DATA command))" in bad[0]), bad
    # The bounced recipient comes back to the sender as a DSN; the sent one does not.
    dsn = instance.wait_for(lambda: instance.maildir_messages("user"), what="bounce in mailbox")
    text = dsn[0].decode("utf-8", "replace")
    assert "bad@lmtp.test" in text and "550 5.1.1" in text
    assert "Final-Recipient: rfc822; good@lmtp.test" not in text
    instance.wait_for(lambda: log_lines(instance, ": removed"), what="queue file removed")


def test_lmtp_per_recipient_temporary_failure_is_deferred(instance, servers):
    s = servers()
    lmtp_instance(instance, f"inline:{{ lmtp.test=lmtp:inet:127.0.0.1:{s.port} }}")
    send(instance, "good@lmtp.test", "busy@lmtp.test")
    wait_log(instance, "to=<busy@lmtp.test>")
    busy = log_lines(instance, "to=<busy@lmtp.test>")[0]
    assert ("dsn=4.2.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 452 4.2.2 "
            "<busy@lmtp.test> Mailbox full (in reply to end of DATA command))") in busy, busy
    wait_log(instance, "to=<good@lmtp.test>")
    assert "status=sent" in log_lines(instance, "to=<good@lmtp.test>")[0]
    # Only the deferred recipient is left in the queue.
    listing = instance.cmd("postqueue", "-p").stdout
    assert "busy@lmtp.test" in listing and "good@lmtp.test" not in listing, listing


def test_lmtp_over_unix_socket(instance, servers, short_dir):
    path = str(short_dir / "lmtp.sock")
    s = servers(path)
    lmtp_instance(instance, f"inline:{{ lmtpu.test=lmtp:unix:{path} }}")
    send(instance, "good@lmtpu.test", "bad@lmtpu.test")
    wait_log(instance, "to=<good@lmtpu.test>")
    wait_log(instance, "to=<bad@lmtpu.test>")
    good = log_lines(instance, "to=<good@lmtpu.test>")[0]
    bad = log_lines(instance, "to=<bad@lmtpu.test>")[0]
    # Postfix names a UNIX-socket peer by this host's name and the socket path.
    relay = f"relay=mx.example.test[{path}], "
    assert relay in good and "dsn=2.0.0, status=sent (250 2.0.0 <good@lmtpu.test> Saved)" in good
    assert relay in bad, bad
    assert (f"dsn=5.1.1, status=bounced (host mx.example.test[{path}] said: 550 5.1.1 "
            "<bad@lmtpu.test> User doesn't exist (in reply to end of DATA command))") in bad, bad
    assert s.connections >= 1 and len(s.transactions) == 1
    assert any(c.startswith("LHLO ") for c in s.commands)


def test_lmtp_unix_socket_refused_defers(instance, short_dir):
    path = str(short_dir / "nobody.sock")  # no server: connect() fails
    lmtp_instance(instance, f"inline:{{ lmtpu.test=lmtp:unix:{path} }}")
    send(instance, "x@lmtpu.test")
    wait_log(instance, "to=<x@lmtpu.test>")
    line = log_lines(instance, "to=<x@lmtpu.test>")[0]
    assert "relay=none" in line and "status=deferred" in line, line
    assert f"connect to mx.example.test[{path}]: No such file or directory" in line, line


def test_lmtp_tcp_and_unix_in_one_instance(instance, servers, short_dir):
    tcp = servers()
    path = str(short_dir / "lmtp.sock")
    unix = servers(path)
    lmtp_instance(instance, f"inline:{{ lmtp.test=lmtp:inet:127.0.0.1:{tcp.port}, "
                            f"lmtpu.test=lmtp:unix:{path} }}")
    send(instance, "a@lmtp.test", "b@lmtpu.test")
    wait_log(instance, "status=sent", count=2)
    assert [t[1] for t in tcp.transactions] == [["a@lmtp.test"]]
    assert [t[1] for t in unix.transactions] == [["b@lmtpu.test"]]


def test_lmtp_connection_reuse_over_unix_socket(instance, servers, short_dir):
    path = str(short_dir / "lmtp.sock")
    s = servers(path)
    instance.write_main_cf({"lmtp_destination_concurrency_limit": "1"})  # one agent gets all
    lmtp_instance(instance, f"inline:{{ lmtpu.test=lmtp:unix:{path} }}")
    for i in range(4):
        send(instance, "good@lmtpu.test", body=f"Subject: reuse {i}\n\nbody {i}\n")
    wait_log(instance, "status=sent", count=4, timeout=60)
    assert len(s.transactions) == 4
    assert s.connections < 4, f"{s.connections} connections for 4 messages"
    assert "RSET" in s.commands  # a cached session is reset before its next transaction
