#!/bin/sh
# fuzz-smoke.sh: runs each libFuzzer target given for a short time (FUZZ_SECONDS, default 20)
# starting from its seed corpus in fuzz/corpus/<target>/ when present. Fails on any crash.
set -eu
secs=${FUZZ_SECONDS:-20}
for t in "$@"; do
    name=$(basename "$t")
    corpus=build/fuzz/corpus/$name
    mkdir -p "$corpus"
    [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/" 2>/dev/null || true
    echo "fuzz: $name for ${secs}s"
    "$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=0 "$corpus" > "build/fuzz/$name.log" 2>&1 || {
        tail -n 40 "build/fuzz/$name.log"; exit 1; }
done
