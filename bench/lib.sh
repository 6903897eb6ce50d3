# Helpers for the bench/*.sh scripts that drive a scheduler (workers.sh,
# fleet.sh); sourced after tests/integration/lib.sh (TESTDIR, spawn, fail).
#   calc EXPR, now                    arithmetic in awk, wall clock in s.ns
#   ticks PID...                      utime + stime of the processes, in clock ticks
#   ticks_all PID                     the same with its waited-for children
#   ticks_tree PID                    ticks_all of PID and of its live descendants
#   rss_kb PID / hwm_kb PID           VmRSS / VmHWM
#   fds PID...                        open descriptors
#   db_open, db_q SQL, db_close       ONE long-lived psql session for the whole run:
#                                     measuring must not fork a psql per sample;
#   db_reopen                         a new one after the server broke the old one
#   perf_start NAME, perf_stop        with BENCH_PERF=1: `perf record -a -g` (every process,
#                                     BENCH_PERF_FREQ Hz, default 99; BENCH_PERF_CALLGRAPH=dwarf for
#                                     call chains through libraries built without frame pointers)
#                                     over the measured window; the report, by process
#                                     and by symbol, goes to $WORK/perf-NAME.txt
#   db_wait SQL_BOOL SQL_SAMPLE SECS  in that session, every 50 ms until SQL_BOOL is true
#                                     (or SECS pass): prints the SQL_SAMPLE rows taken,
#                                     one "clock_seconds|sample" line each, last line "ok"
#                                     or "timeout"
#   nofile_at_least N WHAT            ulimit -n raised to N (NOFILE_WANT when set, up to the
#                                     hard limit), else why and exit 1 (before pg_virtualenv)
#   bench_begin                       the database $PGDATABASE made anew, WORK=$TESTDIR,
#                                     the exit trap (bench_cleanup), fleet_init, db_open
#   bench_sched SESSIONS LEASE [NAME] scheduler NAME (default sched-a) for a simulated fleet
#                                     (WORKERS workers, claim_batch 100, presence written every
#                                     10 s, /metrics on MPORT) started, its workers ready: SPID,
#                                     AP (agent port)
#   bench_cleanup                     on exit: bench_cleanup_more when the script defines
#                                     it, $WORK kept when the run failed (and copied to
#                                     $WORK.kept with BENCH_KEEP=1), the psql session ended,
#                                     then cleanup (every process spawned stopped)
TICK=$(getconf CLK_TCK)

bench_cleanup() {
	rc=$?
	set +e # under set -e, "(exit $rc)" below would end the trap before cleanup stops what was spawned
	! command -v bench_cleanup_more >/dev/null || bench_cleanup_more
	[ "$rc" = 0 ] || echo "bench files kept in $WORK" >&2
	[ -z "${BENCH_KEEP:-}" ] || { cp -r "$WORK" "$WORK.kept" 2>/dev/null || true; echo "bench files copied to $WORK.kept" >&2; }
	[ -z "${DB_PID:-}" ] || kill "$DB_PID" 2>/dev/null || true
	(exit "$rc")
	cleanup
}
nofile_at_least() {
	{ [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$1" ]; } && return 0
	ulimit -n "${NOFILE_WANT:-$1}" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	{ [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$1" ]; } && return 0
	echo "bench: $2 need about $1 open files, ulimit -n is $(ulimit -n)" \
		"(hard limit $(ulimit -Hn)): raise it (as root, or in /etc/security/limits.conf)" >&2
	exit 1
}

bench_sched() {
	sname=${3:-sched-a}
	MPORT=$(free_port)
	sched_conf "$sname" "workers: $WORKERS" "sessions_per_worker: $1" "claim_batch: 100" "lease: $2" \
		"timeouts: {idle: 60s}" "drain_grace: 30s" "log: {level: $LOGLEVEL}" "metrics: {listen: 127.0.0.1:$MPORT}"
	sed -i 's/presence_interval: 500ms/presence_interval: 10s/' "$TESTDIR/$sname.yaml"
	AP=$(cat "$TESTDIR/$sname.agentport")
	sched_start "$sname"
	SPID=$LASTPID
	wait_for 30 "$WORKERS workers of $sname ready" sh -c "[ \$(grep -c 'ready: transfer port' $TESTDIR/$sname.log) -ge $WORKERS ]"
}

bench_begin() {
	psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $PGDATABASE" \
		-c "CREATE DATABASE $PGDATABASE" >/dev/null
	WORK=$TESTDIR
	trap bench_cleanup EXIT INT TERM
	fleet_init
	db_open
}

calc() { awk "BEGIN { printf \"%s\", $1 }"; }
now() { date +%s.%N; }
ticks() {
	s=0
	for p in "$@"; do
		t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		s=$((s + t))
	done
	echo "$s"
}
ticks_all() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# ticks_tree PID: ticks_all of PID and of its live descendants (a child's time reaches
# its parent's only when it is reaped: an agent's task processes live on between tasks)
ticks_tree() {
	s=$(ticks_all "$1")
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		s=$((s + $(ticks_tree "$c")))
	done
	echo "$s"
}
rss_kb() { awk '/^VmRSS:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() {
	s=0
	for p in "$@"; do s=$((s + $(ls "/proc/$p/fd" 2>/dev/null | wc -l))); done
	echo "$s"
}

db_open() {
	rm -f "$TESTDIR/db.in" "$TESTDIR/db.out" # a session opened again (db_close first)
	mkfifo "$TESTDIR/db.in" "$TESTDIR/db.out"
	psql -X -qAt -v ON_ERROR_STOP=0 < "$TESTDIR/db.in" > "$TESTDIR/db.out" 2>&1 &
	DB_PID=$!
	exec 7> "$TESTDIR/db.in" 8< "$TESTDIR/db.out"
	[ "$(db_q "SELECT 'up'")" = up ] || fail "the bench's psql session did not answer"
}

# db_q SQL: its output; an error's text is printed like a row.
db_q() {
	printf '%s;\n\\echo __db_done__\n' "$1" >&7
	while IFS= read -r line <&8; do
		[ "$line" = __db_done__ ] && return 0
		printf '%s\n' "$line"
	done
	fail "the bench's psql session ended"
}

db_close() {
	exec 7>&- 8<&-
	wait "$DB_PID" 2>/dev/null || true
}

# db_reopen: a new session in place of one the server broke (a restart): the old psql is
# killed, not waited for (processes spawned after db_open hold its input open too)
db_reopen() {
	exec 7>&- 8<&-
	kill "$DB_PID" 2>/dev/null || true
	wait "$DB_PID" 2>/dev/null || true
	db_open
}

db_wait() {
	db_q "DO \$db_wait\$
DECLARE
	deadline timestamptz := clock_timestamp() + make_interval(secs => $3);
	s text;
	done boolean;
BEGIN
	LOOP
		SELECT ($1) INTO done;
		SELECT ($2)::text INTO s;
		RAISE NOTICE 'sample %|%', extract(epoch FROM clock_timestamp()), s;
		IF done THEN RAISE NOTICE 'sample end|ok'; EXIT; END IF;
		IF clock_timestamp() > deadline THEN RAISE NOTICE 'sample end|timeout'; EXIT; END IF;
		PERFORM pg_sleep(0.05);
		-- each sample its own transaction: one open for the whole wait would hold back
		-- the xmin horizon, and no dead row version (every claim and end makes some)
		-- could be pruned while the clock runs
		COMMIT;
	END LOOP;
END \$db_wait\$" | sed -n 's/^NOTICE:  sample //p' | sed 's/^end|//'
}

PERF_PID=""
perf_start() {
	[ "${BENCH_PERF:-0}" = 1 ] || return 0
	command -v perf >/dev/null || { echo "    perf: not installed (apt-get install linux-perf), not profiled"; return 0; }
	PERF_NAME=$1
	perf record -a --call-graph "${BENCH_PERF_CALLGRAPH:-fp}" -F "${BENCH_PERF_FREQ:-99}" -o "$TESTDIR/perf-$1.data" >/dev/null 2>&1 &
	PERF_PID=$!
	sleep 0.5 # perf takes a moment to start counting
}
perf_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID"
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=""
	d=$TESTDIR/perf-$PERF_NAME
	{
		echo "== CPU by process (perf record -a -g -F ${BENCH_PERF_FREQ:-99}, samples in the measured window)"
		perf report -i "$d.data" --no-children --sort comm -g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep . || true
		for comm in pgfleet-schedul pgfleet-agent postgres pgfleet-test-fl; do
			echo
			echo "== $comm: by library, then by symbol (self time, % of all samples)"
			# sorted by comm first and filtered here: perf's --comms filter with a dso
			# sort loses most samples (perf 6.1); a process with no samples prints nothing
			perf report -i "$d.data" --no-children --sort comm,dso -g none 2>/dev/null |
				grep -v '^#' | grep " $comm " | head -n 12 || true
			perf report -i "$d.data" --no-children --sort comm,dso,symbol -g none 2>/dev/null |
				grep -v '^#' | grep " $comm " | sed 's/[[:space:]-]*$//' | head -n 30 || true
		done
	} > "$d.txt" 2>&1
	echo "    profile: $d.txt"
}

# db_schedule JOB TARGETS_JSON [MAXCONC]: a schedule due now over TARGETS, expanded and
# announced (NOTIFY pgfleet_wakeup) in one transaction of the bench's session, so
# that due_at -> start measures the scheduler, not the forking of psql; prints its id.
# The values go through psql variables (single-quoted: no ' or \ in them).
db_schedule() {
	printf '\\set bj %s\n\\set bt %s\n\\set bm %s\n' "'$1'" "'$2'" "'${3:-}'" >&7
	db_q "BEGIN;
	INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, max_concurrent)
		SELECT job_id, version, :'bt'::jsonb, now(), nullif(:'bm', '')::int
		FROM pgfleet.job WHERE name = :'bj' RETURNING schedule_id AS bsid \\gset
	SELECT pgfleet.expand_schedule(:bsid) \\g /dev/null
	NOTIFY pgfleet_wakeup;
	COMMIT;
	SELECT :bsid"
}
