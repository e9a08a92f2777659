#!/bin/sh
# run.sh: `make bench` -- side-by-side benchmark of Postern against Debian's Postfix on this
# machine. Creates a temporary folder for both instances, runs bench/bench.py in it, and always
# stops every server process it started and removes the folder, also on failure or Ctrl-C.
# Results: bench/results/latest.{md,csv,png}. Needs root (Postfix starts as root).
# Environment: BENCH_QUICK=1 (one short round), BENCH_ROUNDS, BENCH_MESSAGES, BENCH_SERVERS,
# BENCH_POSTERN (another Postern binary to measure, for before/after comparisons),
# BENCH_TMPDIR (parent of the temporary folder; default $TMPDIR or /tmp).
set -eu
cd "$(dirname "$0")/.."
top=$PWD

if [ "$(id -u)" != 0 ]; then
    echo "bench: must run as root (Postfix's master starts as root and drops privileges)" >&2
    exit 1
fi
for tool in /usr/sbin/postfix /usr/sbin/smtp-source /usr/bin/python3; do
    [ -x "$tool" ] || { echo "bench: $tool missing (run scripts/install-deps.sh)" >&2; exit 1; }
done
command -v gnuplot >/dev/null 2>&1 || echo "bench: gnuplot not found, no chart will be drawn" >&2

tmp=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/postern-bench.XXXXXX")
# The unprivileged daemons and the virtual delivery agent must be able to walk into it.
chmod 755 "$tmp"
bench_pid=""

# Stops whatever is left: each instance's master (by the pid in its pid file) and its
# children; then removes the folder. Runs on every exit path.
cleanup() {
    status=$?
    trap - EXIT INT TERM HUP
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    for inst in "$tmp"/postfix "$tmp"/postern; do
        pidfile=$inst/queue/pid/master.pid
        [ -f "$pidfile" ] || continue
        pid=$(tr -d ' \n' < "$pidfile")
        case $pid in ''|*[!0-9]*) continue ;; esac
        kill -0 "$pid" 2>/dev/null || continue
        if [ "$(basename "$inst")" = postfix ]; then
            /usr/sbin/postfix -c "$inst/etc" stop >/dev/null 2>&1 || true
        else
            "$top/build/bin/postern" postfix -c "$inst/etc" stop >/dev/null 2>&1 || true
        fi
        sleep 1
        if kill -0 "$pid" 2>/dev/null; then
            children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
            kill -KILL "$pid" $children 2>/dev/null || true
        fi
    done
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

echo "bench: instances in $tmp"
/usr/bin/python3 bench/bench.py --tmp "$tmp" --out "$top/bench/results" \
    --postern "${BENCH_POSTERN:-$top/build/bin/postern}" &
bench_pid=$!
wait "$bench_pid"
rc=$?
bench_pid=""
# The TLS point (issue 12): STARTTLS + one message per session, RSA and ECDSA, both servers.
if [ "$rc" = 0 ] && [ "${BENCH_TLS:-1}" = 1 ]; then
    /usr/bin/python3 bench/tls_point.py --messages "${BENCH_TLS_MESSAGES:-1000}" \
        | tee "$top/bench/results/latest-tls.txt"
    rc=$?
fi
exit "$rc"
