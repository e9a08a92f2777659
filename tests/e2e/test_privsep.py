"""Privilege separation: started as root, the network-facing smtpd runs as mail_owner, never root,
and mailboxes are written with the uid the virtual tables name (invariant 2 of the conventions)."""
import os
import pwd
import shutil
import smtplib
import tempfile
import pathlib

import pytest

from conftest import Instance


def proc_uids(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Uid:"):
            return [int(x) for x in line.split()[1:]]
    return []


def proc_groups(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Groups:"):
            return [int(x) for x in line.split()[1:]]
    return []


def instance_processes(inst):
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
            comm = open(f"/proc/{d}/comm").read().strip()
        except OSError:
            continue
        if str(inst.etc).encode() in cmd:
            out.setdefault(comm, []).append(int(d))
    return out


@pytest.fixture
def root_instance():
    if os.geteuid() != 0:
        pytest.skip("needs root to test privilege separation")
    try:
        owner = pwd.getpwnam("postfix")
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no postfix or nobody account")
    base = pathlib.Path(tempfile.mkdtemp(prefix="postern-privsep-"))
    os.chmod(base, 0o755)
    inst = Instance(base / "inst")
    os.chmod(inst.base, 0o755)
    inst.write_main_cf({
        "mail_owner": "postfix",
        "setgid_group": "postdrop" if shutil.which("postdrop") else "postfix",
        "virtual_uid_maps": f"static:{nobody.pw_uid}",
        "virtual_gid_maps": f"static:{nobody.pw_gid}",
        "virtual_minimum_uid": "100",
    })
    os.chown(inst.mail, nobody.pw_uid, nobody.pw_gid)
    yield inst, owner, nobody
    inst.cmd("postfix", "stop", timeout=30)
    shutil.rmtree(base, ignore_errors=True)


def test_smtpd_runs_as_mail_owner_and_mailbox_as_virtual_uid(root_instance):
    inst, owner, nobody = root_instance
    inst.start()
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=30) as s:
        s.sendmail("a@example.org", ["user@virtual.test"],
                   "Subject: privsep\r\nMessage-ID: <privsep@test>\r\n\r\nhello\r\n")
        procs = instance_processes(inst)
    assert "smtpd" in procs, procs
    for pid in procs["smtpd"]:
        uids = proc_uids(pid)
        assert uids and all(u == owner.pw_uid for u in uids), f"smtpd uids {uids}"
    for pid in procs.get("qmgr", []):
        assert all(u == owner.pw_uid for u in proc_uids(pid))
    # Daemons keep mail_owner's primary group only, never its supplementary groups.
    for pid in procs["smtpd"] + procs.get("qmgr", []):
        assert proc_groups(pid) == [owner.pw_gid], f"groups of {pid}: {proc_groups(pid)}"
    master = procs.get("master") or procs.get("postern") or []
    assert any(proc_uids(p)[0] == 0 for p in master), procs
    new = inst.mail / "user" / "new"
    inst.wait_for(lambda: new.is_dir() and any(new.iterdir()), what="maildir delivery")
    f = next(new.iterdir())
    assert f.stat().st_uid == nobody.pw_uid
    assert b"Subject: privsep" in f.read_bytes()
    # the file is linked into new/ before the agent logs the delivery: wait for the line
    inst.wait_for(lambda: "status=sent (delivered to maildir)" in inst.maillog(),
                  what="the delivery log line")
