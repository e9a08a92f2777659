"""A private dnsmasq on a loopback port for the DNS tests (smtp client MX routing, smtpd client
names and DNS restrictions). Tests skip when dnsmasq is not installed or does not start."""
import os
import shutil
import subprocess
import time

import pytest

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
HAVE_DNSMASQ = os.path.exists(DNSMASQ)


def start_dnsmasq(tmp_dir, port, records):
    """dnsmasq answering on 127.0.0.1:port from records (its command-line options) only, with no
    configuration file, /etc/hosts or upstream servers. The caller terminates the process."""
    args = [DNSMASQ, "--keep-in-foreground", f"--port={port}", "--listen-address=127.0.0.1",
            "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
            f"--pid-file={tmp_dir}/dnsmasq.pid", "--log-facility=-", *records]
    if os.getuid() == 0:
        args.append("--user=root")
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    if p.poll() is not None:
        pytest.skip("dnsmasq did not start: " + p.stderr.read().decode()[:300])
    return p
