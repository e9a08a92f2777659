"""SMTP peers for the smtp client tests: certificates made with the openssl CLI, Sink (a plain
SMTP server whose RCPT and end-of-DATA replies the test chooses) and Peer (an SMTP server that
can offer STARTTLS with Python's ssl module and demand AUTH PLAIN/LOGIN).

Peer records, per connection, whether TLS was up, the cipher, whether the TLS session was
resumed, and the AUTH exchanges; per message, the envelope and the bytes.
"""
import base64
import pathlib
import ssl
import subprocess

from loopback import LoopbackServer, read_data, reply_lines


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: pathlib.Path, name: str):
    """A self-signed CA: d/name.key, d/name.crt."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "3", "-subj",
            f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.crt"


def make_cert(d: pathlib.Path, name: str, ca: str, dns_names, rsa=False, usage="serverAuth"):
    """A server certificate d/name.crt (key d/name.key) for dns_names, signed by CA ca."""
    key = ["rsa:2048"] if rsa else ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    openssl("req", "-newkey", *key, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={dns_names[0]}", cwd=d)
    san = ",".join(f"DNS:{n}" for n in dns_names)
    (d / f"{name}.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage={usage}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "3", "-extfile", f"{name}.ext",
            cwd=d)
    return d / f"{name}.crt", d / f"{name}.key"


def fingerprint(cert: pathlib.Path, digest="sha256", pubkey=False):
    """Postfix-style fingerprint (AA:BB:...) of a certificate or of its public key."""
    if pubkey:
        der = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
                             check=True, capture_output=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der,
                             check=True, capture_output=True).stdout
    else:
        der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
    import hashlib
    h = hashlib.new(digest, der).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


class Sink(LoopbackServer):
    """A tiny SMTP server on host:port (port 0: any free one).

    ehlo: the EHLO keywords to announce; rcpt_reply / data_reply: what to say to RCPT TO and at
    the end of DATA (callables or strings; they may be changed at any time). Records
    connections, commands and message bodies.
    """

    def __init__(self, host="127.0.0.1", port=0, ehlo=("PIPELINING", "8BITMIME", "SIZE 100000"),
                 rcpt_reply="250 2.1.5 Ok", data_reply="250 2.0.0 Ok: queued as SINK1",
                 greeting="220 sink.test ESMTP"):
        self.host = host
        self.ehlo = ehlo
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.greeting = greeting
        self.commands = []
        self.messages = []  # raw bytes between DATA's 354 and the final "."
        super().__init__(host=host, port=port)

    def session(self, conn):
        f = conn.makefile("rb")

        def say(text):
            conn.sendall(text.encode() + b"\r\n")

        try:
            say(self.greeting)
            if not self.greeting.startswith("2"):
                return
            accepted = 0
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode("latin-1")
                with self.lock:
                    self.commands.append(cmd)
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    reply_lines(say, 250, ["sink.test"] + list(self.ehlo))
                elif verb == "HELO":
                    say("250 sink.test")
                elif verb in ("MAIL", "RSET", "NOOP"):
                    accepted = 0
                    say("250 2.0.0 Ok")
                elif verb == "RCPT":
                    r = self.rcpt_reply(cmd) if callable(self.rcpt_reply) else self.rcpt_reply
                    accepted += r.startswith("2")
                    say(r)
                elif verb == "DATA" and accepted == 0:
                    say("554 5.5.1 Error: no valid recipients")
                elif verb == "DATA":
                    say("354 End data with <CR><LF>.<CR><LF>")
                    data = read_data(f)
                    if data is None:
                        return
                    with self.lock:
                        self.messages.append(data)
                    r = self.data_reply(data) if callable(self.data_reply) else self.data_reply
                    say(r)
                elif verb == "QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.2 Error: command not recognized")
        except OSError:
            pass
        finally:
            conn.close()


class Peer(LoopbackServer):
    """An SMTP server on 127.0.0.1.

    cert/key: offer STARTTLS with them (None: no STARTTLS). broken_tls: agree to STARTTLS and
    then hang up instead of a handshake. after_starttls: extra bytes sent in the same packet as
    the 220 (an injection attempt). auth: {user: password} to announce AUTH PLAIN LOGIN and
    demand it before MAIL; auth_mechs: the mechanisms announced. lmtp: speak LMTP (LHLO).
    wrapper: TLS from the first byte instead of STARTTLS (needs cert/key). client_ca: ask for
    a client certificate and verify it against this CA. SNI names sent are kept in .sni.
    """

    def __init__(self, cert=None, key=None, broken_tls=False, after_starttls=b"", auth=None,
                 auth_mechs=("PLAIN", "LOGIN"), auth_before_tls=True, lmtp=False,
                 wrapper=False, client_ca=None):
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(str(cert), str(key))
            self.ctx.sni_callback = self.note_sni
            if client_ca:  # ask for a client certificate signed by client_ca
                self.ctx.verify_mode = ssl.CERT_OPTIONAL
                self.ctx.load_verify_locations(str(client_ca))
        self.sni = []
        self.broken_tls = broken_tls
        self.after_starttls = after_starttls
        self.auth = auth
        self.auth_mechs = auth_mechs
        self.auth_before_tls = auth_before_tls
        self.lmtp = lmtp
        self.wrapper = wrapper  # TLS from the first byte (port 465 style), no STARTTLS
        self.connections = []  # dicts: tls, cipher, reused, auth (list of (mech, user, password))
        self.messages = []     # dicts: tls, auth_user, mail, rcpts, data
        super().__init__()

    def note_sni(self, sslobj, name, ctx):
        self.sni.append(name)

    def accepted(self, conn):
        info = {"tls": False, "cipher": None, "reused": False, "auth": [], "commands": []}
        with self.lock:
            self.connections.append(info)
        return (info,)

    def ehlo_lines(self, info):
        lines = ["peer.test", "PIPELINING", "8BITMIME", "SIZE 1000000"]
        if self.ctx and not info["tls"]:
            lines.append("STARTTLS")
        if self.auth is not None and (info["tls"] or self.auth_before_tls):
            lines.append("AUTH " + " ".join(self.auth_mechs))
        return lines

    def session(self, conn, info):
        state = {"conn": conn, "f": conn.makefile("rb"), "user": None, "mail": None, "rcpts": []}

        def say(text):
            state["conn"].sendall(text.encode() + b"\r\n")

        def readline():
            line = state["f"].readline()
            return line.rstrip(b"\r\n").decode("latin-1") if line else None

        try:
            if self.wrapper:
                tls = self.ctx.wrap_socket(conn, server_side=True)
                info.update(tls=True, cipher=tls.cipher()[0], reused=tls.session_reused)
                state.update(conn=tls, f=tls.makefile("rb"))
            say("220 peer.test ESMTP")
            while True:
                cmd = readline()
                if cmd is None:
                    return
                info["commands"].append(cmd)
                verb = cmd.split(" ", 1)[0].upper()
                if verb in ("EHLO", "LHLO"):
                    reply_lines(say, 250, self.ehlo_lines(info))
                elif verb == "STARTTLS" and self.ctx and not info["tls"]:
                    if self.broken_tls:
                        say("220 2.0.0 Ready to start TLS")
                        state["conn"].close()
                        return
                    state["conn"].sendall(b"220 2.0.0 Ready to start TLS\r\n" + self.after_starttls)
                    tls = self.ctx.wrap_socket(state["conn"], server_side=True)
                    info.update(tls=True, cipher=tls.cipher()[0], reused=tls.session_reused,
                                client_cert=tls.getpeercert())
                    state.update(conn=tls, f=tls.makefile("rb"), user=None)
                elif verb == "AUTH" and self.auth is not None:
                    self.do_auth(cmd, info, state, say, readline)
                elif verb == "MAIL":
                    if self.auth is not None and state["user"] is None:
                        say("530 5.7.0 Authentication required")
                        continue
                    state.update(mail=cmd, rcpts=[])
                    say("250 2.1.0 Ok")
                elif verb == "RCPT":
                    state["rcpts"].append(cmd)
                    say("250 2.1.5 Ok")
                elif verb == "DATA":
                    say("354 End data with <CR><LF>.<CR><LF>")
                    data = read_data(state["f"])
                    if data is None:
                        return
                    with self.lock:
                        self.messages.append({"tls": info["tls"], "auth_user": state["user"],
                                              "mail": state["mail"], "rcpts": state["rcpts"],
                                              "data": data})
                    for _ in (state["rcpts"] if self.lmtp else [0]):
                        say("250 2.0.0 Ok: queued as PEER1")
                elif verb in ("RSET", "NOOP"):
                    say("250 2.0.0 Ok")
                elif verb == "QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.2 Error: command not recognized")
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                state["conn"].close()
            except OSError:
                pass

    def do_auth(self, cmd, info, state, say, readline):
        parts = cmd.split()
        mech = parts[1].upper() if len(parts) > 1 else ""
        if mech == "PLAIN":
            resp = parts[2] if len(parts) > 2 else None
            if resp is None:
                say("334 ")
                resp = readline()
            try:
                _, user, password = base64.b64decode(resp).decode().split("\0")
            except Exception:
                say("501 5.5.2 bad response")
                return
        elif mech == "LOGIN":
            if len(parts) > 2:
                user = base64.b64decode(parts[2]).decode()
            else:
                say("334 " + base64.b64encode(b"Username:").decode())
                user = base64.b64decode(readline()).decode()
            say("334 " + base64.b64encode(b"Password:").decode())
            password = base64.b64decode(readline()).decode()
        else:
            say("504 5.5.4 Unrecognized authentication type")
            return
        info["auth"].append((mech, user, password))
        if self.auth.get(user) == password:
            state["user"] = user
            say("235 2.7.0 Authentication successful")
        else:
            say("535 5.7.8 Error: authentication failed: bad credentials")
