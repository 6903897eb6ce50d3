#!/bin/sh
# Stress run: the unit suites N times and the integration suite M times, then a
# list of every test that failed even once (with how often). A test that fails
# one run in twenty fails CI one submission in twenty: this is how to find it.
#   scripts/check-repeat.sh [N [M]]      (make check-repeat N=20 M=3)
# BIN names the folder of the built binaries. Exit 0 only when every run passed.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
: "${BIN:=$here/build/bin}"
n=${1:-20} m=${2:-3}
case "$n$m" in *[!0-9]*) echo "check-repeat: N and M must be whole numbers, not \"$n\" \"$m\"" >&2; exit 2;; esac
log=$(mktemp -d /tmp/pgfleet-repeat.XXXXXX)
fails="$log/failures"
: > "$fails"

i=1
while [ "$i" -le "$n" ]; do
	if "$BIN/check_pgfleet" > "$log/unit-$i.log" 2>&1; then
		echo "unit run $i/$n: passed"
	else
		echo "unit run $i/$n: FAILED (log $log/unit-$i.log)"
		# Check prints "file:line:F:tcase:test:iter: message" (E: for errors)
		sed -n 's/^[^:]*:[0-9]*:[FE]:[^:]*:\([^:]*\):.*/unit \1/p' "$log/unit-$i.log" > "$log/named"
		[ -s "$log/named" ] || echo "unit run (no test named: crash or leak, see its log)" > "$log/named"
		cat "$log/named" >> "$fails"
	fi
	i=$((i + 1))
done

i=1
while [ "$i" -le "$m" ]; do
	if BIN=$BIN "$here/tests/integration/run.sh" > "$log/integration-$i.log" 2>&1; then
		echo "integration run $i/$m: passed"
	else
		echo "integration run $i/$m: FAILED (log $log/integration-$i.log)"
		sed -n 's/^FAIL \(t_[a-z0-9_]*\).*/integration \1/p' "$log/integration-$i.log" >> "$fails"
	fi
	i=$((i + 1))
done

if [ -s "$fails" ]; then
	echo "check-repeat: tests that failed at least once (count, test):"
	sort "$fails" | uniq -c | sort -rn | sed 's/^/  /'
	echo "check-repeat: logs kept in $log"
	exit 1
fi
echo "check-repeat: $n unit runs and $m integration runs, every test passed every time"
rm -rf "$log"
