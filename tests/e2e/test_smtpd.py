"""End-to-end tests of the SMTP server (smtpd).

Most tests start `postern smtpd` directly, the way the master does: a listening socket made
here is passed as fd 3. One test runs the whole instance with `postfix start`. Clients are
Python's smtplib, raw sockets and swaks (smtpd_harness.py; the smtpd fixture is in conftest.py).
"""
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import time

import pytest

from smtpd_harness import QUEUE_DIRS, wait_log


def test_greeting_and_ehlo_keywords(smtpd):
    srv = smtpd()
    c = srv.connect()
    assert c.reply() == "220 mx.example.test ESMTP Postern"
    ehlo = c.cmd("EHLO client.example").split("\n")
    assert ehlo[0] == "250-mx.example.test"
    keywords = [line[4:] for line in ehlo[1:]]
    assert keywords == ["PIPELINING", "SIZE 10240000", "VRFY", "ENHANCEDSTATUSCODES",
                        "8BITMIME", "DSN"]
    assert ehlo[-1].startswith("250 ")
    assert c.cmd("HELO client.example") == "250 mx.example.test"
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert c.cmd("HELP") == "502 5.5.2 Error: command not recognized"
    assert c.cmd("VRFY root") == "252 2.0.0 root"
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    assert c.closed()


def test_ehlo_without_vrfy_and_size_limit(smtpd):
    srv = smtpd({"disable_vrfy_command": "yes", "message_size_limit": "5000"})
    c = srv.connect()
    c.reply()
    ehlo = c.cmd("EHLO c.example")
    assert "VRFY" not in ehlo
    assert "250-SIZE 5000" in ehlo
    assert c.cmd("VRFY root") == "502 5.5.1 VRFY command is disabled"


def test_full_transaction_is_queued(smtpd, instance):
    srv = smtpd()
    with srv.smtp() as s:
        s.ehlo("client.example")
        s.sendmail("sender@example.com", ["root@mx.example.test"],
                   "Subject: hello\r\n\r\nfirst line\r\n.leading dot\r\n")
    files = srv.queued()
    assert len(files) == 1
    text = srv.postcat(files[0])
    qid = files[0].name
    assert "sender: sender@example.com" in text
    assert "recipient: root@mx.example.test" in text
    assert "named_attribute: rewrite_context=local" in text
    assert "named_attribute: client_address=127.0.0.1" in text
    assert "named_attribute: log_protocol_name=ESMTP" in text
    assert f"Received: from client.example (localhost [127.0.0.1])\n\tby mx.example.test " \
           f"(Postern) with ESMTP id {qid}\n\tfor <root@mx.example.test>; " in text
    assert "Subject: hello" in text
    assert "\n.leading dot\n" in text
    log = wait_log(instance, "disconnect from localhost[127.0.0.1]")
    log = instance.maillog()
    assert "connect from localhost[127.0.0.1]" in log
    assert f"{qid}: client=localhost[127.0.0.1]" in log
    assert "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 " \
           "commands=5" in log


def test_received_without_for_when_several_recipients_and_helo_protocol(smtpd):
    srv = smtpd()
    c = srv.connect()
    c.reply()
    assert c.cmd("HELO old.example") == "250 mx.example.test"
    assert c.cmd("MAIL FROM:<a@example.com>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"
    assert c.cmd("RCPT TO:<alice@mx.example.test>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354 ")
    r = c.cmd("Subject: x\r\n\r\nbody\r\n.")
    assert r.startswith("250 2.0.0 Ok: queued as ")
    qid = r.split()[-1]
    text = srv.postcat(srv.inst.queue / "incoming" / qid)
    assert f"with SMTP id {qid};\n\t" in text
    assert "for <" not in text


def test_unknown_local_and_virtual_users(smtpd, instance):
    srv = smtpd()
    c = srv.connect()
    c.reply()
    c.cmd("EHLO c.example")
    assert c.cmd("MAIL FROM:<a@example.com>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<nosuch@mx.example.test>") == (
        "550 5.1.1 <nosuch@mx.example.test>: Recipient address rejected: "
        "User unknown in local recipient table")
    assert c.cmd("RCPT TO:<nobody@virtual.test>") == (
        "550 5.1.1 <nobody@virtual.test>: Recipient address rejected: "
        "User unknown in virtual mailbox table")
    assert c.cmd("RCPT TO:<user@virtual.test>") == "250 2.1.5 Ok"
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    log = wait_log(instance, "disconnect from")
    assert ("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 "
            "<nosuch@mx.example.test>: Recipient address rejected: User unknown in local "
            "recipient table; from=<a@example.com> to=<nosuch@mx.example.test> proto=ESMTP "
            "helo=<c.example>") in log
    assert "rcpt=1/3" in log
    assert srv.queued() == []  # the transaction was never finished


def test_relay_denied_for_untrusted_client(smtpd, instance):
    srv = smtpd({"mynetworks": "192.0.2.0/24",
                 "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination"})
    c = srv.mail()
    assert c.cmd("RCPT TO:<victim@remote.example>") == (
        "554 5.7.1 <victim@remote.example>: Relay access denied")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"
    log = wait_log(instance, "Relay access denied")
    assert ("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 "
            "<victim@remote.example>: Relay access denied; from=<a@example.com> "
            "to=<victim@remote.example> proto=ESMTP helo=<c.example>") in log


def test_default_relay_restrictions_defer(smtpd):
    srv = smtpd({"mynetworks": "192.0.2.0/24"})
    c = srv.mail()
    assert c.cmd("RCPT TO:<victim@remote.example>") == (
        "454 4.7.1 <victim@remote.example>: Relay access denied")


def test_relay_allowed_from_mynetworks(smtpd):
    srv = smtpd()
    with srv.smtp() as s:
        s.ehlo("c.example")
        refused = s.sendmail("a@example.com", ["someone@remote.example"], "Subject: r\r\n\r\nx\r\n")
        assert refused == {}
    assert len(srv.queued()) == 1


def test_access_tables_and_fqdn_restrictions(smtpd):
    srv = smtpd({
        "smtpd_sender_restrictions":
            "check_sender_access inline:{ {spammer@bad.example=REJECT Go away}, "
            "{bad.example=554 5.7.2 Domain blocked} }, reject_non_fqdn_sender",
        "smtpd_helo_restrictions": "reject_invalid_helo_hostname",
    })
    c = srv.mail("spammer@bad.example")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "554 5.7.1 <spammer@bad.example>: Sender address rejected: Go away")
    c.cmd("RSET")
    c.cmd("MAIL FROM:<other@bad.example>")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "554 5.7.2 <other@bad.example>: Sender address rejected: Domain blocked")
    c.cmd("RSET")
    c.cmd("MAIL FROM:<nodomain>")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "504 5.5.2 <nodomain>: Sender address rejected: need fully-qualified address")
    c.cmd("RSET")
    c.cmd("EHLO bad..helo")
    c.cmd("MAIL FROM:<ok@good.example>")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "501 5.5.2 <bad..helo>: Helo command rejected: Invalid name")


def test_size_limits(smtpd, instance):
    srv = smtpd({"message_size_limit": "2000"})
    c = srv.connect()
    c.reply()
    c.cmd("EHLO c.example")
    assert c.cmd("MAIL FROM:<a@example.com> SIZE=5000") == (
        "552 5.3.4 Message size exceeds fixed limit")
    assert c.cmd("MAIL FROM:<a@example.com> SIZE=100") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354")
    body = ("x" * 70 + "\r\n") * 100
    c.send("Subject: big\r\n\r\n" + body + ".\r\n")
    assert c.reply() == "552 5.3.4 Message size exceeds fixed limit"
    # The session goes on, and nothing was queued.
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert srv.queued() == []
    assert [p for p in (srv.inst.queue / "incoming").iterdir()] == []


def test_pipelining_replies_in_order(smtpd):
    srv = smtpd()
    c = srv.connect()
    c.reply()
    c.send("EHLO c.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<root@mx.example.test>\r\n"
           "RCPT TO:<nosuch@mx.example.test>\r\nRCPT TO:<alice@mx.example.test>\r\nDATA\r\n"
           "Subject: piped\r\n\r\nbody\r\n.\r\nMAIL FROM:<b@example.com>\r\n"
           "RCPT TO:<root@mx.example.test>\r\nDATA\r\nSubject: second\r\n\r\nx\r\n.\r\n"
           "QUIT\r\n")
    replies = [c.reply() for _ in range(11)]
    assert replies[0].startswith("250-mx.example.test")
    assert replies[1] == "250 2.1.0 Ok"
    assert replies[2] == "250 2.1.5 Ok"
    assert replies[3].startswith("550 5.1.1 <nosuch@mx.example.test>")
    assert replies[4] == "250 2.1.5 Ok"
    assert replies[5].startswith("354 ")
    assert replies[6].startswith("250 2.0.0 Ok: queued as ")
    assert replies[7] == "250 2.1.0 Ok"
    assert replies[8] == "250 2.1.5 Ok"
    assert replies[9].startswith("354 ")
    assert replies[10].startswith("250 2.0.0 Ok: queued as ")
    assert c.reply() == "221 2.0.0 Bye"
    assert len(srv.queued()) == 2


def test_pipelined_replies_come_in_one_batch(smtpd):
    """All replies to one pipelined batch arrive together (flushed once, RFC 2920)."""
    srv = smtpd()
    c = srv.connect()
    c.reply()
    c.send("EHLO c.example\r\nNOOP\r\nNOOP\r\nNOOP\r\nRSET\r\n")
    time.sleep(0.5)
    c.sock.settimeout(5)
    data = c.sock.recv(65536)
    assert data.count(b"\r\n") == 7 + 4, data


def test_rejected_data_does_not_turn_content_into_a_message(smtpd):
    srv = smtpd()
    c = srv.connect()
    c.reply()
    c.send("EHLO c.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<nosuch@mx.example.test>\r\n"
           "DATA\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<root@mx.example.test>\r\n"
           "DATA\r\nsmuggled\r\n.\r\nQUIT\r\n")
    replies = [c.reply() for _ in range(4)]
    assert replies[2].startswith("550 ")
    assert replies[3] == "554 5.5.1 Error: no valid recipients"
    # The pipelined lines were commands (RFC 2920): nested MAIL fails, RCPT then DATA work
    # only within the same transaction -- and nothing is queued from "content" lines.
    rest = []
    while True:
        try:
            rest.append(c.reply())
        except EOFError:
            break
    assert rest[0] == "503 5.5.1 Error: nested MAIL command"
    assert srv.queued() == [] or all(
        "smuggled" in srv.postcat(p) for p in srv.queued())


@pytest.mark.parametrize("seq", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n"])
def test_smuggling_attempts_stay_one_message(smtpd, seq):
    srv = smtpd()
    c = srv.mail()
    c.cmd("RCPT TO:<root@mx.example.test>")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: smuggle\r\n\r\nbefore" + seq +
           b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<alice@mx.example.test>\r\nDATA\r\n"
           b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
    r = c.reply()
    assert r.startswith("250 2.0.0 Ok: queued as ")
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    files = srv.queued()
    assert len(files) == 1
    text = srv.postcat(files[0])
    assert "MAIL FROM:<evil@example.com>" in text
    assert "recipient: alice@mx.example.test" not in text


def test_bare_newline_reject_mode(smtpd):
    srv = smtpd({"smtpd_forbid_bare_newline": "reject",
                 "smtpd_forbid_bare_newline_exclusions": ""})
    c = srv.mail()
    c.cmd("RCPT TO:<root@mx.example.test>")
    c.cmd("DATA")
    c.send("Subject: x\r\n\r\nline\n.\r\n")
    assert c.reply() == "550 5.5.2 Error: bare <LF> received"
    assert c.closed()
    assert srv.queued() == []


def test_nul_bytes_and_long_lines_get_500_and_session_survives(smtpd, instance):
    srv = smtpd()
    c = srv.connect()
    c.reply()
    c.cmd("EHLO c.example")
    assert c.cmd("NO\0OP") == "500 5.5.2 Error: bad syntax"
    assert c.cmd("MAIL FROM:<a\0b@example.com>") == "500 5.5.2 Error: bad syntax"
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    long_cmd = "MAIL FROM:<" + "a" * 10000 + "@example.com>"
    assert c.cmd(long_cmd) == "500 5.5.0 Error: line too long"
    # The long MAIL was not executed: a MAIL now is not "nested".
    assert c.cmd("MAIL FROM:<a@example.com>") == "250 2.1.0 Ok"
    # A long line split over several writes is skipped as a whole.
    c.send("X" * 5000)
    time.sleep(0.2)
    c.send("Y" * 5000 + "\r\nNOOP\r\n")
    assert c.reply() == "500 5.5.0 Error: line too long"
    assert c.reply() == "250 2.0.0 Ok"
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    wait_log(instance, "request longer than 2048")


def test_bad_syntax_replies(smtpd):
    srv = smtpd()
    c = srv.connect()
    c.reply()
    assert c.cmd("EHLO") == "501 Syntax: EHLO hostname"
    c.cmd("EHLO c.example")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "503 5.5.1 Error: need MAIL command"
    assert c.cmd("DATA") == "503 5.5.1 Error: need RCPT command"
    assert c.cmd("MAIL TO:<a@b>") == "501 5.5.4 Syntax: MAIL FROM:<address>"
    assert c.cmd("MAIL FROM:<a b@c>") == "501 5.1.7 Bad sender address syntax"
    assert c.cmd("MAIL FROM:<a@example.com> FOO=BAR") == "555 5.5.4 Unsupported option: FOO=BAR"
    assert c.cmd("MAIL FROM:<@route.example:a@example.com> BODY=8BITMIME RET=HDRS "
                 "ENVID=x+2By") == "250 2.1.0 Ok"
    assert c.cmd("MAIL FROM:<a@example.com>") == "503 5.5.1 Error: nested MAIL command"
    assert c.cmd("RCPT TO:<>") == "501 5.1.3 Bad recipient address syntax"
    assert c.cmd("RCPT TO:<root@mx.example.test> NOTIFY=NEVER,SUCCESS") == (
        "501 5.5.4 Error: Bad NOTIFY parameter syntax")
    assert c.cmd("DATA") == "554 5.5.1 Error: no valid recipients"
    assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert c.cmd("") == "500 5.5.2 Error: bad syntax"
    assert c.cmd("Subject: hi") == "221 2.7.0 Error: I can break rules, too. Goodbye."
    assert c.closed()


def test_too_many_recipients(smtpd):
    srv = smtpd({"smtpd_recipient_limit": "2"})
    c = srv.mail()
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"
    assert c.cmd("RCPT TO:<alice@mx.example.test>") == "250 2.1.5 Ok"
    assert c.cmd("RCPT TO:<postmaster@mx.example.test>") == "452 4.5.3 Error: too many recipients"


def test_hard_error_limit_disconnects(smtpd, instance):
    srv = smtpd({"smtpd_hard_error_limit": "3", "smtpd_soft_error_limit": "100"})
    c = srv.connect()
    c.reply()
    assert c.cmd("BOGUS1").startswith("502")
    assert c.cmd("BOGUS2").startswith("502")
    assert c.cmd("BOGUS3").startswith("502")
    assert c.reply() == "421 4.7.0 mx.example.test Error: too many errors"
    assert c.closed()
    wait_log(instance, "too many errors after UNKNOWN from localhost[127.0.0.1]")


def test_error_sleep_delays_only_that_session(smtpd):
    srv = smtpd({"smtpd_soft_error_limit": "1", "smtpd_error_sleep_time": "2s"})
    slow = srv.connect()
    slow.reply()
    assert slow.cmd("BOGUS").startswith("502")
    start = time.time()
    slow.send("NOOP\r\n")  # the reply to this waits 2s
    fast = srv.connect()
    assert fast.reply().startswith("220 ")
    assert fast.cmd("NOOP") == "250 2.0.0 Ok"
    assert time.time() - start < 1.5
    assert slow.reply() == "250 2.0.0 Ok"
    assert time.time() - start >= 1.8


def test_timeout(smtpd, instance):
    srv = smtpd({"smtpd_timeout": "1s"})
    c = srv.connect()
    c.reply()
    c.cmd("EHLO c.example")
    assert c.reply() == "421 4.4.2 mx.example.test Error: timeout exceeded"
    assert c.closed()
    wait_log(instance, "timeout after EHLO from localhost[127.0.0.1]")


def test_connection_count_limit(smtpd, instance):
    srv = smtpd({"smtpd_client_connection_count_limit": "2",
                 "smtpd_client_event_limit_exceptions": ""})
    a, b = srv.connect(), srv.connect()
    assert a.reply().startswith("220 ")
    assert b.reply().startswith("220 ")
    c = srv.connect()
    assert c.reply() == "421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1"
    assert c.closed()
    a.cmd("QUIT")
    a.closed()
    time.sleep(0.2)
    d = srv.connect()
    assert d.reply().startswith("220 ")
    wait_log(instance, "Connection concurrency limit exceeded: 3 from localhost[127.0.0.1]")


def test_mynetworks_are_exempt_from_connection_limit_by_default(smtpd):
    srv = smtpd({"smtpd_client_connection_count_limit": "1"})
    conns = [srv.connect() for _ in range(3)]
    for c in conns:
        assert c.reply().startswith("220 ")


def test_lost_connection_is_logged(smtpd, instance):
    srv = smtpd()
    c = srv.mail()
    c.cmd("RCPT TO:<root@mx.example.test>")
    c.cmd("DATA")
    c.send("Subject: partial\r\n\r\nhalf a message")
    c.close()
    wait_log(instance, "lost connection after DATA from localhost[127.0.0.1]")
    wait_log(instance, "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=0/1 "
                       "commands=3/4")
    time.sleep(0.2)
    assert list((srv.inst.queue / "incoming").iterdir()) == []


def test_sighup_finishes_open_sessions(smtpd):
    srv = smtpd()
    c = srv.connect()
    c.reply()
    c.cmd("EHLO c.example")
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert srv.proc.poll() is None
    assert c.cmd("MAIL FROM:<a@example.com>") == "250 2.1.0 Ok"
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    assert srv.proc.wait(timeout=10) == 0


def test_swaks_sends_a_message(smtpd):
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    srv = smtpd()
    p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(srv.port),
                        "--from", "swaks@example.com", "--to", "root@mx.example.test",
                        "--helo", "swaks.example", "--pipeline",
                        "--header", "Subject: via swaks", "--body", "hello from swaks"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "250 2.0.0 Ok: queued as" in p.stdout
    files = srv.queued()
    assert len(files) == 1
    text = srv.postcat(files[0])
    assert "Subject: via swaks" in text
    assert "hello from swaks" in text


def test_standalone_mode(instance):
    instance.write_main_cf({"alias_maps": "",
                            "local_recipient_maps": "inline:{ root=1 }"})
    for d in QUEUE_DIRS:
        (instance.queue / d).mkdir(parents=True, exist_ok=True)
    script = ("EHLO local.example\r\nMAIL FROM:<me@example.com>\r\n"
              "RCPT TO:<anyone@remote.example>\r\nDATA\r\nSubject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    p = instance.cmd("smtpd", "-S", input=script)
    lines = p.stdout.splitlines()
    assert lines[0] == "220 mx.example.test ESMTP Postern"
    assert any(line.startswith("250 2.0.0 Ok: queued as ") for line in lines), p.stdout
    assert "221 2.0.0 Bye" in lines
    files = list((instance.queue / "incoming").iterdir())
    assert len(files) == 1


def test_whole_instance_with_master(instance):
    """With `postfix start`, the master runs smtpd on the inet service."""
    instance.write_main_cf({"alias_maps": "",
                            "local_recipient_maps": "inline:{ root=1 }"})
    p = instance.cmd("postfix", "start")
    if p.returncode != 0:
        pytest.skip("master not available: " + p.stderr)
    deadline = time.time() + 15
    while True:
        try:
            s = smtplib.SMTP("127.0.0.1", instance.port, timeout=10)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    with s:
        code, banner = s.ehlo("client.example")
        assert code == 250
        assert b"PIPELINING" in banner
        refused = s.sendmail("a@example.com", ["root@mx.example.test"],
                             "Subject: via master\r\n\r\nbody\r\n")
        assert refused == {}
    instance.wait_for(lambda: "client=localhost[127.0.0.1]" in instance.maillog(),
                      what="smtpd transaction log")


def test_client_and_data_restrictions(smtpd, instance):
    srv = smtpd({"smtpd_client_restrictions":
                     "check_client_access inline:{ {127.0.0.1=REJECT No local clients} }",
                 "smtpd_data_restrictions": "reject"})
    c = srv.connect()
    c.reply()
    c.cmd("EHLO c.example")
    # smtpd_delay_reject = yes: the client is judged at RCPT time.
    assert c.cmd("MAIL FROM:<a@example.com>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: No local clients")
    srv2 = smtpd({"smtpd_client_restrictions": "", "smtpd_data_restrictions": "reject"})
    d = srv2.connect()
    d.reply()
    d.cmd("EHLO c.example")
    d.cmd("MAIL FROM:<a@example.com>")
    d.cmd("RCPT TO:<root@mx.example.test>")
    assert d.cmd("DATA") == "554 5.7.1 <DATA>: Data command rejected: Access denied"


def test_no_delay_reject_checks_at_helo(smtpd):
    srv = smtpd({"smtpd_delay_reject": "no",
                 "smtpd_helo_restrictions": "reject_non_fqdn_helo_hostname"})
    c = srv.connect()
    c.reply()
    assert c.cmd("HELO shortname") == (
        "504 5.5.2 <shortname>: Helo command rejected: need fully-qualified hostname")
    assert c.cmd("HELO mail.example.com") == "250 mx.example.test"


def test_without_listener_smtpd_refuses_to_run(instance):
    p = instance.cmd("smtpd")
    assert p.returncode != 0
    assert "smtpd -S" in p.stderr + instance.maillog()


def test_busy_only_at_capacity(smtpd):
    """One process serves many sessions: busy is reported only when it is full."""
    rfd, wfd = os.pipe()
    # 70 descriptors leave room for 22 sessions (48 are kept in reserve).
    srv = smtpd(nofile=70, status_fd=wfd)
    os.close(wfd)
    os.set_blocking(rfd, False)

    def records():
        out = b""
        try:
            while True:
                chunk = os.read(rfd, 4096)
                if not chunk:
                    break
                out += chunk
        except BlockingIOError:
            pass
        return [out[i + 4:i + 5] for i in range(0, len(out) - len(out) % 8, 8)]

    conns = []
    for _ in range(21):
        c = srv.connect()
        assert c.reply().startswith("220 ")
        conns.append(c)
    assert records() == []  # 21 of 22: still idle
    last = srv.connect()
    assert last.reply().startswith("220 ")
    time.sleep(0.2)
    assert records() == [b"b"]
    waiting = srv.connect()  # not accepted while full
    waiting.sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        waiting.sock.recv(100)
    conns[0].cmd("QUIT")
    conns[0].closed()
    waiting.sock.settimeout(10)
    assert waiting.reply().startswith("220 ")
    time.sleep(0.2)
    # Back under capacity (idle), then full again with the waiting client.
    assert records() == [b"i", b"b"]
    os.close(rfd)
