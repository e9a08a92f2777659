"""Writes the benchmark's results: latest.md (tables, Postern/Postfix ratios first),
latest.csv (one row per measured run), latest-machine.csv (the machine limits) and latest.png
(messages per second against concurrency, gnuplot). Before overwriting, the previous
latest.md/latest.csv become previous.md/previous.csv; any figure more than 10% worse than in
the previous run is flagged in the new table. BENCH_QUICK runs use the names quick.* and
quick-previous.* instead, so a quick look never becomes the baseline of a full run.

Aggregation over rounds: the median of each per-run figure (throughput, latency percentiles,
CPU per 1000 messages) and the maximum of the peak RSS.
"""
import csv
import os
import shutil
import statistics
import subprocess
import tempfile

FIELDS = ["server", "round", "sessions", "size", "messages", "accept_s", "e2e_s",
          "accept_msgs_per_s", "e2e_msgs_per_s", "delivered", "deferred", "cpu_s", "cpu_s_per_1000",
          "peak_rss_mb", "peak_pss_mb", "lat_count", "lat_p50_ms", "lat_p99_ms", "lat_errors",
          "error"]
NUMERIC = [f for f in FIELDS if f not in ("server", "error")]

# Figures where a higher value is better; the others are better when lower.
HIGHER_BETTER = {"accept", "e2e"}
REGRESSION = 0.10

TARGETS = [
    # (what, metric, sessions, sizes, bound, kind) -- kind ">=" or "<=" on the ratio
    ("end-to-end msgs/s at 20 and 100 sessions, 1K and 16K", "e2e", (20, 100), (1024, 16384),
     2.0, ">="),
    ("end-to-end msgs/s at 1 session", "e2e", (1,), (1024, 16384), 1.2, ">="),
    ("p99 accept latency at 20 sessions", "p99", (20,), None, 0.5, "<="),
    ("peak RSS", "rss", None, None, 0.25, "<="),
    ("CPU seconds per 1000 messages", "cpu", None, None, 0.5, "<="),
]


def size_label(size):
    return f"{size // 1024}K" if size % 1024 == 0 else f"{size}B"


def read_runs(path):
    """Reads a results CSV back into run dicts (numbers as floats, empty cells as None)."""
    runs = []
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for k in NUMERIC:
                    v = row.get(k, "")
                    row[k] = float(v) if v not in ("", None) else None
                runs.append(row)
    except OSError:
        return []
    return runs


def write_runs(path, runs):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in runs:
            w.writerow({k: ("" if r.get(k) is None else
                            (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]))
                        for k in FIELDS})


def _median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def aggregate(runs):
    """Returns {(server, sessions, size): {metric: value}} over all rounds."""
    groups = {}
    for r in runs:
        key = (r["server"], int(r["sessions"]), int(r["size"]))
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        rss = [r["peak_rss_mb"] for r in rs if r["peak_rss_mb"] is not None]
        out[key] = {
            "accept": _median(r["accept_msgs_per_s"] for r in rs),
            "e2e": _median(r["e2e_msgs_per_s"] for r in rs),
            "p50": _median(r["lat_p50_ms"] for r in rs),
            "p99": _median(r["lat_p99_ms"] for r in rs),
            "cpu": _median(r["cpu_s_per_1000"] for r in rs),
            "rss": max(rss) if rss else None,
            "pss": max((r["peak_pss_mb"] for r in rs if r.get("peak_pss_mb") is not None),
                       default=None),
            "rounds": len(rs),
            "errors": sum(1 for r in rs if r.get("error")),
            "messages": int(rs[0]["messages"]),
        }
    return out


def ratio(agg, metric, sessions, size):
    a = agg.get(("postern", sessions, size), {}).get(metric)
    b = agg.get(("postfix", sessions, size), {}).get(metric)
    if a is None or not b:
        return None
    return a / b


def fmt(v, digits=1):
    return "—" if v is None else f"{v:,.{digits}f}"


def fmt_ratio(v):
    return "—" if v is None else f"{v:.2f}x"


def regressions(agg, prev):
    """Returns {(server, sessions, size, metric): change} for figures >10% worse than before."""
    flags = {}
    for key, cur in agg.items():
        old = prev.get(key)
        if not old:
            continue
        for metric in ("accept", "e2e", "p50", "p99", "cpu", "rss", "pss"):
            a, b = cur.get(metric), old.get(metric)
            if a is None or not b:
                continue
            change = (a - b) / b
            worse = -change if metric in HIGHER_BETTER else change
            if worse > REGRESSION:
                flags[key + (metric,)] = change
    return flags


def cell(agg, flags, server, sessions, size, metric, digits=1):
    v = agg.get((server, sessions, size), {}).get(metric)
    text = fmt(v, digits)
    change = flags.get((server, sessions, size, metric))
    if change is not None:
        text += f" ⚠{change * 100:+.0f}%"
    return text


def points(agg):
    return sorted({(k[1], k[2]) for k in agg}, key=lambda p: (p[1], p[0]))


def target_rows(agg):
    rows = []
    have_postern = any(k[0] == "postern" for k in agg)
    for what, metric, sess, sizes, bound, kind in TARGETS:
        vals = []
        for s, l in points(agg):
            if (sess is None or s in sess) and (sizes is None or l in sizes):
                r = ratio(agg, metric, s, l)
                if r is not None:
                    vals.append((r, s, l))
        if not have_postern or not vals:
            rows.append((what, f"{kind} {bound}x", "not measured", "—"))
            continue
        worst = min(vals) if kind == ">=" else max(vals)
        met = all((r >= bound) if kind == ">=" else (r <= bound) for r, _, _ in vals)
        rows.append((what, f"{kind} {bound}x",
                     f"worst {worst[0]:.2f}x (s={worst[1]}, {size_label(worst[2])}); "
                     f"range {min(v[0] for v in vals):.2f}–{max(v[0] for v in vals):.2f}x",
                     "yes" if met else "**no**"))
    return rows


def regression_lines(agg, prev, flags):
    """Lists ratio regressions (Postern against Postfix in the same run: robust to a busier or
    quieter machine) first, then each server's own figures that got worse."""
    lines = []
    for s, l in points(agg):
        for metric in ("e2e", "accept", "p50", "p99", "cpu", "rss", "pss"):
            a, b = ratio(agg, metric, s, l), ratio(prev, metric, s, l)
            if a is None or not b:
                continue
            change = (a - b) / b
            worse = -change if metric in HIGHER_BETTER else change
            if worse > REGRESSION:
                lines.append(f"- **Postern/Postfix {metric}**, {s} sessions, {size_label(l)}: "
                             f"{b:.2f}x → {a:.2f}x")
    if not lines:
        lines.append("- Postern/Postfix ratios: none.")
    by_point = {}
    for (srv, s, l, metric), change in flags.items():
        by_point.setdefault((srv, s, l), []).append(f"{metric} {change * 100:+.0f}%")
    for (srv, s, l), items in sorted(by_point.items()):
        lines.append(f"- {srv}, {s} sessions, {size_label(l)}: " + ", ".join(items))
    if not by_point:
        lines.append("- Absolute figures of either server: none.")
    elif len(by_point) > len(agg) // 2:
        lines.append("- (Most points of both servers moved together: the machine's load, not "
                     "the code, probably changed. The ratios above are the better guide.)")
    return lines


def markdown(agg, flags, meta, had_previous, stem="latest", prev=None):
    m = meta["machine"]
    fsync_bound = m["fsync_per_s"] / 2.0
    st = meta["status"]
    out = ["# Postern vs Postfix: latest benchmark", ""]
    out.append(
        f"Run {meta['date']} on `{meta['host']}` (Linux {meta['kernel']}, {m['cpus']} CPUs): "
        f"{meta['rounds']} of {meta['rounds_planned']} planned round(s), "
        f"{meta['latency_messages']} latency transactions per point and round (256K: a fifth), "
        f"{meta['duration_s'] / 60:.1f} min. Load average at the end: "
        f"{meta.get('loadavg_end', 0):.1f} (other load on the machine moves every figure). "
        "Reproduce: `make bench`; method: docs/performance.md.")
    if meta.get("quick"):
        out += ["", "**BENCH_QUICK run: one short round, indicative only.**"]
    out += ["", f"- Postfix: {st.get('postfix', 'not run')}"]
    if "postern" in st:
        out.append(f"- Postern: {st['postern']}")
    else:
        out.append(f"- Postern: **not measured** — {st.get('postern_missing', 'not requested')}")
    out += ["", "## Machine limits (same run, same file system as the queues)", "",
            "| limit | value |", "|---|---|",
            f"| durable 1 KiB file commits/s (create, write, fsync, rename), 1 writer | "
            f"{m['fsync_per_s_1writer']:,.0f} |",
            f"| same, 16 concurrent writers | {m['fsync_per_s_16writers']:,.0f} |",
            f"| fsync-bound end-to-end limit (best of the two / 2: queue file + mailbox file) | "
            f"{fsync_bound:,.0f} msgs/s |",
            f"| loopback TCP, one connection | {m['loopback_bytes_per_s'] / 1e9:,.2f} GB/s |", ""]

    pts = points(agg)
    out += ["## Headline: Postern / Postfix", "",
            "Ratios of medians over rounds. Throughput: higher is better; latency, CPU and "
            "memory: lower is better.", "",
            "| sessions | size | e2e msgs/s | accept msgs/s | p50 latency | p99 latency | "
            "CPU s/1000 msgs | peak RSS | peak PSS |", "|---|---|---|---|---|---|---|---|---|"]
    for s, l in pts:
        out.append(f"| {s} | {size_label(l)} | " + " | ".join(
            fmt_ratio(ratio(agg, k, s, l))
            for k in ("e2e", "accept", "p50", "p99", "cpu", "rss", "pss")) + " |")
    out += ["", "## Targets (from the Performance issue)", "",
            "| target | bound (Postern/Postfix) | measured | met |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in target_rows(agg)]

    out += ["", "## Throughput (msgs/s)", "",
            "| sessions | size | msgs | Postfix accept | Postern accept | Postfix e2e | Postern e2e "
            "| Postfix e2e / fsync bound | Postern e2e / fsync bound |",
            "|---|---|---|---|---|---|---|---|---|"]
    for s, l in pts:
        n = next(v["messages"] for k, v in agg.items() if k[1:] == (s, l))
        frac = []
        for srv in ("postfix", "postern"):
            e = agg.get((srv, s, l), {}).get("e2e")
            frac.append("—" if e is None else f"{100.0 * e / fsync_bound:.0f}%")
        out.append(f"| {s} | {size_label(l)} | {n} | "
                   f"{cell(agg, flags, 'postfix', s, l, 'accept')} | "
                   f"{cell(agg, flags, 'postern', s, l, 'accept')} | "
                   f"{cell(agg, flags, 'postfix', s, l, 'e2e')} | "
                   f"{cell(agg, flags, 'postern', s, l, 'e2e')} | {frac[0]} | {frac[1]} |")
    out += ["", "## Accept latency per transaction (ms, latency.py)", "",
            "| sessions | size | Postfix p50 | Postern p50 | Postfix p99 | Postern p99 |",
            "|---|---|---|---|---|---|"]
    for s, l in pts:
        out.append(f"| {s} | {size_label(l)} | " + " | ".join(
            cell(agg, flags, srv, s, l, k, 2) for k in ("p50", "p99")
            for srv in ("postfix", "postern")) + " |")
    out += ["", "## Resources (during the smtp-source run)", "",
            "CPU: all processes of the instance, per 1000 messages. Memory: peak over 0.2 s "
            "samples of the sum over its processes; RSS counts shared pages once per process, "
            "PSS shares them out.", "",
            "| sessions | size | Postfix CPU s/1000 | Postern CPU s/1000 | Postfix peak RSS MB | "
            "Postern peak RSS MB | Postfix peak PSS MB | Postern peak PSS MB |",
            "|---|---|---|---|---|---|---|---|"]
    for s, l in pts:
        out.append(f"| {s} | {size_label(l)} | " + " | ".join(
            cell(agg, flags, srv, s, l, k, 2 if k == "cpu" else 0) for k in ("cpu", "rss", "pss")
            for srv in ("postfix", "postern")) + " |")
    errors = [(k, v["errors"]) for k, v in sorted(agg.items()) if v["errors"]]
    out += ["", "## Regressions against the previous run (more than 10% worse)", ""]
    if not had_previous:
        out.append("No previous run to compare with.")
    else:
        out += regression_lines(agg, prev, flags)
    if errors:
        out += ["", f"## Runs with errors (see {stem}.csv)", ""]
        out += [f"- {k[0]}, {k[1]} sessions, {size_label(k[2])}: {n} run(s)" for k, n in errors]
    out += ["", f"Raw numbers: `{stem}.csv` (one row per run), `{stem}-machine.csv`; "
            f"chart: `{stem}.png`.", ""]
    return "\n".join(out)


def plot(path, agg):
    """Draws e2e and accept msgs/s against sessions with gnuplot; returns False without it."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return False
    sizes = sorted({k[2] for k in agg})
    with tempfile.TemporaryDirectory() as tmp:
        series = []
        for srv in ("postfix", "postern"):
            for l in sizes:
                rows = sorted((k[1], v) for k, v in agg.items() if k[0] == srv and k[2] == l)
                if not rows:
                    continue
                data = os.path.join(tmp, f"{srv}-{l}.dat")
                with open(data, "w") as f:
                    for s, v in rows:
                        f.write(f"{s} {v['e2e'] or 0} {v['accept'] or 0}\n")
                series.append((srv, l, data))
        if not series:
            return False
        colours = {1024: "#1b9e77", 16384: "#d95f02", 262144: "#7570b3"}

        def plots(col):
            return ", ".join(
                f"'{d}' using 1:{col} with linespoints lw 2 pt {7 if srv == 'postern' else 4} "
                f"dt {1 if srv == 'postern' else 2} lc rgb '{colours.get(l, '#333333')}' "
                f"title '{srv} {size_label(l)}'" for srv, l, d in series)
        script = "\n".join([
            "set terminal pngcairo size 1200,520 font ',10'",
            f"set output '{path}'",
            "set multiplot layout 1,2",
            "set logscale x", "set xtics (1, 5, 10, 20, 50, 100)", "set grid",
            "set key top left", "set xlabel 'concurrent SMTP sessions'",
            "set ylabel 'messages/s'", "set yrange [0:*]",
            "set title 'end-to-end (accepted and in Maildir/new)'", "plot " + plots(2),
            "set title 'accept (smtp-source wall time)'", "plot " + plots(3),
            "unset multiplot", ""])
        p = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
        return p.returncode == 0


def write_all(out_dir, runs, meta, stem="latest", previous="previous"):
    """Writes OUT_DIR/STEM.{md,csv,png} and STEM-machine.csv; the old STEM files become
    PREVIOUS.{md,csv} first. Returns the path of the markdown report."""
    os.makedirs(out_dir, exist_ok=True)
    path = {ext: os.path.join(out_dir, f"{stem}.{ext}") for ext in ("md", "csv", "png")}
    old = {ext: os.path.join(out_dir, f"{previous}.{ext}") for ext in ("md", "csv")}
    for ext in ("md", "csv"):
        if os.path.exists(path[ext]):
            shutil.copyfile(path[ext], old[ext])
    prev_runs = read_runs(old["csv"])
    write_runs(path["csv"], runs)
    with open(os.path.join(out_dir, f"{stem}-machine.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["limit", "value"])
        for k, v in meta["machine"].items():
            w.writerow([k, f"{v:.6g}" if isinstance(v, float) else v])
    agg = aggregate(read_runs(path["csv"]))
    prev = aggregate(prev_runs) if prev_runs else {}
    flags = regressions(agg, prev)
    with open(path["md"], "w") as f:
        f.write(markdown(agg, flags, meta, bool(prev_runs), stem, prev))
    if not plot(path["png"], agg):
        print(f"report: gnuplot (package gnuplot-nox) not found or failed; no {stem}.png")
    return path["md"]
