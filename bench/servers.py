"""The two servers under test, set up with the same semantics.

Each instance lives in its own folder under the benchmark's temporary folder:
    etc/ (main.cf, master.cf), queue/, data/, mail/ (virtual_mailbox_base), log/maillog
and listens on a free 127.0.0.1 port. Both accept mail for one virtual domain, bench.test, and
deliver every recipient to one Maildir, mail/bench/new/, as the postfix account (uid and gid of
Debian's postfix user), through the virtual delivery agent. Both log to a file.

PostfixServer  Debian's Postfix, /usr/sbin/postfix, started as root with `postfix -c ETC start`.
               master.cf is written here (all services unchrooted, the stock service list), so
               Debian's /etc/postfix is never read or changed; the default instance stays
               stopped and nothing listens on port 25.
PosternServer  build/bin/postern postfix -c ETC start, same main.cf semantics.

Both keep their defaults for everything the benchmark does not need to set (process limits,
in_flow_delay, destination concurrency), so each is measured as shipped.
"""
import grp
import hashlib
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import time

DOMAIN = "bench.test"
RECIPIENT = f"user@{DOMAIN}"
SENDER = "source@client.test"
MAILBOX = "bench/"

POSTFIX_MASTER_CF = """\
# service  type  private unpriv  chroot  wakeup  maxproc command + args
{listen}   inet  n       -       n       -       -       smtpd
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
local      unix  -       n       n       -       -       local
virtual    unix  -       n       n       -       -       virtual
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
"""

POSTERN_MASTER_CF = """\
# service  type  private unpriv  chroot  wakeup  maxproc command + args
{listen}   inet  n       -       n       -       -       smtpd
pickup     unix  n       -       n       60      1       pickup
qmgr       unix  n       -       n       300     1       qmgr
smtp       unix  -       -       n       -       -       smtp
local      unix  -       n       n       -       -       local
virtual    unix  -       n       n       -       -       virtual
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mail_account():
    """Returns (user, group, uid, gid) of the unprivileged account both servers run as."""
    if os.getuid() != 0:
        pw = pwd.getpwuid(os.getuid())
        return pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name, pw.pw_uid, pw.pw_gid
    pw = pwd.getpwnam("postfix")
    return "postfix", grp.getgrgid(pw.pw_gid).gr_name, pw.pw_uid, pw.pw_gid


class Server:
    """What the benchmark needs from a server instance; subclasses fill in the specifics."""

    name = "?"

    def __init__(self, base: pathlib.Path):
        self.base = base
        self.etc = base / "etc"
        self.queue = base / "queue"
        self.data = base / "data"
        self.mail = base / "mail"
        self.log = base / "log" / "maillog"
        self.port = free_port()
        self.user, self.group, self.uid, self.gid = mail_account()
        self.last_master_pid = None

    # --- files
    def main_cf(self):
        return {
            "myhostname": "mx.bench.test",
            "mydomain": "bench.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "maillog_file": str(self.log),
            "mail_owner": self.user,
            "setgid_group": "postdrop" if os.getuid() == 0 else self.group,
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": str(self.mail),
            "virtual_mailbox_maps": f"static:{MAILBOX}",
            "virtual_uid_maps": f"static:{self.uid}",
            "virtual_gid_maps": f"static:{self.gid}",
            "virtual_minimum_uid": "1" if self.uid else "0",
            "smtpd_error_sleep_time": "0s",
        }

    def master_cf(self):
        raise NotImplementedError

    def setup(self):
        for d in (self.etc, self.queue, self.data, self.mail, self.log.parent):
            d.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{k} = {v}\n" for k, v in self.main_cf().items())
        (self.etc / "main.cf").write_text(text)
        (self.etc / "master.cf").write_text(self.master_cf())
        if os.getuid() == 0:
            for d in (self.data, self.mail, self.log.parent):
                os.chown(d, self.uid, self.gid)

    # --- processes
    def command(self, *args, timeout=120):
        raise NotImplementedError

    def start(self):
        p = self.command("start")
        if p.returncode != 0:
            raise RuntimeError(f"{self.name} start failed ({p.returncode}):\n{p.stdout}{p.stderr}"
                               f"\n--- maillog ---\n{self.maillog_tail()}")
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.master_pid() and self.accepting():
                self.last_master_pid = self.master_pid()
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start listening on port {self.port}"
                           f"\n--- maillog ---\n{self.maillog_tail()}")

    def accepting(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.settimeout(5)
                return s.recv(512).startswith(b"220")
        except OSError:
            return False

    def master_pid(self):
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def stop(self):
        """Stops the instance; kills what is left of its process tree after 15 s."""
        from procstat import tree_pids
        pid = self.master_pid() or self.last_master_pid
        pids = tree_pids(pid) if pid else []
        try:
            self.command("stop", timeout=30)
        except Exception:
            pass
        deadline = time.time() + 15
        while time.time() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.2)
        for p in pids:
            if _alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass

    # --- results
    def maildir_new(self):
        return self.mail / MAILBOX / "new"

    def delivered(self):
        try:
            return sum(1 for _ in os.scandir(self.maildir_new()))
        except FileNotFoundError:
            return 0

    def clear_maildir(self):
        """Moves delivered messages out of new/ into spent/ (removed with the temporary folder
        at the end of the run). Not unlinked: on ext4 without a journal every inode freed in
        the last 60-360 s is skipped, block read by block read, by each later file creation
        (the kernel's recently_deleted()), so deleting thousands of files here would slow the
        next point's deliveries for a reason that is the harness's, not the server's."""
        d = self.maildir_new()
        if d.is_dir():
            spent = self.base / "spent"
            spent.mkdir(exist_ok=True)
            for e in os.scandir(d):
                os.rename(e.path, spent / f"{self.name}.{e.name}")

    def deferred(self):
        """Returns how many messages wait in the deferred queue."""
        return sum(len(files) for _root, _dirs, files in os.walk(self.queue / "deferred"))

    def maillog_tail(self, n=4000):
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state != b"Z"
    except (OSError, IndexError):
        return False


class PostfixServer(Server):
    name = "postfix"

    def __init__(self, base, binary="/usr/sbin/postfix"):
        super().__init__(base)
        self.binary = binary

    def main_cf(self):
        cf = super().main_cf()
        cf["compatibility_level"] = "3.6"
        # maillog_file must sit under one of these prefixes (default /var, /dev/stdout).
        cf["maillog_file_prefixes"] = str(self.base)
        return cf

    def master_cf(self):
        return POSTFIX_MASTER_CF.format(listen=f"127.0.0.1:{self.port}")

    def command(self, *args, timeout=120):
        env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
        return subprocess.run([self.binary, "-c", str(self.etc), *args], capture_output=True,
                              text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)

    def version(self):
        p = subprocess.run(["/usr/sbin/postconf", "-c", str(self.etc), "-h", "mail_version"],
                           capture_output=True, text=True)
        return "Postfix " + (p.stdout.strip() or "?")


class PosternServer(Server):
    name = "postern"

    def __init__(self, base, binary):
        super().__init__(base)
        self.binary = str(binary)

    def master_cf(self):
        return POSTERN_MASTER_CF.format(listen=f"127.0.0.1:{self.port}")

    def command(self, *args, timeout=120):
        env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
        return subprocess.run([self.binary, "postfix", "-c", str(self.etc), *args],
                              capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def version(self):
        p = subprocess.run(["git", "-C", str(pathlib.Path(__file__).resolve().parents[1]),
                            "describe", "--always", "--dirty"], capture_output=True, text=True)
        with open(self.binary, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        return f"Postern {p.stdout.strip() or '?'} (binary sha256 {digest}…)"


def smtp_source_path():
    return shutil.which("smtp-source") or "/usr/sbin/smtp-source"
