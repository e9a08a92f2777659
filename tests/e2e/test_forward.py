"""Local forwarding to non-local addresses: an alias that points to another domain makes the local
agent queue one new message (same envelope sender, orig = the alias, Delivered-To: added) that
the SMTP client then delivers to a sink; loops end in a 5.4.6 bounce."""
import os
import pathlib
import pwd
import re
import shutil
import smtplib
import tempfile

import pytest

from conftest import Instance
from smtp_peers import Sink

SENDER = "sender@example.com"


def send(inst, rcpts, body="Subject: forward me\r\n\r\nforwarded body\r\n", sender=SENDER):
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=30) as s:
        s.ehlo("client.example.com")
        s.sendmail(sender, rcpts, body)


def configure(inst, sink_port, aliases, extra=None):
    cfg = {"alias_maps": f"inline:{{ {aliases} }}",
           "transport_maps": f"inline:{{ sink.test=smtp:[127.0.0.1]:{sink_port}, "
                             f"loop.test=local: }}",
           "local_recipient_maps": "",
           "smtp_helo_name": "client.test"}
    cfg.update(extra or {})
    inst.write_main_cf(cfg)


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def forwarded_id(inst, to, orig):
    m = re.search(rf"(\w+): to=<{re.escape(to)}>, orig_to=<{re.escape(orig)}>, relay=local, "
                  r".*dsn=2\.0\.0, status=sent \(forwarded as (\w+)\)", inst.maillog())
    return m and (m.group(1), m.group(2))


def test_alias_to_remote_address_is_forwarded(instance, sink):
    configure(instance, sink.port, "fwd=remote@sink.test")
    instance.start()
    send(instance, ["fwd@mx.example.test"])
    ids = instance.wait_for(lambda: forwarded_id(instance, "remote@sink.test",
                                                 "fwd@mx.example.test"),
                            what="forwarded as")
    old_id, new_id = ids
    assert old_id != new_id
    instance.wait_for(lambda: sink.messages, what="message at the sink")
    log = instance.wait_for(
        lambda: re.search(rf"{new_id}: to=<remote@sink\.test>, orig_to=<fwd@mx\.example\.test>, "
                          rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port}, .*status=sent",
                          instance.maillog()),
        what="delivery of the forwarded copy")
    assert log
    assert f"{new_id}: from=<{SENDER}>" in instance.maillog()
    assert any(c.startswith(f"MAIL FROM:<{SENDER}>") for c in sink.commands), sink.commands
    assert "RCPT TO:<remote@sink.test>" in sink.commands
    msg = sink.messages[0]
    assert msg.startswith(b"Delivered-To: fwd@mx.example.test\r\n"), msg[:200]
    assert b"Subject: forward me\r\n" in msg
    assert msg.endswith(b"\r\nforwarded body\r\n")
    # both queue files are gone: the original delivered, the copy sent
    instance.wait_for(lambda: instance.maillog().count(": removed") >= 2, what="both removed")


def test_all_targets_of_one_recipient_share_one_message(instance, sink):
    configure(instance, sink.port, "{team = a@sink.test, b@sink.test, user@virtual.test}")
    instance.start()
    send(instance, ["team@mx.example.test"])
    instance.wait_for(lambda: instance.maillog().count("forwarded as") >= 3, what="3 forwards")
    ids = set(re.findall(r"status=sent \(forwarded as (\w+)\)", instance.maillog()))
    assert len(ids) == 1, instance.maillog()
    new_id = ids.pop()
    instance.wait_for(lambda: sink.messages, what="message at the sink")
    rcpts = [c for c in sink.commands if c.startswith("RCPT TO:")]
    assert rcpts == ["RCPT TO:<a@sink.test>", "RCPT TO:<b@sink.test>"]
    assert len(sink.messages) == 1
    # the virtual mailbox address went into the same copy, delivered by the virtual agent
    instance.wait_for(lambda: instance.maildir_messages("user"), what="virtual delivery")
    assert re.search(rf"{new_id}: to=<user@virtual\.test>, orig_to=<team@mx\.example\.test>, "
                     r"relay=virtual, .*status=sent", instance.maillog())


def test_forwarding_loop_bounces(instance, sink):
    # loop.test is routed back to the local agent, which forwards it again
    configure(instance, sink.port, "fwd=x@loop.test")
    instance.start()
    send(instance, ["fwd@mx.example.test"])
    instance.wait_for(
        lambda: re.search(r"to=<x@loop\.test>, .*dsn=5\.4\.6, status=bounced "
                          r"\(mail forwarding loop for x@loop\.test\)", instance.maillog()),
        what="loop bounce")
    assert instance.maillog().count("forwarded as") == 2


@pytest.fixture
def root_instance():
    if os.geteuid() != 0:
        pytest.skip("needs root: the forward copy must be handed to mail_owner")
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        pytest.skip("no postfix account")
    base = pathlib.Path(tempfile.mkdtemp(prefix="postern-forward-"))
    os.chmod(base, 0o755)
    inst = Instance(base / "inst")
    os.chmod(inst.base, 0o755)
    inst.write_main_cf({"mail_owner": "postfix",
                        "setgid_group": "postdrop" if shutil.which("postdrop") else "postfix"})
    yield inst
    inst.cmd("postfix", "stop", timeout=30)
    shutil.rmtree(base, ignore_errors=True)


def test_forward_copy_belongs_to_mail_owner_when_local_runs_as_root(root_instance, sink):
    inst = root_instance
    configure(inst, sink.port, "fwd=remote@sink.test")
    inst.start()
    send(inst, ["fwd@mx.example.test"])
    ids = inst.wait_for(lambda: forwarded_id(inst, "remote@sink.test", "fwd@mx.example.test"),
                        what="forwarded as")
    # the queue manager (mail_owner) could open, update and remove the root-written copy
    inst.wait_for(lambda: re.search(rf"{ids[1]}: to=<remote@sink\.test>, .*status=sent",
                                    inst.maillog()), what="forwarded copy delivered")
    inst.wait_for(lambda: f"{ids[1]}: removed" in inst.maillog(), what="copy removed")
    assert sink.messages
