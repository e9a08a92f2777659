"""Restriction lists compiled once at load: no word limit, and names refused at load time.

smtpd compiles every smtpd_*_restrictions list when it starts (as Postfix's smtpd_check_init);
`postfix check` and `postfix start` do the same, so an unknown or unimplemented restriction is a
fatal configuration error naming main.cf and its line, never a 451 at RCPT time.
"""
import time

from smtpd_harness import Smtpd, wait_log


def long_list(last):
    # 299 harmless words, then the one that matters.
    words = [f"check_sender_access inline:{{ {{nobody{i}@x.example=OK}} }}" for i in range(149)]
    words.append("permit_auth_destination")
    return ", ".join(words + [last])


def test_300_word_list_keeps_its_last_word(smtpd):
    value = long_list("reject_unauth_destination")
    assert len(value.replace(",", " ").split()) >= 300
    srv = smtpd({"mynetworks": "192.0.2.0/24", "smtpd_relay_restrictions": value})
    c = srv.mail()
    assert c.cmd("RCPT TO:<victim@remote.example>") == (
        "554 5.7.1 <victim@remote.example>: Relay access denied")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"
    # A word from the middle of the list still decides for its key.
    c.cmd("RSET")
    c.cmd("MAIL FROM:<nobody120@x.example>")
    assert c.cmd("RCPT TO:<victim@remote.example>") == "250 2.1.5 Ok"


def smtpd_fails(instance, extra):
    srv = Smtpd(instance, extra)
    try:
        srv.proc.wait(timeout=20)
    finally:
        err = srv.stop()
    assert srv.proc.returncode != 0
    return err + instance.maillog()


def main_cf_line(instance, name):
    for n, line in enumerate((instance.etc / "main.cf").read_text().splitlines(), 1):
        if line.startswith(name + " "):
            return n
    raise AssertionError(name)


def test_unknown_restriction_is_fatal_at_start(smtpd, instance):
    out = smtpd_fails(instance, {"smtpd_recipient_restrictions": "permit_mynetworks, no_such_thing"})
    line = main_cf_line(instance, "smtpd_recipient_restrictions")
    assert (f"fatal: {instance.etc}/main.cf, line {line}: smtpd_recipient_restrictions: "
            'unknown restriction "no_such_thing"') in out


def test_postfix_check_and_start_refuse_bad_restrictions(instance):
    cases = [
        ("smtpd_client_restrictions", "permit_mynetworks, reject_unverified_sender",
         'restriction "reject_unverified_sender" is not implemented by Postern; '
         "refusing to run without it"),
        ("smtpd_helo_restrictions", "frobnicate", 'unknown restriction "frobnicate"'),
        ("smtpd_sender_restrictions", "check_sender_access", 'restriction "check_sender_access" '
         "needs an argument"),
    ]
    for name, value, why in cases:
        instance.write_main_cf({name: value})
        line = main_cf_line(instance, name)
        want = f"fatal: {instance.etc}/main.cf, line {line}: {name}: {why}"
        for verb in ("check", "start"):
            p = instance.cmd("postfix", verb)
            assert p.returncode != 0, (verb, p.stderr)
            assert want in p.stderr, (verb, p.stderr)
        instance.main_cf.pop(name)
    # Nothing was started.
    assert instance.cmd("postfix", "status").returncode != 0


def test_restriction_classes(smtpd):
    srv = smtpd({"smtpd_restriction_classes": "strict",
                 "strict": "reject_non_fqdn_sender, permit",
                 "smtpd_sender_restrictions":
                     "check_sender_access inline:{ {a@strict.example=strict} }"})
    c = srv.mail("a@strict.example")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"


def test_access_table_reopened_when_its_file_changes(smtpd, instance):
    table = instance.base / "sender_access"
    table.write_text("bad@example.com REJECT first\n")
    srv = smtpd({"smtpd_sender_restrictions": f"check_sender_access texthash:{table}"})
    c = srv.mail("bad@example.com")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "554 5.7.1 <bad@example.com>: Sender address rejected: first")
    time.sleep(1.1)
    table.write_text("bad@example.com REJECT second\n")
    time.sleep(1.1)
    c.cmd("RSET")
    c.cmd("MAIL FROM:<bad@example.com>")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "554 5.7.1 <bad@example.com>: Sender address rejected: second")
    wait_log(instance, "table changed; reopened")


def test_unauth_pipelining(smtpd):
    srv = smtpd({"smtpd_data_restrictions": "reject_unauth_pipelining"})
    c = srv.mail()
    c.cmd("RCPT TO:<root@mx.example.test>")
    c.sock.sendall(b"DATA\r\nSubject: early\r\n")
    assert c.reply() == ("503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP "
                         "command pipelining")


def submission_master_cf(instance, sub_port, *overrides):
    """The instance's master.cf plus a second smtpd service with -o overrides; its line."""
    base = instance.master_cf_text()
    line = len(base.splitlines()) + 1
    opts = "".join(f"\n  -o {o}" for o in overrides)
    instance.write_master_cf(base + f"127.0.0.1:{sub_port} inet n - n - - smtpd{opts}\n")
    return line


def test_postfix_check_compiles_each_services_overrides(instance):
    """Each smtpd service's lists are compiled with its own -o overrides applied: a bad word
    in a master.cf override, or a list that names a parameter nobody defined, is refused by
    check, start and reload with master.cf's file and line, not found by the first client."""
    from conftest import free_port
    sub_port = free_port()
    master_cf = instance.etc / "master.cf"
    cases = [
        (("smtpd_recipient_restrictions=permit_sasl_authenticated,reject_bogus",),
         'service 127.0.0.1:{port}: smtpd_recipient_restrictions: unknown restriction '
         '"reject_bogus"'),
        (("smtpd_client_restrictions=$submission_client_restrictions",),
         "service 127.0.0.1:{port}: smtpd_client_restrictions: undefined parameter "
         "submission_client_restrictions"),
        (("smtpd_restriction_classes=mua_client_restrictions",
          "smtpd_client_restrictions=mua_client_restrictions"),
         "service 127.0.0.1:{port}: smtpd_client_restrictions: restriction class "
         '"mua_client_restrictions" needs a definition'),
    ]
    for overrides, why in cases:
        line = submission_master_cf(instance, sub_port, *overrides)
        want = f"{master_cf}, line {line}: " + why.format(port=sub_port)
        for verb in ("check", "start"):
            p = instance.cmd("postfix", verb)
            assert p.returncode != 0, (verb, overrides, p.stderr)
            assert want in p.stderr, (verb, overrides, p.stderr)
    assert instance.cmd("postfix", "status").returncode != 0

    # Defined in main.cf, the same override is fine.
    instance.write_main_cf({"mua_client_restrictions": "permit_sasl_authenticated, reject"})
    submission_master_cf(instance, sub_port, "smtpd_client_restrictions=$mua_client_restrictions")
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr
    instance.start()
    try:
        # A reload with a bad override is refused by the command and by the master.
        line = submission_master_cf(instance, sub_port,
                                    "smtpd_recipient_restrictions=permit_mynetworks,reject_bogus")
        want = (f"{master_cf}, line {line}: service 127.0.0.1:{sub_port}: "
                'smtpd_recipient_restrictions: unknown restriction "reject_bogus"')
        p = instance.cmd("postfix", "reload")
        assert p.returncode != 0 and want in p.stderr, p.stderr
        pid = int((instance.queue / "pid" / "master.pid").read_text().split()[0])
        import os
        import signal
        os.kill(pid, signal.SIGHUP)
        instance.wait_for(lambda: "keeping old configuration" in instance.maillog(),
                          what="reload refused")
        assert want in instance.maillog()
        assert instance.cmd("postfix", "status").returncode == 0
    finally:
        instance.stop()
