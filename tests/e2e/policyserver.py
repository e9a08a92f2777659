"""A test SMTPD policy server (Postfix policy delegation protocol) on loopback or a UNIX socket.

Each connection is served by a thread and may carry many requests. `decide(attrs)` returns
(delay_seconds, action); action None means never answer (a hung server). Every request's
attributes are kept in `requests`.
"""
import time

from loopback import LoopbackServer


class PolicyServer(LoopbackServer):
    def __init__(self, decide, unix_path=None, close_after_reply=False):
        self.decide = decide
        self.close_after_reply = close_after_reply
        self.requests = []
        super().__init__(unix_path=unix_path, backlog=256)
        self.endpoint = f"unix:{unix_path}" if unix_path else f"inet:127.0.0.1:{self.port}"

    def session(self, conn):
        buf = b""
        with conn:
            while not self.stopping:
                while b"\n\n" not in buf:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    buf += chunk
                req, buf = buf.split(b"\n\n", 1)
                attrs = dict(line.split("=", 1) for line in req.decode().split("\n") if line)
                with self.lock:
                    self.requests.append(attrs)
                delay, action = self.decide(attrs)
                if action is None:
                    time.sleep(3600)
                    return
                if delay:
                    time.sleep(delay)
                try:
                    conn.sendall(f"action={action}\n\n".encode())
                except OSError:
                    return
                if self.close_after_reply:
                    return
