"""Test servers on loopback: a listening socket (TCP on 127.0.0.x, or a UNIX-domain path) whose
connections are each served by a thread, and the SMTP/LMTP pieces the test peers share.

A subclass defines session(conn, *args); accepted(conn) runs in the accept loop first and returns
the extra arguments (by default it counts the connection in .connections). Attributes a session
uses are set before LoopbackServer.__init__, which starts accepting.
"""
import socket
import threading


class LoopbackServer:
    def __init__(self, unix_path=None, host="127.0.0.1", port=0, backlog=20):
        self.lock = threading.Lock()
        self.stopping = False
        if not hasattr(self, "connections"):  # a subclass may keep a list per connection instead
            self.connections = 0
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(unix_path))
            self.port = None
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(backlog)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def accepted(self, conn):
        with self.lock:
            self.connections += 1
        return ()

    def _accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            args = self.accepted(conn)
            threading.Thread(target=self.session, args=(conn, *args), daemon=True).start()

    def session(self, conn, *args):
        raise NotImplementedError

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def reply_lines(say, code, lines):
    """A multiline reply: "250-first", ..., "250 last"."""
    for i, line in enumerate(lines):
        say(f"{code}{' ' if i == len(lines) - 1 else '-'}{line}")


def read_data(f):
    """The message bytes after DATA's 354, up to the lone "."; None when the client hung up."""
    data = b""
    while True:
        line = f.readline()
        if not line:
            return None
        if line == b".\r\n":
            return data
        data += line


def closing_factory(cls):
    """The body of a pytest fixture (`yield from closing_factory(Peer)`): gives the test a
    function that makes cls(...) servers, and closes every one it made when the test ends."""
    made = []

    def make(*args, **kw):
        server = cls(*args, **kw)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()
