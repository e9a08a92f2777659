"""Shared fixtures for Postern's end-to-end tests.

Each test gets its own instance directory under a temporary folder (config in etc/, queue in
queue/, mailboxes in mail/, log in log/maillog) and free loopback ports. The binary under test is
$POSTERN_BIN (the sanitized build from `make check`), else build/bin/postern.
"""
import os
import pathlib
import socket
import subprocess
import time

import pytest

from smtpd_harness import smtpd_factory

ROOT = pathlib.Path(__file__).resolve().parents[2]


def postern_bin():
    b = os.environ.get("POSTERN_BIN")
    if b:
        return pathlib.Path(b)
    for cand in (ROOT / "build/check/bin/postern", ROOT / "build/bin/postern"):
        if cand.exists():
            return cand
    raise RuntimeError("build Postern first (make)")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=20):
    """Waits until something accepts connections on 127.0.0.1:port."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


class Instance:
    """A self-contained Postern instance: files, commands, and helpers to wait for results."""

    def __init__(self, base: pathlib.Path):
        self.base = base
        self.etc = base / "etc"
        self.queue = base / "queue"
        self.data = base / "data"
        self.mail = base / "mail"
        self.log = base / "log" / "maillog"
        self.port = free_port()
        self.bin = postern_bin()
        for d in (self.etc, self.queue, self.data, self.mail, self.log.parent):
            d.mkdir(parents=True, exist_ok=True)
        user = os.environ.get("USER") or "root"
        import pwd
        user = pwd.getpwuid(os.getuid()).pw_name
        self.main_cf = {
            "myhostname": "mx.example.test",
            "mydomain": "example.test",
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "maillog_file": str(self.log),
            "mail_owner": user,
            "setgid_group": pwd_group(),
            "inet_interfaces": "127.0.0.1",
            "mynetworks": "127.0.0.0/8",
            "mydestination": "$myhostname, localhost",
            "virtual_mailbox_domains": "virtual.test",
            "virtual_mailbox_base": str(self.mail),
            "virtual_mailbox_maps": "inline:{ user@virtual.test=user/, other@virtual.test=other/ }",
            "virtual_uid_maps": f"static:{os.getuid()}",
            "virtual_gid_maps": f"static:{os.getgid()}",
            "virtual_minimum_uid": "0",
            "queue_run_delay": "5s",
            "minimal_backoff_time": "5s",
            "maximal_backoff_time": "20s",
            "smtpd_error_sleep_time": "0s",
        }
        self.write_main_cf()
        self.write_master_cf()

    def write_main_cf(self, extra=None):
        if extra:
            self.main_cf.update(extra)
        text = "".join(f"{k} = {v}\n" for k, v in self.main_cf.items())
        (self.etc / "main.cf").write_text(text)

    def master_cf_text(self):
        return (
            f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
            "pickup    unix  n       -       n       60      1       pickup\n"
            "qmgr      unix  n       -       n       300     1       qmgr\n"
            "smtp      unix  -       -       n       -       -       smtp\n"
            "local     unix  -       n       n       -       -       local\n"
            "virtual   unix  -       n       n       -       -       virtual\n"
        )

    def write_master_cf(self, text=None):
        (self.etc / "master.cf").write_text(text if text is not None else self.master_cf_text())

    def cmd(self, name, *args, check=False, input=None, env=None, timeout=60):
        """Runs `postern NAME -c ETC args...` and returns the CompletedProcess."""
        e = dict(os.environ)
        e.pop("MAIL_CONFIG", None)
        if env:
            e.update(env)
        p = subprocess.run([str(self.bin), name, "-c", str(self.etc), *args],
                           capture_output=True, text=True, input=input, env=e, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{name} {args} failed ({p.returncode}): {p.stderr}")
        return p

    def start(self):
        p = self.cmd("postfix", "start")
        assert p.returncode == 0, p.stderr + p.stdout
        return p

    def stop(self):
        return self.cmd("postfix", "stop")

    def maillog(self):
        return self.log.read_text() if self.log.exists() else ""

    def wait_for(self, predicate, timeout=30.0, interval=0.1, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(interval)
        raise AssertionError(f"timed out waiting for {what}\n--- maillog ---\n{self.maillog()[-4000:]}")

    def maildir_messages(self, rel):
        """Files in MAIL/rel/new (Maildir) as bytes, sorted by name."""
        d = self.mail / rel / "new"
        if not d.is_dir():
            return []
        return [p.read_bytes() for p in sorted(d.iterdir())]


def pwd_group():
    import grp
    return grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def smtpd(instance):
    """start(extra=None, **kw) runs `postern smtpd` for the test (smtpd_harness.Smtpd)."""
    yield from smtpd_factory(instance)


@pytest.fixture
def instance(tmp_path):
    inst = Instance(tmp_path / "inst")
    yield inst
    # Best effort: never leave a master behind.
    try:
        inst.cmd("postfix", "stop", timeout=30)
    except Exception:
        pass
    pidfile = inst.queue / "pid" / "master.pid"
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text().split()[0])
            os.kill(pid, 9)
        except Exception:
            pass
