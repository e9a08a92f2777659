"""End-to-end tests of the postfix command and the master: start, status, stop, abort, reload,
check, endpoint binding, restarts after failures, and a stock Debian master.cf."""
import os
import pathlib
import signal
import socket
import time

import pytest

STOCK_MASTER_CF = """\
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
#               (yes)   (yes)   (no)    (never) (100)
# ==========================================================================
{smtp_service} inet  n       -       y       -       -       smtpd
#smtp      inet  n       -       y       -       1       postscreen
#smtpd     pass  -       -       y       -       -       smtpd
#submission inet n       -       y       -       -       smtpd
#  -o syslog_name=postfix/submission
#  -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
#qmgr     unix  n       -       n       300     1       oqmgr
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
rewrite   unix  -       -       y       -       -       trivial-rewrite
bounce    unix  -       -       y       -       0       bounce
defer     unix  -       -       y       -       0       bounce
trace     unix  -       -       y       -       0       bounce
verify    unix  -       -       y       -       1       verify
flush     unix  n       -       y       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       y       -       -       smtp
        -o syslog_name=postfix/$service_name
#       -o smtp_helo_timeout=5 -o smtp_connect_timeout=5
showq     unix  n       -       y       -       -       showq
error     unix  -       -       y       -       -       error
retry     unix  -       -       y       -       -       error
discard   unix  -       -       y       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       y       -       -       lmtp
anvil     unix  -       -       y       -       1       anvil
scache    unix  -       -       y       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${{recipient}}
uucp      unix  -       n       n       -       -       pipe
  flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)
mailman   unix  -       n       n       -       -       pipe
  flags=FRX user=list argv=/usr/lib/mailman/bin/postfix-to-mailman.py
  ${{nexthop}} ${{user}}
"""


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pid_file(inst):
    return inst.queue / "pid" / "master.pid"


def master_pid(inst):
    return int(pid_file(inst).read_text().strip())


def instance_processes(inst):
    """Pids of processes started for this instance (their command line names its etc/)."""
    needle = str(inst.etc).encode()
    found = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmdline = (d / "cmdline").read_bytes()
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != "Z":
            found.append(int(d.name))
    return found


def pid_alive(pid):
    """True while pid runs (a zombie waiting for init to reap it does not count)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def children_named(inst, name):
    """Live processes of this instance whose program name is `name`."""
    result = []
    for pid in instance_processes(inst):
        try:
            comm = pathlib.Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm == name:
            result.append(pid)
    return result


def assert_all_gone(inst):
    inst.wait_for(lambda: not instance_processes(inst), timeout=15,
                  what="every process of the instance to exit")


def test_start_status_stop(instance):
    p = instance.start()
    assert p.returncode == 0
    assert "starting the Postern mail system" in p.stderr
    assert port_accepts(instance.port)
    text = pid_file(instance).read_text()
    assert len(text) == 11 and text.endswith("\n") and text[:10].strip().isdigit()
    pid = master_pid(instance)
    st = instance.cmd("postfix", "status")
    assert st.returncode == 0
    assert f"postern/postfix-script: the Postern mail system is running: PID: {pid}" in st.stderr
    assert "daemon started -- version 0.1.0, configuration" in instance.maillog()
    # Endpoints for the unix services exist.
    assert (instance.queue / "public" / "qmgr").exists()
    assert (instance.queue / "private" / "local").exists()

    sp = instance.stop()
    assert sp.returncode == 0, sp.stderr
    assert "stopping the Postern mail system" in sp.stderr
    assert not port_accepts(instance.port)
    assert not pid_file(instance).exists()
    assert not pid_alive(pid)
    assert_all_gone(instance)
    assert "terminating on signal 15" in instance.maillog()
    st = instance.cmd("postfix", "status")
    assert st.returncode == 1
    assert "postern/postfix-script: the Postern mail system is not running" in st.stderr
    assert instance.stop().returncode == 1  # nothing to stop


def test_start_twice_fails(instance):
    instance.start()
    pid = master_pid(instance)
    p = instance.cmd("postfix", "start")
    assert p.returncode == 1
    assert "already running" in p.stderr
    assert master_pid(instance) == pid
    # The master refuses too, even when asked directly.
    m = instance.cmd("master", "-w")
    assert m.returncode == 1
    assert "the Postern mail system is already running" in m.stderr
    assert instance.cmd("postfix", "status").returncode == 0
    assert instance.stop().returncode == 0
    assert_all_gone(instance)


def test_long_startup_error_is_reported_whole(instance):
    """The reason a background master gives its foreground half is not cut at 2 KB."""
    value = "x" * 3000
    instance.write_main_cf({"postern_unimplemented_action": value})
    m = instance.cmd("master", "-w")
    assert m.returncode == 1
    assert f"postern_unimplemented_action = {value}: want refuse or warn" in m.stderr, \
        m.stderr[-300:]
    assert not pid_file(instance).exists()


def test_port_in_use(instance):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", instance.port))
        s.listen(1)
        p = instance.cmd("postfix", "start")
        assert p.returncode == 1
        assert f"bind 127.0.0.1 port {instance.port}: Address already in use" in p.stderr
        assert f"{instance.etc}/master.cf, line 1: service 127.0.0.1:{instance.port}" in p.stderr
        assert len(p.stderr.strip().splitlines()) <= 2  # "starting ..." and the reason
    assert instance.cmd("postfix", "status").returncode == 1
    assert not pid_file(instance).exists()
    assert_all_gone(instance)


def test_check_good_and_broken(instance):
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr
    assert "error" not in p.stderr
    assert (instance.queue / "incoming").is_dir()

    instance.write_master_cf(instance.master_cf_text() + "bad   unixx  -  -  n  -  -  smtp\n")
    p = instance.cmd("postfix", "check")
    assert p.returncode == 1
    assert "master.cf, line 7" in p.stderr and "unknown service type" in p.stderr

    instance.write_master_cf()
    (instance.etc / "main.cf").write_text((instance.etc / "main.cf").read_text() + "oops\n")
    p = instance.cmd("postfix", "check")
    assert p.returncode == 1
    lines = len((instance.etc / "main.cf").read_text().splitlines())
    assert f"main.cf, line {lines}" in p.stderr
    # A broken configuration does not start either.
    p = instance.cmd("postfix", "start")
    assert p.returncode == 1
    assert "main.cf" in p.stderr
    assert_all_gone(instance)


def test_check_reports_permissions(instance):
    instance.cmd("postfix", "check", check=True)
    os.chmod(instance.queue / "incoming", 0o777)
    p = instance.cmd("postfix", "check")
    assert "warning: world-writable directory" in p.stderr and "incoming" in p.stderr
    os.chmod(instance.queue / "incoming", 0o700)


def test_reload_with_broken_main_cf_keeps_running(instance):
    instance.start()
    pid = master_pid(instance)
    main_cf = instance.etc / "main.cf"
    main_cf.write_text(main_cf.read_text() + "this line is broken\n")
    broken_line = len(main_cf.read_text().splitlines())
    # The command refuses to signal a master with a broken configuration...
    p = instance.cmd("postfix", "reload")
    assert p.returncode == 1
    assert f"main.cf, line {broken_line}" in p.stderr
    # ... and the master itself keeps its old configuration when signalled anyway.
    os.kill(pid, signal.SIGHUP)
    instance.wait_for(lambda: "keeping old configuration" in instance.maillog(),
                      what="reload error")
    log = instance.maillog()
    assert f"error: {main_cf}, line {broken_line}:" in log
    assert instance.cmd("postfix", "status").returncode == 0
    assert port_accepts(instance.port)
    assert master_pid(instance) == pid

    # A broken master.cf is refused the same way.
    main_cf.write_text("".join(main_cf.read_text().splitlines(True)[:-1]))
    instance.write_master_cf(instance.master_cf_text() + "x y\n")
    os.kill(pid, signal.SIGHUP)
    instance.wait_for(lambda: instance.maillog().count("keeping old configuration") >= 2,
                      what="second reload error")
    assert "master.cf, line 7" in instance.maillog()
    assert port_accepts(instance.port)
    assert instance.stop().returncode == 0
    assert_all_gone(instance)


def test_reload_adds_and_removes_inet_services(instance):
    from conftest import free_port
    instance.start()
    pid = master_pid(instance)
    # Keep a connection open across the reload: the listener it came through must survive.
    kept = socket.create_connection(("127.0.0.1", instance.port), timeout=2)
    new_port = free_port()
    instance.write_master_cf(instance.master_cf_text()
                             + f"127.0.0.1:{new_port} inet n - n - - smtpd\n")
    p = instance.cmd("postfix", "reload")
    assert p.returncode == 0, p.stderr
    assert "refreshing the Postern mail system" in p.stderr
    instance.wait_for(lambda: port_accepts(new_port), what="new service to listen")
    assert port_accepts(instance.port)
    instance.wait_for(lambda: "reload -- version 0.1.0, configuration" in instance.maillog(),
                      what="reload log line")
    assert master_pid(instance) == pid

    # Remove the original service: its port closes, the new one stays.
    text = instance.master_cf_text().replace(f"127.0.0.1:{instance.port} inet", "#gone inet")
    instance.write_master_cf(text + f"127.0.0.1:{new_port} inet n - n - - smtpd\n")
    assert instance.cmd("postfix", "reload").returncode == 0
    instance.wait_for(lambda: not port_accepts(instance.port), what="old port to close")
    assert port_accepts(new_port)
    kept.close()
    assert instance.stop().returncode == 0
    assert not port_accepts(new_port)
    assert_all_gone(instance)


def test_failed_child_is_restarted_after_throttle(instance):
    instance.write_main_cf({"service_throttle_time": "2s"})
    instance.start()
    # A long-lived qmgr is killed with SIGKILL; a qmgr that exits at once (not yet written)
    # fails by itself. Either way the master logs it, throttles, and starts a new one later.
    deadline = time.time() + 5
    victim = None
    while time.time() < deadline and victim is None:
        for pid in children_named(instance, "qmgr"):
            time.sleep(0.5)
            if pid in children_named(instance, "qmgr"):
                victim = pid
                break
        time.sleep(0.05)
    if victim is not None:
        os.kill(victim, signal.SIGKILL)
        instance.wait_for(lambda: f"qmgr pid {victim} killed by signal 9" in instance.maillog(),
                          what="kill to be logged")
        killed_at = time.time()
        new = instance.wait_for(lambda: [p for p in children_named(instance, "qmgr")
                                         if p != victim], timeout=15, what="qmgr restart")
        assert new
        assert time.time() - killed_at >= 1.5  # throttled, not restarted at once
    else:
        def failures():
            return [line for line in instance.maillog().splitlines()
                    if "/qmgr pid " in line and "exit status" in line]
        base = len(failures())
        instance.wait_for(lambda: len(failures()) > base, timeout=15, what="a qmgr failure")
        first = time.time()
        instance.wait_for(lambda: len(failures()) > base + 1, timeout=15, what="qmgr restart")
        assert time.time() - first >= 1.5
        pids = {line.split(" pid ")[1].split()[0] for line in failures()}
        assert len(pids) >= 2
    assert "/qmgr: bad command startup -- throttling" in instance.maillog() or \
        "/qmgr: service public/qmgr: process failed -- throttling for 2s" in instance.maillog()
    assert instance.stop().returncode == 0
    assert_all_gone(instance)


def test_stock_debian_master_cf_loads(instance):
    instance.write_master_cf(STOCK_MASTER_CF.format(smtp_service=f"127.0.0.1:{instance.port}"))
    p = instance.cmd("postfix", "check")
    assert p.returncode == 0, p.stderr
    instance.start()
    assert port_accepts(instance.port)
    log = instance.maillog()
    assert f"warning: {instance.etc}/master.cf, line 12: service cleanup: program cleanup is " \
           "not implemented by Postern; no effect on mail flow" in log
    assert "service postlog: program postlogd is not implemented" in log
    assert "service relay: program smtp" not in log
    master_lines = [line for line in log.splitlines() if "postern/master[" in line]
    assert sum("program cleanup is not implemented" in line for line in master_lines) == 1
    assert (instance.queue / "private" / "relay").exists()
    assert not (instance.queue / "private" / "cleanup").exists()
    assert instance.stop().returncode == 0
    assert_all_gone(instance)


def test_abort(instance):
    instance.start()
    pid = master_pid(instance)
    p = instance.cmd("postfix", "abort")
    assert p.returncode == 0, p.stderr
    assert "aborting the Postern mail system" in p.stderr
    # The master's lock is released when its files close, a moment before the process is gone.
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
    assert not port_accepts(instance.port)
    assert_all_gone(instance)


def test_killed_master_leaves_no_children(instance):
    instance.start()
    pid = master_pid(instance)
    os.kill(pid, signal.SIGKILL)
    assert_all_gone(instance)
    # The stale pid file is not locked: the system counts as stopped and starts again.
    assert instance.cmd("postfix", "status").returncode == 1
    instance.start()
    assert port_accepts(instance.port)
    assert instance.stop().returncode == 0
    assert_all_gone(instance)


def test_usage(instance):
    assert instance.cmd("postfix", "frobnicate").returncode == 64
    assert instance.cmd("postfix", "-Z", "status").returncode == 64
    p = instance.cmd("postfix")
    assert p.returncode == 64 and "usage" in p.stderr
