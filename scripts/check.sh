#!/bin/sh
# check.sh: runs every test (C unit tests, end-to-end tests, fuzz smoke) against the sanitized
# build in build/check and ends with one "N passed, N failed" line for the whole run.
set -u
cd "$(dirname "$0")/.."
export POSTERN_BIN="$PWD/build/check/bin/postern"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allow_user_segv_handler=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p build/check
total_p=0 total_f=0

# Unit tests run with LeakSanitizer on: every test frees what it allocates. The daemons of the
# end-to-end tests are stopped by signals, where leak reports would only be noise.
unit_out=$(ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" sh scripts/run-unit.sh build/check/unit/test_* 2>&1)
printf '%s\n' "$unit_out"
line=$(printf '%s\n' "$unit_out" | grep '^unit total: ' | tail -n 1)
up=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
uf=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
total_p=$((total_p + ${up:-0})); total_f=$((total_f + ${uf:-1}))

# No silent truncation: every snprintf result is checked, no strcpy/strcat/sprintf (issue 11).
if make --no-print-directory lint; then
    total_p=$((total_p + 1)); echo "truncation lint: 1 passed, 0 failed"
else
    total_f=$((total_f + 1)); echo "truncation lint: 0 passed, 1 failed"
fi

# docs/parameters.md must match the parameter tables it is generated from.
if make --no-print-directory docs-check; then
    total_p=$((total_p + 1)); echo "docs check: 1 passed, 0 failed"
else
    total_f=$((total_f + 1)); echo "docs check: 0 passed, 1 failed"
fi

rm -f build/check/e2e.xml
/usr/bin/python3 -m pytest -p no:cacheprovider -q -ra --junitxml=build/check/e2e.xml \
    ${PYTEST_ARGS:-} tests/e2e
eval "$(/usr/bin/python3 scripts/junit-count.py build/check/e2e.xml)"
echo "e2e total: $E2E_PASSED passed, $E2E_FAILED failed"
total_p=$((total_p + E2E_PASSED)); total_f=$((total_f + E2E_FAILED))

if [ -x scripts/fuzz-smoke.sh ] && ls fuzz/fuzz_*.c >/dev/null 2>&1; then
    if make --no-print-directory fuzz-smoke > build/check/fuzz.log 2>&1; then
        fp=$(ls fuzz/fuzz_*.c | wc -l); total_p=$((total_p + fp))
        echo "fuzz smoke: $fp passed, 0 failed"
    else
        tail -n 30 build/check/fuzz.log
        total_f=$((total_f + 1)); echo "fuzz smoke: 0 passed, 1 failed"
    fi
fi

echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ] && [ "$total_p" -gt 0 ]
