"""End-to-end tests of client TLS in the smtp delivery agent (STARTTLS, levels, policies).

An instance routes remote.test to a Python SMTP peer (smtp_peers.Peer) that offers STARTTLS
with certificates the test makes with the openssl CLI; the peer records whether each connection
and message went through TLS and whether the TLS session was resumed.
"""
import pytest

from loopback import closing_factory
from smtp_peers import Peer, fingerprint, make_ca, make_cert


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "otherca")
    cert, key = make_cert(d, "mx", "ca", ["mx.remote.test"])
    return {"dir": d, "ca": d / "ca.crt", "otherca": d / "otherca.crt", "cert": cert, "key": key}


@pytest.fixture
def peers():
    yield from closing_factory(Peer)


def route(instance, peer, extra=None, policy=None):
    cfg = {"transport_maps": f"inline:{{ remote.test=smtp:[127.0.0.1]:{peer.port} }}",
           "smtp_helo_name": "client.test", "smtp_tls_loglevel": "1"}
    if policy:
        cfg["smtp_tls_policy_maps"] = f"inline:{{ {{ [127.0.0.1]:{peer.port} = {policy} }} }}"
    cfg.update(extra or {})
    instance.write_main_cf(cfg)
    instance.start()


def send(instance, rcpt="x@remote.test", subject="tls"):
    instance.cmd("sendmail", "-f", "sender@example.test", rcpt,
                 input=f"Subject: {subject}\n\nhello\n", check=True)


def wait_log(instance, needle, count=1, timeout=60):
    instance.wait_for(lambda: instance.maillog().count(needle) >= count, timeout=timeout,
                      what=f"{count} x {needle!r} in the maillog")


def deliver(instance, peer, until, extra=None, policy=None):
    """route() the instance to peer, send one message and wait for `until` in the maillog."""
    route(instance, peer, extra, policy)
    send(instance)
    wait_log(instance, until)


def test_encrypt_defers_when_starttls_not_offered(instance, peers):
    peer = peers()  # no certificate: no STARTTLS
    deliver(instance, peer, "status=deferred", {"smtp_tls_security_level": "encrypt"})
    reason = f"TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]"
    assert f"dsn=4.7.4, status=deferred ({reason})" in instance.maillog()
    assert not peer.messages
    q = instance.cmd("postqueue", "-p", check=True).stdout
    assert reason in q, q


def test_encrypt_delivers_over_tls(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    deliver(instance, peer, "status=sent", {"smtp_tls_security_level": "encrypt"})
    assert len(peer.messages) == 1 and peer.messages[0]["tls"]
    log = instance.maillog()
    # No trust anchors for the test CA: the chain does not verify, and encrypt does not care.
    assert f"Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:{peer.port}: TLSv1.3 " \
           "with cipher TLS_" in log
    assert "key-exchange X25519 server-signature ECDSA (P-256) server-digest SHA256" in log
    # The EHLO was sent again inside TLS, as RFC 3207 asks.
    cmds = peer.connections[0]["commands"]
    assert cmds[:3] == ["EHLO client.test", "STARTTLS", "EHLO client.test"], cmds


def test_may_without_starttls_sends_plaintext(instance, peers):
    peer = peers()
    deliver(instance, peer, "status=sent", {"smtp_tls_security_level": "may"})
    assert len(peer.messages) == 1 and not peer.messages[0]["tls"]


def test_may_falls_back_to_plaintext_after_failed_handshake(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"], broken_tls=True)
    deliver(instance, peer, "status=sent", {"smtp_tls_security_level": "may"})
    assert len(peer.messages) == 1 and not peer.messages[0]["tls"]
    assert "trying again without TLS" in instance.maillog()
    assert len(peer.connections) == 2


def test_encrypt_defers_after_failed_handshake(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"], broken_tls=True)
    deliver(instance, peer, "status=deferred", {"smtp_tls_security_level": "encrypt"})
    assert "dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)" in instance.maillog()
    assert not peer.messages


def test_secure_with_the_right_ca_verifies(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    deliver(instance, peer, "status=sent",
            {"smtp_tls_CAfile": str(pki["ca"])},
            policy="secure match=mx.remote.test")
    assert f"Verified TLS connection established to 127.0.0.1[127.0.0.1]:{peer.port}: " \
           in instance.maillog()
    assert peer.messages[0]["tls"]


def test_secure_with_a_wrong_ca_defers(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    deliver(instance, peer, "status=deferred",
            {"smtp_tls_CAfile": str(pki["otherca"])},
            policy="secure match=mx.remote.test")
    log = instance.maillog()
    assert "dsn=4.7.5, status=deferred (Server certificate not verified)" in log
    assert f"Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:{peer.port}" in log
    assert f"server certificate verification failed for 127.0.0.1[127.0.0.1]:{peer.port}: " \
           "num=21:unable to verify the first certificate" in log
    assert not peer.messages
    assert "Server certificate not verified" in instance.cmd("postqueue", "-p").stdout


def test_secure_with_the_wrong_name_defers(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    # main.cf's match list this time: the nexthop is "127.0.0.1", not in the certificate.
    deliver(instance, peer, "status=deferred",
            {"smtp_tls_CAfile": str(pki["ca"]), "smtp_tls_security_level": "secure"})
    log = instance.maillog()
    assert "Trusted TLS connection established to" in log
    assert "dsn=4.7.5, status=deferred (Server certificate not verified)" in log
    assert not peer.messages


def test_trust_anchor_file_pins_the_server_certificate(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    # The anchor (the server's own certificate) replaces the CA store, which here is wrong.
    deliver(instance, peer, "status=sent",
            {"smtp_tls_CAfile": str(pki["otherca"]),
             "smtp_tls_trust_anchor_file": str(pki["cert"])},
            policy="secure match=mx.remote.test")
    assert "Verified TLS connection established to" in instance.maillog()


def test_trust_anchor_file_replaces_the_ca_store(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    deliver(instance, peer, "status=deferred",
            {"smtp_tls_CAfile": str(pki["ca"]), "smtp_tls_trust_anchor_file": str(pki["otherca"])},
            policy="secure match=mx.remote.test")
    assert "dsn=4.7.5, status=deferred (Server certificate not verified)" in instance.maillog()
    assert not peer.messages


def test_verify_with_a_dot_domain_match(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    deliver(instance, peer, "status=sent",
            {"smtp_tls_CAfile": str(pki["ca"])},
            policy="verify match=.remote.test protocols=>=TLSv1.2 ciphers=high")
    assert "Verified TLS connection established to" in instance.maillog()


def test_fingerprint_match_and_mismatch(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    good = fingerprint(pki["cert"])
    bad = fingerprint(pki["ca"])
    # Two fingerprints, '|'-separated as the policy table wants; the public-key form also counts.
    route(instance, peer, policy=f"fingerprint match={bad}|{good}")
    send(instance, subject="one")
    wait_log(instance, "status=sent")
    assert "Verified TLS connection established to" in instance.maillog()
    instance.stop()
    instance.write_main_cf({"smtp_tls_policy_maps":
                            f"inline:{{ {{ [127.0.0.1]:{peer.port} = fingerprint match={bad} }} }}"})
    instance.start()
    send(instance, subject="two")
    wait_log(instance, "status=deferred")
    assert "dsn=4.7.5, status=deferred (Server certificate not verified)" in instance.maillog()
    assert len(peer.messages) == 1
    instance.stop()
    pkey = fingerprint(pki["cert"], pubkey=True).replace(":", "").lower()
    instance.write_main_cf({"smtp_tls_policy_maps":
                            f"inline:{{ {{ [127.0.0.1]:{peer.port} = fingerprint match={pkey} }} }}"})
    instance.start()
    instance.cmd("postqueue", "-f", check=True)
    wait_log(instance, "status=sent", count=2)


def test_bad_policy_entry_defers(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    deliver(instance, peer, "status=deferred", policy="secure matchx=oops")
    log = instance.maillog()
    assert "TLS policy lookup for [127.0.0.1]:" in log
    assert 'unknown or malformed TLS policy attribute \\"matchx=oops\\"' in log or \
        'unknown or malformed TLS policy attribute "matchx=oops"' in log
    assert not peer.connections


def test_plaintext_injected_after_starttls_is_discarded(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"], after_starttls=b"250 injected\r\n")
    deliver(instance, peer, "status=sent", {"smtp_tls_security_level": "encrypt"})
    assert "discarding 14 bytes the server sent after its STARTTLS reply" in instance.maillog()
    assert peer.messages[0]["tls"]


def test_tls_sessions_are_resumed(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    # One agent process, a new connection per message: the second and third handshakes resume
    # the session the agent kept in memory.
    route(instance, peer, {"smtp_tls_security_level": "encrypt",
                           "smtp_tls_session_cache_database": "btree:${data_directory}/smtp_scache",
                           "smtp_destination_concurrency_limit": "1",
                           "smtp_connection_cache_on_demand": "no"})
    for i in range(3):
        send(instance, subject=f"resume {i}")
        wait_log(instance, "status=sent", count=i + 1)
    assert len(peer.connections) == 3
    assert not peer.connections[0]["reused"]
    assert any(c["reused"] for c in peer.connections[1:]), peer.connections


def test_tls_connections_are_reused_only_when_asked(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"])
    route(instance, peer, {"smtp_tls_security_level": "encrypt",
                           "smtp_destination_concurrency_limit": "1"})
    for i in range(3):
        send(instance, subject=f"noreuse {i}")
        wait_log(instance, "status=sent", count=i + 1)
    assert len(peer.connections) == 3  # smtp_tls_connection_reuse = no (Postfix's default)
    instance.stop()
    instance.write_main_cf({"smtp_tls_connection_reuse": "yes"})
    instance.start()
    for i in range(3):
        send(instance, subject=f"reuse {i}")
        wait_log(instance, "status=sent", count=4 + i)
    assert len(peer.connections) < 6, len(peer.connections)
    assert all(m["tls"] for m in peer.messages)


def test_wrappermode_speaks_tls_from_the_first_byte(instance, peers, pki):
    peer = peers(cert=pki["cert"], key=pki["key"], wrapper=True)
    # Level may is raised to encrypt: with the wrapper mode there is no plaintext to fall to.
    deliver(instance, peer, "status=sent",
            {"smtp_tls_wrappermode": "yes", "smtp_tls_security_level": "may"})
    assert peer.messages[0]["tls"]
    assert "STARTTLS" not in peer.connections[0]["commands"]
    assert f"Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:{peer.port}" in \
        instance.maillog()


def test_wrappermode_to_a_plaintext_server_defers(instance, peers):
    peer = peers()  # speaks plaintext SMTP: the handshake fails
    deliver(instance, peer, "status=deferred", {"smtp_tls_wrappermode": "yes"})
    assert "dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)" in instance.maillog()
    assert not peer.messages


def test_client_certificate_and_sni(instance, peers, pki, tmp_path):
    ccert, ckey = make_cert(pki["dir"], "client", "ca", ["client.test"], usage="clientAuth")
    peer = peers(cert=pki["cert"], key=pki["key"], client_ca=pki["ca"])
    deliver(instance, peer, "status=sent",
            {"smtp_tls_cert_file": str(ccert), "smtp_tls_key_file": str(ckey)},
            policy="encrypt servername=mx.remote.test")
    subject = dict(x[0] for x in peer.connections[0]["client_cert"]["subject"])
    assert subject["commonName"] == "client.test"
    assert peer.sni == ["mx.remote.test"]


def test_bad_client_certificate_is_refused_at_start(instance, pki):
    # A key that does not belong to the certificate: the agent would refuse to start, so
    # postfix check and start refuse the configuration (nothing is accepted to sit queued).
    instance.write_main_cf({"smtp_tls_cert_file": str(pki["cert"]),
                            "smtp_tls_key_file": str(pki["dir"] / "ca.key")})
    for verb in ("check", "start"):
        p = instance.cmd("postfix", verb)
        assert p.returncode != 0, (verb, p.stderr)
        assert "cannot load the client certificate smtp_tls_cert_file" in p.stderr, p.stderr


def postern_peer(tmp_path, pki, tls=True):
    from conftest import Instance
    peer = Instance(tmp_path / "peer")
    cfg = {"myhostname": "mx.remote.test", "virtual_mailbox_domains": "remote.test",
           "virtual_mailbox_maps": "inline:{ user@remote.test=user/ }"}
    if tls:
        cfg.update({"smtpd_tls_security_level": "may", "smtpd_tls_cert_file": str(pki["cert"]),
                    "smtpd_tls_key_file": str(pki["key"]), "smtpd_tls_received_header": "yes"})
    peer.write_main_cf(cfg)
    peer.start()
    return peer


def route_to_postern(instance, peer, extra):
    cfg = {"transport_maps": f"inline:{{ remote.test=smtp:[127.0.0.1]:{peer.port} }}",
           "smtp_helo_name": "client.test", "smtp_tls_loglevel": "1"}
    cfg.update(extra)
    instance.write_main_cf(cfg)
    instance.start()


def test_secure_to_a_second_postern_instance(instance, tmp_path, pki):
    peer = postern_peer(tmp_path, pki)
    try:
        route_to_postern(instance, peer, {
            "smtp_tls_CAfile": str(pki["ca"]),
            "smtp_tls_policy_maps":
                f"inline:{{ {{ [127.0.0.1]:{peer.port} = secure match=mx.remote.test }} }}"})
        send(instance, rcpt="user@remote.test")
        msgs = peer.wait_for(lambda: peer.maildir_messages("user"), what="message at the peer")
        assert b"(using TLSv1.3 with cipher" in msgs[0]  # the peer's Received: header
        wait_log(instance, "status=sent")
        assert f"Verified TLS connection established to 127.0.0.1[127.0.0.1]:{peer.port}: " \
               "TLSv1.3" in instance.maillog()
    finally:
        peer.cmd("postfix", "stop", timeout=30)


def test_encrypt_to_a_postern_instance_without_tls_defers(instance, tmp_path, pki):
    peer = postern_peer(tmp_path, pki, tls=False)
    try:
        route_to_postern(instance, peer, {"smtp_tls_security_level": "encrypt"})
        send(instance, rcpt="user@remote.test")
        wait_log(instance, "status=deferred")
        assert "dsn=4.7.4, status=deferred (TLS is required, but was not offered by host " \
               "127.0.0.1[127.0.0.1])" in instance.maillog()
        assert not peer.maildir_messages("user")
    finally:
        peer.cmd("postfix", "stop", timeout=30)


def test_lmtp_agent_uses_lmtp_tls_settings(instance, peers, pki):
    # The lmtp agent shares the client code and reads lmtp_tls_*: a verified TLS session to an
    # LMTP server over TCP, while smtp_tls_* stays at none.
    peer = peers(cert=pki["cert"], key=pki["key"], lmtp=True)
    instance.write_master_cf(instance.master_cf_text() +
                             "lmtp      unix  -       -       n       -       -       lmtp\n")
    instance.write_main_cf({
        "transport_maps": f"inline:{{ remote.test=lmtp:inet:[127.0.0.1]:{peer.port} }}",
        "lmtp_tls_loglevel": "1", "lmtp_tls_CAfile": str(pki["ca"]),
        "lmtp_tls_policy_maps":
            f"inline:{{ {{ [127.0.0.1]:{peer.port} = verify match=mx.remote.test }} }}"})
    instance.start()
    send(instance)
    wait_log(instance, "status=sent")
    log = instance.maillog()
    assert f"postern/lmtp[" in log
    assert f"Verified TLS connection established to 127.0.0.1[127.0.0.1]:{peer.port}" in log
    assert peer.messages[0]["tls"]
    assert peer.connections[0]["commands"][:2] == [f"LHLO {instance.main_cf['myhostname']}",
                                                   "STARTTLS"]


def test_long_exclude_cipher_list_is_applied_whole(instance, peers, pki):
    """An exclusion list longer than 4 KiB still excludes (a capped buffer dropped it whole)."""
    peer = peers(cert=pki["cert"], key=pki["key"])
    exclude = ", ".join(["aNULL"] * 800 + ["AESGCM", "CHACHA20"])
    assert len(exclude) > 4096
    deliver(instance, peer, "status=sent",
            {"smtp_tls_security_level": "encrypt",
             "smtp_tls_mandatory_protocols": "<=TLSv1.2",
             "smtp_tls_exclude_ciphers": exclude})
    line = [l for l in instance.maillog().splitlines() if "TLS connection established" in l]
    assert line and "TLSv1.2 with cipher" in line[0], line
    assert "GCM" not in line[0] and "CHACHA" not in line[0], line[0]
