#!/bin/sh
# bench/enroll.sh: fleet onboarding at scale (docs/performance.md, "Enrolment and facts").
# Under a throwaway PostgreSQL (pg_virtualenv), a scheduler with its enrolment service
# (2 workers) on 127.0.0.1, then pgfleet-test-enrollsim, which speaks the real protocols:
#   1. BENCH_COUNT enrolments (default 2,000): each simulated agent makes its EC P-256 key,
#      a certificate request, and enrols over TLS with one multi-use token (auto-approve);
#      the service checks the token, registers the computer, signs, records the serial;
#   2. BENCH_COUNT fact reports: each computer connects to agents.listen with its new
#      certificate, says Hello with its facts hash, sends its facts document when asked.
# Printed: the rate of each phase, the scheduler's CPU time (parent, workers and the
# enrolment process, from /proc) per enrolment and per report, and the database size per
# computer (computer, computer_cert, enrolment, enrol_log with their indexes).
# Not a test: it prints figures, and exits 1 when an enrolment or a report failed or a
# row is missing.
#   bench/enroll.sh                   (or: make bench)
#   BENCH_COUNT=200 BENCH_PROCS=8 bench/enroll.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
BIN=$(cd "$BIN" && pwd)
export BIN

if [ -z "${PGFLEET_IN_VIRTUALENV:-}" ]; then
	for c in pg_virtualenv psql; do
		command -v "$c" >/dev/null || { echo "bench: $c missing (postgresql, postgresql-common; run scripts/deps.sh)" >&2; exit 1; }
	done
	for b in pgfleet pgfleet-scheduler pgfleet-test-freeport pgfleet-test-enrollsim; do
		[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing: run make all first" >&2; exit 1; }
	done
	port=$("$BIN/pgfleet-test-freeport")
	exec env PGFLEET_IN_VIRTUALENV=1 pg_virtualenv -t -c "-p $port" -o fsync=off -o max_connections=300 "$0" "$@"
fi

export PGHOST=127.0.0.1 PGDATABASE=bench_enroll
COUNT=${BENCH_COUNT:-2000}
PROCS=${BENCH_PROCS:-16}
TICK=$(getconf CLK_TCK)
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $PGDATABASE" \
	-c "CREATE DATABASE $PGDATABASE" >/dev/null

. "$here/../tests/integration/lib.sh"
. "$here/../tests/integration/fleet.sh"
fleet_init
LOGLEVEL=4 enrol_conf sched-a 90d
sed -i 's/^sessions_per_worker:.*/sessions_per_worker: 512/; s/^agents: .*/agents: {listen: 127.0.0.1:'"$(cat "$TESTDIR/sched-a.agentport")"', presence_interval: 10s}/' "$TESTDIR/sched-a.yaml"
sched_start sched-a
wait_for 30 "the enrolment service" sh -c "grep -q 'enrol: service ready' '$TESTDIR/sched-a.log'"
wait_for 30 "the workers" sh -c "[ \$(grep -c 'ready: transfer port' '$TESTDIR/sched-a.log') -ge 2 ]"

# CPU ticks of the scheduler: the parent and every child of it (workers, enrolment)
sched_ticks() {
	t=0
	for p in $PID_sched_a $(ps -o pid= --ppid "$PID_sched_a"); do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
	done
	echo "$t"
}
per_ms() { awk -v t="$1" -v n="$2" -v k="$TICK" 'BEGIN { printf "%.3f", t * 1000 / k / n }'; }

tok=$("$P" token create --uses "$COUNT" --expires 1h 2>/dev/null)
mkdir -p "$TESTDIR/sim"
echo "== $COUNT enrolments, $PROCS simulated agents at a time, over TLS to the enrolment service"
c0=$(sched_ticks)
"$BIN/pgfleet-test-enrollsim" enrol --server "127.0.0.1:$(cat "$TESTDIR/sched-a.enrolport")" --ca "$PKI/ca.crt" \
	--token "$tok" --dir "$TESTDIR/sim" --count "$COUNT" --procs "$PROCS" | tee "$TESTDIR/enrol.out"
c1=$(sched_ticks)
n=$(sql "select count(*) from pgfleet.computer c join pgfleet.computer_cert cc using (computer_id)")
[ "$n" = "$COUNT" ] || fail "$n computers with a certificate, not $COUNT"
echo "   scheduler CPU: $(per_ms $((c1 - c0)) "$COUNT") ms per enrolment ($((c1 - c0)) ticks of 1/$TICK s)"

echo "== $COUNT fact reports: a control connection each, Hello with the facts hash, Request=Facts"
"$BIN/pgfleet-test-enrollsim" facts --server "127.0.0.1:$(cat "$TESTDIR/sched-a.agentport")" --ca "$PKI/ca.crt" \
	--dir "$TESTDIR/sim" --count "$COUNT" --procs "$PROCS" | tee "$TESTDIR/facts.out"
stored() { [ "$(sql "select count(*) from pgfleet.computer where facts is not null")" = "$COUNT" ]; }
wait_for 60 "every facts document stored" stored
c2=$(sched_ticks)
echo "   scheduler CPU: $(per_ms $((c2 - c1)) "$COUNT") ms per report (connection, TLS handshake, Hello, facts)"

sql "vacuum analyze" >/dev/null
bytes=$(sql "select sum(pg_total_relation_size(c)) from unnest(array['pgfleet.computer', 'pgfleet.computer_cert',
	'pgfleet.enrolment', 'pgfleet.enrol_log']::regclass[]) c")
echo "== database: $(awk -v b="$bytes" -v n="$COUNT" 'BEGIN { printf "%.0f bytes (%.1f KiB)", b / n, b / n / 1024 }') per computer" \
	"(computer with its facts, certificate, enrolment and log rows, indexes included; $(sql "select pg_size_pretty($bytes::bigint)") in all)"
echo "   facts document: $(sql "select avg(octet_length(facts::text))::int from pgfleet.computer") bytes on average"
grep -q "refused" "$TESTDIR/sched-a.log" && { echo "refusals in the scheduler's log:"; grep "refused" "$TESTDIR/sched-a.log" | head -n 5; }
echo "bench/enroll.sh: done"
