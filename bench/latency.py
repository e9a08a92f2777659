#!/usr/bin/python3
"""Per-message SMTP accept latency under concurrency.

    latency.py --port PORT [--host H] [--sessions N] [--messages M] [--size BYTES] [--json]

Opens N concurrent SMTP sessions (one asyncio event loop) that together send M messages of
about BYTES bytes each, one transaction after another per session and without pipelining,
as smtp-source does. For each transaction it takes the time from just before MAIL FROM is
written until the 250 reply to the end of DATA has been read: the latency a sending MTA sees
for getting one message accepted (and, for a server that keeps invariant 1, on disk).

Prints count, errors, p50/p90/p99/max and mean in milliseconds (as JSON with --json).
Importable: measure(...) returns the list of latencies in seconds and the error count.

Limits: the client is Python on the same machine as the server; with many sessions its own
event-loop delay is part of each figure (the report runs it on both servers alike).
"""
import argparse
import asyncio
import json
import sys
import time


class SmtpError(Exception):
    pass


async def read_reply(reader):
    """Reads one (possibly multi-line) reply; returns (code, text)."""
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise SmtpError("connection closed")
        lines.append(line.decode("latin-1").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            break
        if len(lines) > 100:
            raise SmtpError("reply too long")
    try:
        code = int(lines[-1][:3])
    except ValueError:
        raise SmtpError(f"bad reply {lines[-1]!r}") from None
    return code, "\n".join(lines)


async def command(reader, writer, line, expect):
    writer.write(line)
    await writer.drain()
    code, text = await read_reply(reader)
    if code != expect:
        raise SmtpError(f"{line[:20]!r} -> {text}")


def message_body(size, sender, recipient, number):
    """Headers plus SIZE bytes of body in 78-character lines, dot-stuffed, with the final dot."""
    head = (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: latency test {number}\r\n"
            f"Message-ID: <lat{number}.{time.time_ns()}@client.test>\r\n\r\n")
    line = b"x" * 78 + b"\r\n"
    full, rest = divmod(size, len(line))
    body = line * full + (b"y" * max(rest - 2, 0) + b"\r\n" if rest else b"")
    return head.encode() + body + b".\r\n"


async def session(host, port, work, results, errors, size, sender, recipient):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        errors.append(f"connect: {e}")
        return
    try:
        code, text = await read_reply(reader)
        if code != 220:
            raise SmtpError(f"greeting {text}")
        await command(reader, writer, b"EHLO client.test\r\n", 250)
        while work[0] > 0:
            work[0] -= 1
            number = work[0]
            data = message_body(size, sender, recipient, number)
            start = time.perf_counter()
            await command(reader, writer, f"MAIL FROM:<{sender}>\r\n".encode(), 250)
            await command(reader, writer, f"RCPT TO:<{recipient}>\r\n".encode(), 250)
            await command(reader, writer, b"DATA\r\n", 354)
            await command(reader, writer, data, 250)
            results.append(time.perf_counter() - start)
        writer.write(b"QUIT\r\n")
        await writer.drain()
        await read_reply(reader)
    except (SmtpError, OSError) as e:
        errors.append(str(e))
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def run_sessions(host, port, sessions, messages, size, sender, recipient):
    work = [messages]
    results, errors = [], []
    await asyncio.gather(*(session(host, port, work, results, errors, size, sender, recipient)
                           for _ in range(sessions)))
    return results, errors


def measure(port, host="127.0.0.1", sessions=1, messages=100, size=1024,
            sender="latency@client.test", recipient="user@bench.test"):
    """Returns (latencies in seconds, list of error strings)."""
    return asyncio.run(run_sessions(host, port, sessions, messages, size, sender, recipient))


def percentile(values, fraction):
    """Nearest-rank percentile of VALUES (fraction in 0..1); None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(latencies, errors):
    ms = [x * 1000.0 for x in latencies]
    return {
        "count": len(ms),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "p50_ms": percentile(ms, 0.50),
        "p90_ms": percentile(ms, 0.90),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms) if ms else None,
        "mean_ms": sum(ms) / len(ms) if ms else None,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--from", dest="sender", default="latency@client.test")
    ap.add_argument("--to", dest="recipient", default="user@bench.test")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.sessions < 1 or a.messages < 1 or a.size < 0:
        ap.error("sessions and messages must be positive, size not negative")
    lat, err = measure(a.port, a.host, a.sessions, a.messages, a.size, a.sender, a.recipient)
    s = summary(lat, err)
    if a.json:
        print(json.dumps(s))
    else:
        for k, v in s.items():
            print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
    return 0 if not err else 1


if __name__ == "__main__":
    sys.exit(main())
