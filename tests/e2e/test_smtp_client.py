"""End-to-end tests of the smtp delivery agent (SMTP client).

A whole instance (postfix start) routes remote.test to a peer with transport_maps; the peer is
Postfix's smtp-sink or a small SMTP server written here, which records every connection, command
and message byte. MX routing is tested against dnsmasq on a loopback port.
"""
import os
import subprocess
import time

import pytest

from conftest import free_port
from dnsmasq import HAVE_DNSMASQ, Dnsmasq
from loopback import closing_factory
from smtp_peers import Sink

SMTP_SINK = "/usr/sbin/smtp-sink"


def routed_instance(instance, nexthop, extra=None):
    cfg = {"transport_maps": f"inline:{{ remote.test=smtp:{nexthop} }}",
           "smtp_helo_name": "client.test"}
    cfg.update(extra or {})
    instance.write_main_cf(cfg)
    instance.start()
    return instance


def send(instance, rcpt, body="Subject: test\n\nhello\n", sender="sender@example.test"):
    instance.cmd("sendmail", "-f", sender, rcpt, input=body, check=True)


def wait_log(instance, needle, count=1, timeout=40):
    return instance.wait_for(lambda: instance.maillog().count(needle) >= count, timeout=timeout,
                             what=f"{count} x {needle!r} in the maillog")


@pytest.fixture
def sink():
    yield from closing_factory(Sink)


@pytest.fixture
def dnsmasq():
    yield from closing_factory(Dnsmasq)


def test_delivers_to_smtp_sink(instance, tmp_path):
    port = free_port()
    dump = tmp_path / "dump"
    dump.mkdir()
    user = ["-u", "root"] if os.getuid() == 0 else []  # smtp-sink insists on -u as root
    p = subprocess.Popen([SMTP_SINK, *user, "-d", f"{dump}/%M.", f"127.0.0.1:{port}", "100"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        routed_instance(instance, f"[127.0.0.1]:{port}")
        send(instance, "x@remote.test", "Subject: to the sink\n\n.leading dot\nbody\n")
        wait_log(instance, "status=sent")
        log = instance.maillog()
        assert f"to=<x@remote.test>, relay=127.0.0.1[127.0.0.1]:{port}," in log
        assert "dsn=2.0.0, status=sent (250 2.0.0 Ok" in log
        files = instance.wait_for(lambda: list(dump.rglob("*")), what="sink dump")
        text = b"".join(f.read_bytes() for f in files if f.is_file())
        assert b"Subject: to the sink" in text
        assert b"X-Rcpt-Args: <x@remote.test>" in text
        assert b"\n.leading dot" in text  # dot-stuffing undone by the sink
    finally:
        p.terminate()
        p.wait()


def test_bytes_on_the_wire(instance, sink):
    s = sink()
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    send(instance, "x@remote.test", "Subject: wire\n\n.one\n..two\nlast\n")
    wait_log(instance, "status=sent (250 2.0.0 Ok: queued as SINK1)")
    assert s.commands[0] == "EHLO client.test"
    mail = [c for c in s.commands if c.startswith("MAIL FROM:")]
    assert mail and mail[0].startswith("MAIL FROM:<sender@example.test> SIZE=")
    assert "RCPT TO:<x@remote.test>" in s.commands
    msg = s.messages[0]
    assert b"\r\n..one\r\n...two\r\nlast\r\n" in msg
    assert b"\n" not in msg.replace(b"\r\n", b"")  # every line ends in CRLF
    assert b"Subject: wire\r\n" in msg
    assert f"relay=127.0.0.1[127.0.0.1]:{s.port}" in instance.maillog()


def test_450_defers(instance, sink):
    s = sink(rcpt_reply="450 4.2.0 <x@remote.test>: Mailbox busy")
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    send(instance, "x@remote.test")
    wait_log(instance, "status=deferred")
    log = instance.maillog()
    assert "dsn=4.2.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 450 4.2.0 " \
           "<x@remote.test>: Mailbox busy (in reply to RCPT TO command))" in log
    assert not s.messages


def test_550_bounces(instance, sink):
    s = sink(rcpt_reply=lambda c: "550 5.1.1 <nobody@remote.test>: User unknown"
             if "nobody@" in c else "250 2.1.5 Ok")
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    send(instance, "nobody@remote.test")
    wait_log(instance, "status=bounced")
    log = instance.maillog()
    assert "to=<nobody@remote.test>" in log
    assert "dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 " \
           "<nobody@remote.test>: User unknown (in reply to RCPT TO command))" in log


def test_reply_line_longer_than_line_length_limit_is_logged(instance, sink):
    """As Postfix: the first line_length_limit bytes are kept and the cut is logged."""
    s = sink(rcpt_reply="450-4.2.0 " + "a" * 3000 + "\r\n450 4.2.0 busy")
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    send(instance, "x@remote.test")
    wait_log(instance, "status=deferred")
    log = instance.maillog()
    assert "warning: 127.0.0.1[127.0.0.1]: response longer than 2048: 450-4.2.0 " \
           + "a" * 20 + "..." in log
    kept = "450-4.2.0 " + "a" * (2048 - 10)
    assert f"dsn=4.2.0, status=deferred (host 127.0.0.1[127.0.0.1] said: {kept} " \
           "(in reply to RCPT TO command))" in log


def test_long_multiline_reply_keeps_a_reason(instance, sink):
    """Lines are kept whole while the text is under line_length_limit; the reason is never
    dropped (three 1500-byte lines made it empty: "status=deferred ()")."""
    line = "450-4.2.0 " + "b" * 1490
    s = sink(rcpt_reply="\r\n".join([line, line, line, "450 4.2.0 end"]))
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    send(instance, "x@remote.test")
    wait_log(instance, "status=deferred")
    log = instance.maillog()
    assert "status=deferred ()" not in log
    assert f"dsn=4.2.0, status=deferred (host 127.0.0.1[127.0.0.1] said: {line} {line}" in log
    assert "response longer than" not in log


def test_mixed_recipients_one_transaction(instance, sink):
    s = sink(rcpt_reply=lambda c: "550 5.1.1 no such user" if "bad@" in c else "250 2.1.5 Ok")
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    instance.cmd("sendmail", "-f", "sender@example.test", "good@remote.test", "bad@remote.test",
                 input="Subject: two\n\nhi\n", check=True)
    wait_log(instance, "to=<bad@remote.test>")
    wait_log(instance, "to=<good@remote.test>")
    log = instance.maillog()
    assert "to=<good@remote.test>" in log and "status=sent" in log
    assert "to=<bad@remote.test>" in log and "status=bounced" in log
    assert len(s.messages) == 1


def test_connection_refused_defers(instance):
    port = free_port()  # nobody listens
    routed_instance(instance, f"[127.0.0.1]:{port}")
    send(instance, "x@remote.test")
    wait_log(instance, "status=deferred")
    log = instance.maillog()
    assert f"connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused" in log
    assert "relay=none" in log and "dsn=4.4.1, status=deferred (connect to " in log


def test_8bit_to_server_without_8bitmime_is_downgraded(instance, sink):
    s = sink(ehlo=("PIPELINING", "SIZE 100000"))
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    body = ("Subject: utf8\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\ncaf\u00e9\n")
    instance.cmd("sendmail", "-f", "sender@example.test", "x@remote.test",
                 input=body, check=True)
    wait_log(instance, "status=sent")
    mail = [c for c in s.commands if c.startswith("MAIL FROM:")][0]
    assert "BODY=8BITMIME" not in mail
    msg = s.messages[0]
    assert all(b < 0x80 for b in msg), msg
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in msg
    assert b"caf=C3=A9\r\n" in msg


def test_8bit_multipart_to_server_without_8bitmime(instance, sink):
    # Only the 8-bit part is converted; the 7-bit part, the boundaries and the top-level
    # headers go through unchanged, and nothing 8-bit reaches the server.
    s = sink(ehlo=("PIPELINING", "SIZE 100000"))
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    body = ("Subject: parts\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
            "preamble\n"
            "--b1\nContent-Type: text/plain; charset=us-ascii\n\nplain part\n"
            "--b1\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\nna\u00efve caf\u00e9\n"
            "--b1--\n")
    instance.cmd("sendmail", "-f", "sender@example.test", "x@remote.test", input=body, check=True)
    wait_log(instance, "status=sent")
    mail = [c for c in s.commands if c.startswith("MAIL FROM:")][0]
    assert "BODY=8BITMIME" not in mail
    msg = s.messages[0]
    assert all(b < 0x80 for b in msg), msg
    assert b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" in msg
    assert b"\r\n--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain part\r\n" in msg
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in msg
    assert b"na=C3=AFve caf=C3=A9\r\n" in msg
    assert msg.endswith(b"--b1--\r\n")
    assert msg.count(b"Content-Transfer-Encoding:") == 1


def test_8bit_with_8bitmime_is_declared(instance, sink):
    s = sink()
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    body = ("Subject: utf8\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\ncaf\u00e9\n")
    instance.cmd("sendmail", "-f", "sender@example.test", "x@remote.test", input=body, check=True)
    wait_log(instance, "status=sent")
    mail = [c for c in s.commands if c.startswith("MAIL FROM:")][0]
    assert "BODY=8BITMIME" in mail
    assert "caf\u00e9".encode() in s.messages[0]


def test_connection_reuse(instance, sink):
    s = sink()
    # One delivery at a time, so the one agent process that holds the cached session gets
    # every request (the cache is per process, unlike Postfix's shared scache).
    routed_instance(instance, f"[127.0.0.1]:{s.port}",
                    {"smtp_destination_concurrency_limit": "1"})
    for i in range(5):
        send(instance, "x@remote.test", f"Subject: reuse {i}\n\nbody {i}\n")
    wait_log(instance, "status=sent", count=5, timeout=60)
    assert len(s.messages) == 5
    assert s.connections < 5, f"{s.connections} connections for 5 messages"
    assert "RSET" in s.commands


@pytest.mark.skipif(not HAVE_DNSMASQ, reason="dnsmasq is not installed")
def test_mx_lookup_skips_dead_primary(instance, sink, dnsmasq, tmp_path):
    port = free_port()
    backup = sink(host="127.0.0.3", port=port)
    # mx1 (preference 10) is 127.0.0.2 where nothing listens on port; mx2 (20) is the sink.
    dns = dnsmasq(tmp_path, [
        "--mx-host=mx.test,mx1.mx.test,10", "--mx-host=mx.test,mx2.mx.test,20",
        "--host-record=mx1.mx.test,127.0.0.2", "--host-record=mx2.mx.test,127.0.0.3"])
    instance.write_main_cf({"transport_maps": f"inline:{{ mx.test=smtp:mx.test:{port} }}",
                            "smtp_dns_resolver_address": f"127.0.0.1:{dns.port}",
                            "inet_protocols": "ipv4"})
    instance.start()
    send(instance, "x@mx.test")
    wait_log(instance, "status=sent")
    log = instance.maillog()
    assert f"connect to mx1.mx.test[127.0.0.2]:{port}: Connection refused" in log
    assert f"relay=mx2.mx.test[127.0.0.3]:{port}" in log
    assert len(backup.messages) == 1


def deliver_by_dns(instance, dns, domain):
    """Routes domain by its MX records from dns and sends one message to x@domain; returns the
    maillog once the recipient's outcome is logged."""
    instance.write_main_cf({"transport_maps": f"inline:{{ {domain}=smtp:{domain} }}",
                            "smtp_dns_resolver_address": f"127.0.0.1:{dns.port}"})
    instance.start()
    send(instance, f"x@{domain}")
    wait_log(instance, f"to=<x@{domain}>")
    return instance.maillog()


@pytest.mark.skipif(not HAVE_DNSMASQ, reason="dnsmasq is not installed")
def test_unknown_domain_bounces(instance, dnsmasq, tmp_path):
    # --local: dnsmasq answers NXDOMAIN for names under test. that it does not know.
    log = deliver_by_dns(instance, dnsmasq(tmp_path, ["--local=/test/"]), "nx.test")
    assert "to=<x@nx.test>, relay=none" in log
    assert "dsn=5.4.4, status=bounced (Host or domain name not found. Name service error " \
           "for name=nx.test type=MX: Host not found)" in log


@pytest.mark.skipif(not HAVE_DNSMASQ, reason="dnsmasq is not installed")
def test_dns_server_failure_defers(instance, dnsmasq, tmp_path):
    # Without upstream servers dnsmasq refuses names it is not local for: a temporary failure.
    log = deliver_by_dns(instance, dnsmasq(tmp_path, ["--address=/exists.test/127.0.0.9"]),
                         "nx.example")
    assert "dsn=4.4.3, status=deferred (Host or domain name not found. Name service " \
           "error for name=nx.example type=MX: Host not found, try again)" in log


def test_5xx_greeting_is_skipped_and_deferred(instance, sink):
    # smtp_skip_5xx_greeting = yes (Postfix's default): try elsewhere, defer, never bounce.
    s = sink(greeting="554 5.7.1 go away")
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    send(instance, "x@remote.test")
    wait_log(instance, "to=<x@remote.test>")
    log = instance.maillog()
    assert "dsn=4.7.1, status=deferred (host 127.0.0.1[127.0.0.1] refused to talk to me: " \
           "554 5.7.1 go away)" in log
    assert "status=bounced" not in log


def test_relays_to_a_second_postern_instance(instance, tmp_path):
    """Two Postern instances: A relays remote.test to B's smtpd, B delivers to its own Maildir."""
    from conftest import Instance
    peer = Instance(tmp_path / "peer")
    peer.write_main_cf({"myhostname": "mx.remote.test", "virtual_mailbox_domains": "remote.test",
                        "virtual_mailbox_maps": "inline:{ user@remote.test=user/ }"})
    peer.start()
    try:
        routed_instance(instance, f"[127.0.0.1]:{peer.port}")
        body = "Subject: across\nMessage-ID: <two-instances@example.test>\n\n8-bit: caf\u00e9\n..dot\n"
        send(instance, "user@remote.test", body)
        msgs = peer.wait_for(lambda: peer.maildir_messages("user"), what="message at the peer")
        assert len(msgs) == 1
        m = msgs[0]
        assert b"Message-ID: <two-instances@example.test>" in m
        # sendmail keeps "..dot" as it is; the client stuffs it, the peer unstuffs it once.
        assert m.replace(b"\r\n", b"\n").endswith("\n\n8-bit: caf\u00e9\n..dot\n".encode())
        assert b"Return-Path: <sender@example.test>" in m
        # The peer's Received: header names the client's HELO, protocol and peer.
        assert b"from client.test (localhost [127.0.0.1])" in m
        wait_log(instance, "status=sent (250 2.0.0 Ok: queued as")
        log = instance.maillog()
        assert f"relay=127.0.0.1[127.0.0.1]:{peer.port}" in log
        # the peer logs the delivery after the file is in the Maildir: wait for the line
        peer.wait_for(lambda: "to=<user@remote.test>" in peer.maillog(),
                      what="the delivery in the peer's log")
    finally:
        peer.cmd("postfix", "stop", timeout=30)


def smtp_service_with(instance, *overrides):
    """master.cf's smtp service with -o overrides (the agent's typed settings must see them)."""
    opts = "".join(f" -o {o}" for o in overrides)
    instance.write_master_cf(instance.master_cf_text().replace(
        "smtp      unix  -       -       n       -       -       smtp\n",
        f"smtp      unix  -       -       n       -       -       smtp{opts}\n"))


def test_master_cf_override_reaches_typed_settings(instance, sink):
    # smtp_skip_5xx_greeting=no for this service only: the 554 greeting bounces the mail.
    s = sink(greeting="554 5.7.1 go away")
    smtp_service_with(instance, "smtp_skip_5xx_greeting=no")
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    send(instance, "x@remote.test")
    wait_log(instance, "to=<x@remote.test>")
    assert "dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] refused to talk to me: " \
           "554 5.7.1 go away)" in instance.maillog()


def test_bad_smtp_timeout_is_refused_at_start(instance):
    """The agent's own start-up check runs at postfix check/start too, with the service's -o
    overrides applied, so a bad value stops the start instead of every delivery."""
    smtp_service_with(instance, "smtp_helo_timeout=0")
    line = [l.split()[0] for l in instance.master_cf_text().splitlines()].index("smtp") + 1
    for verb in ("check", "start"):
        p = instance.cmd("postfix", verb)
        assert p.returncode != 0, (verb, p.stderr)
        assert (f"master.cf, line {line}: service smtp: parameter smtp_helo_timeout: "
                "value 0 is not above 0") in p.stderr, (verb, p.stderr)


def test_sender_with_a_control_character_bounces_not_null_sender(instance, sink):
    """A sender address no SMTP command can carry (a control character; sendmail -f takes it)
    fails with 5.1.7 instead of going out as MAIL FROM:<>, which would make it a bounce."""
    s = sink()
    routed_instance(instance, f"[127.0.0.1]:{s.port}")
    p = instance.cmd("sendmail", "-f", "bad\x01sender@example.test", "x@remote.test",
                     input="Subject: test\n\nhello\n")
    if p.returncode != 0:
        pytest.skip(f"sendmail refused the sender itself: {p.stderr}")
    wait_log(instance, "status=bounced")
    assert "dsn=5.1.7, status=bounced (bad sender address syntax: bad" in instance.maillog()
    assert not any("MAIL FROM:<>" in c for c in getattr(s, "commands", [])), s.commands
    assert not s.messages
