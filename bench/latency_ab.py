#!/usr/bin/python3
"""Accept latency of two Postern binaries, A/B, at one point.

    latency_ab.py BINARY_A BINARY_B [--sessions 100] [--size 1024] [--messages 600] [--rounds 5]

Starts one bench instance per binary (as bench/run.sh sets them up), then times MESSAGES
transactions over SESSIONS sessions with latency.py against each in turn, ROUNDS times
alternating (A B A B ...), and prints p50/p99 per round and the medians over rounds. For telling
a latency change from run-to-run noise, which one bench run per binary cannot (docs/performance.md).
Run as root, like make bench.
"""
import argparse
import pathlib
import statistics
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench  # noqa: E402
import servers  # noqa: E402


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--messages", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    base = pathlib.Path(tempfile.mkdtemp(prefix="latency-ab-"))
    base.chmod(0o755)  # the instances' mail_owner must reach their directories
    runs = {"A": [], "B": []}
    insts = {}
    try:
        for name, binary in (("A", args.a), ("B", args.b)):
            insts[name] = servers.PosternServer(base / name, binary)
            insts[name].setup()
            insts[name].start()
        for rnd in range(args.rounds):
            for name, inst in insts.items():
                lat, errors = bench.latency_run(inst, args.sessions, args.size, args.messages)
                if errors or not lat:
                    sys.exit(f"{name} round {rnd + 1}: {len(errors)} errors: {errors[:3]}")
                lat.sort()
                p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
                runs[name].append((p50, p99))
                print(f"round {rnd + 1} {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
    finally:
        for inst in insts.values():
            inst.stop()
    for name, binary in (("A", args.a), ("B", args.b)):
        p50 = statistics.median(r[0] for r in runs[name])
        p99 = statistics.median(r[1] for r in runs[name])
        spread = f"{min(r[1] for r in runs[name]):.1f}-{max(r[1] for r in runs[name]):.1f}"
        print(f"{name} ({binary}): median p50 {p50:.1f} ms, median p99 {p99:.1f} ms "
              f"(p99 range {spread})")


if __name__ == "__main__":
    main()
