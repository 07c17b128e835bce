#!/usr/bin/env bash
# Builds and runs the test suite, then prints "N passed, N failed" on its own line.
# Extra arguments go to `dotnet test` (e.g. --filter Category=Parity).
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
dotnet test MotionTune.sln -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "test run failed before reporting results (exit $status)"; fi
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ]
