#!/usr/bin/python3
"""torture.py: fault injection under load; proves that no acknowledged message is lost.

    /usr/bin/python3 tests/torture/torture.py [--short] [--only NAME,...] [--seconds N]
    make torture            (the full form; make check runs --short through
                             tests/e2e/test_torture_short.py)

For each fault a fresh instance (tests/e2e/conftest.py's Instance) runs on loopback. A load
generator sends messages with unique Message-IDs over SMTP (several threads) and through
sendmail (one thread), and records every one acknowledged: a 250 after DATA, or sendmail
exiting 0. While the load runs the fault is injected; then the load stops, the fault is
undone, and the checker waits until every acknowledged message has been delivered (to the
Maildir, or to the remote test server), counting how often each arrived. One table follows:
fault, acknowledged, delivered, lost, duplicated, recovery time (from the end of the fault to
the last acknowledged message delivered). Lost must be 0 in every row; the exit status is 1
otherwise. Duplicates are allowed only in the windows docs/reliability.md explains.

Faults that need root or kernel features (tmpfs mounts, chattr) are skipped with the reason
when they are not available. I/O errors and clock jumps come from fault_shim.so (LD_PRELOAD,
built by `make torture` into build/torture/); the system clock is never changed.
"""
import argparse
import collections
import os
import pathlib
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from conftest import Instance  # noqa: E402
from test_smtp_client import Sink  # noqa: E402

SHIM = ROOT / "build" / "torture" / "fault_shim.so"
MSGID_RE = re.compile(rb"^Message-ID: <([^>]+)>", re.M | re.I)
SETTLE_TIMEOUT = 150


# ---------------------------------------------------------------- instance helpers

def instance_pids(inst, name=None):
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read()
            comm = open(f"/proc/{d}/comm").read().strip()
            state = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(inst.etc).encode() in cmd and state != "Z" and (name is None or comm == name):
            found.append(int(d))
    return found


def kill_all(inst, sig=signal.SIGKILL):
    for pid in instance_pids(inst):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def start(inst, env=None, tries=50):
    for _ in range(tries):
        p = inst.cmd("postfix", "start", env=env)
        if p.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"postfix start failed: {p.stderr}")


def new_instance(base, extra=None, master_cf=None):
    inst = Instance(base)
    cfg = {"queue_run_delay": "3s", "minimal_backoff_time": "2s", "maximal_backoff_time": "4s",
           "message_size_limit": "1048576", "service_throttle_time": "2s",
           "transport_retry_time": "2s"}
    cfg.update(extra or {})
    inst.write_main_cf(cfg)
    if master_cf:
        inst.write_master_cf(master_cf(inst))
    return inst


def delivered(inst, sink=None):
    counts = collections.Counter()
    for sub in ("new", "cur"):
        d = inst.mail / "user" / sub
        if d.is_dir():
            for p in d.iterdir():
                try:
                    m = MSGID_RE.search(p.read_bytes())
                except OSError:
                    continue
                if m:
                    counts[m.group(1).decode()] += 1
    if sink is not None:
        with sink.lock:
            msgs = list(sink.messages)
        for data in msgs:
            m = MSGID_RE.search(data)
            if m:
                counts[m.group(1).decode()] += 1
    return counts


# ---------------------------------------------------------------- load generator

class Load:
    """SMTP threads and one sendmail thread; acked holds every acknowledged Message-ID."""

    def __init__(self, inst, name, smtp_threads=4, rcpt="user@virtual.test", sendmail=True,
                 size=600):
        self.inst, self.name, self.rcpt, self.size = inst, name, rcpt, size
        self.acked, self.lock, self.stop_ev = [], threading.Lock(), threading.Event()
        self.errors = collections.Counter()
        self.n = 0
        self.threads = [threading.Thread(target=self.smtp_loop, daemon=True)
                        for _ in range(smtp_threads)]
        if sendmail:
            self.threads.append(threading.Thread(target=self.sendmail_loop, daemon=True))

    def next_id(self, kind):
        with self.lock:
            self.n += 1
            return f"{self.name}-{kind}{self.n}@torture.test"

    def body(self, msgid):
        return (f"From: load@example.org\r\nTo: {self.rcpt}\r\nSubject: {msgid}\r\n"
                f"Message-ID: <{msgid}>\r\n\r\n" + ("x" * 70 + "\r\n") * (self.size // 72))

    def smtp_loop(self):
        while not self.stop_ev.is_set():
            msgid = self.next_id("s")
            try:
                with smtplib.SMTP("127.0.0.1", self.inst.port, timeout=15) as s:
                    s.sendmail("load@example.org", [self.rcpt], self.body(msgid))
            except smtplib.SMTPResponseException as e:
                self.errors[f"{e.smtp_code}"] += 1
                time.sleep(0.05)
                continue
            except (OSError, smtplib.SMTPException) as e:
                self.errors[type(e).__name__] += 1
                time.sleep(0.05)
                continue
            with self.lock:
                self.acked.append(msgid)

    def sendmail_loop(self):
        while not self.stop_ev.is_set():
            msgid = self.next_id("m")
            try:
                p = self.inst.cmd("sendmail", "-f", "load@example.org", self.rcpt,
                                  input=self.body(msgid).replace("\r\n", "\n"), timeout=20)
            except subprocess.TimeoutExpired:
                self.errors["sendmail timeout"] += 1
                continue
            if p.returncode == 0:
                with self.lock:
                    self.acked.append(msgid)
            else:
                self.errors[f"sendmail exit {p.returncode}"] += 1
                time.sleep(0.1)

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=30)


# ---------------------------------------------------------------- one row

class Row:
    def __init__(self, fault):
        self.fault, self.acked, self.delivered, self.lost, self.dups = fault, 0, 0, 0, 0
        self.recovery, self.note, self.skipped = None, "", None


def settle(inst, load, sink, t_end, row):
    """Waits until every acknowledged message arrived, or SETTLE_TIMEOUT passed without one
    more arriving (a slow remote drains a big queue slowly, but it must keep draining)."""
    want = set(load.acked)
    deadline = time.time() + SETTLE_TIMEOUT
    counts = delivered(inst, sink)
    done = len(want & set(counts))
    while time.time() < deadline and not want <= set(counts):
        time.sleep(0.25)
        counts = delivered(inst, sink)
        now_done = len(want & set(counts))
        if now_done > done:
            done, deadline = now_done, time.time() + SETTLE_TIMEOUT
    if want <= set(counts):
        row.recovery = time.time() - t_end
    time.sleep(1.0)  # late duplicates
    counts = delivered(inst, sink)
    row.acked = len(want)
    row.delivered = len(want & set(counts))
    row.lost = len(want - set(counts))
    row.dups = sum(c - 1 for i, c in counts.items() if c > 1)
    if row.lost:
        row.note = "lost e.g. " + ", ".join(sorted(want - set(counts))[:3])


def run_fault(name, fn, seconds, workdir, **kw):
    row = Row(name)
    base = pathlib.Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir))
    ctx = {"base": base, "row": row, "seconds": seconds}
    ctx.update(kw)
    inst = None
    try:
        inst = fn(ctx)
    except Skip as s:
        row.skipped = str(s)
    except Exception as e:  # noqa: BLE001 - a broken fault is a failed row, not a crash
        row.note = f"error: {e!r}"[:200]
        row.lost = row.lost or -1
    finally:
        for cleanup in reversed(ctx.get("cleanups", [])):
            try:
                cleanup()
            except Exception:  # noqa: BLE001
                pass
        inst = ctx.get("inst")
        if inst is not None:
            try:
                inst.cmd("postfix", "stop", timeout=30)
            except Exception:  # noqa: BLE001
                pass
            kill_all(inst)
    if not os.environ.get("TORTURE_KEEP"):
        shutil.rmtree(base, ignore_errors=True)
    return row


class Skip(Exception):
    pass


def load_phase(ctx, inst, load, inject, sink=None, undo=None):
    """Load for ctx['seconds'] with inject(stop_event) running beside it, then settle."""
    load.start()
    stop = threading.Event()
    injector = threading.Thread(target=inject, args=(stop,), daemon=True)
    time.sleep(0.5)
    injector.start()
    time.sleep(ctx["seconds"])
    stop.set()
    injector.join(timeout=60)
    load.stop()
    if undo:
        undo()
    t_end = time.time()
    settle(inst, load, sink, t_end, ctx["row"])
    errs = ", ".join(f"{k} x{v}" for k, v in load.errors.most_common(3))
    if errs and not ctx["row"].note:
        ctx["row"].note = f"refused/failed: {errs}"


def make(ctx, extra=None, master_cf=None, env=None):
    inst = new_instance(ctx["base"] / "inst", extra, master_cf)
    ctx["inst"] = inst
    start(inst, env)
    return inst


# ---------------------------------------------------------------- the faults

def fault_kill9(proc, target=None):
    """target(ctx) -> (instance, recipient, sink): where the load goes; default the virtual
    agent's Maildir."""
    def fn(ctx):
        inst, rcpt, sink = target(ctx) if target else (make(ctx), "user@virtual.test", None)
        load = Load(inst, f"kill9-{proc}", rcpt=rcpt)

        def inject(stop):
            while not stop.wait(random.uniform(0.3, 1.5)):
                if proc == "all":
                    kill_all(inst)
                    start(inst)
                elif proc == "master":
                    for pid in instance_pids(inst, "master"):
                        os.kill(pid, signal.SIGKILL)
                    time.sleep(0.3)
                    start(inst)
                else:
                    for pid in instance_pids(inst, proc):
                        os.kill(pid, signal.SIGKILL)
        load_phase(ctx, inst, load, inject, sink=sink)
        return inst
    return fn


def remote_target(ctx):
    """Mail for remote.test goes through the smtp agent to a test SMTP server."""
    sink = Sink()
    ctx.setdefault("cleanups", []).append(sink.close)
    inst = make(ctx, {"transport_maps": f"inline:{{ remote.test=smtp:[127.0.0.1]:{sink.port} }}",
                      "smtp_helo_name": "client.test"})
    return inst, "x@remote.test", sink


def local_target(ctx):
    """Mail for loadbox@ (mydestination) goes through the local agent: an alias to a Maildir
    (trailing '/'), written with the default_privs identity when running as root."""
    inst = new_instance(ctx["base"] / "inst")
    ctx["inst"] = inst
    box = inst.mail / "user"
    box.mkdir(parents=True, exist_ok=True)
    os.chmod(box, 0o777)
    for d in (ctx["base"].parent, ctx["base"], ctx["base"] / "inst", inst.mail):
        os.chmod(d, 0o755)  # default_privs must reach the Maildir
    aliases = inst.etc / "aliases"
    aliases.write_text(f"loadbox: {box}/\n")
    inst.write_main_cf({"alias_maps": f"hash:{aliases}", "alias_database": f"hash:{aliases}"})
    inst.cmd("newaliases", check=True)
    start(inst)
    return inst, "loadbox@mx.example.test", None


def fault_reload(ctx):
    inst = make(ctx)
    load = Load(inst, "reload")

    def inject(stop):
        while not stop.wait(random.uniform(0.2, 0.8)):
            inst.cmd("postfix", "reload")
    load_phase(ctx, inst, load, inject)
    if inst.cmd("postfix", "status").returncode != 0:
        ctx["row"].note = "postfix status failed after the loop"
        ctx["row"].lost = ctx["row"].lost or -1
    return inst


def fault_stop_start(ctx):
    inst = make(ctx)
    load = Load(inst, "stopstart")

    def inject(stop):
        while not stop.wait(random.uniform(0.5, 1.5)):
            inst.cmd("postfix", "stop")
            start(inst)
    load_phase(ctx, inst, load, inject)
    return inst


def mount_small_fs(ctx, path, size_mb):
    """A small file system at path: tmpfs, else an ext4 loop device; Skip when neither works."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        raise Skip("needs root to mount a small file system")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        img = ctx["base"] / f"{path.name}.img"
        with open(img, "wb") as f:
            f.truncate(size_mb * 1024 * 1024)
        q = subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], capture_output=True, text=True)
        r = subprocess.run(["mount", "-o", "loop", str(img), str(path)], capture_output=True,
                           text=True) if q.returncode == 0 else q
        if r.returncode != 0:
            raise Skip(f"cannot mount tmpfs ({p.stderr.strip()}) nor a loop device "
                       f"({r.stderr.strip()})")
    ctx.setdefault("cleanups", []).append(
        lambda: subprocess.run(["umount", "-l", str(path)], capture_output=True))


def fill(path, leave_bytes):
    """Fills the file system of path until leave_bytes are free; returns the filler file."""
    filler = path / "filler"
    with open(filler, "wb") as f:
        chunk = b"\0" * (256 * 1024)
        while True:
            st = os.statvfs(path)
            free = st.f_bavail * st.f_frsize
            if free <= leave_bytes + len(chunk):
                break
            try:
                f.write(chunk)
                f.flush()
            except OSError:
                break
    return filler


def fault_queue_full(ctx):
    base = ctx["base"] / "inst"
    queue = base / "queue"
    mount_small_fs(ctx, queue, 24)
    inst = make(ctx, {"message_size_limit": "102400"})
    load = Load(inst, "queuefull")
    holder = {}

    def inject(stop):
        holder["filler"] = fill(queue, 600 * 1024)
        stop.wait(ctx["seconds"])

    def undo():
        holder["filler"].unlink()
    load_phase(ctx, inst, load, inject, undo=undo)
    return inst


def fault_mailbox_full(ctx):
    base = ctx["base"] / "inst"
    mount_small_fs(ctx, base / "mail", 16)
    inst = make(ctx)
    load = Load(inst, "mailboxfull")
    holder = {}

    def inject(stop):
        holder["filler"] = fill(inst.mail, 64 * 1024)
        stop.wait(ctx["seconds"])

    def undo():
        holder["filler"].unlink()
    load_phase(ctx, inst, load, inject, undo=undo)
    return inst


def fault_mailbox_unwritable(ctx):
    inst = make(ctx)
    from test_reliability import send_one
    send_one(inst.port, "prime@torture.test")
    inst.wait_for(lambda: (inst.mail / "user" / "new").is_dir(), what="maildir")
    dirs = [inst.mail / "user" / "tmp", inst.mail / "user" / "new"]
    load = Load(inst, "mbxro")

    def inject(stop):
        for d in dirs:
            p = subprocess.run(["chattr", "+i", str(d)], capture_output=True, text=True)
            if p.returncode != 0:
                raise Skip(f"chattr +i not possible here: {p.stderr.strip()}")
        stop.wait(ctx["seconds"])

    def undo():
        for d in dirs:
            subprocess.run(["chattr", "-i", str(d)], capture_output=True)
    ctx.setdefault("cleanups", []).append(undo)
    p = subprocess.run(["chattr", "+i", str(dirs[0])], capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip(f"chattr +i not possible here: {p.stderr.strip() or 'failed'}")
    subprocess.run(["chattr", "-i", str(dirs[0])], capture_output=True)
    load_phase(ctx, inst, load, inject, undo=undo)
    return inst


def shim_env(ctx, inst_base, **kv):
    if not SHIM.exists():
        raise Skip(f"{SHIM} not built (make torture builds it)")
    env = {"LD_PRELOAD": str(SHIM),
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    env.update(kv)
    return env


def fault_io(errname, rate):
    def fn(ctx):
        base = ctx["base"] / "inst"
        switch = ctx["base"] / "faults-on"
        env = shim_env(ctx, base, POSTERN_FAULT_DIR=str(base / "queue"),
                       POSTERN_FAULT_SWITCH=str(switch), POSTERN_FAULT_RATE=str(rate),
                       POSTERN_FAULT_ERRNO=errname)
        inst = make(ctx, env=env)
        load = Load(inst, f"io-{errname}")

        def inject(stop):
            switch.write_text("on")
            stop.wait(ctx["seconds"])

        def undo():
            switch.unlink()
        load_phase(ctx, inst, load, inject, undo=undo)
        return inst
    return fn


def fault_hang_agent(ctx):
    inst = make(ctx)
    load = Load(inst, "hang")
    stopped = []

    def inject(stop):
        while not stop.is_set():
            for pid in instance_pids(inst, "virtual"):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            stop.wait(3)
            for pid in stopped:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            stop.wait(1)

    def undo():
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    load_phase(ctx, inst, load, inject, undo=undo)
    return inst


class DroppingSink(Sink):
    """Drops connection k at protocol step k mod len(STEPS) ("ok" = a normal session)."""
    STEPS = ["greeting", "ehlo", "mail", "rcpt", "data", "body", "after-dot"] + ["ok"] * 13

    def __init__(self, delay=0.0, **kw):
        self.delay = delay
        self.count = 0
        self.dropping = True  # the fault; False once it is undone
        super().__init__(**kw)

    def session(self, conn):
        with self.lock:
            self.count += 1
            step = self.STEPS[self.count % len(self.STEPS)] if self.dropping else "ok"
        f = conn.makefile("rb")

        def say(text):
            if self.delay:
                time.sleep(self.delay)
            conn.sendall(text.encode() + b"\r\n")
        try:
            if step == "greeting":
                return
            say("220 sink.test ESMTP")
            while True:
                line = f.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    if step == "ehlo":
                        return
                    say("250-sink.test\r\n250 PIPELINING")
                elif verb == b"MAIL":
                    if step == "mail":
                        return
                    say("250 2.1.0 Ok")
                elif verb == b"RCPT":
                    if step == "rcpt":
                        return
                    say("250 2.1.5 Ok")
                elif verb == b"DATA":
                    if step == "data":
                        return
                    say("354 go on")
                    data = b""
                    while True:
                        part = f.readline()
                        if not part:
                            return
                        if part == b".\r\n":
                            break
                        data += part
                        if step == "body" and len(data) > 200:
                            return
                    with self.lock:
                        self.messages.append(data)  # the server has the message now
                    if step == "after-dot":
                        return
                    say("250 2.0.0 Ok: queued")
                elif verb == b"QUIT":
                    say("221 Bye")
                    return
                else:
                    say("250 Ok")
        except OSError:
            pass
        finally:
            conn.close()


def fault_remote(delay):
    def fn(ctx):
        slow = {"delay": delay}  # the remote is slow while the fault lasts, then normal
        sink = DroppingSink(delay=delay) if delay == 0 else Sink(data_reply=_slow(slow))
        ctx.setdefault("cleanups", []).append(sink.close)
        inst = make(ctx, {"transport_maps": f"inline:{{ remote.test=smtp:[127.0.0.1]:{sink.port} }}",
                          "smtp_helo_name": "client.test",
                          "smtp_connection_cache_on_demand": "no"})
        load = Load(inst, "remote-slow" if delay else "remote-drop", smtp_threads=2,
                    rcpt="x@remote.test")
        load_phase(ctx, inst, load, lambda stop: stop.wait(ctx["seconds"]), sink=sink,
                   undo=lambda: (setattr(sink, "dropping", False), slow.update(delay=0)))
        return inst
    return fn


def _slow(slow):
    def reply(_data):
        time.sleep(slow["delay"])
        return "250 2.0.0 Ok: queued"
    return reply


def fault_clock(ctx):
    base = ctx["base"] / "inst"
    clock = ctx["base"] / "clock"
    env = shim_env(ctx, base, POSTERN_CLOCK_FILE=str(clock))
    # Remote mail is deferred first (nothing listens), so retry times are computed while the
    # clock is off; then the clock comes back and the server appears.
    port_holder = socket.socket()
    port_holder.bind(("127.0.0.1", 0))
    port = port_holder.getsockname()[1]
    port_holder.close()
    inst = make(ctx, {"transport_maps": f"inline:{{ remote.test=smtp:[127.0.0.1]:{port} }}",
                      "smtp_helo_name": "client.test"}, env=env)
    load = Load(inst, "clock", rcpt="x@remote.test")
    holder = {}

    def inject(stop):
        for off in (3600, -86400, 7200, 0):
            clock.write_text(str(off))
            if stop.wait(ctx["seconds"] / 4):
                break
        clock.write_text("3600")  # ends one hour ahead, then jumps back when undone

    def undo():
        clock.write_text("0")
        holder["sink"] = Sink(port=port)
        ctx.setdefault("cleanups", []).append(holder["sink"].close)

    load.start()
    stop = threading.Event()
    t = threading.Thread(target=inject, args=(stop,), daemon=True)
    t.start()
    time.sleep(ctx["seconds"])
    stop.set()
    t.join()
    load.stop()
    undo()
    settle(inst, load, holder["sink"], time.time(), ctx["row"])
    bounced = inst.maillog().count("status=bounced")
    if bounced:
        ctx["row"].note = f"{bounced} bounced"
    return inst


FAULTS = [
    ("kill9-smtpd", fault_kill9("smtpd"), True),
    ("kill9-qmgr", fault_kill9("qmgr"), False),
    ("kill9-pickup", fault_kill9("pickup"), False),
    ("kill9-virtual", fault_kill9("virtual"), False),
    ("kill9-local", fault_kill9("local", local_target), False),
    ("kill9-smtp", fault_kill9("smtp", remote_target), False),
    ("kill9-master", fault_kill9("master"), False),
    ("kill9-all", fault_kill9("all"), True),
    ("reload-loop", fault_reload, True),
    ("stop-start-loop", fault_stop_start, False),
    ("queue-fs-full", fault_queue_full, False),
    ("mailbox-fs-full", fault_mailbox_full, False),
    ("mailbox-unwritable", fault_mailbox_unwritable, False),
    ("io-EIO-5%", fault_io("EIO", 0.05), True),
    ("io-ENOSPC-5%", fault_io("ENOSPC", 0.05), False),
    ("agent-hangs", fault_hang_agent, False),
    ("remote-drops", fault_remote(0), False),
    ("remote-slow-3s", fault_remote(3.0), False),
    ("clock-jumps", fault_clock, False),
]


def print_table(rows, out=sys.stdout):
    head = ("fault", "acknowledged", "delivered", "lost", "duplicated", "recovery")
    lines = []
    for r in rows:
        if r.skipped:
            lines.append((r.fault, "-", "-", "-", "-", f"skipped: {r.skipped}"))
            continue
        rec = f"{r.recovery:.1f}s" if r.recovery is not None else "never"
        lines.append((r.fault, str(r.acked), str(r.delivered), str(max(r.lost, 0)) if r.lost >= 0
                      else "ERROR", str(r.dups), rec + (f"  ({r.note})" if r.note else "")))
    out.write("| " + " | ".join(head) + " |\n")
    out.write("|" + "---|" * len(head) + "\n")
    for l in lines:
        out.write("| " + " | ".join(l) + " |\n")
    out.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="the short form run by make check")
    ap.add_argument("--only", help="comma-separated fault names")
    ap.add_argument("--seconds", type=float, help="load seconds per fault (short 6, full 20)")
    args = ap.parse_args()
    seconds = args.seconds or (6 if args.short else 20)
    chosen = [f for f in FAULTS if (f[2] or not args.short)]
    if args.only:
        names = set(args.only.split(","))
        chosen = [f for f in FAULTS if f[0] in names]
    workdir = tempfile.mkdtemp(prefix="postern-torture-")
    rows = []
    t0 = time.time()
    for name, fn, _ in chosen:
        t = time.time()
        row = run_fault(name, fn, seconds, workdir)
        rows.append(row)
        print(f"# {name}: {time.time() - t:.0f}s", file=sys.stderr, flush=True)
    if not os.environ.get("TORTURE_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"torture ({'short' if args.short else 'full'} form, {seconds:.0f}s of load per "
          f"fault): {time.time() - t0:.0f}s")
    print_table(rows)
    bad = [r for r in rows if not r.skipped and (r.lost != 0 or r.recovery is None)]
    ok = len(rows) - len(bad) - sum(1 for r in rows if r.skipped)
    print(f"torture: {ok} passed, {len(bad)} failed, {sum(1 for r in rows if r.skipped)} skipped")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
