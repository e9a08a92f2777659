"""Golden-file tests: postqueue, mailq, postcat and postsuper print what Postfix prints.

One whole instance (postfix start) is brought into a known queue situation with real mail:
  * ID_DEFERRED  sender@example.test -> a@slow.test, b@slow.test: deferred, because slow.test is
                 routed to a loopback port where nothing listens ("Connection refused");
  * ID_HELD      <> -> d@other.test: deferred the same way (another closed port), then put on
                 hold with postsuper -h;
  * ID_ACTIVE    sender@example.test -> x@hang.test: in the active queue, because hang.test is
                 routed to a port that accepts connections but never greets, so the smtp client
                 waits (smtp_helo_timeout, 300s) while the test runs.
Then each tool's output is compared line by line with a file in tests/golden/, written by hand
from Postfix's formats (see tests/golden/README.md). The variable parts (queue ids, sizes,
dates, ports, offsets) are placeholders, filled in here from values the test knows on its own:
sizes from the message text it submitted, times and offsets by decoding the queue file with
the documented record format (docs/queue-format.md), ids from the queue directories.
"""
import pathlib
import re
import socket
import time

import pytest

from conftest import free_port

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden"
UTC = {"TZ": "UTC"}

# {NAME}, {NAME*}, {NAME:<11}, {NAME!:<11}: a value, optional status marks appended to it,
# then optional left (<) or right (>) alignment in a field of the given width (printf's %-11s
# and %11s). Other braces (JSON) are literal.
PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)([*!#]*)(?::([<>])(\d+))?\}")

MESSAGES = {
    "DEFERRED": ("sender@example.test", ["a@slow.test", "b@slow.test"],
                 "From: Sender <sender@example.test>\n"
                 "To: a@slow.test, b@slow.test\n"
                 "Subject: golden deferred\n"
                 "Date: Mon, 16 Feb 2009 03:06:41 -0800\n"
                 "Message-ID: <golden-deferred@example.test>\n"
                 "X-Folded: first part\n"
                 "\tsecond part\n"
                 "\n"
                 "first body line\n"
                 ".leading dot\n"
                 "last line\n"),
    "HELD": ("", ["d@other.test"],
             "From: Mail Delivery System <MAILER-DAEMON@example.test>\n"
             "To: d@other.test\n"
             "Subject: golden held\n"
             "Date: Mon, 16 Feb 2009 03:07:00 -0800\n"
             "Message-ID: <golden-held@example.test>\n"
             "\n"
             "held body\n"),
    "ACTIVE": ("sender@example.test", ["x@hang.test"],
               "From: sender@example.test\n"
               "To: x@hang.test\n"
               "Subject: golden active\n"
               "Date: Mon, 16 Feb 2009 03:08:00 -0800\n"
               "Message-ID: <golden-active@example.test>\n"
               "\n"
               "active body, a little longer than the others so the sizes differ\n"),
}


def render(name, values):
    text = (GOLDEN / name).read_text()

    def fill(m):
        value = str(values[m.group(1)]) + m.group(2)
        if m.group(3) == "<":
            return value.ljust(int(m.group(4)))
        if m.group(3) == ">":
            return value.rjust(int(m.group(4)))
        return value

    return PLACEHOLDER.sub(fill, text)


def assert_matches_golden(actual, name, values):
    expected = render(name, values)
    exp_lines, act_lines = expected.split("\n"), actual.split("\n")
    for n, (e, a) in enumerate(zip(exp_lines, act_lines), 1):
        assert a == e, \
            f"{name} line {n} differs:\n  want {e!r}\n  got  {a!r}\n--- got ---\n{actual}"
    assert len(act_lines) == len(exp_lines), \
        f"{name}: {len(act_lines)} lines, want {len(exp_lines)}\n--- got ---\n{actual}"


# ---- reading a queue file with the documented record format ----

def records(data):
    """(offset, type, payload) for each record: type byte, 7-bit-group length, data."""
    pos = 0
    while pos < len(data):
        start, rtype = pos, chr(data[pos])
        pos += 1
        length, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        yield start, rtype, data[pos:pos + length]
        pos += length


def queue_file_facts(path):
    facts = {}
    for offset, rtype, payload in records(path.read_bytes()):
        if rtype == "T":
            facts["arrival"] = int(payload.split()[0])
        elif rtype == "F":
            facts["created"] = int(payload)
        elif rtype == "M":
            facts["m_offset"] = offset
            break
    return facts


def files_in(instance, queue):
    d = instance.queue / queue
    return {p.name: p for p in d.rglob("*") if p.is_file()} if d.is_dir() else {}


# ---- the queue situation ----

@pytest.fixture
def situation(instance):
    """Builds the deferred/held/active queue; returns (instance, placeholder values)."""
    port_slow, port_other = free_port(), free_port()
    hang = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hang.bind(("127.0.0.1", 0))
    hang.listen(5)  # connections complete in the backlog; no greeting is ever sent
    port_hang = hang.getsockname()[1]
    # Ports from the kernel's ephemeral range have 5 digits, so each reason line has a known
    # length and its right alignment at column 76 is tested exactly.
    assert len(str(port_slow)) == 5 and len(str(port_other)) == 5
    instance.write_main_cf({
        "transport_maps": "inline:{ "
                          f"slow.test=smtp:[127.0.0.1]:{port_slow}, "
                          f"other.test=smtp:[127.0.0.1]:{port_other}, "
                          f"hang.test=smtp:[127.0.0.1]:{port_hang} }}",
        # Nothing is retried while the test looks at the queue.
        "queue_run_delay": "3600s", "minimal_backoff_time": "3600s",
        "maximal_backoff_time": "7200s",
    })
    instance.start()
    values = {"PORT_SLOW": port_slow, "PORT_OTHER": port_other}

    empty = instance.cmd("postqueue", "-p", env=UTC)
    assert empty.returncode == 0, empty.stderr
    values["EMPTY_LISTING"] = empty.stdout
    values["EMPTY_JSON"] = instance.cmd("postqueue", "-j", env=UTC).stdout

    def submit(key):
        sender, rcpts, text = MESSAGES[key]
        instance.cmd("sendmail", "-f", sender or "<>", *rcpts, input=text, check=True)

    def settle_deferred(known):
        def ready():
            new = set(files_in(instance, "deferred")) - known
            return next(iter(new)) if len(new) == 1 and not files_in(instance, "active") \
                and not files_in(instance, "incoming") else None
        return instance.wait_for(ready, what="one more message in deferred/")

    submit("DEFERRED")
    values["ID_DEFERRED"] = settle_deferred(set())
    submit("HELD")
    values["ID_HELD"] = settle_deferred({values["ID_DEFERRED"]})
    hold = instance.cmd("postsuper", "-h", values["ID_HELD"])
    assert hold.returncode == 0, hold.stderr
    submit("ACTIVE")
    values["ID_ACTIVE"] = instance.wait_for(
        lambda: next(iter(files_in(instance, "active")), None), what="a message in active/")
    instance.wait_for(lambda: f"{values['ID_ACTIVE']}: from=<sender@example.test>" in
                      instance.maillog(), what="the active message in the log")

    paths = {"DEFERRED": files_in(instance, "deferred")[values["ID_DEFERRED"]],
             "HELD": files_in(instance, "hold")[values["ID_HELD"]],
             "ACTIVE": files_in(instance, "active")[values["ID_ACTIVE"]]}
    total = 0
    for key, path in paths.items():
        facts = queue_file_facts(path)
        size = len(MESSAGES[key][2].encode())
        total += size
        values[f"SIZE_{key}"] = size
        values[f"EPOCH_{key}"] = facts["arrival"]
        values[f"DATE_{key}"] = time.asctime(time.gmtime(facts["arrival"]))[:19]
        values[f"ARRIVAL_{key}"] = time.asctime(time.gmtime(facts["arrival"]))
        values[f"CREATED_{key}"] = time.asctime(time.gmtime(facts["created"]))
        values[f"OFFSET_{key}"] = facts["m_offset"]
        # the hashed subdirectories between the queue name and the file ("5" in deferred/5/ID)
        values[f"HASH_{key}"] = "/".join(path.relative_to(instance.queue).parts[1:-1])
    values["KBYTES"] = total // 1024
    try:
        yield instance, values
    finally:
        hang.close()


# ---- the tests ----

def test_postqueue_p_empty(instance):
    instance.start()
    p = instance.cmd("postqueue", "-p", env=UTC)
    assert p.returncode == 0, p.stderr
    assert_matches_golden(p.stdout, "postqueue-p-empty.txt", {})
    j = instance.cmd("postqueue", "-j", env=UTC)
    assert j.returncode == 0 and j.stdout == ""  # -j prints one line per message, none here


def test_postqueue_p_deferred_held_active(situation):
    instance, values = situation
    assert_matches_golden(values["EMPTY_LISTING"], "postqueue-p-empty.txt", values)
    p = instance.cmd("postqueue", "-p", env=UTC)
    assert p.returncode == 0, p.stderr
    assert_matches_golden(p.stdout, "postqueue-p-deferred-held-active.txt", values)
    m = instance.cmd("mailq", env=UTC)  # the Sendmail-compatible name prints the same
    assert m.returncode == 0, m.stderr
    assert_matches_golden(m.stdout, "postqueue-p-deferred-held-active.txt", values)


def test_postqueue_j(situation):
    instance, values = situation
    assert values["EMPTY_JSON"] == ""
    p = instance.cmd("postqueue", "-j", env=UTC)
    assert p.returncode == 0, p.stderr
    assert_matches_golden(p.stdout, "postqueue-j.txt", values)


@pytest.mark.parametrize("options,golden", [
    ((), "postcat-q.txt"),
    (("-h",), "postcat-q-h.txt"),
    (("-b",), "postcat-q-b.txt"),
    (("-e",), "postcat-q-e.txt"),
])
def test_postcat_q(situation, options, golden):
    instance, values = situation
    p = instance.cmd("postcat", *options, "-q", values["ID_DEFERRED"], env=UTC)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert_matches_golden(p.stdout, golden, values)


def test_postcat_q_e_held_null_sender(situation):
    # A held message is found in hold/ (not hashed by default); the null sender shows as an
    # empty value after "sender: ", as Postfix prints it.
    instance, values = situation
    p = instance.cmd("postcat", "-e", "-q", values["ID_HELD"], env=UTC)
    assert p.returncode == 0, p.stderr
    assert_matches_golden(p.stdout, "postcat-q-e-held.txt", values)


def test_postcat_q_headers_and_body_are_the_message(situation):
    # -bh is the message as submitted, byte for byte (no envelope, no markers).
    instance, values = situation
    p = instance.cmd("postcat", "-bh", "-q", values["ID_DEFERRED"], env=UTC)
    assert p.returncode == 0, p.stderr
    assert p.stdout == MESSAGES["DEFERRED"][2]


def test_postsuper_hold_release_delete(situation):
    instance, values = situation
    qid = values["ID_DEFERRED"]
    h = instance.cmd("postsuper", "-h", qid)
    assert h.returncode == 0 and h.stdout == ""
    assert qid in files_in(instance, "hold")
    r = instance.cmd("postsuper", "-H", qid)
    assert r.returncode == 0 and r.stdout == ""
    assert qid in files_in(instance, "deferred") and qid not in files_in(instance, "hold")
    assert_matches_golden(h.stderr + r.stderr, "postsuper-h-H.txt", values)

    d = instance.cmd("postsuper", "-d", values["ID_HELD"])
    assert d.returncode == 0 and d.stdout == ""
    assert_matches_golden(d.stderr, "postsuper-d.txt", values)
    assert values["ID_HELD"] not in files_in(instance, "hold")
    log = instance.maillog()
    assert "postsuper[" in log and f": {values['ID_HELD']}: removed" in log

    listing = instance.cmd("postqueue", "-p", env=UTC).stdout
    assert "-- 0 Kbytes in 2 Requests." in listing and values["ID_HELD"] not in listing

    a = instance.cmd("postsuper", "-d", "ALL")
    assert a.returncode == 0 and a.stdout == ""
    assert_matches_golden(a.stderr, "postsuper-d-ALL.txt", values)
    p = instance.cmd("postqueue", "-p", env=UTC)
    assert_matches_golden(p.stdout, "postqueue-p-empty.txt", values)
