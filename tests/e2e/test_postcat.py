"""postcat: queue files shown as Postfix's postcat shows them.

The queue files are built here from the documented record format (docs/queue-format.md), so
these tests also pin the on-disk format that the C writer produces (tests/unit/test_queue_file.c
checks the writer against the reader).
"""
import os


def record(rtype, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    n = len(data)
    out = bytearray([ord(rtype)])
    while True:
        group = n & 0x7F
        n >>= 7
        out.append(group | 0x80 if n else group)
        if not n:
            return bytes(out) + data


def queue_file(lines, rcpts, extracted=(), sender="sender@example.org", arrival=1234782401):
    env = [("T", f"{arrival} 123456"), ("F", str(arrival)), ("A", "rewrite_context=local"),
           ("S", sender)]
    for r, done in rcpts:
        env += [("O", r), ("D" if done else "R", r)]
    env_bytes = b"".join(record(t, d) for t, d in env)
    body = b"".join(record("N", line) for line in lines)
    size = sum(len(line.encode()) + 1 for line in lines)
    message_offset = 65 + len(env_bytes)
    xtra_offset = message_offset + 17 + len(body)
    head = record("C", "%15d %15d %15d %15d" % (size, message_offset,
                                                 len(rcpts) + len(extracted), 0))
    tail = record("X", "") + b"".join(record("O", r) + record("R", r) for r in extracted)
    return head + env_bytes + record("M", "%15d" % xtra_offset) + body + tail + record("E", "")


LINES = ["Received: from localhost", "\tby mx.example.test", "Subject: hello", "",
         "first body line", "Subject: not a header here"]


def place(instance, queue, qid, data, hashed=False):
    d = instance.queue / queue
    if hashed:
        d = d / qid[0]
    d.mkdir(parents=True, exist_ok=True)
    p = d / qid
    p.write_bytes(data)
    os.chmod(p, 0o700)
    return p



def test_postcat_q_finds_hashed_deferred_file(instance):
    data = queue_file(LINES, [("www-data@hydra.udag.de", False), ("done@example.org", True)],
                      extracted=["x@example.net"])
    place(instance, "deferred", "9DF7520804A", data, hashed=True)
    p = instance.cmd("postcat", "-q", "9DF7520804A", env={"TZ": "UTC"})
    assert p.returncode == 0, p.stderr
    label = "deferred/9/9DF7520804A"
    size = sum(len(x) + 1 for x in LINES)
    assert p.stdout == (
        f"*** ENVELOPE RECORDS {label} ***\n"
        # The size record verbatim, as Postfix's postcat prints it (fixed-width fields).
        "message_size: %15d %15d %15d %15d\n" % (size, data.index(b'M' + bytes([15])), 3, 0) +
        "message_arrival_time: Mon Feb 16 11:06:41 2009\n"
        "create_time: Mon Feb 16 11:06:41 2009\n"
        "named_attribute: rewrite_context=local\n"
        "sender: sender@example.org\n"
        "original_recipient: www-data@hydra.udag.de\n"
        "recipient: www-data@hydra.udag.de\n"
        "original_recipient: done@example.org\n"
        "done_recipient: done@example.org\n"
        f"*** MESSAGE CONTENTS {label} ***\n"
        + "".join(x + "\n" for x in LINES) +
        f"*** HEADER EXTRACTED {label} ***\n"
        "original_recipient: x@example.net\n"
        "recipient: x@example.net\n"
        f"*** MESSAGE FILE END {label} ***\n")


def test_postcat_section_options(instance):
    place(instance, "incoming", "ABCDE123", queue_file(LINES, [("r@example.com", False)]))
    h = instance.cmd("postcat", "-h", "-q", "ABCDE123")
    assert h.returncode == 0, h.stderr
    assert h.stdout == "Received: from localhost\n\tby mx.example.test\nSubject: hello\n"
    b = instance.cmd("postcat", "-b", "-q", "ABCDE123")
    assert b.stdout == "\nfirst body line\nSubject: not a header here\n"
    e = instance.cmd("postcat", "-e", "-q", "ABCDE123")
    assert e.stdout.startswith("*** ENVELOPE RECORDS incoming/ABCDE123 ***\nmessage_size: ")
    assert "Subject" not in e.stdout
    assert "*** MESSAGE FILE END incoming/ABCDE123 ***" in e.stdout
    bh = instance.cmd("postcat", "-bh", "-q", "ABCDE123")
    assert bh.stdout == "".join(x + "\n" for x in LINES)


def test_postcat_file_and_stdin(instance, tmp_path):
    data = queue_file(["Subject: s", "", "b"], [("r@example.com", False)])
    f = tmp_path / "qf"
    f.write_bytes(data)
    p = instance.cmd("postcat", str(f))
    assert p.returncode == 0
    assert p.stdout.startswith(f"*** ENVELOPE RECORDS {f} ***\n")
    s = instance.cmd("postcat", "-b", input=data.decode("latin-1"))
    assert s.returncode == 0
    assert s.stdout == "\nb\n"


def test_postcat_errors(instance, tmp_path):
    p = instance.cmd("postcat", "-q", "ABCDEF0123")
    assert p.returncode == 1
    assert "postcat: fatal: open queue file ABCDEF0123: No such file or directory" in p.stderr
    p = instance.cmd("postcat", "-q", "../etc/passwd")
    assert p.returncode == 1
    assert "bad mail queue ID" in p.stderr
    p = instance.cmd("postcat", "-Z", "x")
    assert p.returncode == 64
    notq = tmp_path / "plain.txt"
    notq.write_text("From: someone\n")
    p = instance.cmd("postcat", str(notq))
    assert p.returncode == 0
    assert "input is not a valid queue file" in p.stderr
    assert p.stdout == ""
    broken = tmp_path / "broken"
    broken.write_bytes(queue_file(["x"], [("r@x", False)])[:-30] + b"\x7f\x7f")
    p = instance.cmd("postcat", str(broken))
    assert p.returncode == 1
    assert "record read error" in p.stderr
