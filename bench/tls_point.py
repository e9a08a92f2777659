#!/usr/bin/python3
"""tls_point.py: the TLS point of the benchmark (issue 12): Postern and Postfix side by side,
each session STARTTLS + one 1 KiB message, SESSIONS concurrent, with an RSA-2048 and an
ECDSA P-256 certificate (one run each). Postfix runs with its tlsmgr and a session cache;
the client makes a full handshake every session (no resumption), as a crowd of different
senders would.

    python3 bench/tls_point.py [--messages 1000] [--sessions 20] [--servers postern,postfix]

Prints one line per server and certificate: messages/s accepted (last 250 after DATA) and end
to end (delivered to the Maildir), CPU seconds per message of the server's process tree, and
its peak RSS. Needs root for Postfix (as `make bench`), the Postern binary in build/bin.
"""
import argparse
import asyncio
import os
import pathlib
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import procstat  # noqa: E402
import servers  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
BODY = ("Subject: tls bench\r\n\r\n" + ("x" * 70 + "\r\n") * 13).encode()


def make_cert(d, kind):
    key, cert = d / f"{kind}.key", d / f"{kind}.pem"
    newkey = ["-newkey", "rsa:2048"] if kind == "rsa" else \
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=mx.bench.test"], check=True,
                   capture_output=True)
    os.chmod(key, 0o644)  # read by the unprivileged smtpd (Postern) in this throwaway folder
    return cert, key


def tls_settings(server, cert, key):
    cf = {"smtpd_tls_cert_file": str(cert), "smtpd_tls_key_file": str(key),
          "smtpd_tls_security_level": "may"}
    if server.name == "postfix":
        cf["smtpd_tls_session_cache_database"] = "btree:${data_directory}/smtpd_scache"
    return cf


async def one_session(port, ctx, errors):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def reply():
            while True:
                line = await reader.readline()
                if not line:
                    raise ConnectionError("closed")
                if line[3:4] != b"-":
                    return line

        async def cmd(text, want):
            writer.write(text)
            await writer.drain()
            r = await reply()
            if not r.startswith(want):
                raise RuntimeError(r)
        await reply()
        await cmd(b"EHLO client.test\r\n", b"250")
        await cmd(b"STARTTLS\r\n", b"220")
        await writer.start_tls(ctx, server_hostname="mx.bench.test")
        await cmd(b"EHLO client.test\r\n", b"250")
        await cmd(f"MAIL FROM:<{servers.SENDER}>\r\n".encode(), b"250")
        await cmd(f"RCPT TO:<{servers.RECIPIENT}>\r\n".encode(), b"250")
        await cmd(b"DATA\r\n", b"354")
        await cmd(BODY + b".\r\n", b"250")
        writer.write(b"QUIT\r\n")
        await writer.drain()
        writer.close()
    except Exception as e:  # counted, the run goes on
        errors.append(repr(e))


async def run_sessions(port, sessions, messages):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    errors = []
    todo = iter(range(messages))

    async def worker():
        for _ in todo:
            await one_session(port, ctx, errors)
    await asyncio.gather(*(worker() for _ in range(sessions)))
    return errors


def measure(server, sessions, messages):
    server.clear_maildir()
    pid = server.master_pid()
    sampler = procstat.Sampler(0.2)
    sampler.watch(pid)
    cpu0 = procstat.tree_cpu_seconds(pid)
    t0 = time.monotonic()
    errors = asyncio.run(run_sessions(server.port, sessions, messages))
    accepted = time.monotonic() - t0
    deadline = time.monotonic() + 120
    while server.delivered() < messages - len(errors) and time.monotonic() < deadline:
        time.sleep(0.05)
    e2e = time.monotonic() - t0
    cpu = procstat.tree_cpu_seconds(pid) - cpu0
    rss, _pss = sampler.finish()
    sampler.close()
    n = server.delivered()
    return {"accept": messages / accepted, "e2e": n / e2e, "cpu_ms": 1000 * cpu / max(n, 1),
            "rss_mb": rss / 2**20, "errors": len(errors), "delivered": n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--servers", default="postern,postfix")
    args = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="postern-tlsbench-"))
    os.chmod(tmp, 0o755)
    try:
        for kind in ("rsa", "ecdsa"):
            cert, key = make_cert(tmp, kind)
            for name in args.servers.split(","):
                base = tmp / f"{name}-{kind}"
                srv = servers.PostfixServer(base) if name == "postfix" else \
                    servers.PosternServer(base, ROOT / "build/bin/postern")
                extra = tls_settings(srv, cert, key)
                base_cf = srv.main_cf
                srv.main_cf = lambda b=base_cf, e=extra: {**b(), **e}
                if name == "postfix":
                    mcf = srv.master_cf
                    srv.master_cf = lambda m=mcf: m() + \
                        "tlsmgr     unix  -       -       n       1000?   1       tlsmgr\n"
                srv.setup()
                srv.start()
                try:
                    r = measure(srv, args.sessions, args.messages)
                finally:
                    srv.stop()
                print(f"{name:8} {kind:5} sessions={args.sessions} messages={args.messages}: "
                      f"accept {r['accept']:.0f} msg/s, end-to-end {r['e2e']:.0f} msg/s, "
                      f"CPU {r['cpu_ms']:.2f} ms/msg, peak RSS {r['rss_mb']:.1f} MB, "
                      f"errors {r['errors']}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
