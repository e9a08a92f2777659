"""Client host names and DNS restrictions from a private dnsmasq on a loopback port.

Clients connect from other loopback addresses (127.0.0.2, .3, ...) whose PTR and A records the
dnsmasq started here serves; smtpd_dns_resolver_address points smtpd at it. A resolver that
never answers is a UDP socket that reads nothing.
"""
import socket
import time

import pytest

from dnsmasq import HAVE_DNSMASQ, Dnsmasq
from smtpd_harness import Client, begin_mail, wait_log

pytestmark = pytest.mark.skipif(not HAVE_DNSMASQ, reason="dnsmasq is not installed")

RECORDS = [
    # Forward-confirmed: PTR and A agree.
    "--host-record=good.example.test,127.0.0.2",
    # PTR names a host whose A record is another address.
    "--ptr-record=3.0.0.127.in-addr.arpa,liar.example.test",
    "--host-record=liar.example.test,127.0.0.99",
    # 127.0.0.4 has no PTR record; names under these zones that are not listed do not exist.
    "--local=/127.in-addr.arpa/", "--local=/test/",
    # Mail domains.
    "--mx-host=mail-ok.test,mx.mail-ok.test,10", "--host-record=mx.mail-ok.test,127.0.0.50",
    "--host-record=a-only.test,127.0.0.51",
    # A DNSBL that lists 127.0.0.2, with a reason, and a RHSBL listing bad-domain.test.
    "--host-record=2.0.0.127.zen.test,127.0.0.2",
    "--txt-record=2.0.0.127.zen.test,listed for testing",
    "--host-record=bad-domain.test.rhs.test,127.0.0.2",
]


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    d = Dnsmasq(tmp_path_factory.mktemp("dnsmasq"), RECORDS)
    yield f"127.0.0.1:{d.port}"
    d.close()


def connect_from(srv, source, timeout=20):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", srv.port))
    return Client(s)


def test_forward_confirmed_and_forged_names(smtpd, instance, dns):
    srv = smtpd({"smtpd_dns_resolver_address": dns,
                 "smtpd_client_restrictions": "reject_unknown_reverse_client_hostname",
                 "smtpd_relay_restrictions": "reject_unknown_client_hostname, permit"})
    c = begin_mail(connect_from(srv, "127.0.0.2"))
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"
    assert c.cmd("QUIT").startswith("221")
    log = wait_log(instance, "disconnect from good.example.test[127.0.0.2]")
    assert "connect from good.example.test[127.0.0.2]" in log

    c = begin_mail(connect_from(srv, "127.0.0.3"))
    # The PTR name exists (reverse check passes); it does not lead back: unknown.
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.3]")
    c.cmd("QUIT")
    log = wait_log(instance, "disconnect from unknown[127.0.0.3]")
    assert "warning: hostname liar.example.test does not resolve to address 127.0.0.3" in log
    assert "connect from unknown[127.0.0.3]" in log
    assert "NOQUEUE: reject: RCPT from unknown[127.0.0.3]: 450 4.7.25" in log

    c = begin_mail(connect_from(srv, "127.0.0.4"))
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "450 4.7.25 Client host rejected: cannot find your reverse hostname, [127.0.0.4]")
    wait_log(instance, "connect from unknown[127.0.0.4]")


def test_resolver_that_never_answers(smtpd, instance):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    srv = smtpd({"smtpd_dns_resolver_address": f"127.0.0.1:{port}", "smtpd_timeout": "20s",
                 "smtpd_client_restrictions": "reject_unknown_client_hostname"})
    t0 = time.monotonic()
    c = connect_from(srv, "127.0.0.5", timeout=30)
    assert c.reply().startswith("220 ")
    waited = time.monotonic() - t0
    assert waited < 20, waited  # within smtpd_timeout
    # Meanwhile another client is served at once.
    c2 = srv.connect()
    t1 = time.monotonic()
    assert c2.reply().startswith("220 ")
    assert time.monotonic() - t1 < 2
    c.cmd("EHLO c.example")
    c.cmd("MAIL FROM:<a@example.com>")
    # A temporary failure: 450, not the permanent code.
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.5]")
    wait_log(instance, "connect from unknown[127.0.0.5]")
    silent.close()


def test_unknown_domains_and_helo(smtpd, instance, dns):
    srv = smtpd({"smtpd_dns_resolver_address": dns,
                 "smtpd_helo_restrictions": "reject_unknown_helo_hostname",
                 "smtpd_sender_restrictions": "reject_unknown_sender_domain",
                 "smtpd_relay_restrictions":
                     "reject_unknown_recipient_domain, permit_mynetworks, reject",
                 "smtpd_reject_unlisted_recipient": "no"})
    c = srv.mail("a@mail-ok.test", helo="mx.mail-ok.test")
    assert c.cmd("RCPT TO:<b@a-only.test>") == "250 2.1.5 Ok"
    assert c.cmd("RCPT TO:<b@nosuch.test>") == (
        "450 4.1.2 <b@nosuch.test>: Recipient address rejected: Domain not found")
    # Our own domains are never looked up.
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"
    c.cmd("RSET")
    c.cmd("MAIL FROM:<a@nosuch.test>")
    assert c.cmd("RCPT TO:<b@a-only.test>") == (
        "450 4.1.8 <a@nosuch.test>: Sender address rejected: Domain not found")
    c.cmd("RSET")
    c.cmd("EHLO nosuch-helo.test")
    c.cmd("MAIL FROM:<a@mail-ok.test>")
    assert c.cmd("RCPT TO:<b@a-only.test>") == (
        "450 4.7.1 <nosuch-helo.test>: Helo command rejected: Host not found")
    # The null sender has no domain to check.
    c.cmd("RSET")
    c.cmd("EHLO mx.mail-ok.test")
    c.cmd("MAIL FROM:<>")
    assert c.cmd("RCPT TO:<b@a-only.test>") == "250 2.1.5 Ok"


def test_dnsbl(smtpd, instance, dns):
    srv = smtpd({"smtpd_dns_resolver_address": dns,
                 "smtpd_client_restrictions": "reject_rbl_client zen.test=127.0.0.2",
                 "smtpd_sender_restrictions": "reject_rhsbl_sender rhs.test"})
    c = connect_from(srv, "127.0.0.2")
    c.reply()
    c.cmd("EHLO c.example")
    c.cmd("MAIL FROM:<a@mail-ok.test>")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using zen.test; "
        "listed for testing")
    c = connect_from(srv, "127.0.0.3")
    c.reply()
    c.cmd("EHLO c.example")
    c.cmd("MAIL FROM:<a@mail-ok.test>")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == "250 2.1.5 Ok"
    c.cmd("RSET")
    c.cmd("MAIL FROM:<a@bad-domain.test>")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        "554 5.7.1 Service unavailable; Sender address [bad-domain.test] blocked using rhs.test")


def test_dnsbl_pattern_filters_are_refused(instance):
    instance.write_main_cf({"smtpd_client_restrictions": "reject_rbl_client zen.test=127.0.0.[2..11]"})
    p = instance.cmd("postfix", "check")
    assert p.returncode != 0
    assert "Postfix's pattern forms are not implemented by Postern" in p.stderr
