"""Durability shortcuts of the fast receive-and-deliver path, end to end.

smtpd commits queue files on worker threads (group commit) and replies 250 only when the fsyncs
are done; the queue manager moves a scan's files to active/ with one directory fsync, and does
not fsync done marks of a file it removes at once (docs/queue-format.md, "Durability"). Each
test here pins one of those: replies stay in order under pipelining, a client that vanishes
mid-commit costs nothing, acknowledged mail survives kill -9 with many commits in flight, and a
file that stays in the queue keeps its done marks.
"""
import os
import re
import signal
import socket
import struct
import time

from conftest import free_port
from test_reliability import AckedSenders, delivered_ids, kill9_instance, send_one


def read_reply(f):
    """One SMTP reply (all its lines) from a socket file."""
    lines = []
    while True:
        line = f.readline()
        assert line, "connection closed while reading a reply: %r" % lines
        lines.append(line.decode().rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def message(msgid):
    return (f"From: <a@example.org>\r\nTo: <user@virtual.test>\r\nSubject: {msgid}\r\n"
            f"Message-ID: <{msgid}>\r\n\r\nbody of {msgid}\r\n.\r\n")


def test_pipelined_transactions_get_their_replies_in_order(instance):
    instance.start()
    with socket.create_connection(("127.0.0.1", instance.port), timeout=30) as s:
        f = s.makefile("rb")
        assert read_reply(f)[0].startswith("220")
        s.sendall(b"EHLO client.example.com\r\n")
        assert "250 DSN" in read_reply(f)
        s.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<user@virtual.test>\r\nDATA\r\n")
        assert read_reply(f)[0].startswith("250 2.1.0")
        assert read_reply(f)[0].startswith("250 2.1.5")
        assert read_reply(f)[0].startswith("354")
        ids = []
        for i in range(5):
            # The end of one message and the next transaction in one write: the 250 for the
            # message must come first although its commit finishes on another thread.
            nxt = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<user@virtual.test>\r\nDATA\r\n"
                   if i < 4 else b"QUIT\r\n")
            s.sendall(message(f"pipe-{i}@durability.test").encode() + nxt)
            r = read_reply(f)[0]
            m = re.match(r"250 2\.0\.0 Ok: queued as (\w+)$", r)
            assert m, r
            ids.append(m.group(1))
            if i < 4:
                assert read_reply(f)[0].startswith("250 2.1.0")
                assert read_reply(f)[0].startswith("250 2.1.5")
                assert read_reply(f)[0].startswith("354")
            else:
                assert read_reply(f)[0].startswith("221")
    assert len(set(ids)) == 5
    want = {f"pipe-{i}@durability.test" for i in range(5)}
    instance.wait_for(lambda: want <= set(delivered_ids(instance)), what="five pipelined messages")


def test_client_reset_during_commit_still_queues_and_server_goes_on(instance):
    instance.start()
    for i in range(10):
        s = socket.create_connection(("127.0.0.1", instance.port), timeout=30)
        f = s.makefile("rb")
        read_reply(f)
        s.sendall(b"HELO client.example.com\r\n")
        read_reply(f)
        s.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<user@virtual.test>\r\nDATA\r\n")
        for _ in range(3):
            read_reply(f)
        # The whole message, then a reset at once (SO_LINGER 0): the session goes away while
        # its commit may still be on a worker thread.
        s.sendall(message(f"reset-{i}@durability.test").encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        f.close()
        s.close()
    # The message was complete: it is queued and delivered like any other (as Postfix does).
    want = {f"reset-{i}@durability.test" for i in range(10)}
    instance.wait_for(lambda: want <= set(delivered_ids(instance)), what="messages of reset clients")
    send_one(instance.port, "after-resets@durability.test")
    instance.wait_for(lambda: "after-resets@durability.test" in delivered_ids(instance),
                      what="a message after the resets")
    log = instance.maillog()
    assert "fatal" not in log and "ERROR: AddressSanitizer" not in log, log[-3000:]


def test_kill9_with_many_commits_in_flight_loses_nothing_acknowledged(instance):
    instance.start()
    senders = AckedSenders(instance, "group-{}@durability.test", 40)
    try:
        for delay in (1.5, 2.5):
            time.sleep(delay)
            kill9_instance(instance)
            instance.start()
        time.sleep(1.5)
    finally:
        senders.stop()
    acked = senders.acked
    assert len(acked) > 50, f"too few messages acknowledged to prove anything: {len(acked)}"
    want = set(acked)
    instance.wait_for(lambda: want <= set(delivered_ids(instance)), timeout=240,
                      what=f"{len(want)} acknowledged messages in the Maildir")
    # Nothing a crash interrupted is left behind as a stray file in the queue.
    assert not [p for p in (instance.queue / "incoming").iterdir() if "." in p.name]


def test_done_marks_of_a_deferred_message_survive_a_crash(instance):
    closed = free_port()  # nothing listens: the second recipient is deferred
    instance.write_main_cf({
        "transport_maps": f"inline:{{ later.test=smtp:[127.0.0.1]:{closed} }}",
        "minimal_backoff_time": "1s", "maximal_backoff_time": "2s", "queue_run_delay": "1s"})
    instance.start()
    body = message("kept@durability.test")[:-3]  # smtplib adds the end of data
    import smtplib
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as s:
        s.sendmail("a@example.org", ["user@virtual.test", "r@later.test"], body)
    instance.wait_for(lambda: any(p.is_file() for p in (instance.queue / "deferred").rglob("*")),
                      what="the message in deferred/")
    assert delivered_ids(instance) == ["kept@durability.test"]
    # kill -9 everything, start again and let the deferred message be tried a few more times:
    # the delivered recipient is marked done in the kept file, so it gets no second copy.
    kill9_instance(instance)
    instance.start()
    instance.cmd("postqueue", "-f", check=True)
    instance.wait_for(lambda: instance.maillog().count("r@later.test") >= 3, timeout=30,
                      what="more attempts for the deferred recipient")
    assert delivered_ids(instance) == ["kept@durability.test"]


def queued_ids(instance):
    return re.findall(r"postern/qmgr\[\d+\]: (\w+): removed", instance.maillog())


def send_batch(instance, prefix, count, body):
    """Sends count messages <prefix-N@recycle.test> over one session and waits until the
    Maildir holds that many more messages."""
    import smtplib
    before = len(delivered_ids(instance))
    with smtplib.SMTP("127.0.0.1", instance.port, timeout=30) as s:
        for i in range(count):
            s.sendmail("a@example.org", ["user@virtual.test"],
                       f"Message-ID: <{prefix}-{i}@recycle.test>\r\n\r\n{body} {i}\r\n")
    want = before + count
    instance.wait_for(lambda: len(delivered_ids(instance)) == want, what=f"{want} messages")


def claim_pids(instance):
    """The pids named by claimed spares in recycle/ (claim.PID.N)."""
    recycle = instance.queue / "recycle"
    return {int(p.name.split(".")[1]) for p in recycle.iterdir() if p.name.startswith("claim.")}


def test_recycled_queue_files_carry_nothing_of_the_old_message(instance):
    """Finished queue files are emptied and reused (queue_recycle.h): the new message's file has
    the old one's inode, and not one byte of the old content reaches the new delivery."""
    instance.start()
    big = "OLD-CONTENT " * 4000  # ~48 KB, longer than any later message
    send_batch(instance, "old", 60, big)
    instance.wait_for(lambda: len(queued_ids(instance)) == 60, what="60 removed lines")
    old_inodes = {int(q[5:], 16) for q in queued_ids(instance)}
    send_batch(instance, "new", 60, "short")
    instance.wait_for(lambda: len(queued_ids(instance)) == 120, what="120 removed lines")
    new_ids = queued_ids(instance)[60:]
    reused = [q for q in new_ids if int(q[5:], 16) in old_inodes]
    assert len(reused) >= 20, f"only {len(reused)} of 60 new queue files reused an inode"
    for data in instance.maildir_messages("user"):
        if b"<new-" in data:
            assert b"OLD-CONTENT" not in data
            assert len(data) < 2000
    assert sorted(delivered_ids(instance)) == sorted(
        [f"old-{i}@recycle.test" for i in range(60)] + [f"new-{i}@recycle.test" for i in range(60)])


def test_claimed_recycled_files_are_gone_after_a_crash_and_restart(instance):
    instance.start()
    send_batch(instance, "c", 80, "body")
    # smtpd keeps recycled files claimed as spares once the first ones come back.
    instance.wait_for(lambda: claim_pids(instance), what="claimed spares in recycle/")
    kill9_instance(instance)
    instance.start()
    assert not claim_pids(instance)
    send_one(instance.port, "after-restart@recycle.test")
    instance.wait_for(lambda: "after-restart@recycle.test" in delivered_ids(instance),
                      what="a message after the restart")


def test_postsuper_p_removes_the_claims_of_a_killed_smtpd(instance):
    instance.write_main_cf({"service_throttle_time": "1s"})  # smtpd comes back soon after kill
    instance.start()
    send_batch(instance, "p", 80, "body")
    instance.wait_for(lambda: claim_pids(instance), what="claimed spares in recycle/")
    dead = claim_pids(instance)
    for pid in dead:
        os.kill(pid, signal.SIGKILL)  # only smtpd: the master lives on and starts another
    time.sleep(0.5)
    assert claim_pids(instance) & dead, "the killed smtpd's claims should still be there"
    instance.cmd("postsuper", "-p", check=True)
    assert not claim_pids(instance) & dead
    send_one(instance.port, "after-postsuper@recycle.test")
    instance.wait_for(lambda: "after-postsuper@recycle.test" in delivered_ids(instance),
                      what="a message after postsuper -p")
