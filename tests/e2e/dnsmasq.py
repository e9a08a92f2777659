"""A private dnsmasq on a loopback port for the DNS tests (smtp client MX routing, smtpd client
names and DNS restrictions). Tests skip when dnsmasq is not installed or does not start."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import free_port

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


class Dnsmasq:
    """start_dnsmasq on port (default: a free one) as an object with .port and close(), for
    loopback.closing_factory fixtures."""

    def __init__(self, tmp_dir, records, port=None):
        self.port = port or free_port()
        self.proc = start_dnsmasq(tmp_dir, self.port, records)

    def close(self):
        self.proc.terminate()
        self.proc.wait()
