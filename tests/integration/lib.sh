# Shared helpers for integration tests; sourced by each t_*.sh.
# Every test: set -eu, source this, start what it needs with spawn, and the
# trap stops it all. Never sleep for luck: wait_for a condition with a deadline.
set -eu
: "${BIN:?BIN must name the folder of the built binaries}"
# SLOW: how many times slower than a plain build the binaries run (PGFLEET_TEST_SLOW, a
# whole number, default 1; make asan sets it). wait_for's deadlines are multiplied by it,
# and so are the timeouts a test writes into a configuration only for the test's pace.
SLOW=${PGFLEET_TEST_SLOW:-1}
case "$SLOW" in
'' | 0* | *[!0-9]*) echo "PGFLEET_TEST_SLOW: \"$SLOW\" is not a whole number from 1" >&2; exit 2 ;;
esac
TESTDIR=$(mktemp -d "${PGFLEET_TESTDIR_BASE:-/tmp}/pgfleet-it.XXXXXX")
PIDS=""

cleanup() {
	rc=$?
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null || true
	done
	# a sanitizer's report in a daemon's log (make asan) fails the test even when what it
	# checked held: the log would go with the test directory, and a worker is respawned
	if grep -E -l 'runtime error: |^==[0-9]+==ERROR: ' "$TESTDIR"/*.log >&2 2>/dev/null; then
		echo "FAIL: sanitizer report in the logs above" >&2
		rc=1
	fi
	if [ "$rc" = 0 ]; then rm -rf "$TESTDIR"; else echo "test files kept in $TESTDIR" >&2; fi
	exit "$rc"
}
trap cleanup EXIT INT TERM

# TEST_NOW: the instant the fixtures hang off, so that no test depends on the hour
# it runs: PGFLEET_TEST_NOW as HH:MM (that time today, UTC) or an RFC 3339 time
# (YYYY-MM-DDTHH:MM:SSZ), else the clock. Tests hand it to the CLI as PGFLEET_NOW.
case "${PGFLEET_TEST_NOW:-}" in
"") TEST_NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ) ;;
[0-2][0-9]:[0-5][0-9]) TEST_NOW=$(date -u +%Y-%m-%d)T$PGFLEET_TEST_NOW:00Z ;;
[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z) TEST_NOW=$PGFLEET_TEST_NOW ;;
*) echo "PGFLEET_TEST_NOW: \"$PGFLEET_TEST_NOW\" is neither HH:MM nor YYYY-MM-DDTHH:MM:SSZ" >&2; exit 2 ;;
esac
# FAR_DAY: the UTC day five years after TEST_NOW (YYYY-MM-DD), for a schedule that must not
# come due while the test runs: no test names a calendar date that will pass by
FAR_DAY=$(date -u -d "${TEST_NOW%%T*} + 5 years" +%Y-%m-%d)

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# spawn CMD...: start in background, remember its pid in $LASTPID
spawn() { "$@" & LASTPID=$!; PIDS="$PIDS $LASTPID"; }

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.1s until it succeeds, for
# SECONDS times SLOW
wait_for() {
	secs=$(($1 * SLOW)) what=$2; shift 2
	end=$(( $(date +%s) + secs ))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || fail "timed out after ${secs}s waiting for: $what"
		sleep 0.1
	done
}

# gone PID: the process has exited (a zombie its parent has not reaped counts as gone)
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# free_port: a TCP port on 127.0.0.1 nobody listens on (bind to 0, read it back)
free_port() { "$BIN/pgfleet-test-freeport"; }

# no_listening_socket PID: the process and its children hold no listening TCP socket
# (the agent connects out only: /proc/net/tcp{,6} state 0A is LISTEN)
no_listening_socket() {
	inodes=$(for p in "$1" $(pgrep -P "$1" || true); do
		ls -l "/proc/$p/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]/\1/p'
	done | sort -u)
	for i in $inodes; do
		if awk -v i="$i" '$4 == "0A" && $10 == i {found = 1} END {exit !found}' /proc/net/tcp /proc/net/tcp6; then
			return 1
		fi
	done
	return 0
}

# listening_ports PID: the TCP ports the process and all its descendants listen on
# (/proc/net/tcp{,6} state 0A), sorted, one a line
listening_ports() {
	_all=$1 _todo=$1
	while [ -n "$_todo" ]; do
		_next=""
		for p in $_todo; do _next="$_next $(pgrep -P "$p" || true)"; done
		_todo=$(echo $_next)
		_all="$_all $_todo"
	done
	inodes=$(for p in $_all; do
		ls -l "/proc/$p/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]/\1/p'
	done | sort -u)
	for i in $inodes; do
		awk -v i="$i" '$4 == "0A" && $10 == i { n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6
	done | while read -r hex; do printf '%d\n' "0x$hex"; done | sort -n -u
}

# sql QUERY [ARGS...]: one value per line, unaligned; ARGS become psql variables :v1, :v2...
sql() { psql -X -v ON_ERROR_STOP=1 -qAt -c "$1"; }

assert_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }

# report_demo: load report_demo.sql, its history hung off TEST_NOW, and make the
# CLI count its rolling windows (--since 36h) from the same instant.
report_demo() {
	psql -X -q -v now="$TEST_NOW" -f "$PGFLEET_TESTS/report_demo.sql" > /dev/null || fail "demo history"
	PGFLEET_NOW=$TEST_NOW
	export PGFLEET_NOW
}

# pg_stop_fast / pg_start: stop the test cluster (-m fast) and wait until its
# postmaster is gone; start it again and wait until it accepts connections.
# pg_restart_fast: both. (pg_ctlcluster's own restart can find the old postmaster
# still there on a loaded machine and fail with "Cluster is already running".)
pg_stop_fast() {
	_pgc=$(sql "show cluster_name") _pgd=$(sql "show data_directory")
	pg_ctlcluster "${_pgc%%/*}" "${_pgc#*/}" stop -m fast || return 1
	wait_for 60 "PostgreSQL stopped" test ! -e "$_pgd/postmaster.pid"
}
pg_start() {
	pg_ctlcluster "${_pgc%%/*}" "${_pgc#*/}" start || return 1
	wait_for 60 "PostgreSQL accepting connections" sql "select 1"
}
pg_restart_fast() {
	pg_stop_fast || return 1
	pg_start
}
