"""End-to-end tests of SMTP AUTH (RFC 4954) in the SMTP server: Postern's own table with
yescrypt/SHA-512 hashes, a real Dovecot 2.3 on a private socket, the stock submission/smtps
services, relay control, sender login maps, failure replies and logs (fail2ban's stock
postfix[mode=auth] filter), rate limit and growing delay. Clients: smtplib, swaks, raw sockets."""
import base64
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import postern_bin, wait_listening
from tlsutil import client_context, make_certs, read_reply, setup_tls_instance

PASSWORD = "S3cret-pw!"


def make_hash(method="yescrypt", password=PASSWORD):
    p = subprocess.run([str(postern_bin()), "postern-passwd", "-m", method],
                       input=password + "\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def hashes():
    return {"yescrypt": make_hash("yescrypt"), "sha512": make_hash("sha512")}


def sasl_instance(inst, certs, hashes, extra=None):
    (inst.etc / "sasl_passwd").write_text(
        f"you@example.test {hashes['yescrypt']}\nsha@example.test {hashes['sha512']}\n")
    (inst.etc / "login_maps").write_text("you@example.test you@example.test\n"
                                         "@owned.example sha@example.test\n")
    cf = {
        "syslog_name": "postfix",
        "smtpd_sasl_type": "postern",
        "smtpd_sasl_password_maps": f"texthash:{inst.etc}/sasl_passwd",
        "smtpd_sender_login_maps": f"texthash:{inst.etc}/login_maps",
        "postern_sasl_failure_delay": "0s",
        "mynetworks": "192.0.2.0/24",  # loopback clients are not trusted: relay needs AUTH
    }
    cf.update(extra or {})
    ports = setup_tls_instance(inst, certs, cf)
    inst.start()
    for p in ports:
        wait_listening(p)
    return ports


@pytest.fixture
def sasl_inst(instance, certs, hashes):
    instance.ports = sasl_instance(instance, certs, hashes)
    return instance


def test_submission_login_then_relay(sasl_inst, certs):
    port = sasl_inst.ports[1]
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.ehlo("client.example")
        assert not c.has_extn("auth")  # smtpd_tls_auth_only = yes: not before TLS
        code, msg = c.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0a\0b").decode())
        assert code == 530  # the stock entry's encrypt level comes first
        c.starttls(context=client_context(certs))
        c.ehlo("client.example")
        assert "PLAIN" in c.esmtp_features["auth"] and "LOGIN" in c.esmtp_features["auth"]
        c.mail("you@example.test")
        code, msg = c.rcpt("friend@elsewhere.example")
        assert code == 554 and b"Recipient address rejected: Access denied" in msg  # before AUTH
        c.rset()
        c.login("you@example.test", PASSWORD)
        c.mail("you@example.test")
        code, _ = c.rcpt("friend@elsewhere.example")
        assert code == 250  # allowed after AUTH
        code, _ = c.rcpt("user@virtual.test")
        assert code == 250
        c.data(b"Subject: auth\r\n\r\nhello\r\n")
    msgs = sasl_inst.wait_for(lambda: sasl_inst.maildir_messages("user"), what="delivery")
    assert b"with ESMTPSA id" in msgs[0]
    log = sasl_inst.maillog()
    assert "sasl_method=PLAIN, sasl_username=you@example.test" in log  # smtplib prefers PLAIN
    assert PASSWORD not in log
    assert base64.b64encode(PASSWORD.encode()).decode() not in log


def test_plain_with_sha512_hash_and_authenticated_header(instance, certs, hashes):
    ports = sasl_instance(instance, certs, hashes, {"smtpd_sasl_authenticated_header": "yes"})
    with smtplib.SMTP_SSL("127.0.0.1", ports[2], timeout=30,
                          context=client_context(certs)) as c:
        c.ehlo("client.example")
        c.user, c.password = "sha@example.test", PASSWORD
        code, _ = c.auth("PLAIN", c.auth_plain)
        assert code == 235
        c.sendmail("sha@example.test", ["user@virtual.test"], b"Subject: x\r\n\r\nx\r\n")
    msgs = instance.wait_for(lambda: instance.maildir_messages("user"), what="delivery")
    assert b"(Authenticated sender: sha@example.test)" in msgs[0]
    assert "sasl_method=PLAIN, sasl_username=sha@example.test" in instance.maillog()


def test_wrong_password_535_and_fail2ban_counts_it(sasl_inst, certs, tmp_path):
    port = sasl_inst.ports[1]
    for user in ("you@example.test", "nobody@example.test"):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.starttls(context=client_context(certs))
            c.ehlo("client.example")
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                c.login(user, "wrong password")
            assert e.value.smtp_code == 535
            assert e.value.smtp_error.startswith(b"5.7.8 Error: authentication failed:")
    log = sasl_inst.maillog()
    failures = [l for l in log.splitlines() if "SASL" in l and "authentication failed" in l]
    assert len(failures) >= 2, failures
    assert "warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: " \
        "authentication failure" in failures[0]
    assert "wrong password" not in log
    # The stock fail2ban filter (Debian's fail2ban), run as `fail2ban-regex LOG FILTER`.
    p = subprocess.run(["fail2ban-regex", str(sasl_inst.log), "postfix[mode=auth]"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    matched = [l for l in p.stdout.splitlines() if l.startswith("Lines:")]
    assert matched, p.stdout
    n = int(matched[0].split("ignored,")[1].split("matched")[0].strip())
    assert n == len(failures), p.stdout


def test_auth_only_after_starttls_on_smtp_port(instance, certs, hashes):
    ports = sasl_instance(instance, certs, hashes, {
        "smtpd_sasl_auth_enable": "yes", "smtpd_tls_auth_only": "yes"})
    with smtplib.SMTP("127.0.0.1", ports[0], timeout=30) as c:
        c.ehlo("client.example")
        assert not c.has_extn("auth")
        code, msg = c.docmd("AUTH", "PLAIN")
        assert code == 503 and b"authentication not enabled" in msg
        c.starttls(context=client_context(certs))
        c.ehlo("client.example")
        assert c.has_extn("auth")
        c.login("you@example.test", PASSWORD)


def test_sender_login_mismatch_refused(instance, certs, hashes):
    ports = sasl_instance(instance, certs, hashes)
    # The submission entry, plus a sender restriction as administrators write it.
    text = (instance.etc / "master.cf").read_text().replace(
        "-o smtpd_sender_restrictions=$mua_sender_restrictions",
        "-o smtpd_sender_restrictions=reject_sender_login_mismatch", 1)
    (instance.etc / "master.cf").write_text(text)
    instance.stop()
    instance.start()
    wait_listening(ports[1])
    with smtplib.SMTP("127.0.0.1", ports[1], timeout=30) as c:
        c.starttls(context=client_context(certs))
        c.ehlo("client.example")
        c.login("you@example.test", PASSWORD)
        c.mail("sha@owned.example")  # smtpd_delay_reject = yes: judged at RCPT
        code, msg = c.rcpt("user@virtual.test")
        assert code == 553, msg
        assert b"5.7.1 <sha@owned.example>: Sender address rejected: not owned by user " \
               b"you@example.test" in msg
        c.rset()
        c.mail("you@example.test")
        code, _ = c.rcpt("user@virtual.test")
        assert code == 250
    with smtplib.SMTP("127.0.0.1", ports[1], timeout=30) as c:
        c.starttls(context=client_context(certs))
        c.ehlo("client.example")
        c.mail("you@example.test")
        code, msg = c.rcpt("user@virtual.test")
        assert code == 553 and b"not logged in" in msg


def test_swaks_tls_auth(sasl_inst):
    port = sasl_inst.ports[1]
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--tls", "--auth", "PLAIN",
                        "--auth-user", "you@example.test", "--auth-password", PASSWORD,
                        "--from", "you@example.test", "--to", "user@virtual.test",
                        "--ehlo", "client.example"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "235 2.7.0 Authentication successful" in p.stdout
    assert "250 2.0.0 Ok: queued as" in p.stdout
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--tls", "--auth", "LOGIN",
                        "--auth-user", "you@example.test", "--auth-password", "nope",
                        "--from", "you@example.test", "--to", "user@virtual.test"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert "535 5.7.8 Error: authentication failed" in p.stdout


def test_rate_limit_and_growing_delay(instance, certs, hashes):
    ports = sasl_instance(instance, certs, hashes, {
        "smtpd_client_auth_rate_limit": "3", "smtpd_client_event_limit_exceptions": "",
        "postern_sasl_failure_delay": "1s"})
    with smtplib.SMTP_SSL("127.0.0.1", ports[2], timeout=60,
                          context=client_context(certs)) as c:
        c.ehlo("client.example")
        bad = "AUTH PLAIN " + base64.b64encode(b"\0you@example.test\0bad").decode()
        times = []
        for _ in range(2):
            t0 = time.time()
            code, _ = c.docmd(bad)
            times.append(time.time() - t0)
            assert code == 535
        assert times[0] >= 0.9 and times[1] >= 1.9, times  # 1 s, then 2 s
        code, _ = c.docmd("AUTH PLAIN " + base64.b64encode(
            b"\0you@example.test\0" + PASSWORD.encode()).decode())
        assert code == 235  # the third AUTH is within the limit
    with smtplib.SMTP_SSL("127.0.0.1", ports[2], timeout=60,
                          context=client_context(certs)) as c:
        c.ehlo("client.example")
        code, msg = c.docmd("AUTH PLAIN")
        assert code == 450 and b"4.7.1 Error: too many AUTH commands from 127.0.0.1" in msg


def test_auth_dialog_abort_and_bad_base64(sasl_inst, certs):
    import ssl
    s = ssl.create_default_context(cafile=str(certs["ca"])).wrap_socket(
        socket.create_connection(("127.0.0.1", sasl_inst.ports[2]), timeout=30),
        server_hostname="mx.example.test")
    f = s.makefile("rb")
    assert read_reply(f).startswith("220")
    s.sendall(b"EHLO c\r\n")
    read_reply(f)
    s.sendall(b"AUTH LOGIN\r\n")
    assert read_reply(f).startswith("334 VXNlcm5hbWU6")
    s.sendall(b"*\r\n")
    assert read_reply(f).startswith("501 5.7.0 Authentication aborted")
    s.sendall(b"AUTH PLAIN !!!!\r\n")
    assert read_reply(f).startswith("501 5.5.2")
    s.sendall(b"AUTH CRAM-MD5\r\n")
    assert read_reply(f).startswith("535 5.7.8 Error: authentication failed: Invalid "
                                    "authentication mechanism")
    s.sendall(b"QUIT\r\n")
    read_reply(f)
    s.close()


# ---- Dovecot 2.3 as the SASL backend ----

dovecot_inet = [None]  # smtpd_sasl_path for the same Dovecot over TCP, once it runs


@pytest.fixture(scope="session")
def dovecot(hashes_session):
    """A private Dovecot (no protocols, auth only) with a passwd-file, its auth socket in a
    temporary directory; never the system service."""
    if shutil.which("dovecot") is None:
        pytest.skip("dovecot-core is not installed")
    d = tempfile.mkdtemp(prefix="postern-dovecot-")
    os.chmod(d, 0o755)
    user = pwd.getpwuid(os.getuid()).pw_name
    import grp
    group = grp.getgrgid(os.getgid()).gr_name
    users = os.path.join(d, "users")
    with open(users, "w") as f:
        f.write(f"alice@example.test:{hashes_session}::::::\n")
    sock = os.path.join(d, "auth-client")
    from conftest import free_port
    inet_port = free_port()
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = none
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
passdb {{
  driver = passwd-file
  args = scheme=CRYPT username_format=%u {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users}
}}
service auth {{
  user = {user}
  unix_listener {sock} {{
    mode = 0666
  }}
  inet_listener {{
    address = 127.0.0.1
    port = {inet_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
""")
    for sub in ("run", "state"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    proc = subprocess.Popen(["dovecot", "-c", conf, "-F"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while not os.path.exists(sock) and time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode())
        time.sleep(0.1)
    assert os.path.exists(sock), "dovecot did not create its auth socket"
    dovecot_inet[0] = f"inet:127.0.0.1:{inet_port}"
    yield sock
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def hashes_session():
    return make_hash("yescrypt")


def test_dovecot_backend(instance, certs, hashes, dovecot):
    ports = sasl_instance(instance, certs, hashes, {
        "smtpd_sasl_type": "dovecot", "smtpd_sasl_path": dovecot})
    with smtplib.SMTP("127.0.0.1", ports[1], timeout=30) as c:
        c.starttls(context=client_context(certs))
        c.ehlo("client.example")
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            c.login("alice@example.test", "wrong")
        assert e.value.smtp_code == 535
        c.login("alice@example.test", PASSWORD)
        c.mail("alice@example.test")
        code, _ = c.rcpt("friend@elsewhere.example")
        assert code == 250
    # PLAIN too, and through the smtps service (a second smtpd process, its own connection).
    with smtplib.SMTP_SSL("127.0.0.1", ports[2], timeout=30,
                          context=client_context(certs)) as c:
        c.ehlo("client.example")
        c.user, c.password = "alice@example.test", PASSWORD
        assert c.auth("PLAIN", c.auth_plain)[0] == 235
    log = instance.maillog()
    assert "SASL LOGIN authentication failed" in log
    assert PASSWORD not in log


def test_dovecot_backend_over_inet(instance, certs, hashes, dovecot):
    ports = sasl_instance(instance, certs, hashes, {
        "smtpd_sasl_type": "dovecot", "smtpd_sasl_path": dovecot_inet[0]})
    with smtplib.SMTP_SSL("127.0.0.1", ports[2], timeout=30,
                          context=client_context(certs)) as c:
        c.ehlo("client.example")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login("alice@example.test", "wrong")
        c.login("alice@example.test", PASSWORD)


def test_dovecot_down_is_temporary(instance, certs, hashes, tmp_path):
    ports = sasl_instance(instance, certs, hashes, {
        "smtpd_sasl_type": "dovecot", "smtpd_sasl_path": str(tmp_path / "no-such-socket")})
    with smtplib.SMTP_SSL("127.0.0.1", ports[2], timeout=30,
                          context=client_context(certs)) as c:
        c.ehlo("client.example")
        code, msg = c.docmd("AUTH PLAIN " + base64.b64encode(b"\0a@b\0c").decode())
        assert code == 454 and msg.startswith(b"4.7.0 Temporary authentication failure")


def test_check_sasl_access_through_mua_sender_restrictions(instance, certs, hashes):
    (instance.etc / "sasl_access").write_text("sha@example.test REJECT account suspended\n")
    ports = sasl_instance(instance, certs, hashes, {
        "mua_sender_restrictions": f"check_sasl_access texthash:{instance.etc}/sasl_access"})
    for user, want in (("sha@example.test", 554), ("you@example.test", 250)):
        with smtplib.SMTP("127.0.0.1", ports[1], timeout=30) as c:
            c.starttls(context=client_context(certs))
            c.ehlo("client.example")
            c.login(user, PASSWORD)
            c.mail(user)
            code, msg = c.rcpt("user@virtual.test")
            assert code == want, msg
            if want == 554:
                assert b"account suspended" in msg


def test_seed_configuration_tls_and_dovecot(instance, certs, dovecot):
    """The TLS and SASL lines of the administrators' notes (../shared/seed/), as written there:
    smtpd_use_tls, a Dovecot socket under queue_directory, auth only under TLS."""
    (instance.queue / "private").mkdir(parents=True, exist_ok=True)
    os.symlink(dovecot, instance.queue / "private" / "dovecot-auth")
    instance.write_main_cf({
        "syslog_name": "postfix",
        "mynetworks": "192.0.2.0/24",
        "smtpd_tls_cert_file": str(certs["rsa"]),
        "smtpd_tls_key_file": str(certs["rsa_key"]),
        "smtpd_use_tls": "yes",
        "smtpd_tls_session_cache_database": "btree:${data_directory}/smtpd_scache",
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_sasl_type": "dovecot",
        "smtpd_sasl_path": "private/dovecot-auth",
        "smtpd_sasl_authenticated_header": "yes",
        "smtpd_sasl_security_options": "noanonymous",
        "smtpd_sasl_local_domain": "$myhostname",
        "broken_sasl_auth_clients": "yes",
        "smtpd_recipient_restrictions": "reject_unauth_pipelining, permit_mynetworks, "
                                        "permit_sasl_authenticated, reject_unauth_destination",
        "smtpd_tls_received_header": "yes",
        "smtpd_tls_mandatory_protocols": "SSLv3, TLSv1",
        "smtpd_tls_mandatory_ciphers": "medium, high",
        "smtpd_tls_auth_only": "yes",
        "tls_random_source": "dev:/dev/urandom",
    })
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr
    instance.start()
    wait_listening(instance.port)
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as c:
        c.ehlo("client.example")
        assert c.has_extn("starttls") and not c.has_extn("auth")
        c.starttls(context=client_context(certs))
        code, text = c.ehlo("client.example")
        assert b"AUTH PLAIN LOGIN" in text and b"AUTH=PLAIN LOGIN" in text  # broken clients
        c.login("alice@example.test", PASSWORD)
        c.mail("alice@example.test")
        assert c.rcpt("friend@elsewhere.example")[0] == 250
        assert c.rcpt("user@virtual.test")[0] == 250
        c.data(b"Subject: seed\r\n\r\nx\r\n")
    msgs = instance.wait_for(lambda: instance.maildir_messages("user"), what="delivery")
    assert b"(Authenticated sender: alice@example.test)" in msgs[0]
    assert b"(using TLSv1.3 with cipher" in msgs[0]


def test_sasl_local_domain_for_own_table(instance, certs, hashes):
    ports = sasl_instance(instance, certs, hashes, {"smtpd_sasl_local_domain": "example.test"})
    with smtplib.SMTP_SSL("127.0.0.1", ports[2], timeout=30,
                          context=client_context(certs)) as c:
        c.ehlo("client.example")
        c.login("you", PASSWORD)  # looked up as you@example.test
        c.mail("you@example.test")
        assert c.rcpt("user@virtual.test")[0] == 250
    assert "sasl_username=you@example.test" in instance.maillog()
