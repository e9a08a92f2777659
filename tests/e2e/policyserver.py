"""A test SMTPD policy server (Postfix policy delegation protocol) on loopback or a UNIX socket.

Each connection is served by a thread and may carry many requests. `decide(attrs)` returns
(delay_seconds, action); action None means never answer (a hung server). Every request's
attributes are kept in `requests`.
"""
import os
import socket
import threading
import time


class PolicyServer:
    def __init__(self, decide, unix_path=None, close_after_reply=False):
        self.decide = decide
        self.close_after_reply = close_after_reply
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = False
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(unix_path))
            self.endpoint = f"unix:{unix_path}"
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.endpoint = f"inet:127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.listen(256)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
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

    def close(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
