#!/usr/bin/python3
"""Side-by-side benchmark of Postern and Postfix on this machine (driven by bench/run.sh).

    bench.py --tmp DIR [--out bench/results] [--postern build/bin/postern]

Sets up one instance of each server under DIR (see servers.py), measures the machine's limits
in DIR (limits.py), then for each round and each matrix point runs Postfix, then Postern
(A B A B ...): smtp-source sends the messages while the harness counts files in the Maildir
(end-to-end time), reads the instance's CPU time and samples its memory (procstat.py); then
latency.py sends a smaller batch through the same number of sessions to time each
transaction. Results go to OUT/latest.{md,csv,png} via report.py.

Environment:
    BENCH_QUICK=1        500 messages per point, one round; writes quick.* (a look, not a result)
    BENCH_ROUNDS=N       rounds (default 3)
    BENCH_MESSAGES=N     messages per point for the 1 KiB and 16 KiB sizes (default 3000)
    BENCH_SERVERS=LIST   comma-separated subset of postfix,postern
    BENCH_BUDGET=S       seconds the measurements may take (default 600): a round that would
                         end later is not started, and the report says how many rounds ran
If Postern cannot start or does not deliver a probe message, it is left out and the report says
so (Postfix alone plus the machine limits).
"""
import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import latency  # noqa: E402
import limits  # noqa: E402
import procstat  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402

# (sessions, message payload bytes, fraction of BENCH_MESSAGES), run in this order. 256 KiB
# messages are measured at 20 sessions only and with a fifth of the count, to stay within the
# time budget. Ascending concurrency: the servers restart at the start of each round, so
# processes a server keeps around after a busy point (Postfix's idle smtpd) do not inflate the
# memory of a less concurrent one.
MATRIX = [
    (1, 1024, 1.0), (1, 16384, 1.0),
    (20, 1024, 1.0), (20, 16384, 1.0), (20, 262144, 0.2),
    (100, 1024, 1.0), (100, 16384, 1.0),
]
DRAIN_TIMEOUT = 90.0  # seconds to wait for delivery after the last message was accepted
POLL = 0.05


class Stop(Exception):
    pass


def on_signal(signum, _frame):
    raise Stop(f"signal {signum}")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def settings():
    quick = os.environ.get("BENCH_QUICK") == "1"
    rounds = int(os.environ.get("BENCH_ROUNDS", "1" if quick else "3"))
    messages = int(os.environ.get("BENCH_MESSAGES", "500" if quick else "3000"))
    latency_messages = max(50, messages // 10)
    wanted = os.environ.get("BENCH_SERVERS", "postfix,postern").split(",")
    budget = float(os.environ.get("BENCH_BUDGET", "600"))
    return (quick, rounds, messages, latency_messages,
            [w.strip() for w in wanted if w.strip()], budget)


def wait_drained(server, expected, timeout):
    """Waits until EXPECTED files are in the Maildir; returns the count.

    The queue need not be empty: a message a server deferred (a bug worth its own report) would
    otherwise stall every later step until its retry."""
    deadline = time.monotonic() + timeout
    n = server.delivered()
    while time.monotonic() < deadline:
        n = server.delivered()
        if n >= expected:
            return n
        time.sleep(2 * POLL)
    return n


def smtp_source_run(server, sessions, size, messages, sampler):
    """One measured smtp-source run; returns a dict of raw numbers."""
    server.clear_maildir()
    pid = server.master_pid()
    if pid is None:
        raise RuntimeError(f"{server.name} master is not running\n{server.maillog_tail()}")
    cmd = [servers.smtp_source_path(), "-d", "-s", str(sessions), "-m", str(messages),
           "-l", str(size), "-f", servers.SENDER, "-t", servers.RECIPIENT, "-M", "client.test",
           f"127.0.0.1:{server.port}"]
    cpu0 = procstat.tree_cpu_seconds(pid)
    sampler.watch(pid)
    finished = {}
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)

    def reap():
        out, err = proc.communicate()
        finished["t"] = time.monotonic()
        finished["rc"] = proc.returncode
        finished["err"] = (out + err).decode(errors="replace").strip()

    waiter = threading.Thread(target=reap, daemon=True)
    waiter.start()
    source_timeout = 120 + messages * max(size, 1024) / 2e6
    t_done = None
    try:
        while True:
            now = time.monotonic()
            count = server.delivered() if t_done is None else messages
            if count >= messages and t_done is None:
                t_done = now
            if "t" in finished:
                if t_done is not None or finished["rc"] != 0:
                    break
                if now - finished["t"] > DRAIN_TIMEOUT:
                    break
            elif now - t0 > source_timeout:
                proc.kill()
                waiter.join()
                break
            # Listing a big Maildir costs the machine CPU: poll often only near the end.
            time.sleep(POLL if count >= 0.9 * messages else 2 * POLL)
    except BaseException:
        proc.kill()
        raise
    finally:
        waiter.join(timeout=30)
    cpu1 = procstat.tree_cpu_seconds(pid)
    peak_rss, peak_pss = sampler.finish()
    delivered = server.delivered()
    accept_s = finished.get("t", time.monotonic()) - t0
    error = ""
    if finished.get("rc", 1) != 0:
        error = f"smtp-source exit {finished.get('rc')}: {finished.get('err', '')[:200]}"
    elif t_done is None:
        error = f"only {delivered}/{messages} delivered {DRAIN_TIMEOUT:.0f}s after the last accept"
    e2e_s = (t_done - t0) if t_done is not None else None
    return {
        "server": server.name, "sessions": sessions, "size": size, "messages": messages,
        "accept_s": accept_s, "e2e_s": e2e_s,
        "accept_msgs_per_s": messages / accept_s if finished.get("rc") == 0 else None,
        "e2e_msgs_per_s": messages / e2e_s if e2e_s else None,
        "delivered": delivered, "cpu_s": cpu1 - cpu0,
        "cpu_s_per_1000": (cpu1 - cpu0) * 1000.0 / messages,
        "peak_rss_mb": peak_rss / 1048576.0, "peak_pss_mb": peak_pss / 1048576.0,
        "deferred": server.deferred(), "error": error,
    }


def latency_run(server, sessions, size, count):
    """Times COUNT transactions over SESSIONS sessions; returns (latencies, errors)."""
    server.clear_maildir()
    lat, errors = latency.measure(server.port, sessions=sessions, messages=count, size=size,
                                  recipient=servers.RECIPIENT)
    wait_drained(server, len(lat), DRAIN_TIMEOUT)
    server.clear_maildir()
    return lat, errors


def probe(server):
    """Returns '' when SERVER accepts and delivers one message within 30 s, else why not."""
    server.clear_maildir()
    lat, errors = latency.measure(server.port, sessions=1, messages=1, size=100,
                                  recipient=servers.RECIPIENT)
    if errors:
        return f"SMTP probe failed: {errors[0]}"
    if wait_drained(server, 1, 30) < 1:
        return "probe message was accepted but not delivered to the Maildir within 30 s"
    server.clear_maildir()
    return ""


def warm_up(server):
    """Sends 100 messages over one session so caches and lazily started services are up."""
    subprocess.run([servers.smtp_source_path(), "-d", "-s", "1", "-m", "100", "-l", "1024",
                    "-f", servers.SENDER, "-t", servers.RECIPIENT, "-M", "client.test",
                    f"127.0.0.1:{server.port}"], capture_output=True, timeout=120)
    wait_drained(server, 100, 60)
    server.clear_maildir()


def prepare_servers(tmp, wanted, postern_bin, status):
    """Sets up the instances and checks each once; returns the ones to measure (stopped)."""
    ready = []
    if "postfix" in wanted:
        pf = servers.PostfixServer(tmp / "postfix")
        pf.setup()
        pf.start()
        pf.stop()
        ready.append(pf)
        status["postfix"] = pf.version()
    if "postern" in wanted:
        if not pathlib.Path(postern_bin).exists():
            status["postern_missing"] = f"{postern_bin} does not exist (build failed?)"
        else:
            # A private copy: a rebuild of build/bin/postern during the run (someone working in
            # the tree) must not change the binary between rounds.
            copy = tmp / "bin" / "postern"
            copy.parent.mkdir(exist_ok=True)
            shutil.copy2(postern_bin, copy)
            pt = servers.PosternServer(tmp / "postern", copy)
            pt.setup()
            try:
                pt.start()
                why = probe(pt)
            except Exception as e:  # report, do not abort: Postfix alone is still a result
                why = str(e).splitlines()[0] if str(e) else repr(e)
            if why:
                status["postern_missing"] = why
                log(f"postern left out: {why}")
                log(pt.maillog_tail(1500))
            else:
                ready.append(pt)
                status["postern"] = pt.version()
            pt.stop()
    return ready


def measure_point(server, rnd, sessions, size, count, lat_count, sampler):
    """Throughput, resources, then latency of one server at one point; returns the run's row."""
    r = smtp_source_run(server, sessions, size, count, sampler)
    r["round"] = rnd
    lat, errs = latency_run(server, sessions, size, lat_count)
    summ = latency.summary(lat, errs)
    r.update({"lat_count": summ["count"], "lat_p50_ms": summ["p50_ms"],
              "lat_p99_ms": summ["p99_ms"], "lat_errors": summ["errors"]})
    if errs and not r["error"]:
        r["error"] = f"latency: {summ['first_error'][:200]}"
    log(f"round {rnd} {server.name:7} s={sessions:<3} l={size:<6} "
        f"accept {fmt(r['accept_msgs_per_s'])}/s e2e {fmt(r['e2e_msgs_per_s'])}/s "
        f"cpu {r['cpu_s']:.2f}s rss {r['peak_rss_mb']:.0f}MB pss {r['peak_pss_mb']:.0f}MB "
        f"p99 {fmt(r['lat_p99_ms'])}ms {r['error']}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True, type=pathlib.Path)
    ap.add_argument("--out", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parent / "results")
    ap.add_argument("--postern", default=str(pathlib.Path(__file__).resolve().parents[1]
                                             / "build/bin/postern"))
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    quick, rounds, messages, lat_messages, wanted, budget = settings()
    started_at = time.time()
    log(f"rounds={rounds} messages={messages} latency_messages={lat_messages} quick={quick}")

    status = {}
    runs = []
    sampler = procstat.Sampler(0.2)
    running = []
    rounds_done = 0
    try:
        ready = prepare_servers(a.tmp, wanted, a.postern, status)
        for rnd in range(1, rounds + 1):
            spent = time.time() - started_at
            if rnd > 1 and spent + spent / (rnd - 1) > budget:
                log(f"stopping after {rnd - 1} round(s): another would end after "
                    f"BENCH_BUDGET={budget:.0f}s")
                break
            rounds_done = rnd
            for s in ready:
                s.start()
                running.append(s)
                log(f"round {rnd}: {s.name} listening on 127.0.0.1:{s.port}, warming up")
                warm_up(s)
            for sessions, size, fraction in MATRIX:
                count = max(50, int(messages * fraction))
                lat_count = max(20, int(lat_messages * fraction))
                for s in ready:
                    runs.append(measure_point(s, rnd, sessions, size, count, lat_count, sampler))
            while running:
                running.pop().stop()
    except (Stop, KeyboardInterrupt) as e:
        log(f"interrupted ({e}); stopping servers, no report written")
        return 2
    finally:
        sampler.close()
        for s in running:
            s.stop()
    # The machine's limits come last: their commit loop creates and deletes tens of thousands
    # of files, which would slow the servers' file creations for minutes after (see
    # servers.Server.clear_maildir), so measured first they would tax the first round.
    log("measuring machine limits in " + str(a.tmp))
    machine = limits.measure(str(a.tmp))
    log(f"fsync/s 1 writer {machine['fsync_per_s_1writer']:.0f}, 16 writers "
        f"{machine['fsync_per_s_16writers']:.0f}; loopback "
        f"{machine['loopback_bytes_per_s'] / 1e9:.2f} GB/s")
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "rounds": rounds_done,
        "rounds_planned": rounds, "loadavg_end": os.getloadavg()[0], "messages": messages,
        "latency_messages": lat_messages, "quick": quick, "status": status,
        "duration_s": time.time() - started_at, "machine": machine,
        "host": os.uname().nodename, "kernel": os.uname().release,
    }
    if quick:
        md = report.write_all(a.out, runs, meta, "quick", "quick-previous")
    else:
        md = report.write_all(a.out, runs, meta)
    log(f"wrote {md} (and .csv, .png) in {meta['duration_s']:.0f}s")
    return 0 if all(not r["error"] for r in runs) else 1


def fmt(v):
    return "-" if v is None else f"{v:.1f}"


if __name__ == "__main__":
    sys.exit(main())
