#!/bin/sh
# bench/fleet.sh: one scheduler against a large fleet of simulated computers
# (pgfleet-test-fleetsim: one process, one certificate per computer, real
# mutual TLS, real transfer fetches, no scripts run), everything on 127.0.0.1
# under a throwaway PostgreSQL (pg_virtualenv, the integration tests' flock).
# Not a test: it prints figures (docs/performance.md), and exits 1 when an
# event did not end done with code 0.
#
# Per fleet size N (BENCH_FLEET_SIZES, default "1000 10000"), a fresh
# scheduler (BENCH_WORKERS workers, default 2; sessions_per_worker N; the
# shipped defaults otherwise: claim_batch 100, lease 60s, log level 5) and N
# registered computers, then a one-task job fanned out to all N, three times:
#   cold    the schedule is due before the simulator starts: all N connect
#           at once (the agents' first attempt has no delay) and run as they come
#   warm-1  all N connected and idle; each fetch resumes the transfer session
#           of the cold run's (BENCH_RESUME, default yes as the real agent does)
#   warm-2  the same again
# and then the scheduler is restarted (SIGTERM, drain, start) and the time
# until all N are connected again is taken (the reconnect herd, with the
# agents' default back-off: 1 s doubling to 60 s, full jitter).
#
# Printed per run: wall time (schedule created -> last event finished, by the
# database clock) and tasks/s; CPU per task (utime + stime from /proc/PID/stat)
# of the scheduler parent, its workers, their PostgreSQL backends (the pids
# pg_stat_activity shows for application_name pgfleet-scheduler and
# pgfleet-worker), the other PostgreSQL processes, and the simulator; dispatch
# latency p50/p99 (event due_at -> its 2501 status row, as stored); database
# rows written per task (pg_stat_user_tables inserts+updates+deletes of schema
# pgfleet), bytes per task (growth of the schema's tables and indexes) and WAL
# bytes per task; the parent's claims (its /metrics: how many, how many got
# events, the events each got on average); and for warm-2 the statements that
# took the database's time (pg_stat_statements, per task) and the rows each
# table got per task, with the share of updates that were HOT (heap-only: no
# index written). Per size: worker RSS idle and with N connected, memory per
# connection, open descriptors, the simulator's memory per computer.
#
# Open files: the simulator holds one descriptor per computer and a second
# while fetching, the workers one per connection and fetch. The fleet is
# split into simulator processes of at most 5,000 computers (about 10,500
# descriptors each); the script raises `ulimit -n` to what they need (up to
# the hard limit: 20,000 on the machine of docs/performance.md) and stops with
# the reason when it cannot. The scheduler raises its own to its hard limit.
#   bench/fleet.sh                         (about 10 minutes)
#   BENCH_FLEET_SIZES=1000 bench/fleet.sh  (about a minute)
#   BENCH_KEEP=1 ...                       (keeps the logs in /tmp/pgfleet-it.*.kept)
#   BENCH_PERF=1 BENCH_KEEP=1 ...          (perf record -a -g over warm-2, or BENCH_PERF_RUN;
#                                           BENCH_PERF_FREQ=499 BENCH_PERF_CALLGRAPH=dwarf for
#                                           denser samples and call chains through OpenSSL)
#   BENCH_MAX_CONNECTING=48 ...            (each simulator process keeps at most 48 connection
#                                           attempts under way, the rest queued: arrivals paced
#                                           to what the machine can handshake; default 0, a herd)
#   BENCH_PG_OPTS="-o name=value ..."      (more pg_virtualenv options, e.g. auto_explain settings)
#   BENCH_STATEMENTS_RUNS="warm-1 warm-2"  (the runs whose statements are printed; default warm-2)
#   BENCH_TRACK_ALL=1 ...                  (pg_stat_statements.track = all: for warm-2 also the
#                                           statements run inside functions (finish_event,
#                                           claim_events, ...), and the lock waits of the
#                                           scheduler's sessions sampled every 20 ms from
#                                           pg_stat_activity: who waited, on which table's row,
#                                           behind which statement)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
BIN=$(cd "$BIN" && pwd)
export BIN
SIZES=${BENCH_FLEET_SIZES:-1000 10000}
NOFILE=65536
PER_SIM=5000   # computers per simulator process

. "$here/lib.sh"
if [ -z "${PGFLEET_IN_VIRTUALENV:-}" ]; then
	for c in pg_virtualenv psql flock; do
		command -v "$c" >/dev/null || { echo "bench: $c missing (postgresql, postgresql-common; run scripts/deps.sh)" >&2; exit 1; }
	done
	for b in pgfleet pgfleet-scheduler pgfleet-test-fleetsim pgfleet-test-freeport; do
		[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing: run make all first" >&2; exit 1; }
	done
	max=0
	for n in $SIZES; do [ "$n" -le "$max" ] || max=$n; done
	per=$max; [ "$per" -le "$PER_SIM" ] || per=$PER_SIM
	NOFILE_WANT=$NOFILE nofile_at_least $((2 * per + 500)) "$max simulated computers"
	exec flock -o /tmp/pgfleet-pg_virtualenv.lock env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -o fsync=off -o max_connections=300 -o shared_preload_libraries=pg_stat_statements \
		${BENCH_TRACK_ALL:+-o pg_stat_statements.track=all} ${BENCH_PG_OPTS:-} "$0" "$@"
fi

export PGHOST=127.0.0.1 PGDATABASE=bench_fleet
WORKERS=${BENCH_WORKERS:-2}
LOGLEVEL=${BENCH_LOGLEVEL:-5}
TIMEOUT=${BENCH_TIMEOUT:-900}
RESUME=${BENCH_RESUME:-yes}
PERF_RUN=${BENCH_PERF_RUN:-warm-2}   # with BENCH_PERF=1: the run profiled
STMT_RUNS=${BENCH_STATEMENTS_RUNS:-warm-2}   # the runs whose statements are printed
MAXCONN=${BENCH_MAX_CONNECTING:-0}   # fleetsim --max-connecting (per simulator process)
. "$here/../tests/integration/lib.sh"
. "$here/../tests/integration/fleet.sh"
. "$here/lib.sh"
bench_begin
db_q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
for n in $SIZES; do
	db_q "INSERT INTO pgfleet.computer (name, host, os, boot_env, labels)
	      SELECT 'f$n-' || g, '127.0.0.1', 'Linux', 'Production', jsonb_build_object('fleet', 'f$n')
	      FROM generate_series(1, $n) g" >/dev/null
done
# statistics of the computers only: an ANALYZE now would record the event and presence tables
# as empty, and the planner would trust that (seq scans inside every claim) until autovacuum
# came by, which a run of a few seconds does not wait for
db_q "ANALYZE pgfleet.computer" >/dev/null
job_add fanout 'echo "%COMPNAME%"'
echo "pgfleet fleet benchmark: sizes $SIZES, $WORKERS workers, simulator on the same machine (pgfleet-test-fleetsim)"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n 1)),"\
" $(awk '/^MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo), load before: $(cut -d' ' -f1-3 /proc/loadavg);"\
" PostgreSQL $(db_q "SHOW server_version") (pg_virtualenv, fsync=off); ulimit -n $(ulimit -n)"
echo "scheduler: workers $WORKERS, claim_batch 100, poll_interval 200ms, lease 60s, log level $LOGLEVEL;" \
	"simulator: keepalive 30s, back-off 1s..60s, transfer sessions resumed: $RESUME," \
	"attempts under way at once per simulator process: $([ "$MAXCONN" = 0 ] && echo "no limit" || echo "$MAXCONN")"

failed=0
: > "$WORK/runs" ; : > "$WORK/sizes"

# the pids whose CPU is counted: parent, workers, their backends, other PostgreSQL processes
pids_of() {
	PARENT=$SPID
	WPIDS=$(ps -o pid= --ppid "$SPID" | tr '\n' ' ')
	BPIDS=$(db_q "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
		WHERE application_name IN ('pgfleet-scheduler', 'pgfleet-worker')")
	OPIDS=$(db_q "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
		WHERE application_name NOT IN ('pgfleet-scheduler', 'pgfleet-worker') AND pid <> pg_backend_pid()")
}
db_counters() {
	db_q "SELECT (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables
	              WHERE schemaname = 'pgfleet')
	     || ' ' || (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
	              JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'pgfleet' AND c.relkind = 'r')
	     || ' ' || pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"
}
# each table of schema pgfleet: name|updates|HOT updates|inserts|deletes (partitions by their own name)
table_writes() {
	db_q "SELECT relname || '|' || n_tup_upd || '|' || n_tup_hot_upd || '|' || n_tup_ins || '|' || n_tup_del
		FROM pg_stat_user_tables WHERE schemaname = 'pgfleet' ORDER BY relname"
}
snapshot() { # snapshot VAR: CPU ticks of each group and the database counters
	eval "$1_p=\$(ticks $PARENT) $1_w=\$(ticks $WPIDS) $1_b=\$(ticks $BPIDS) $1_o=\$(ticks $OPIDS)"
	eval "$1_s=\$(ticks $SIMPIDS)"
	set -- "$1" $(db_counters)
	eval "$1_rows=$2 $1_bytes=$3 $1_wal=$4"
}
per_task() { calc "sprintf(\"%.0f\", ($1) * 1000000 / $TICK / $N)"; }  # ticks -> us per task

# With BENCH_TRACK_ALL: a second session samples, every 20 ms, the scheduler's sessions
# waiting for a lock (one NOTICE line per waiting session, one "tick" per sample), until
# waits_stop cancels it; waits_report prints the most frequent (average sessions waiting).
WAITS_PID=""
waits_start() {
	[ -n "${BENCH_TRACK_ALL:-}" ] || return 0
	PGAPPNAME=bench-waits psql -X -qAt -c "DO \$w\$
DECLARE
	r record;
	deadline timestamptz := clock_timestamp() + make_interval(secs => $TIMEOUT);
BEGIN
	WHILE clock_timestamp() < deadline LOOP
		RAISE NOTICE 'tick';
		FOR r IN
			SELECT a.application_name AS app, a.wait_event AS ev,
			       regexp_replace(left(a.query, 60), '\s+', ' ', 'g') AS q,
			       (SELECT string_agg(DISTINCT l.relation::regclass::text, ',') FROM pg_locks l
			        WHERE l.pid = a.pid AND l.locktype = 'tuple') AS rel,
			       (SELECT string_agg(DISTINCT b.application_name || ' ' ||
			                          regexp_replace(left(b.query, 40), '\s+', ' ', 'g'), ' + ')
			        FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))) AS blocker
			FROM pg_stat_activity a
			WHERE a.wait_event_type = 'Lock' AND a.application_name LIKE 'pgfleet%'
		LOOP
			RAISE NOTICE 'wait|% on % (%): %|behind %', r.app, r.ev, coalesce(r.rel, '-'), r.q, r.blocker;
		END LOOP;
		PERFORM pg_sleep(0.02);
	END LOOP;
END \$w\$" 2> "$WORK/waits-$1" &
	WAITS_PID=$!
}
waits_stop() {
	[ -n "$WAITS_PID" ] || return 0
	db_q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench-waits'" >/dev/null
	wait "$WAITS_PID" 2>/dev/null || true
	WAITS_PID=""
}
waits_report() {
	[ -s "$WORK/waits-$1" ] || return 0
	sed -n 's/^NOTICE:  //p' "$WORK/waits-$1" | awk -F'|' '
		$1 == "tick" { t++; next }
		$1 == "wait" { n[$2 " | " $3]++; w++ }
		END {
			printf "    lock waits (pg_stat_activity every 20 ms, %d samples): %.3f sessions waiting on average\n", t, t ? w / t : 0
			for (k in n) printf "      %6.3f %s\n", n[k] / t, k
		}' | { IFS= read -r head; echo "$head"; sort -rn | head -n 10; }
}

# run_fanout LABEL: a schedule over the fleet, due now, and its figures
# the parent's claims so far: all of them, those that got events, the events they got
claim_metrics() {
	curl -sf "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "pgfleet_claim_seconds_count" { a = $2 }
		$1 == "pgfleet_claim_batch_size_count" { b = $2 } $1 == "pgfleet_claim_batch_size_sum" { c = $2 }
		END { if (a != "") printf "%d %d %d\n", a, b, c }'
}
run_fanout() {
	label=$1
	pids_of
	db_q "SELECT pg_stat_statements_reset()" >/dev/null
	table_writes > "$WORK/tables-a"
	snapshot a
	claims_a=$(claim_metrics)
	[ "$label" != "$PERF_RUN" ] || perf_start "$N-$label"
	[ "$label" != warm-2 ] || waits_start "$N-$label"
	if [ "$label" = cold ]; then
		# the clock starts as the simulator starts connecting (its certificates made)
		start_sim
		for f in "$WORK"/sim-$N-*.log; do
			wait_for 120 "the simulator to start connecting" grep -q "connecting to" "$f"
		done
	fi
	sid=$(db_schedule fanout "{\"labels\": {\"fleet\": \"f$N\"}}")
	out=$(db_wait "NOT EXISTS (SELECT 1 FROM pgfleet.event WHERE schedule_id = $sid AND state IN ('pending', 'running'))" \
		"(SELECT count(*) FROM pgfleet.agent_presence WHERE scheduler LIKE 'sched-a:%') || ' ' ||
		 (SELECT count(*) FROM pgfleet.event WHERE schedule_id = $sid AND state = 'running')" "$TIMEOUT")
	echo "$out" > "$WORK/samples-$N-$label"
	[ "$label" != "$PERF_RUN" ] || perf_stop
	waits_stop
	[ "$(echo "$out" | tail -n 1)" = ok ] || { echo "    FAIL $label: not done within ${TIMEOUT}s"; failed=1; }
	sleep 1.5 # pg_stat counters are flushed about once a second
	pids_of
	snapshot b
	table_writes > "$WORK/tables-b"
	claims_b=$(claim_metrics)
	set -- $(db_q "SELECT extract(epoch FROM max(e.finished_at) - s.created_at),
		count(*) FILTER (WHERE e.state = 'done' AND e.status_code = 0),
		(SELECT count(*) FROM pgfleet.status_log l WHERE l.schedule_id = s.schedule_id)
		FROM pgfleet.event e JOIN pgfleet.schedule s USING (schedule_id) WHERE s.schedule_id = $sid
		GROUP BY s.schedule_id, s.created_at" | tr '|' ' ')
	secs=$1 okn=$2 rows=$3
	set -- $(db_q "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP (ORDER BY d)
		FROM (SELECT extract(epoch FROM l.at - e.due_at) * 1000 AS d FROM pgfleet.status_log l
		      JOIN pgfleet.event e USING (event_id) WHERE e.schedule_id = $sid AND l.status_code = 2501) x" | tr '|' ' ')
	p50=${1:-0} p99=${2:-0}
	# where the database's time went: the statements of the run, per task
	db_q "SELECT to_char(total_exec_time / $N * 1000, 'FM999990') || ' us/task, ' ||
		to_char(calls::numeric / $N, 'FM9990.00') || ' calls/task, ' ||
		to_char(rows::numeric / greatest(calls, 1), 'FM999990.0') || ' rows/call: ' ||
		regexp_replace(left(query, 110), '\s+', ' ', 'g')
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND query NOT LIKE '%pg_stat%' AND query NOT LIKE 'DO %' AND toplevel
		ORDER BY total_exec_time DESC LIMIT 12" > "$WORK/statements-$N-$label"
	# with BENCH_TRACK_ALL, the statements run inside functions (not those of the bench's own
	# sampling, which polls pgfleet.event and agent_presence from a DO block)
	db_q "SELECT to_char(total_exec_time / $N * 1000, 'FM999990') || ' us/task, ' ||
		to_char(calls::numeric / $N, 'FM9990.00') || ' calls/task, ' ||
		to_char(rows::numeric / greatest(calls, 1), 'FM999990.0') || ' rows/call, ' ||
		to_char(shared_blks_hit::numeric / greatest(calls, 1), 'FM99999990.0') || ' blks/call: ' ||
		regexp_replace(left(query, 150), '\s+', ' ', 'g')
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND NOT toplevel AND query NOT LIKE '%pg_stat%' AND query NOT LIKE 'SELECT (%'
		AND query NOT LIKE '%clock_timestamp%' AND query NOT LIKE '%pg_sleep%'
		ORDER BY total_exec_time DESC LIMIT 16" > "$WORK/nested-$N-$label"
	conn_at=$(echo "$out" | awk -F'|' -v n="$N" '$2 ~ "^" n " " { print $1; exit }')
	start_at=$(db_q "SELECT extract(epoch FROM created_at) FROM pgfleet.schedule WHERE schedule_id = $sid")
	connected_in=$( [ -n "$conn_at" ] && calc "sprintf(\"%.1f\", $conn_at - $start_at)" || echo "-")
	[ "$okn" = "$N" ] || { echo "    FAIL $label: $okn of $N events done with code 0"; failed=1; }
	echo "  $label: $N tasks in $(calc "sprintf(\"%.2f\", $secs)") s; all connected after $connected_in s;" \
		"$okn done with code 0; $rows status rows"
	# the parent's claims (its /metrics): how many, how many got events, how many each
	set -- $claims_a $claims_b
	[ $# != 6 ] || echo "    claims: $(($4 - $1)), $(($5 - $2)) of them got events, $(calc "sprintf(\"%.1f\", ($6 - $3) / (($5 - $2) > 0 ? $5 - $2 : 1))") events each"
	if echo " $STMT_RUNS " | grep -q " $label "; then
		echo "    statements by database time (pg_stat_statements, this run):"
		head -n 8 "$WORK/statements-$N-$label" | sed 's/^/      /'
		echo "    rows written per task by table (pg_stat_user_tables; HOT: updates that wrote no index):"
		awk -F'|' -v n="$N" 'NR == FNR { u[$1] = $2; h[$1] = $3; i[$1] = $4; d[$1] = $5; next }
			{ du = $2 - u[$1]; dh = $3 - h[$1]; di = $4 - i[$1]; dd = $5 - d[$1]
			  if (du + di + dd > 0)
				printf "      %-22s %5.2f inserts, %5.2f updates (%3.0f%% HOT), %5.2f deletes\n",
				    $1, di / n, du / n, (du > 0 ? 100 * dh / du : 0), dd / n }' \
			"$WORK/tables-a" "$WORK/tables-b"
		if [ -n "${BENCH_TRACK_ALL:-}" ]; then
			echo "    statements inside functions (pg_stat_statements.track = all):"
			sed 's/^/      /' "$WORK/nested-$N-$label"
			waits_report "$N-$label"
		fi
	fi
	printf '| %6s | %-6s | %7s | %7s | %6s | %7s | %7s | %7s | %7s | %7s | %7s | %7s | %5s | %6s | %6s | %5s | %2s |\n' \
		"$N" "$label" "$(calc "sprintf(\"%.2f\", $secs)")" "$(calc "sprintf(\"%.0f\", $N / $secs)")" \
		"$connected_in" \
		"$(per_task "$b_p - $a_p")" "$(per_task "$b_w - $a_w")" "$(per_task "$b_b - $a_b")" \
		"$(per_task "$b_p - $a_p + $b_w - $a_w + $b_b - $a_b")" "$(per_task "$b_o - $a_o")" \
		"$(per_task "$b_s - $a_s")" \
		"$(calc "sprintf(\"%.0f\", $p50)") / $(calc "sprintf(\"%.0f\", $p99)")" \
		"$(calc "sprintf(\"%.1f\", ($b_rows - $a_rows) / $N)")" \
		"$(calc "sprintf(\"%.0f\", ($b_bytes - $a_bytes) / $N)")" "$(calc "sprintf(\"%.0f\", ($b_wal - $a_wal) / $N)")" \
		"$(calc "sprintf(\"%.1f\", $rows / $N)")" "$([ "$okn" = "$N" ] && echo ok || echo NO)" >> "$WORK/runs"
}

# the fleet in processes of PER_SIM computers at most (each holds one descriptor
# per computer and one per fetch: a 20,000 open-files limit allows about 9,500)
start_sim() {
	procs=$(( (N + PER_SIM - 1) / PER_SIM ))
	SIMPIDS=""
	for k in $(seq 0 $((procs - 1))); do
		first=$((k * N / procs + 1)) count=$(( (k + 1) * N / procs - k * N / procs ))
		spawn "$BIN/pgfleet-test-fleetsim" --servers "127.0.0.1:$AP" --count "$count" --first "$first" \
			--prefix "f$N-" --ca "$PKI" --seed "$N" --resume "$RESUME" --max-connecting "$MAXCONN" \
			--stats "$WORK/sim-$N-$k.stats" \
			--status-ms 1000 2>>"$WORK/sim-$N-$k.log"
		SIMPIDS="$SIMPIDS $LASTPID"
	done
}
# sim_stat KEY: summed over the simulator processes
sim_stat() { cat "$WORK"/sim-$N-*.stats | awk -F= -v k="$1" '$1 == k { s += $2 } END { printf "%.0f", s }'; }
idle_fleet() { # every computer connected, nothing running
	db_wait "(SELECT count(*) FROM pgfleet.agent_presence WHERE scheduler LIKE 'sched-a:%') = $N
		AND NOT EXISTS (SELECT 1 FROM pgfleet.event WHERE state IN ('pending', 'running'))" "''" 300 | tail -n 1
}

for N in $SIZES; do
	echo
	echo "fleet of $N:"
	bench_sched "$N" 60s
	WPIDS=$(ps -o pid= --ppid "$SPID" | tr '\n' ' ')
	rss_idle=0; for p in $WPIDS; do rss_idle=$((rss_idle + $(rss_kb "$p"))); done
	SIMPIDS=""
	run_fanout cold
	[ "$(idle_fleet)" = ok ] || { echo "    FAIL: the fleet did not settle"; failed=1; }
	# what autovacuum does on a running system (its naptime is a minute): statistics that
	# know the fleet is connected and has events
	db_q "ANALYZE" >/dev/null
	run_fanout warm-1
	run_fanout warm-2
	WPIDS=$(ps -o pid= --ppid "$SPID" | tr '\n' ' ')
	rss_conn=0; for p in $WPIDS; do rss_conn=$((rss_conn + $(rss_kb "$p"))); done
	wfds=$(fds $WPIDS) pfds=$(fds "$SPID")
	simrss=$(sim_stat rss_kb) simfds=$(sim_stat open_fds)
	simper=$(calc "($simrss - $(sim_stat rss_base_kb)) * 1024 / $N")

	# the reconnect herd: the scheduler restarted, every computer back
	kill -TERM "$SPID"
	wait_for 120 "the scheduler to stop" gone "$SPID"
	ups0=$(sim_stat ups)
	sched_start sched-a
	SPID=$LASTPID
	t0=$(db_q "SELECT extract(epoch FROM clock_timestamp())")
	out=$(db_wait "(SELECT count(*) FROM pgfleet.agent_presence WHERE scheduler = 'sched-a:$SPID') = $N" \
		"(SELECT count(*) FROM pgfleet.agent_presence WHERE scheduler = 'sched-a:$SPID')" 300)
	echo "$out" > "$WORK/samples-$N-herd"
	t1=$(echo "$out" | tail -n 2 | head -n 1 | cut -d'|' -f1)
	herd=$(calc "sprintf(\"%.1f\", $t1 - $t0)")
	[ "$(echo "$out" | tail -n 1)" = ok ] || { herd="> 300"; failed=1; }
	sleep 1.2
	echo "  restart: all $N connected again $herd s after the scheduler started" \
		"(simulator: $(( $(sim_stat ups) - ups0 )) connections up, $(sim_stat attempts_failed) failed attempts in all)"
	printf '| %6s | %9s | %9s | %8s | %6s | %6s | %9s | %9s | %8s |\n' "$N" \
		"$(calc "sprintf(\"%.1f\", $rss_idle / 1024)")" "$(calc "sprintf(\"%.1f\", $rss_conn / 1024)")" \
		"$(calc "sprintf(\"%.1f\", ($rss_conn - $rss_idle) / $N)")" "$wfds" "$pfds" \
		"$(calc "sprintf(\"%.0f\", $simrss / 1024)")" "$(calc "sprintf(\"%.1f\", $simper / 1024)")" "$herd" >> "$WORK/sizes"
	for p in $SIMPIDS; do
		kill -TERM "$p"
		wait_for 60 "the simulator to stop" gone "$p"
	done
	kill -TERM "$SPID"
	wait_for 120 "the scheduler to stop" gone "$SPID"
	cat "$WORK"/sim-$N-*.log | grep -v "s connected" | head -n 6 | sed 's/^/    simulator: /'
	warn=$(grep -ciE 'warn|error|fatal' "$TESTDIR/sched-a.log" || true)
	echo "  scheduler log: $warn warnings or errors (in $TESTDIR/sched-a.log)"
	mv "$TESTDIR/sched-a.log" "$WORK/sched-a-$N.log"
done
db_close

# the database's own report of each deadlock (the statements of both sessions), kept with the run
pglog="$(dirname "${PGSYSCONFDIR:-/nonexistent}")/log/postgresql-${PGVERSION:-15}-regress.log"
if [ -r "$pglog" ]; then
	grep -A 14 'deadlock detected' "$pglog" > "$WORK/deadlocks" || true
	echo "database: $(grep -c 'deadlock detected' "$pglog" || true) deadlocks detected (reports in $WORK/deadlocks)"
fi
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU in µs per task; latency due -> 2501 in ms; rows, bytes and WAL per task"
echo "|  fleet | run    |  time s | tasks/s | conn s | parent  | workers | backend | sched.  | other PG | simul. | p50 / p99 | rows | bytes | WAL B | status rows | ok |"
echo "|-------:|--------|--------:|--------:|-------:|--------:|--------:|--------:|--------:|--------:|--------:|----------:|-----:|------:|------:|-----:|---:|"
cat "$WORK/runs"
echo
echo "| fleet | worker RSS idle MB | with fleet MB | KiB per connection | worker fds | parent fds | simulator RSS MB | simulator KiB per computer | reconnect after restart s |"
echo "|------:|----------:|----------:|---------:|-------:|-------:|----------:|----------:|---------:|"
cat "$WORK/sizes"
[ "$failed" = 0 ] || { echo "bench: a check failed (see above)" >&2; exit 1; }
