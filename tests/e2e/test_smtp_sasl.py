"""End-to-end tests of client SMTP AUTH in the smtp delivery agent (relayhost with AUTH).

The relayhost is a Python SMTP peer (smtp_peers.Peer) that demands AUTH PLAIN or LOGIN before
MAIL FROM and records the credentials it was given.
"""
import pytest

from loopback import closing_factory
from smtp_peers import Peer, make_ca, make_cert


@pytest.fixture
def peers():
    yield from closing_factory(Peer)


def relay_through(instance, peer, passwords, extra=None):
    cfg = {"relayhost": f"[127.0.0.1]:{peer.port}", "smtp_helo_name": "client.test",
           "smtp_sasl_auth_enable": "yes",
           "smtp_sasl_password_maps": "inline:{ " + ", ".join(f"{k}={v}" for k, v in
                                                             passwords.items()) + " }",
           "smtp_sasl_security_options": "noanonymous"}
    cfg.update(extra or {})
    instance.write_main_cf(cfg)
    instance.start()


def send(instance, sender="sender@example.test", subject="auth"):
    instance.cmd("sendmail", "-f", sender, "x@elsewhere.test",
                 input=f"Subject: {subject}\n\nhello\n", check=True)


def wait_log(instance, needle, count=1, timeout=60):
    instance.wait_for(lambda: instance.maillog().count(needle) >= count, timeout=timeout,
                      what=f"{count} x {needle!r} in the maillog")


def test_auth_plain_to_relayhost(instance, peers):
    peer = peers(auth={"alice": "s3cret-pw"})
    relay_through(instance, peer, {f"[127.0.0.1]:{peer.port}": "alice:s3cret-pw"})
    send(instance)
    wait_log(instance, "status=sent")
    assert peer.connections[0]["auth"] == [("PLAIN", "alice", "s3cret-pw")]
    assert peer.messages[0]["auth_user"] == "alice"
    assert "s3cret-pw" not in instance.maillog()


def test_auth_login_through_the_mechanism_filter(instance, peers):
    peer = peers(auth={"alice": "pw"})
    relay_through(instance, peer, {f"[127.0.0.1]:{peer.port}": "alice:pw"},
                  {"smtp_sasl_mechanism_filter": "login"})
    send(instance)
    wait_log(instance, "status=sent")
    assert peer.connections[0]["auth"] == [("LOGIN", "alice", "pw")]


def test_noplaintext_leaves_no_mechanism(instance, peers):
    peer = peers(auth={"alice": "pw"})
    # Postfix's default security options forbid plaintext mechanisms: PLAIN and LOGIN.
    relay_through(instance, peer, {f"[127.0.0.1]:{peer.port}": "alice:pw"},
                  {"smtp_sasl_security_options": "noplaintext, noanonymous"})
    send(instance)
    wait_log(instance, "status=deferred")
    assert "dsn=4.7.0, status=deferred (SASL authentication failed; cannot authenticate to " \
           "server 127.0.0.1[127.0.0.1]: no mechanism available)" in instance.maillog()
    assert not peer.messages and not peer.connections[0]["auth"]


def test_wrong_password_defers(instance, peers):
    peer = peers(auth={"alice": "right"})
    relay_through(instance, peer, {f"[127.0.0.1]:{peer.port}": "alice:Wr0ngPassw0rd"})
    send(instance)
    wait_log(instance, "status=deferred")
    # smtp_sasl_auth_soft_bounce = yes (the default) turns the 535 into a 4xx.
    assert "dsn=4.7.8, status=deferred (SASL authentication failed; server " \
           "127.0.0.1[127.0.0.1] said: 535 5.7.8 Error: authentication failed: bad credentials)" \
           in instance.maillog()
    assert "Wr0ngPassw0rd" not in instance.maillog()
    assert not peer.messages


def test_no_table_entry_sends_without_auth(instance, peers):
    peer = peers(auth={"alice": "pw"})
    relay_through(instance, peer, {"[other.example]": "alice:pw"})
    send(instance)
    wait_log(instance, "to=<x@elsewhere.test>")
    assert "dsn=5.7.0, status=bounced (host 127.0.0.1[127.0.0.1] said: 530 5.7.0 " \
           "Authentication required (in reply to MAIL FROM command))" in instance.maillog()
    assert not peer.connections[0]["auth"]


def test_sender_dependent_authentication(instance, peers):
    peer = peers(auth={"alice": "pa", "bob": "pb"})
    relay_through(instance, peer, {f"[127.0.0.1]:{peer.port}": "alice:pa",
                                   "boss@example.test": "bob:pb"},
                  {"smtp_sender_dependent_authentication": "yes",
                   "smtp_destination_concurrency_limit": "1"})
    send(instance, sender="boss@example.test", subject="from boss")
    wait_log(instance, "status=sent")
    send(instance, sender="other@example.test", subject="from other")
    wait_log(instance, "status=sent", count=2)
    users = {m["data"].split(b"Subject: ")[1].split(b"\r\n")[0]: m["auth_user"]
             for m in peer.messages}
    assert users == {b"from boss": "bob", b"from other": "alice"}, users


def test_auth_inside_tls_with_tls_security_options(instance, peers, tmp_path):
    make_ca(tmp_path, "ca")
    cert, key = make_cert(tmp_path, "relay", "ca", ["relay.test"])
    # AUTH is offered only after STARTTLS; plaintext mechanisms are allowed only inside TLS.
    peer = peers(cert=cert, key=key, auth={"alice": "pw"}, auth_before_tls=False)
    relay_through(instance, peer, {f"[127.0.0.1]:{peer.port}": "alice:pw"},
                  {"smtp_tls_security_level": "encrypt",
                   "smtp_sasl_security_options": "noplaintext, noanonymous",
                   "smtp_sasl_tls_security_options": "noanonymous"})
    send(instance)
    wait_log(instance, "status=sent")
    assert peer.messages[0]["tls"] and peer.messages[0]["auth_user"] == "alice"
    assert peer.connections[0]["auth"] == [("PLAIN", "alice", "pw")]


def test_auth_to_a_second_postern_instance(instance, tmp_path):
    """The relay is a Postern whose smtpd takes mail only after AUTH (its own yescrypt table),
    offered inside STARTTLS; the client authenticates with PLAIN inside TLS."""
    import subprocess
    from conftest import Instance, postern_bin
    make_ca(tmp_path, "ca")
    cert, key = make_cert(tmp_path, "relay", "ca", ["mx.remote.test"])
    pw = "S3cret-pw!"
    h = subprocess.run([str(postern_bin()), "postern-passwd", "-m", "yescrypt"], input=pw + "\n",
                       capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    peer = Instance(tmp_path / "peer")
    (peer.etc / "sasl_passwd").write_text(f"you@example.test {h}\n")
    peer.write_main_cf({
        "myhostname": "mx.remote.test", "virtual_mailbox_domains": "remote.test",
        "virtual_mailbox_maps": "inline:{ user@remote.test=user/ }",
        "smtpd_tls_security_level": "may", "smtpd_tls_cert_file": str(cert),
        "smtpd_tls_key_file": str(key), "smtpd_tls_auth_only": "yes",
        "smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "postern",
        "smtpd_sasl_password_maps": f"texthash:{peer.etc}/sasl_passwd",
        "postern_sasl_failure_delay": "0s", "mynetworks": "192.0.2.0/24",
        "smtpd_recipient_restrictions": "permit_sasl_authenticated, reject"})
    peer.start()
    try:
        instance.write_main_cf({
            "transport_maps": f"inline:{{ remote.test=smtp:[127.0.0.1]:{peer.port} }}",
            "smtp_helo_name": "client.test", "smtp_tls_security_level": "encrypt",
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": f"inline:{{ [127.0.0.1]:{peer.port}=you@example.test:{pw} }}",
            "smtp_sasl_tls_security_options": "noanonymous"})
        instance.start()
        instance.cmd("sendmail", "-f", "sender@example.test", "user@remote.test",
                     input="Subject: authenticated relay\n\nhi\n", check=True)
        msgs = peer.wait_for(lambda: peer.maildir_messages("user"), what="message at the peer")
        assert b"Subject: authenticated relay" in msgs[0]
        peer.wait_for(lambda: "sasl_method=PLAIN, sasl_username=you@example.test" in
                      peer.maillog(), what="the peer's sasl_username log line")
        assert pw not in instance.maillog() and pw not in peer.maillog()
    finally:
        peer.cmd("postfix", "stop", timeout=30)

