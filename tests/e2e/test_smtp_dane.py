"""End-to-end tests of DANE (RFC 7672) in the smtp client.

Each test starts a private unbound on a loopback port that serves a zone signed with
ldns-signzone (auth-zone "for-upstream", so answers go through unbound's validator) and trusts
the zone's key, so MX, A and TLSA answers come back with the AD bit. The MX hosts point at a
Python SMTP peer whose certificate the TLSA records name, or do not.
"""
import os
import shutil
import subprocess
import time

import pytest

from conftest import free_port
from smtp_peers import Peer, fingerprint, make_ca, make_cert

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
pytestmark = pytest.mark.skipif(not (os.path.exists(UNBOUND) and shutil.which("ldns-signzone")),
                                reason="unbound and ldnsutils are needed")


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("dane-pki")
    make_ca(d, "ca")
    make_ca(d, "otherca")
    cert, key = make_cert(d, "mx", "ca", ["mx-good.dane.test"])
    return {"ca": d / "ca.crt", "otherca": d / "otherca.crt", "cert": cert, "key": key}


def hexdigest_of_key(cert):
    return fingerprint(cert, pubkey=True).replace(":", "")


class Resolver:
    def __init__(self, d, records):
        self.dir = d
        self.port = free_port()
        zone = d / "dane.test.zone"
        zone.write_text("$ORIGIN dane.test.\n$TTL 300\n"
                        "@ IN SOA ns.dane.test. admin.dane.test. 1 3600 600 86400 300\n"
                        "@ IN NS ns.dane.test.\nns IN A 127.0.0.1\n" + "\n".join(records) + "\n")

        def run(*args):
            return subprocess.run(args, cwd=d, check=True, capture_output=True,
                                  text=True).stdout.strip()

        ksk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test")
        zsk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "dane.test")
        run("ldns-signzone", "-n", str(zone), ksk, zsk)
        # An unsigned zone whose MX points into the signed one: an insecure MX RRset.
        (d / "insecure.test.zone").write_text(
            "$ORIGIN insecure.test.\n$TTL 300\n"
            "@ IN SOA ns.dane.test. admin.dane.test. 1 3600 600 86400 300\n"
            "@ IN NS ns.dane.test.\n@ IN MX 10 mx-good.dane.test.\n")
        conf = d / "unbound.conf"
        conf.write_text(f"""server:
  interface: 127.0.0.1
  port: {self.port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  use-syslog: no
  verbosity: 0
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "{d}/{ksk}.key"
  local-zone: "test." nodefault
auth-zone:
  name: "dane.test."
  zonefile: "{zone}.signed"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
auth-zone:
  name: "insecure.test."
  zonefile: "{d}/insecure.test.zone"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
""")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline:
            probe = subprocess.run(["drill", "-p", str(self.port), "@127.0.0.1", "dane.test",
                                    "SOA"], capture_output=True, text=True)
            if "NOERROR" in probe.stdout:
                return
            if self.proc.poll() is not None:
                pytest.fail("unbound did not start: " + self.proc.stderr.read().decode()[:500])
            time.sleep(0.2)
        pytest.fail("unbound did not answer")

    def close(self):
        self.proc.terminate()
        self.proc.wait()


@pytest.fixture
def world(tmp_path, pki):
    made = []

    def make(extra_records=()):
        peer = Peer(cert=pki["cert"], key=pki["key"])
        port = peer.port
        good = hexdigest_of_key(pki["cert"])
        bad = hexdigest_of_key(pki["otherca"])
        records = [
            "good IN MX 10 mx-good.dane.test.", "mx-good IN A 127.0.0.1",
            f"_{port}._tcp.mx-good IN TLSA 3 1 1 {good}",
            "bad IN MX 10 mx-bad.dane.test.", "mx-bad IN A 127.0.0.1",
            f"_{port}._tcp.mx-bad IN TLSA 3 1 1 {bad}",
            "none IN MX 10 mx-none.dane.test.", "mx-none IN A 127.0.0.1",
            "pkix IN MX 10 mx-pkix.dane.test.", "mx-pkix IN A 127.0.0.1",
            f"_{port}._tcp.mx-pkix IN TLSA 1 1 1 {good}",
            *extra_records]
        d = tmp_path / "dns"
        d.mkdir()
        res = Resolver(d, records)
        made.extend([peer, res])
        return peer, res

    yield make
    for m in made:
        m.close()


def configure(instance, peer, res, level="dane", extra=None):
    routes = ", ".join(f"{n}.dane.test=smtp:{n}.dane.test:{peer.port}"
                       for n in ("good", "bad", "none", "pkix"))
    routes += f", insecure.test=smtp:insecure.test:{peer.port}"
    instance.write_main_cf({**(extra or {}), "transport_maps": f"inline:{{ {routes} }}",
                            "smtp_dns_resolver_address": f"127.0.0.1:{res.port}",
                            "smtp_dns_support_level": "dnssec", "inet_protocols": "ipv4",
                            "smtp_tls_security_level": level, "smtp_tls_loglevel": "1",
                            "smtp_helo_name": "client.test"})
    instance.start()


def send(instance, rcpt):
    instance.cmd("sendmail", "-f", "sender@example.test", rcpt, input="Subject: dane\n\nhi\n",
                 check=True)


def wait_log(instance, needle, count=1, timeout=60):
    instance.wait_for(lambda: instance.maillog().count(needle) >= count, timeout=timeout,
                      what=f"{count} x {needle!r} in the maillog")


def deliver(instance, world, rcpt, until, **configure_kw):
    """One case: a fresh peer and resolver, the instance configured for them (configure's level
    and extra in configure_kw), a message to rcpt, and a wait for `until` in the maillog.
    Returns the peer and the maillog."""
    peer, res = world()
    configure(instance, peer, res, **configure_kw)
    send(instance, rcpt)
    wait_log(instance, until)
    return peer, instance.maillog()


def test_matching_tlsa_record_verifies(instance, world):
    peer, log = deliver(instance, world, "x@good.dane.test", "status=sent")
    assert f"Verified TLS connection established to mx-good.dane.test[127.0.0.1]:{peer.port}: " \
           "TLSv1.3" in log
    assert peer.messages[0]["tls"]


def test_wrong_tlsa_record_defers(instance, world):
    peer, log = deliver(instance, world, "x@bad.dane.test", "status=deferred")
    assert "dsn=4.7.5, status=deferred (Server certificate not verified)" in log
    assert "Untrusted TLS connection established to mx-bad.dane.test" in log
    assert not peer.messages


def test_no_tlsa_record_falls_back_to_may(instance, world):
    _, log = deliver(instance, world, "x@none.dane.test", "status=sent")
    assert "Untrusted TLS connection established to mx-none.dane.test" in log


def test_dane_only_without_tlsa_defers(instance, world):
    peer, log = deliver(instance, world, "x@none.dane.test", "status=deferred", level="dane-only")
    assert "dsn=4.7.5, status=deferred (TLS is required, but no DNSSEC-validated TLSA records " \
           "were found for host mx-none.dane.test)" in log
    assert not peer.messages


def test_only_unusable_tlsa_records_mean_encrypt(instance, world):
    # PKIX-EE(1) is unusable for SMTP: TLS, unauthenticated
    peer, log = deliver(instance, world, "x@pkix.dane.test", "status=sent")
    assert "Untrusted TLS connection established to mx-pkix.dane.test" in log
    assert peer.messages[0]["tls"]


def test_dane_only_needs_dnssec_support(instance):
    # refused by postfix check and start, as the agent would refuse to start
    instance.write_main_cf({"smtp_tls_security_level": "dane-only"})
    for verb in ("check", "start"):
        p = instance.cmd("postfix", verb)
        assert p.returncode != 0, (verb, p.stderr)
        assert "dane-only needs smtp_dns_support_level = dnssec" in p.stderr, p.stderr


def test_insecure_mx_to_a_secure_host_still_gets_dane(instance, world):
    # smtp_tls_dane_insecure_mx_policy: Postfix's default at level dane is "dane": the MX
    # host's own validated TLSA records count even when the MX RRset is not signed.
    _, log = deliver(instance, world, "x@insecure.test", "status=sent")
    assert "Verified TLS connection established to mx-good.dane.test" in log


def test_insecure_mx_policy_may_skips_dane(instance, world):
    _, log = deliver(instance, world, "x@insecure.test", "status=sent",
                     extra={"smtp_tls_dane_insecure_mx_policy": "may"})
    assert "Untrusted TLS connection established to mx-good.dane.test" in log
    assert "Verified" not in log
