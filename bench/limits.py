"""Machine limits measured in the same run as the benchmark.

fsync_rate(dir, seconds, writers): durable small-file commits per second in DIR, each one
    costing what a queue file costs: create a temporary file, write 1 KiB, fsync it, rename it
    to its final name (and, like the servers, unlink it later). WRITERS threads run at once so
    the figure includes the file system's journal batching (group commit), which concurrent
    SMTP sessions also get.
loopback_bytes_per_second(seconds): TCP throughput of one connection over 127.0.0.1 with
    1 MiB writes, a ceiling for moving message bytes between a client and a server.

Run as a script it prints both figures as JSON for DIR (default: a new temporary folder).
"""
import json
import os
import socket
import sys
import tempfile
import threading
import time

PAYLOAD = b"x" * 1024


def _commit_loop(directory, stop_at, counter, index):
    n = 0
    while time.monotonic() < stop_at:
        tmp = os.path.join(directory, f"t.{index}.{n}")
        final = os.path.join(directory, f"f.{index}.{n}")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        try:
            os.write(fd, PAYLOAD)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
        os.unlink(final)
        n += 1
    counter[index] = n


def fsync_rate(directory, seconds=2.0, writers=1):
    """Returns committed files per second with WRITERS concurrent writers in DIRECTORY."""
    work = tempfile.mkdtemp(prefix="fsync.", dir=directory)
    try:
        counter = [0] * writers
        start = time.monotonic()
        stop_at = start + seconds
        threads = [threading.Thread(target=_commit_loop, args=(work, stop_at, counter, i))
                   for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        return sum(counter) / elapsed
    finally:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)


def loopback_bytes_per_second(seconds=2.0):
    """Returns bytes per second through one TCP connection on 127.0.0.1."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    received = [0]

    def sink():
        conn, _ = listener.accept()
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        with conn:
            while True:
                n = conn.recv_into(view)
                if n == 0:
                    break
                received[0] += n

    reader = threading.Thread(target=sink)
    reader.start()
    chunk = b"y" * (1 << 20)
    with socket.create_connection(("127.0.0.1", port)) as client:
        start = time.monotonic()
        stop_at = start + seconds
        while time.monotonic() < stop_at:
            client.sendall(chunk)
    reader.join()
    elapsed = time.monotonic() - start
    listener.close()
    return received[0] / elapsed


def measure(directory, seconds=2.0):
    """Returns a dict with every machine limit the report uses."""
    one = fsync_rate(directory, seconds, 1)
    many = fsync_rate(directory, seconds, 16)
    return {
        "fsync_per_s_1writer": one,
        "fsync_per_s_16writers": many,
        "fsync_per_s": max(one, many),
        "loopback_bytes_per_s": loopback_bytes_per_second(seconds),
        "cpus": os.cpu_count() or 1,
    }


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir()
    print(json.dumps(measure(target), indent=2))
