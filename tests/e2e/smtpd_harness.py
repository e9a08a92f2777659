"""A `postern smtpd` run directly on a loopback listener of the test's own (Smtpd), a raw SMTP
client that reads whole replies (Client), and the smtpd fixture (conftest.py) that starts them
and checks at the end that the server reported no sanitizer error.
"""
import os
import resource
import signal
import smtplib
import socket
import subprocess

QUEUE_DIRS = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt", "bounce",
              "public", "private", "pid")


class Smtpd:
    """A running `postern smtpd` on a loopback socket of our own."""

    def __init__(self, inst, extra=None, nofile=None, status_fd=None):
        self.inst = inst
        base = {
            # Recipient tables that need no system files.
            "alias_maps": "",
            "local_recipient_maps": "inline:{ root=1, postmaster=1, alice=1 }",
        }
        base.update(extra or {})
        inst.write_main_cf(base)
        for d in QUEUE_DIRS:
            (inst.queue / d).mkdir(parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        fd = self.sock.fileno()

        def child_setup():
            os.dup2(fd, 3)  # the master's listener is fd 3
            if status_fd is not None:
                os.dup2(status_fd, 4)  # the status pipe to the master
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))


        env = dict(os.environ)
        env.pop("MAIL_CONFIG", None)
        self.proc = subprocess.Popen(
            [str(inst.bin), "smtpd", "-c", str(inst.etc), "-n", "smtp", "-t", "inet"],
            # 3 is listed too: descriptors not in pass_fds are closed after child_setup runs.
            pass_fds=(fd, 3, 4) if status_fd is not None else (fd, 3),
            preexec_fn=child_setup, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return Client(s)

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.port, timeout=10)

    def mail(self, sender="a@example.com", helo="c.example"):
        """A new client past the greeting, EHLO helo and MAIL FROM:<sender> (begin_mail)."""
        return begin_mail(self.connect(), sender, helo)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.sock.close()
        return err

    def queued(self):
        d = self.inst.queue / "incoming"
        return sorted(p for p in d.iterdir() if not p.name.startswith("tmp."))

    def postcat(self, path):
        p = self.inst.cmd("postcat", str(path))
        assert p.returncode == 0, p.stderr
        return p.stdout


class Client:
    """A raw SMTP client that reads complete replies (multi-line aware)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; pending: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def reply(self):
        lines = [self._line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self._line())
        return "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def begin_mail(c, sender="a@example.com", helo="c.example"):
    """Takes client c past a 220 greeting, EHLO helo and MAIL FROM:<sender>; returns c. Only the
    greeting is checked: the test asserts what it is about."""
    greeting = c.reply()
    assert greeting.startswith("220 "), greeting
    c.cmd(f"EHLO {helo}")
    c.cmd(f"MAIL FROM:<{sender}>")
    return c


def wait_log(inst, text, timeout=10):
    inst.wait_for(lambda: text in inst.maillog(), timeout=timeout, what=repr(text))
    return inst.maillog()


def smtpd_factory(instance):
    """The body of the smtpd fixture: start(extra, **kw) runs an Smtpd for instance."""
    servers = []

    def start(extra=None, **kw):
        s = Smtpd(instance, extra, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        err = s.stop()
        assert "Sanitizer" not in err, err
        assert "runtime error" not in err, err
