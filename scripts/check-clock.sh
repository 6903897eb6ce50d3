#!/bin/sh
# The integration tests as if the clock said another time: a midnight that ends a
# month and a year, the first hour of a day (yesterday's figures not rolled up yet),
# the evening of the last day of February, and the night Europe changes to summer
# time. Every process of the run (PostgreSQL included) sees the real clock shifted
# by the same number of seconds (libfaketime, FAKETIME="+Ns"), so time still
# passes and the processes agree on it. A test that depends on the hour or the
# date it runs fails here at one of these instants.
#   scripts/check-clock.sh [t_name ...]            (make check-clock; default: the tests
#                                                    that compute with dates and hours)
#   CLOCK_AT="2027-01-01T00:30:00Z ..." scripts/check-clock.sh t_report
# BIN names the folder of the built binaries. Exit 0 only when every run passed.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
: "${BIN:=$here/build/bin}"
export BIN
lib=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/*/faketime/libfaketime.so.1 \
	/usr/lib/faketime/libfaketime.so.1; do
	[ -f "$f" ] && { lib=$f; break; }
done
[ -n "$lib" ] || { echo "check-clock: libfaketime missing (apt-get install faketime)" >&2; exit 1; }

: "${CLOCK_AT:=2026-12-31T23:50:00Z 2027-01-01T00:20:00Z 2027-02-28T22:30:00Z 2027-03-28T00:45:00Z}"
tests=$*
# (t_report_retention is not among them: with the clock shifted (FAKETIME="+Ns", N not 0;
# libfaketime 0.9.10) PostgreSQL's lock_timeout and statement_timeout never fire, and its
# first step needs lock_timeout; its dates hang off 01:00 UTC of a day 400 days back, its
# months are the UTC months the partition functions use, it counts only its own rows, and
# `TESTS=t_report_retention make check-clock` shows that only that step fails)
[ -n "$tests" ] || tests="t_report t_report_rollup t_report_outcome t_report_failures
	t_report_docs t_report_role t_cli_submit t_cli_adhoc t_sched_windows t_sched_tz t_web_pages"
known=""
for t in $tests; do
	[ -f "$here/tests/integration/$t.sh" ] && known="$known $t"
done
log=$(mktemp -d /tmp/pgfleet-clock.XXXXXX)
failed=""
for at in $CLOCK_AT; do
	target=$(date -u -d "$at" +%s 2>/dev/null) || { echo "check-clock: \"$at\" is not a time" >&2; exit 2; }
	shift_s=$((target - $(date -u +%s)))
	echo "== as if it were $at (the clock shifted by $shift_s s): $known"
	sign=+
	[ "$shift_s" -ge 0 ] || sign=""
	# the server's environment is the cluster's own (pg_ctlcluster does not pass ours on)
	printf "LD_PRELOAD = '%s'\nFAKETIME = '%s'\nFAKETIME_DONT_RESET = '1'\n" "$lib" "$sign${shift_s}s" > "$log/environment"
	chmod 0644 "$log/environment"
	chmod 0755 "$log"
	if env FAKETIME="$sign${shift_s}s" FAKETIME_DONT_RESET=1 LD_PRELOAD="$lib" \
		PGFLEET_PG_ENVIRONMENT="$log/environment" \
		PGFLEET_IT_LOGS="$log/$at" "$here/tests/integration/run.sh" $known > "$log/$at.out" 2>&1; then
		grep -E '^integration:' "$log/$at.out" || true
	else
		grep -E '^(FAIL|integration:)' "$log/$at.out" || tail -n 5 "$log/$at.out"
		failed="$failed $at"
	fi
done
if [ -n "$failed" ]; then
	echo "check-clock: failed at$failed (logs in $log)"
	exit 1
fi
echo "check-clock: every test passed at every instant (logs in $log)"
