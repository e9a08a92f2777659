"""Measures smtpd's resident memory per idle SMTP connection (after banner and EHLO).

Run from the repository root: POSTERN_BIN=build/bin/postern /usr/bin/python3 bench/idle_memory.py 2000
"""
import os, socket, sys, time, pathlib
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from conftest import Instance
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
import tempfile
n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
base = pathlib.Path(tempfile.mkdtemp())
inst = Instance(base / "inst")
inst.start()
def smtpd_rss():
    tot = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit(): continue
        try:
            if open(f"/proc/{pid}/comm").read().strip() != "smtpd": continue
            if str(inst.etc).encode() not in open(f"/proc/{pid}/cmdline","rb").read(): continue
            for l in open(f"/proc/{pid}/status"):
                if l.startswith("VmRSS"): tot += int(l.split()[1])
        except OSError: pass
    return tot
def conn():
    s = socket.create_connection(("127.0.0.1", inst.port)); s.recv(512)
    s.sendall(b"EHLO client.test\r\n"); d=b""
    while b"250 " not in d: d += s.recv(4096)
    return s
keep = [conn() for _ in range(10)]
time.sleep(0.5)
r0 = smtpd_rss()
keep += [conn() for _ in range(n)]
time.sleep(1)
r1 = smtpd_rss()
print(f"smtpd RSS {r0} KB with 10 connections, {r1} KB with {n+10}: {(r1-r0)*1024/n:.0f} bytes per idle connection")
for s in keep: s.close()
inst.stop()
