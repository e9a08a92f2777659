"""End-to-end tests of the SMTP server's TLS: STARTTLS (RFC 3207), smtps wrapper mode, the
stock submission/smtps master.cf entries, protocol policy, the certificates presented,
resumption with tickets, and STARTTLS command injection. Clients: smtplib, openssl s_client,
raw sockets with Python's ssl module."""
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import wait_listening
from tlsutil import (client_context, fingerprint, make_certs, read_reply, setup_tls_instance)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_inst(instance, certs):
    ports = setup_tls_instance(instance, certs)
    instance.start()
    instance.ports = ports
    return instance


def s_client(port, *args, starttls=True, input_text="QUIT\n", timeout=60):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
           "mx.example.test", "-ign_eof", *args]
    if starttls:
        cmd[2:2] = ["-starttls", "smtp"]
    return subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=timeout)


def presented_fingerprint(out):
    """SHA-256 of the first certificate s_client printed (-showcerts not needed: the leaf)."""
    import hashlib
    start = out.index("-----BEGIN CERTIFICATE-----")
    end = out.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    der = ssl.PEM_cert_to_DER_cert(out[start:end] + "\n")
    return hashlib.sha256(der).hexdigest()


def test_starttls_smtplib_delivers_with_tls_received_header(tls_inst, certs):
    smtp_port = tls_inst.ports[0]
    wait_listening(smtp_port)
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as c:
        c.ehlo("client.example")
        assert c.has_extn("starttls")
        code, _ = c.starttls(context=client_context(certs))
        assert code == 220
        c.ehlo("client.example")
        assert not c.has_extn("starttls")  # not offered twice
        c.sendmail("a@example.org", ["user@virtual.test"], b"Subject: tls\r\n\r\nhello\r\n")
    msgs = tls_inst.wait_for(lambda: tls_inst.maildir_messages("user"), what="delivery")
    text = msgs[0].decode()
    assert "(using TLSv1.3 with cipher TLS_" in text
    assert "(No client certificate requested)" in text
    assert "with ESMTPS id" in text
    log = tls_inst.maillog()
    assert "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher" \
        in log
    assert "key-exchange X25519 server-signature" in log
    assert "starttls=1" in log


@pytest.mark.parametrize("service", ["smtp", "submission", "smtps"])
def test_s_client_sees_our_certificates(tls_inst, certs, service):
    port = tls_inst.ports[["smtp", "submission", "smtps"].index(service)]
    wait_listening(port)
    wrapped = service == "smtps"
    out = s_client(port, "-sigalgs", "rsa_pss_rsae_sha256", "-CAfile", str(certs["ca"]),
                   "-verify_return_error", starttls=not wrapped)
    assert out.returncode == 0, out.stderr
    assert presented_fingerprint(out.stdout) == fingerprint(certs["rsa"])
    out = s_client(port, "-sigalgs", "ecdsa_secp256r1_sha256", starttls=not wrapped)
    assert out.returncode == 0, out.stderr
    assert presented_fingerprint(out.stdout) == fingerprint(certs["ec"])
    if wrapped:
        assert "220 mx.example.test ESMTP" in out.stdout  # the greeting comes inside TLS


def test_smtps_wrapper_mode_with_smtp_ssl(tls_inst, certs):
    port = tls_inst.ports[2]
    wait_listening(port)
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=client_context(certs)) as c:
        code, _ = c.ehlo("client.example")
        assert code == 250
        assert not c.has_extn("starttls")
        # The stock smtps entry relays only for authenticated clients.
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            c.sendmail("a@example.org", ["x@elsewhere.example"], b"Subject: x\r\n\r\nx\r\n")
    log = tls_inst.maillog()
    assert "postfix/smtps/smtpd[" in log


def test_submission_requires_starttls(tls_inst, certs):
    port = tls_inst.ports[1]
    wait_listening(port)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.ehlo("client.example")
        assert c.has_extn("starttls")
        code, msg = c.mail("a@example.org")
        assert code == 530 and b"5.7.0 Must issue a STARTTLS command first" in msg
        c.starttls(context=client_context(certs))
        c.ehlo("client.example")
        code, _ = c.mail("a@example.org")
        assert code == 250


def test_old_protocols_refused_when_mandatory_excludes_them(instance, certs):
    setup_tls_instance(instance, certs, {
        "smtpd_tls_security_level": "encrypt",
        "smtpd_tls_mandatory_protocols": "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"})
    instance.start()
    wait_listening(instance.port)
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = ssl._create_unverified_context()
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = version
        ctx.maximum_version = version
        with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as c:
            c.ehlo("client.example")
            with pytest.raises((ssl.SSLError, OSError, smtplib.SMTPServerDisconnected)):
                c.starttls(context=ctx)
    ctx = ssl._create_unverified_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as c:
        c.ehlo("client.example")
        c.starttls(context=ctx)
        assert c.sock.version() == "TLSv1.2"
        assert c.ehlo("client.example")[0] == 250
    # ">=TLSv1.2" says the same in Postfix's other syntax.
    instance.stop()
    instance.write_main_cf({"smtpd_tls_mandatory_protocols": ">=TLSv1.2"})
    instance.start()
    wait_listening(instance.port)
    ctx = ssl._create_unverified_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as c:
        c.ehlo("client.example")
        with pytest.raises((ssl.SSLError, OSError, smtplib.SMTPServerDisconnected)):
            c.starttls(context=ctx)


def test_starttls_injection_is_discarded(tls_inst):
    port = tls_inst.ports[0]
    wait_listening(port)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")
    assert read_reply(f).startswith("220")
    s.sendall(b"EHLO client.example\r\n")
    assert "STARTTLS" in read_reply(f)
    s.sendall(b"STARTTLS\r\nRSET\r\n")  # one packet: RSET rides behind STARTTLS
    assert read_reply(f).startswith("220 2.0.0")
    ctx = ssl._create_unverified_context()
    t = ctx.wrap_socket(s, server_hostname="mx.example.test")
    t.settimeout(2)
    with pytest.raises((socket.timeout, TimeoutError)):
        data = t.recv(4096)  # an answer to the RSET would arrive here
        raise AssertionError(f"server answered injected command: {data!r}")
    t.settimeout(30)
    t.sendall(b"NOOP\r\n")
    assert t.recv(4096).startswith(b"250 2.0.0 Ok")
    t.sendall(b"QUIT\r\n")
    t.recv(4096)
    t.close()
    log = tls_inst.maillog()
    disconnects = [l for l in log.splitlines() if "disconnect from" in l]
    assert disconnects and "rset" not in disconnects[-1], disconnects[-1]


def test_slow_handshake_does_not_stall_others(tls_inst, certs):
    port = tls_inst.ports[0]
    wait_listening(port)
    stalled = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = stalled.makefile("rb")
    read_reply(f)
    stalled.sendall(b"EHLO a\r\nSTARTTLS\r\n")
    read_reply(f)
    read_reply(f)
    stalled.sendall(b"\x16\x03\x01\x00")  # half a ClientHello record header, then silence
    t0 = time.time()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.starttls(context=client_context(certs))
        c.ehlo("client.example")
        c.sendmail("a@example.org", ["user@virtual.test"], b"Subject: x\r\n\r\nx\r\n")
    assert time.time() - t0 < 20
    stalled.close()


def test_session_resumption_with_ticket(tls_inst, certs):
    port = tls_inst.ports[2]
    wait_listening(port)
    ctx = client_context(certs)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # tickets arrive in the handshake
    s1 = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                         server_hostname="mx.example.test")
    s1.recv(4096)
    session = s1.session
    assert session is not None and session.has_ticket
    s1.sendall(b"QUIT\r\n")
    s1.recv(4096)
    s1.close()
    s2 = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                         server_hostname="mx.example.test", session=session)
    s2.recv(4096)
    assert s2.session_reused
    s2.close()


def test_encrypt_without_certificate_refuses_to_run(instance):
    """Fail closed: a level that demands TLS never falls back to plaintext. postfix start
    refuses it (smtpd would refuse each connection otherwise), and nothing listens."""
    instance.write_main_cf({"smtpd_tls_security_level": "encrypt"})
    p = instance.cmd("postfix", "start")
    assert p.returncode != 0, p.stderr
    assert "TLS is required (smtpd_tls_security_level = encrypt) but cannot be set up" in \
        p.stderr, p.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", instance.port), timeout=2).close()


def cert_fingerprint_colons(pem_path):
    fp = fingerprint(pem_path).upper()
    return ":".join(fp[i:i + 2] for i in range(0, len(fp), 2))


def test_client_certificates_relay_and_ccert_access(instance, certs):
    fp = cert_fingerprint_colons(certs["client"])
    (instance.etc / "relay_clientcerts").write_text(f"{fp} client.example.test\n")
    (instance.etc / "ccert_access").write_text(f"{fp} REJECT certificate revoked\n")
    setup_tls_instance(instance, certs, {
        "smtpd_tls_ask_ccert": "yes",
        "smtpd_tls_CAfile": str(certs["ca"]),
        "relay_clientcerts": f"texthash:{instance.etc}/relay_clientcerts",
        "mynetworks": "192.0.2.0/24",
        "smtpd_relay_restrictions": "permit_tls_clientcerts, reject_unauth_destination"})
    instance.start()
    wait_listening(instance.port)
    with_cert = client_context(certs)
    with_cert.load_cert_chain(str(certs["client"]), str(certs["client_key"]))
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as c:
        c.starttls(context=with_cert)
        c.ehlo("client.example")
        c.mail("a@example.org")
        assert c.rcpt("friend@elsewhere.example")[0] == 250  # relayed on the certificate
        assert c.rcpt("user@virtual.test")[0] == 250
        c.data(b"Subject: cert\r\n\r\nx\r\n")
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as c:
        c.starttls(context=client_context(certs))  # no certificate
        c.ehlo("client.example")
        c.mail("a@example.org")
        code, msg = c.rcpt("friend@elsewhere.example")
        assert code == 554 and b"Relay access denied" in msg
    msgs = instance.wait_for(lambda: instance.maildir_messages("user"), what="delivery")
    assert b'(Client CN "client.example.test", Issuer "Postern Test CA" (verified OK))' in msgs[0]
    assert "Trusted TLS connection established from localhost[127.0.0.1]" in instance.maillog()
    instance.stop()
    instance.write_main_cf({
        "smtpd_client_restrictions": f"check_ccert_access texthash:{instance.etc}/ccert_access"})
    instance.start()
    wait_listening(instance.port)
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as c:
        c.starttls(context=with_cert)
        c.ehlo("client.example")
        c.mail("a@example.org")
        code, msg = c.rcpt("user@virtual.test")
        assert code == 554 and b"certificate revoked" in msg


def test_sni_maps_choose_the_certificate(instance, certs, tmp_path):
    from tlsutil import openssl
    d = tmp_path / "sni"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(d / "other.key"), "-out", str(d / "other.pem"), "-days", "2",
            "-subj", "/CN=other.example.test")
    (d / "other-chain.pem").write_text((d / "other.key").read_text() +
                                       (d / "other.pem").read_text())
    (instance.etc / "sni").write_text(f".other.example.test {d}/other-chain.pem\n"
                                      f"other.example.test {d}/other-chain.pem\n")
    setup_tls_instance(instance, certs, {"tls_server_sni_maps": f"texthash:{instance.etc}/sni"})
    instance.start()
    wait_listening(instance.port)
    for sni, want in (("other.example.test", d / "other.pem"),
                      ("mail.other.example.test", d / "other.pem"),
                      ("mx.example.test", None)):
        out = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                              f"127.0.0.1:{instance.port}", "-servername", sni, "-ign_eof"],
                             input="QUIT\n", capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        got = presented_fingerprint(out.stdout)
        if want is None:
            assert got in (fingerprint(certs["rsa"]), fingerprint(certs["ec"]))
        else:
            assert got == fingerprint(want), sni


def test_dh_param_file_and_excluded_ciphers(instance, certs, tmp_path):
    """TLS 1.2: smtpd_tls_dh1024_param_file serves DHE; smtpd_tls_exclude_ciphers removes
    ciphers from the grade's list."""
    from tlsutil import openssl
    dh = tmp_path / "dh.pem"
    openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048",
            "-out", str(dh))
    setup_tls_instance(instance, certs, {
        "smtpd_tls_chain_files": "",
        "smtpd_tls_cert_file": str(certs["rsa"]), "smtpd_tls_key_file": str(certs["rsa_key"]),
        "smtpd_tls_dh1024_param_file": str(dh),
        "smtpd_tls_exclude_ciphers": "aNULL, CHACHA20, AES128"})
    instance.start()
    wait_listening(instance.port)

    def negotiate(ciphers):
        ctx = client_context(certs)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(ciphers)
        with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as c:
            c.starttls(context=ctx)
            return c.sock.cipher()[0]

    assert negotiate("DHE-RSA-AES256-GCM-SHA384") == "DHE-RSA-AES256-GCM-SHA384"
    assert negotiate("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256") == \
        "ECDHE-RSA-AES256-GCM-SHA384"
    with pytest.raises((ssl.SSLError, OSError, smtplib.SMTPServerDisconnected)):
        negotiate("ECDHE-RSA-AES128-GCM-SHA256")  # excluded
    log = instance.maillog()
    assert "TLSv1.2 with cipher DHE-RSA-AES256-GCM-SHA384 (256/256 bits) server-signature " \
        "RSA-PSS (2048 bits)" in log
    assert "TLSv1.3 with cipher" not in log
