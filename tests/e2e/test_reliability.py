"""Reliability end to end: concurrency, crash safety, load from Postfix's smtp-source.

These run the whole instance (master, smtpd, qmgr, virtual) and count what lands in the Maildir.
"""
import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import threading
import time

import pytest

MSGID_RE = re.compile(rb"^Message-ID: <([^>]+)>", re.M | re.I)


def delivered_ids(inst, rel="user"):
    ids = []
    for data in inst.maildir_messages(rel):
        m = MSGID_RE.search(data)
        if m:
            ids.append(m.group(1).decode())
    return ids


def send_one(port, msgid, rcpt="user@virtual.test", timeout=30):
    body = (f"From: sender@example.org\r\nTo: {rcpt}\r\nSubject: {msgid}\r\n"
            f"Message-ID: <{msgid}>\r\n\r\nbody of {msgid}\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as s:
        s.sendmail("sender@example.org", [rcpt], body)


class AckedSenders:
    """count threads sending one message after another to inst ("<prefix>-N@<domain>" message
    ids) until stop(); .acked lists the ids the server acknowledged. A refused or cut-off
    transaction is not acknowledged and is retried with the next id."""

    def __init__(self, inst, msgid_format, count):
        self.inst = inst
        self.msgid_format = msgid_format  # "crash-{}@crash.test"
        self.acked, self.lock, self.stopping = [], threading.Lock(), threading.Event()
        self.counter = iter(range(10**9))
        self.threads = [threading.Thread(target=self.run) for _ in range(count)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stopping.is_set():
            with self.lock:
                msgid = self.msgid_format.format(next(self.counter))
            try:
                send_one(self.inst.port, msgid, timeout=10)
            except Exception:  # noqa: BLE001 - refused or cut off: not acknowledged
                time.sleep(0.05)
                continue
            with self.lock:
                self.acked.append(msgid)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()


def instance_pids(inst):
    """Every process of this instance: postern processes whose command line names its etc dir."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if str(inst.etc).encode() in cmd:
            pids.append(int(d))
    return pids


def kill9_instance(inst):
    """kill -9 every process of the instance, then give the kernel a moment to reap them."""
    for pid in instance_pids(inst):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)


def test_concurrent_clients_every_message_exactly_once(instance):
    instance.start()
    clients, per_client = 20, 50
    errors = []

    def client(c):
        try:
            for i in range(per_client):
                send_one(instance.port, f"c{c}-m{i}@concurrency.test")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    want = {f"c{c}-m{i}@concurrency.test" for c in range(clients) for i in range(per_client)}
    instance.wait_for(lambda: len(delivered_ids(instance)) >= len(want), timeout=180,
                      what=f"{len(want)} deliveries")
    time.sleep(1)
    got = delivered_ids(instance)
    assert sorted(got) == sorted(want), "lost or duplicated messages"


def test_kill9_under_load_loses_nothing_acknowledged(instance):
    instance.start()
    source = None
    if shutil.which("smtp-source"):
        source = subprocess.Popen(
            ["smtp-source", "-s", "5", "-m", "2000", "-f", "load@example.org",
             "-t", "user@virtual.test", f"127.0.0.1:{instance.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    senders = AckedSenders(instance, "crash-{}@crash.test", 6)
    try:
        for _ in range(2):
            time.sleep(random.uniform(1.0, 3.0))
            kill9_instance(instance)
            instance.start()
        time.sleep(random.uniform(1.0, 2.0))
    finally:
        senders.stop()
        if source:
            try:
                source.wait(timeout=120)
            except subprocess.TimeoutExpired:
                source.kill()
    acked = senders.acked
    assert len(acked) > 50, f"too few messages acknowledged to prove anything: {len(acked)}"
    want = set(acked)
    instance.wait_for(lambda: want <= set(delivered_ids(instance)), timeout=240,
                      what=f"{len(want)} acknowledged messages in the Maildir")


@pytest.mark.skipif(not shutil.which("smtp-source"), reason="Postfix's smtp-source not installed")
def test_smtp_source_load_all_delivered(instance):
    instance.start()
    n = 500
    p = subprocess.run(["smtp-source", "-s", "10", "-m", str(n), "-l", "2048",
                        "-f", "load@example.org", "-t", "other@virtual.test",
                        f"127.0.0.1:{instance.port}"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    instance.wait_for(lambda: len(instance.maildir_messages("other")) >= n, timeout=180,
                      what=f"{n} smtp-source messages")
    time.sleep(0.5)
    assert len(instance.maildir_messages("other")) == n
    log = instance.maillog()
    assert log.count("status=sent (delivered to maildir)") >= n
    assert re.search(r"postern/smtpd\[\d+\]: disconnect from \S+\[127\.0\.0\.1\]", log)
