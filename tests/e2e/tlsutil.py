"""Helpers for the TLS and AUTH end-to-end tests: certificates made with the openssl CLI, an
instance with smtp (STARTTLS), submission (587-style) and smtps (465-style) services written
as Postfix's stock master.cf entries, and small SMTP helpers."""
import hashlib
import pathlib
import socket
import ssl
import subprocess

from conftest import free_port


def openssl(*args, cwd=None):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def make_certs(d: pathlib.Path):
    """A private CA, an RSA-2048 and an ECDSA P-256 server certificate for mx.example.test,
    and a client certificate. Returns a dict of paths."""
    d.mkdir(parents=True, exist_ok=True)
    c = {k: d / v for k, v in {
        "ca_key": "ca.key", "ca": "ca.pem", "rsa_key": "rsa.key", "rsa": "rsa.pem",
        "ec_key": "ec.key", "ec": "ec.pem", "client_key": "client.key", "client": "client.pem",
        "chain": "chain.pem", "dh": "dh.pem"}.items()}
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(c["ca_key"]),
            "-out", str(c["ca"]), "-days", "2", "-subj", "/CN=Postern Test CA")
    for name, newkey in (("rsa", ["-newkey", "rsa:2048"]),
                         ("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                         ("client", ["-newkey", "rsa:2048"])):
        cn = "client.example.test" if name == "client" else "mx.example.test"
        csr = d / f"{name}.csr"
        san = f"subjectAltName=DNS:{cn}" + ("" if name == "client" else ",IP:127.0.0.1")
        openssl("req", "-new", *newkey, "-nodes", "-keyout", str(c[f"{name}_key"]),
                "-out", str(csr), "-subj", f"/CN={cn}", "-addext", san)
        openssl("x509", "-req", "-in", str(csr), "-CA", str(c["ca"]), "-CAkey", str(c["ca_key"]),
                "-CAcreateserial", "-out", str(c[name]), "-days", "2", "-copy_extensions", "copy")
    # Postfix's chain-file layout: each key followed by its certificate chain.
    c["chain"].write_text(c["rsa_key"].read_text() + c["rsa"].read_text() + c["ca"].read_text()
                          + c["ec_key"].read_text() + c["ec"].read_text() + c["ca"].read_text())
    return c


def fingerprint(pem_path):
    der = ssl.PEM_cert_to_DER_cert(pathlib.Path(pem_path).read_text())
    return hashlib.sha256(der).hexdigest()


def stock_master_cf(inst, sub_port, smtps_port):
    """The instance's smtp service plus Postfix's stock submission and smtps entries (with a
    "{ }" value as Postfix 3.x writes them), on our own ports."""
    text = inst.master_cf_text() + f"""\
127.0.0.1:{sub_port} inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_client_restrictions=$mua_client_restrictions
  -o smtpd_helo_restrictions=$mua_helo_restrictions
  -o smtpd_sender_restrictions=$mua_sender_restrictions
  -o smtpd_recipient_restrictions=
  -o {{ smtpd_relay_restrictions = permit_sasl_authenticated, reject }}
127.0.0.1:{smtps_port} inet  n       -       y       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_client_restrictions=$mua_client_restrictions
  -o smtpd_helo_restrictions=$mua_helo_restrictions
  -o smtpd_sender_restrictions=$mua_sender_restrictions
  -o smtpd_recipient_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
"""
    # Postern refuses to start with a setting it does not honour (issue 9): until SASL is
    # implemented, the stock "-o smtpd_sasl_auth_enable=yes" lines are left out.
    if inst.cmd("postconf", "-U", "smtpd_sasl_auth_enable").stdout.strip() != \
            "smtpd_sasl_auth_enable = implemented":
        text = text.replace("  -o smtpd_sasl_auth_enable=yes\n", "")
    return text


def setup_tls_instance(inst, certs, extra=None, sasl=True):
    """Writes main.cf/master.cf for TLS (and our own SASL table when sasl) and returns
    (smtp_port, submission_port, smtps_port). Call inst.start() after further edits."""
    sub_port, smtps_port = free_port(), free_port()
    (inst.etc / "no_users").write_text("")
    cf = {
        # AUTH is on in the stock submission/smtps entries: it needs a password source.
        "smtpd_sasl_password_maps": f"texthash:{inst.etc}/no_users",
        "smtpd_tls_chain_files": str(certs["chain"]),
        "smtpd_tls_security_level": "may",
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_received_header": "yes",
        # mua_*_restrictions stay undefined, as in a stock main.cf: empty lists, as in Postfix
    }
    cf.update(extra or {})
    inst.write_main_cf(cf)
    inst.write_master_cf(stock_master_cf(inst, sub_port, smtps_port))
    return inst.port, sub_port, smtps_port


def client_context(certs=None):
    ctx = ssl.create_default_context(cafile=str(certs["ca"])) if certs else \
        ssl._create_unverified_context()
    if certs:
        ctx.check_hostname = True
    return ctx


def read_reply(f):
    """Reads one (possibly multi-line) SMTP reply from a file object; returns the text."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            break
        lines.append(line.decode("latin-1"))
        if len(line) < 4 or line[3:4] != b"-":
            break
    return "".join(lines)
