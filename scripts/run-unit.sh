#!/bin/sh
# run-unit.sh: runs each C unit-test binary given and prints the summed "N passed, N failed".
passed=0 failed=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^unit: ' | sed 's/^/    /'
    line=$(printf '%s\n' "$out" | grep '^unit: ' | tail -n 1)
    if [ -z "$line" ]; then
        echo "unit: $t: crashed (exit $rc)"; failed=$((failed + 1)); continue
    fi
    echo "$line"
    p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
    f=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
    passed=$((passed + p)); failed=$((failed + f))
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
done
echo "unit total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
