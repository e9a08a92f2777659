"""Fail closed (issue 9): every Postfix setting is honoured, harmless and warned about, or refused.

Real instances (conftest.py): an inert setting starts and warns once; each required setting makes
`postfix check` and `postfix start` fail with the file, line and name, and nothing listens;
`postern_unimplemented_action = warn` starts anyway with one warning per setting; a refused
`postfix reload` keeps the old configuration serving. Also: every name of Postfix 3.7's
`postconf -d` has a class, and the log lines that pflogsumm counts.
"""
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import time
import uuid

import pytest

from conftest import free_port, wait_listening

REFUSED = "not implemented by Postern; refusing to run without it"
INERT = "not implemented by Postern; no effect on mail flow"


def port_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def send(inst, rcpt, sender="sender@example.com"):
    body = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: fail closed\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=30) as s:
        s.ehlo("client.example.com")
        s.sendmail(sender, [rcpt], body)


def main_cf_line(inst, name):
    return list(inst.main_cf).index(name) + 1


# Required settings in main.cf: each alone makes check and start refuse.
REQUIRED_MAIN_CF = [
    ("smtp_sasl_type", "dovecot"),
    ("smtp_tls_per_site", "inline:{ example.com=MUST }"),
    ("masquerade_domains", "example.com"),
    ("content_filter", "amavis:[127.0.0.1]:10024"),
    ("smtpd_milters", "inet:127.0.0.1:8891"),
    ("non_smtpd_milters", "inet:127.0.0.1:8891"),
    ("header_checks", "regexp:/etc/postern/header_checks"),
    ("body_checks", "pcre:/etc/postern/body_checks"),
    ("sender_canonical_maps", "inline:{ a@example.com=b@example.com }"),
    ("recipient_bcc_maps", "inline:{ user@virtual.test=spy@example.com }"),
    ("always_bcc", "archive@example.com"),
    ("smtpd_tls_req_ccert", "yes"),
    ("smtp_generic_maps", "inline:{ a@example.com=b@example.net }"),
    ("relay_recipient_maps", "hash:/etc/postern/relay_recipients"),
    ("smtpd_client_message_rate_limit", "10"),
    ("postscreen_dnsbl_sites", "zen.spamhaus.org*2"),
    ("receive_override_options", "no_address_mappings"),
    ("virtual_alias_maps", "mysql:/etc/postern/virtual_alias.cf"),
    ("smtpd_proxy_filter", "127.0.0.1:10025"),
    ("sender_dependent_relayhost_maps", "inline:{ a@example.com=[relay.example.com] }"),
    ("smtpd_client_connection_rate_limit", "30"),
]


def param_class(inst, name):
    return inst.cmd("postconf", "-U", name).stdout.strip().split(" = ")[-1]


def skip_if_implemented(inst, name, value):
    """A feature that lands moves its names to implemented; its own tests take over then."""
    if param_class(inst, name) == "implemented" and not value.startswith("mysql:"):
        pytest.skip(f"{name} is implemented now")


def test_at_least_15_required_cases_left(instance):
    still = [n for n, v in REQUIRED_MAIN_CF
             if param_class(instance, n) == "required" or v.startswith("mysql:")]
    assert len(still) >= 15, still


def assert_refused(inst, p, path, line, name):
    assert p.returncode != 0, p.stderr
    want = f"fatal: {path}, line {line}: {name}"
    assert want in p.stderr, p.stderr
    assert "refusing to run without it" in p.stderr, p.stderr


@pytest.mark.parametrize("name,value", REQUIRED_MAIN_CF,
                         ids=[f"{n}={v.split(':')[0]}" for n, v in REQUIRED_MAIN_CF])
def test_required_main_cf_setting_refused(instance, name, value):
    skip_if_implemented(instance, name, value)
    instance.write_main_cf({name: value})
    line = main_cf_line(instance, name)
    main_cf = f"{instance.etc}/main.cf"
    assert_refused(instance, instance.cmd("postfix", "check"), main_cf, line, name)
    p = instance.cmd("postfix", "start")
    assert_refused(instance, p, main_cf, line, name)
    assert not port_accepts(instance.port)
    assert not (instance.queue / "pid" / "master.pid").exists() or \
        instance.cmd("postfix", "status").returncode != 0


def assert_check_and_start_refused(inst, want):
    """postfix check and postfix start both fail with want in their messages; nothing listens."""
    for verb in ("check", "start"):
        p = inst.cmd("postfix", verb)
        assert p.returncode != 0, (verb, p.stderr)
        assert want in p.stderr, (verb, p.stderr)
    assert not port_accepts(inst.port)


def stock_services(inst):
    return inst.master_cf_text()


REQUIRED_MASTER_CF = [
    # (extra master.cf text, line of the refused entry relative to the base, name in message)
    ("relay unix - - n - - smtp\n"
     "  -o syslog_name=postfix/relay\n"
     "  -o smtp_header_checks=regexp:/etc/postern/smtp_header_checks\n", "smtp_header_checks"),
    ("submission_port inet n - n - - smtpd\n  -o smtpd_client_recipient_rate_limit=5\n",
     "smtpd_client_recipient_rate_limit"),
    ("smtp_port inet n - n - 1 postscreen\nsmtpd pass - - n - - smtpd\n", "postscreen"),
    ("smtps_port inet n - n - - tlsproxy\n", "tlsproxy"),
    ("dovecot unix - n n - - pipe flags=DRhu user=vmail argv=/usr/lib/dovecot/deliver\n",
     "virtual_transport"),
]


@pytest.mark.parametrize("extra,name", REQUIRED_MASTER_CF,
                         ids=[n for _, n in REQUIRED_MASTER_CF])
def test_required_master_cf_entry_refused(instance, extra, name):
    if "-o " + name in extra:
        skip_if_implemented(instance, name, "")
    other = instance.port + 1 if instance.port < 65000 else instance.port - 1
    extra = extra.replace("submission_port", f"127.0.0.1:{other}")
    extra = extra.replace("smtp_port", f"127.0.0.1:{other}").replace("smtps_port",
                                                                        f"127.0.0.1:{other}")
    base = instance.master_cf_text()
    instance.write_master_cf(base + extra)
    if name == "virtual_transport":
        instance.write_main_cf({"virtual_transport": "dovecot"})
    line = base.count("\n") + 1
    master_cf = f"{instance.etc}/master.cf"
    assert_refused(instance, instance.cmd("postfix", "check"), master_cf, line, "")
    p = instance.cmd("postfix", "start")
    assert_refused(instance, p, master_cf, line, "")
    assert name in p.stderr, p.stderr
    assert not port_accepts(instance.port)
    assert not port_accepts(other)


def test_inert_setting_starts_and_warns_once(instance):
    instance.write_main_cf({"biff": "no", "readme_directory": "/usr/share/doc/postern"})
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr
    assert f"main.cf, line {main_cf_line(instance, 'biff')}: biff = no: {INERT}" in p.stderr
    instance.start()
    assert port_accepts(instance.port)
    master = [l for l in instance.maillog().splitlines() if "postern/master[" in l]
    assert sum(f"biff = no: {INERT}" in l for l in master) == 1, master
    assert sum("readme_directory = " in l and INERT in l for l in master) == 1, master
    send(instance, "user@virtual.test")
    instance.wait_for(lambda: instance.maildir_messages("user"), what="delivery")
    p = instance.cmd("postconf", "-n")
    assert "biff = no\n" in p.stdout
    assert f"biff = no: {INERT}" in p.stderr


def test_warn_action_starts_and_warns_per_setting(instance):
    settings = {n: v for n, v in REQUIRED_MAIN_CF if param_class(instance, n) == "required"}
    settings["postern_unimplemented_action"] = "warn"
    instance.write_main_cf(settings)
    other = instance.port + 1 if instance.port < 65000 else instance.port - 1
    instance.write_master_cf(instance.master_cf_text() +
                             f"127.0.0.1:{other} inet n - n - 1 postscreen\n")
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr
    instance.start()
    assert port_accepts(instance.port)
    assert not port_accepts(other)
    log = instance.maillog()
    for name, value in settings.items():
        if name == "postern_unimplemented_action":
            continue
        line = main_cf_line(instance, name)
        want = (f"warning: {instance.etc}/main.cf, line {line}: {name} = {value}: not "
                "implemented by Postern; running without it")
        assert want in log, want
    assert f"service 127.0.0.1:{other}: program postscreen is not implemented" in log
    send(instance, "user@virtual.test")
    instance.wait_for(lambda: instance.maildir_messages("user"), what="delivery")


def test_reload_with_required_setting_keeps_old_configuration(instance):
    instance.start()
    pid = int((instance.queue / "pid" / "master.pid").read_text())
    send(instance, "user@virtual.test")  # traffic before the reload
    instance.wait_for(lambda: len(instance.maildir_messages("user")) == 1, what="delivery")
    instance.write_main_cf({"content_filter": "amavis:[127.0.0.1]:10024"})
    p = instance.cmd("postfix", "reload")
    assert p.returncode != 0
    assert f"{instance.etc}/main.cf, line {main_cf_line(instance, 'content_filter')}: " \
           f"content_filter = amavis:[127.0.0.1]:10024: {REFUSED}" in p.stderr
    # The master refuses it too when signalled directly.
    os.kill(pid, signal.SIGHUP)
    instance.wait_for(lambda: "keeping old configuration" in instance.maillog(),
                      what="master keeps the old configuration")
    assert instance.cmd("postfix", "status").returncode == 0
    send(instance, "user@virtual.test")
    instance.wait_for(lambda: len(instance.maildir_messages("user")) == 2, what="delivery")
    assert "reload -- version" not in instance.maillog()


def postfix_names():
    if not os.path.exists("/usr/sbin/postconf"):
        pytest.skip("Postfix (the test peer) is not installed")
    p = subprocess.run(["/usr/sbin/postconf", "-d", "-H"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    ver = subprocess.run(["/usr/sbin/postconf", "-d", "-h", "mail_version"],
                         capture_output=True, text=True, timeout=60).stdout.strip()
    return ver, p.stdout.split()


def test_every_postfix_parameter_has_a_class(instance):
    version, names = postfix_names()
    assert version.startswith("3."), version
    assert len(names) > 800
    p = instance.cmd("postconf", "-U", *names)
    assert p.returncode == 0, p.stderr
    classes = dict(line.split(" = ") for line in p.stdout.splitlines())
    unknown = sorted(n for n in names if classes.get(n) not in ("implemented", "inert",
                                                               "required"))
    assert unknown == [], f"Postfix {version} parameters without a class: {unknown}"
    # postconf -d shows Postern's implemented parameters only.
    shown = {line.split(" = ")[0] for line in instance.cmd("postconf", "-d").stdout.splitlines()}
    assert "myhostname" in shown and "content_filter" not in shown and "biff" not in shown
    assert all(classes.get(n, "implemented") == "implemented" for n in shown)


def test_message_id_logged_under_cleanup(instance):
    instance.start()
    send(instance, "user@virtual.test")
    instance.wait_for(lambda: ": removed" in instance.maillog(), what="delivery")
    log = instance.maillog()
    m = re.search(r" postern/cleanup\[\d+\]: ([0-9A-F]+): message-id=<[0-9a-f]+@example\.com>",
                  log)
    assert m, log
    assert f"postern/smtpd" in log and not re.search(r"smtpd\[\d+\]: \w+: message-id=", log)
    assert f" {m.group(1)}: client=" in log


def test_pflogsumm_grand_totals(instance):
    if shutil.which("pflogsumm") is None:
        pytest.skip("pflogsumm is not installed")
    instance.start()
    for _ in range(3):
        send(instance, "user@virtual.test")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(instance, "nobody@virtual.test")
    instance.wait_for(lambda: instance.maillog().count("status=sent") >= 3, what="3 deliveries")
    p = subprocess.run(["pflogsumm", "--syslog-name=postern", str(instance.log)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    totals = p.stdout.split("Grand Totals", 1)[1].split("Per-Day", 1)[0]

    def count(label):
        m = re.search(r"^\s*(\d+)\s+" + label + r"\b", totals, re.M)
        assert m, totals
        return int(m.group(1))
    assert count("received") == 3, totals
    assert count("delivered") == 3, totals
    assert count("rejected") == 1, totals


@pytest.mark.parametrize("value,why", [
    ("permit_mynetworks, no_such_restriction, reject_unauth_destination",
     'unknown restriction "no_such_restriction"'),
    ("permit_mynetworks, reject_unverified_recipient, reject_unauth_destination",
     'restriction "reject_unverified_recipient" is not implemented by Postern; '
     "refusing to run without it"),
], ids=["unknown", "unimplemented"])
def test_bad_restriction_refused_at_load(instance, value, why):
    instance.write_main_cf({"smtpd_recipient_restrictions": value})
    line = main_cf_line(instance, "smtpd_recipient_restrictions")
    want = f"fatal: {instance.etc}/main.cf, line {line}: smtpd_recipient_restrictions: {why}"
    assert_check_and_start_refused(instance, want)


@pytest.mark.parametrize("name,value,why", [
    ("smtp_dns_resolver_address", "dns.example.net",
     'parameter smtp_dns_resolver_address: "dns.example.net" is not an IPv4 address'),
    ("smtp_dns_resolver_address", "127.0.0.1:99999",
     'parameter smtp_dns_resolver_address: bad port in "127.0.0.1:99999"'),
    ("smtpd_dns_resolver_address", "not an address",
     'parameter smtpd_dns_resolver_address: bad DNS server list "not an address"'),
], ids=["smtp-name", "smtp-port", "smtpd"])
def test_bad_resolver_address_refused_at_load(instance, name, value, why):
    """A resolver address the smtp agent or smtpd cannot use stops postfix check and start
    (it used to be only warned about by each smtp agent, which then asked /etc/resolv.conf's
    servers instead, and smtpd died at its first connection)."""
    instance.write_main_cf({name: value})
    assert_check_and_start_refused(instance, why)


def test_bad_resolver_address_in_service_override_refused(instance):
    """The same value as a master.cf -o override of one smtp service names that service."""
    base = instance.master_cf_text()
    instance.write_master_cf(base + "relay unix - - n - - smtp\n"
                             "  -o smtp_dns_resolver_address=127.0.0.1:0\n")
    line = base.count("\n") + 1
    p = instance.cmd("postfix", "check")
    assert p.returncode != 0, p.stderr
    assert (f"{instance.etc}/master.cf, line {line}: service relay: parameter "
            'smtp_dns_resolver_address: bad port in "127.0.0.1:0"') in p.stderr, p.stderr
    instance.write_master_cf(base + "relay unix - - n - - smtp\n"
                             "  -o smtp_dns_resolver_address=127.0.0.1:5353\n")
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("name,value", [
    ("smtp_destination_concurrency_limit", "twenty"),
    ("relay_destination_recipient_limit", "-1"),
    ("initial_destination_concurrency", "0"),
], ids=["not-a-number", "negative", "initial-zero"])
def test_bad_transport_limit_refused_at_load(instance, name, value):
    """The queue manager used to take a malformed per-transport limit as its default without a
    word; postfix check and start now refuse it, naming the line."""
    instance.write_main_cf({name: value})
    line = main_cf_line(instance, name)
    want = (f"{instance.etc}/main.cf, line {line}: {name} = {value}: "
            "want a whole number of at least")
    assert_check_and_start_refused(instance, want)


@pytest.mark.parametrize("name,value,why", [
    ("smtpd_tls_security_level", "bogus",
     'parameter smtpd_tls_security_level: invalid value "bogus" (want none, may or encrypt)'),
    ("smtpd_tls_security_level", "encrypt",
     "TLS is required (smtpd_tls_security_level = encrypt) but cannot be set up: "
     "no server certificate"),
    ("smtpd_recipient_limit", "0", "parameter smtpd_recipient_limit: value 0 is below 1"),
    ("smtpd_forbid_bare_newline", "maybe",
     'parameter smtpd_forbid_bare_newline: invalid value "maybe"'),
    ("smtpd_client_event_limit_exceptions", "300.1.1.1/99",
     "parameter smtpd_client_event_limit_exceptions: "),
    ("mynetworks", "10.0.0.0/33", "parameter mynetworks: "),
], ids=["tls-level", "tls-encrypt-no-cert", "recipient-limit", "bare-newline", "net-list",
        "mynetworks"])
def test_bad_smtpd_setting_refused_at_load(instance, name, value, why):
    """Values smtpd itself would refuse only as the first client connects (or, for the
    bare-newline mode and network lists, used to replace by a default with a warning) stop
    postfix check and start, naming main.cf; as a master.cf -o they name the service."""
    instance.write_main_cf({name: value})
    assert_check_and_start_refused(instance, f"{instance.etc}/main.cf: {why}")
    instance.write_main_cf()
    instance.write_master_cf(instance.master_cf_text().replace(
        " smtpd\n", f" smtpd -o {name}={value}\n", 1))
    p = instance.cmd("postfix", "check")
    assert p.returncode != 0, p.stderr
    assert f"{instance.etc}/master.cf, line 1: service 127.0.0.1:{instance.port}: {why}" \
        in p.stderr, p.stderr


def test_tls_may_without_certificate_is_a_warning(instance):
    """Level may without a usable certificate: Postfix runs without STARTTLS and says so; so
    does Postern, now already at postfix check."""
    instance.write_main_cf({"smtpd_tls_security_level": "may"})
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr
    assert "cannot set up TLS: no server certificate" in p.stderr, p.stderr


@pytest.mark.parametrize("name,value,why", [
    ("smtp_tls_security_level", "bogus", 'unknown TLS security level "bogus"'),
    ("smtp_tls_policy_maps", "bogus:/etc/postern/tls_policy", "unsupported dictionary type: bogus"),
    ("smtp_tls_protocols", "bogus", 'unknown TLS protocol "bogus"'),
], ids=["tls-level", "policy-table-type", "protocols"])
def test_bad_smtp_client_setting_refused_at_load(instance, name, value, why):
    """What the smtp agent refuses when it starts (its TLS engine and SASL client) is refused
    by postfix check and start, instead of at the first delivery with mail already accepted."""
    instance.write_main_cf({name: value})
    assert_check_and_start_refused(instance, f"{instance.etc}/main.cf: ")
    assert why in instance.cmd("postfix", "check").stderr


def test_lmtp_service_settings_checked(instance):
    """An lmtp service is checked with the lmtp_* settings, and named."""
    instance.write_main_cf({"lmtp_tls_security_level": "bogus"})
    base = instance.master_cf_text()
    instance.write_master_cf(base + "lmtp unix - - n - - lmtp\n")
    p = instance.cmd("postfix", "check")
    assert p.returncode != 0, p.stderr
    line = base.count("\n") + 1
    assert (f"{instance.etc}/master.cf, line {line}: service lmtp: lmtp_tls_security_level: "
            'unknown TLS security level "bogus"') in p.stderr, p.stderr
    instance.write_master_cf(base)
    assert instance.cmd("postfix", "check").returncode == 0


@pytest.mark.parametrize("name,value,why", [
    ("inet_protocols", "ipv5", 'parameter inet_protocols: bad value "ipv5" (want all, ipv4, ipv6)'),
    ("queue_run_delay", "0", "parameter queue_run_delay: value 0 is below 1"),
], ids=["inet-protocols", "queue-run-delay"])
def test_bad_queue_or_network_setting_refused(instance, name, value, why):
    """Postfix refuses these at start; Postern used to take ipv4 for any inet_protocols value it
    did not know, and a queue_run_delay of 0 as it was."""
    instance.write_main_cf({name: value})
    assert_check_and_start_refused(instance, why)


@pytest.mark.parametrize("name,value,why", [
    ("virtual_mailbox_maps", "hsah:/etc/postern/vmailbox",
     'virtual_mailbox_maps = hsah:/etc/postern/vmailbox: unknown lookup table type "hsah"'),
    ("mydestination", "localhost, bogus:/etc/postern/local_domains",
     'unknown lookup table type "bogus"'),
    ("smtpd_sender_restrictions", "check_sender_access hsah:/etc/postern/senders",
     'smtpd_sender_restrictions: restriction "check_sender_access": '
     "unsupported dictionary type: hsah"),
], ids=["maps", "domain-list", "restriction-table"])
def test_unknown_table_type_refused_at_load(instance, name, value, why):
    """A table type no one knows (a typo) is refused by postfix check and start: its lookups
    could never work (they used to fail, or defer, only once mail came)."""
    instance.write_main_cf({name: value})
    assert_check_and_start_refused(instance, why)


def test_colons_outside_tables_are_not_table_types(instance):
    """Nexthops, policy sockets and IPv6 networks hold colons too; they are not tables."""
    instance.write_main_cf({
        "relayhost": "[mx.example.com]:587",
        "smtpd_recipient_restrictions":
            "check_policy_service inet:127.0.0.1:10023, reject_unauth_destination",
        "mynetworks": "127.0.0.0/8 [::1]/128"})
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr


def test_myorigin_file_as_debian_reads_it(instance, tmp_path):
    """Debian's main.cf says myorigin = /etc/mailname: the first line of that file is the
    domain (Postern used the path itself: from=<user@/etc/mailname>). A file it cannot read
    refuses the start."""
    mailname = tmp_path / "mailname"
    mailname.write_text("  mail.origin.test \nsecond line\n")
    mailname.chmod(0o644)
    tmp_path.chmod(0o755)
    instance.write_main_cf({"myorigin": str(mailname)})
    instance.start()
    try:
        instance.cmd("sendmail", "-f", "localsender", "root@mx.example.test",
                     input="Subject: origin\n\nhi\n", check=True)
        instance.wait_for(lambda: "from=<localsender@mail.origin.test>" in instance.maillog(),
                          what="the sender qualified with the file's domain")
        assert f"from=<localsender@{mailname}>" not in instance.maillog()
        out = instance.cmd("postconf", "myorigin").stdout
        assert out.strip() == f"myorigin = {mailname}", out  # postconf shows the setting
    finally:
        instance.stop()
    instance.write_main_cf({"myorigin": str(tmp_path / "missing")})
    assert_check_and_start_refused(
        instance, f"parameter myorigin: cannot take the domain from {tmp_path}/missing: "
                  "No such file or directory")
    mailname.write_text("\n")
    instance.write_main_cf({"myorigin": str(mailname)})
    assert_check_and_start_refused(instance, "its first line is empty")


def test_stock_submission_entry_without_mua_definitions(instance, tmp_path):
    """Postfix's stock submission/smtps entries name $mua_client_restrictions and friends,
    which a stock main.cf does not define: Postfix takes them as empty lists and warns; so does
    Postern (any other undefined parameter in a restriction list is still refused)."""
    from tlsutil import make_certs, stock_master_cf
    certs = make_certs(tmp_path / "pki")
    (instance.etc / "no_users").write_text("")
    instance.write_main_cf({"smtpd_tls_chain_files": str(certs["chain"]),
                            "smtpd_sasl_password_maps": f"texthash:{instance.etc}/no_users"})
    sub_port, smtps_port = free_port(), free_port()
    instance.write_master_cf(stock_master_cf(instance, sub_port, smtps_port))
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr
    for name in ("mua_client_restrictions", "mua_helo_restrictions", "mua_sender_restrictions"):
        assert p.stderr.count(f"undefined parameter {name}: an empty list, as in Postfix") == 1, \
            p.stderr
    instance.start()
    try:
        wait_listening(sub_port)
        with smtplib.SMTP("127.0.0.1", sub_port, timeout=20) as c:
            code, _ = c.ehlo("client.example")
            assert code == 250 and c.has_extn("starttls")
    finally:
        instance.stop()


def test_transport_without_master_cf_service_refused(instance):
    """virtual_transport naming a transport master.cf does not define (a typo, or Dovecot's
    lmtp entry missing) would leave that mail deferred for good: refused at check and start,
    in main.cf and as a -o; a transport master.cf has is fine."""
    instance.write_main_cf({"virtual_transport": "lmpt:unix:private/dovecot-lmtp"})
    line = main_cf_line(instance, "virtual_transport")
    assert_check_and_start_refused(
        instance, f"{instance.etc}/main.cf, line {line}: virtual_transport = "
                  'lmpt:unix:private/dovecot-lmtp: master.cf defines no transport "lmpt"')
    instance.write_main_cf()
    base = instance.master_cf_text()
    instance.write_master_cf(base + "lmtp unix - - n - - lmtp\n"
                             "relay unix - - n - - smtp\n  -o default_transport=nowhere\n")
    p = instance.cmd("postfix", "check")
    assert p.returncode != 0 and 'master.cf defines no transport "nowhere"' in p.stderr, p.stderr
    instance.write_master_cf(base + "lmtp unix - - n - - lmtp\n")
    instance.write_main_cf({"virtual_transport": "lmtp:unix:private/dovecot-lmtp"})
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("override,why", [
    ("smtpd_timeout=abc", 'bad time value for parameter smtpd_timeout: "abc"'),
    ("smtpd_helo_required=maybe", 'bad yes or no value for parameter smtpd_helo_required: "maybe"'),
    ("message_size_limit=lots", 'bad byte count value for parameter message_size_limit: "lots"'),
], ids=["time", "bool", "size"])
def test_malformed_override_value_refused(instance, override, why):
    """A -o value of the wrong type is refused as main.cf's would be (the program used to take
    its default with a warning in its own log)."""
    instance.write_master_cf(instance.master_cf_text().replace(" smtpd\n",
                                                               f" smtpd -o {override}\n", 1))
    assert_check_and_start_refused(
        instance, f"{instance.etc}/master.cf, line 1: service 127.0.0.1:{instance.port}: {why}")


def test_allow_percent_hack_yes_refused(instance):
    """Postfix's default allow_percent_hack = yes rewrites user%domain@local to user@domain;
    Postern does not, says so in its default (no, postconf -d) and refuses an explicit yes."""
    assert instance.cmd("postconf", "-d", "allow_percent_hack").stdout.strip() == \
        "allow_percent_hack = no"
    instance.write_main_cf({"allow_percent_hack": "yes"})
    assert_check_and_start_refused(
        instance, "allow_percent_hack = yes: this value is not implemented by Postern")
    instance.write_main_cf({"allow_percent_hack": "no"})
    assert instance.cmd("postfix", "check").returncode == 0
