"""Issue 11, point 4, in the SMTP server: a length cap is a clear reply or a configuration
error, never a value silently cut short. Each test reaches a place that used to cut:

- smtpd_banner and myhostname were copied into 512/256-byte arrays: now too long is refused by
  postfix check (and smtpd) with the parameter name;
- the HELO name in "reject: ..." log lines was cut at 255 bytes;
- a HELO name longer than a DNS name passed reject_unknown_helo_hostname without a lookup;
- the session state "STARTTLS" was kept in 8 bytes ("lost connection after STARTTL");
- "user@smtpd_sasl_local_domain" longer than 255 bytes failed AUTH with a 454 in the Postern
  password backend.
"""
import base64
import socket
import subprocess

from conftest import postern_bin
from smtpd_harness import wait_log
from tlsutil import make_certs

PASSWORD = "S3cret-pw!"


def long_name(total, label=60, tld="example.test"):
    """A syntactically valid host name of about total bytes."""
    labels = []
    while sum(len(x) + 1 for x in labels) + len(tld) < total:
        labels.append("a" * label)
    return ".".join(labels + [tld])


def test_overlong_banner_and_myhostname_are_refused(instance):
    instance.write_main_cf({"smtpd_banner": "$myhostname ESMTP " + "b" * 600})
    p = instance.cmd("postfix", "check")
    assert p.returncode != 0, p.stdout + p.stderr
    assert "parameter smtpd_banner: value longer than 506 bytes" in p.stderr
    instance.write_main_cf({"smtpd_banner": "mx.example.test ESMTP",
                            "myhostname": long_name(300)})
    p = instance.cmd("postfix", "check")
    assert p.returncode != 0, p.stdout + p.stderr
    assert "parameter myhostname: value longer than 255 bytes" in p.stderr


def test_banner_at_the_limit_is_sent_whole(smtpd):
    banner = "mx.example.test ESMTP " + "b" * (506 - 22)
    srv = smtpd({"smtpd_banner": banner})
    c = srv.connect()
    assert c.reply() == "220 " + banner


def test_long_helo_name_is_logged_whole(smtpd, instance):
    helo = long_name(400)
    srv = smtpd({"smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
                 "mynetworks": "192.0.2.0/24"})
    c = srv.connect()
    c.reply()
    assert c.cmd("EHLO " + helo).startswith("250")
    c.cmd("MAIL FROM:<a@example.com>")
    assert c.cmd("RCPT TO:<b@elsewhere.example>").startswith("554 5.7.1")
    log = wait_log(instance, "reject: RCPT from")
    assert f" helo=<{helo}>" in log


def test_helo_longer_than_a_dns_name_is_host_not_found(smtpd):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # a resolver that never answers: no query may be needed
    helo = long_name(300)
    srv = smtpd({"smtpd_dns_resolver_address": "127.0.0.1:%d" % silent.getsockname()[1],
                 "smtpd_helo_restrictions": "reject_unknown_helo_hostname"})
    c = srv.connect()
    c.reply()
    c.cmd("EHLO " + helo)
    c.cmd("MAIL FROM:<a@example.com>")
    assert c.cmd("RCPT TO:<root@mx.example.test>") == (
        f"450 4.7.1 <{helo}>: Helo command rejected: Host not found")
    silent.close()


def test_lost_connection_after_starttls_names_the_command_whole(smtpd, instance, tmp_path):
    certs = make_certs(tmp_path / "certs")
    srv = smtpd({"smtpd_tls_chain_files": str(certs["chain"]),
                 "smtpd_tls_security_level": "may"})
    c = srv.connect()
    c.reply()
    c.cmd("EHLO client.example")
    assert c.cmd("STARTTLS").startswith("220 ")
    c.sock.close()  # no handshake
    log = wait_log(instance, "lost connection after")
    assert "lost connection after STARTTLS from localhost[127.0.0.1]" in log


def make_hash(password=PASSWORD):
    p = subprocess.run([str(postern_bin()), "postern-passwd", "-m", "sha512"],
                       input=password + "\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_sasl_user_with_long_local_domain_authenticates(smtpd, instance):
    domain = ".".join(["d" * 50] * 4) + ".realm.test"  # 214 bytes: a valid domain
    user = "u" * 200  # user@domain: 415 bytes
    (instance.etc / "sasl_passwd").write_text(f"{user}@{domain} {make_hash()}\n")
    srv = smtpd({"smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "postern",
                 "smtpd_sasl_password_maps": f"texthash:{instance.etc}/sasl_passwd",
                 "smtpd_sasl_local_domain": domain, "postern_sasl_failure_delay": "0s"})
    c = srv.connect()
    c.reply()
    assert "AUTH PLAIN" in c.cmd("EHLO client.example")
    token = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
    assert c.cmd("AUTH PLAIN " + token) == "235 2.7.0 Authentication successful"
    c.cmd("MAIL FROM:<a@example.com>")
    c.cmd("RCPT TO:<root@mx.example.test>")
    c.cmd("QUIT")
    log = wait_log(instance, "sasl_username=")
    assert f"sasl_username={user}@{domain}" in log


def test_overlong_sasl_user_gets_a_clear_reply(smtpd, instance):
    (instance.etc / "sasl_passwd").write_text("")
    srv = smtpd({"smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "postern",
                 "smtpd_sasl_password_maps": f"texthash:{instance.etc}/sasl_passwd",
                 "postern_sasl_failure_delay": "0s"})
    c = srv.connect()
    c.reply()
    c.cmd("EHLO client.example")
    token = base64.b64encode(("\0" + "u" * 300 + "\0" + PASSWORD).encode()).decode()
    reply = c.cmd("AUTH PLAIN " + token)
    assert reply.startswith("535 5.7.8") or reply.startswith("501 5.5.2"), reply
    # well-formed base64 that is only too long is said to be too long, not undecodable
    assert c.cmd("AUTH LOGIN " + base64.b64encode(b"u" * 300).decode()) == \
        "535 5.7.8 Error: authentication failed: response too long"
    assert c.cmd("AUTH LOGIN " + base64.b64encode(b"u" * 30).decode()).startswith("334 ")
    assert c.cmd(base64.b64encode(b"p" * 1100).decode()) == \
        "535 5.7.8 Error: authentication failed: response too long"
    assert c.cmd("AUTH LOGIN !!!!").startswith("501 5.5.2"), "bad base64 stays a 501"
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
