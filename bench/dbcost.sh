#!/bin/sh
# bench/dbcost.sh: the database's CPU per event, alone: one PostgreSQL session runs what
# a scheduler's parent and workers ask of the database for each event (a claim, the
# three status rows, the end), with no scheduler, agent or network around it, so that
# a change to claim_events, finish_events or the status rows can be measured in seconds
# and to a few microseconds, where bench/workers.sh mixes it with everything else.
#
# Per case, a fresh database under a throwaway PostgreSQL (pg_virtualenv -o fsync=off,
# the integration tests' flock), `pgfleet migrate`, BENCH_COMPUTERS computers connected
# to one owner (agent_presence), DEPTH schedules over all of them (DEPTH events wait for
# each computer), BENCH_FACTS bytes of facts on each computer (default none), ANALYZE
# unless BENCH_ANALYZE=no. Then a pipeline like a busy
# scheduler's: claim_events(BENCH_BATCH, owner, 60 s, connected, hint = every
# computer), prepared as the scheduler's is, and the batch claimed four claims before ends: its 2501, 2500 and 0
# status rows in one INSERT (share-locking its running events, as worker/record.c does)
# and finish_events in one transaction; so four batches run while one is claimed, as
# ended computers free up a batch at a time. Until every event is done. Prints per case
# the events, the session's wall time and its backend's CPU (utime + stime from /proc)
# per event. Fails if an event is not done.
#   bench/dbcost.sh                                   (or: make bench)
#   BENCH_DEPTHS="20 300" BENCH_BATCH=25 bench/dbcost.sh
#   BENCH_SQL=candidate.sql bench/dbcost.sh           (applied after migrate: a function
#                                                       redefined, measured against the tree's)
#   BENCH_STATEMENTS=1 bench/dbcost.sh                (pg_stat_statements, track = all: the
#                                                       statements in µs per event, those run
#                                                       inside the functions marked "in:")
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
BIN=$(cd "$BIN" && pwd)
export BIN

if [ -z "${PGFLEET_IN_VIRTUALENV:-}" ]; then
	for c in pg_virtualenv psql flock; do
		command -v "$c" >/dev/null || { echo "bench: $c missing (postgresql, postgresql-common; run scripts/deps.sh)" >&2; exit 1; }
	done
	[ -x "$BIN/pgfleet" ] || { echo "bench: $BIN/pgfleet missing: run make all first" >&2; exit 1; }
	exec flock -o /tmp/pgfleet-pg_virtualenv.lock env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -o fsync=off \
		${BENCH_STATEMENTS:+-o shared_preload_libraries=pg_stat_statements -o pg_stat_statements.track=all} \
		"$0" "$@"
fi

export PGHOST=127.0.0.1 PGDATABASE=bench_dbcost
COMPUTERS=${BENCH_COMPUTERS:-50}
DEPTHS=${BENCH_DEPTHS:-20 100 300}
BATCH=${BENCH_BATCH:-10}
FACTS=${BENCH_FACTS:-0}
INFLIGHT=4
WORK=$(mktemp -d /tmp/pgfleet-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
TICK=$(getconf CLK_TCK)
q() { psql -X -v ON_ERROR_STOP=1 -qAt -c "$1"; }
case "$COMPUTERS$BATCH$FACTS" in *[!0-9]*) echo "bench: BENCH_COMPUTERS, BENCH_BATCH and BENCH_FACTS are numbers" >&2; exit 2 ;; esac
[ "$BATCH" -ge 1 ] && [ "$COMPUTERS" -ge $((BATCH * (INFLIGHT + 1))) ] ||
	{ echo "bench: BENCH_COMPUTERS must be at least $((INFLIGHT + 1)) x BENCH_BATCH" >&2; exit 2; }

# One turn of the pipeline: claim a batch; end the batch claimed INFLIGHT turns before.
cat > "$WORK/turn.sql" <<'EOF'
EXECUTE claim(:batch, :'cids') \gset
\set f4 :f3
\set f3 :f2
\set f2 :f1
\set f1 :ids
SELECT :'f4' <> '' AS has \gset
\if :has
BEGIN;
SELECT set_config('pgfleet.duplicate_final', 'skip', true) \g /dev/null
EXECUTE rows(string_to_array(:'f4', ',')::bigint[]) \g /dev/null
EXECUTE ends(string_to_array(:'f4', ',')::bigint[]) \g /dev/null
COMMIT;
\endif
EOF

printf '%s\n' "pgfleet database cost per event: $COMPUTERS computers ($FACTS bytes of facts each), claims of $BATCH, $INFLIGHT batches running while one is claimed"
printf '%s\n' "machine: $(nproc) CPUs, $(psql -X -qAt -d postgres -c 'SHOW server_version'), fsync off; binaries: $BIN${BENCH_SQL:+, with $BENCH_SQL}"
echo
echo "| events per computer | events | wall s | backend CPU s | µs per event (user, system) | ok |"
echo "|---:|---:|---:|---:|---:|---|"
rc=0
for depth in $DEPTHS; do
	case "$depth" in ''|*[!0-9]*) echo "bench: bad depth '$depth'" >&2; exit 2 ;; esac
	psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $PGDATABASE" \
		-c "CREATE DATABASE $PGDATABASE" >/dev/null
	"$BIN/pgfleet" migrate >/dev/null
	[ -z "${BENCH_SQL:-}" ] || psql -X -q -v ON_ERROR_STOP=1 -f "$BENCH_SQL" >/dev/null
	q "INSERT INTO pgfleet.computer (name, host, labels)
	   SELECT 'bench' || i, '127.0.0.1', '{\"bench\": \"1\"}' FROM generate_series(1, $COMPUTERS) i" >/dev/null
	# facts as an enrolled agent reports them: many small keys, BENCH_FACTS bytes or so
	[ "$FACTS" = 0 ] || q "UPDATE pgfleet.computer SET facts = (SELECT jsonb_object_agg('fact_' || k,
	   'value of fact ' || k || ' ' || md5(k::text)) FROM generate_series(1, greatest($FACTS / 64, 1)) k)" >/dev/null
	q "INSERT INTO pgfleet.agent_presence (computer_id, scheduler, worker_slot, link_id)
	   SELECT computer_id, 'bench', 0, computer_id FROM pgfleet.computer" >/dev/null
	q "INSERT INTO pgfleet.job (name) VALUES ('bench')" >/dev/null
	q "INSERT INTO pgfleet.task (job_id, version, seq, script) SELECT job_id, 1, 0, 'true' FROM pgfleet.job" >/dev/null
	q "INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at)
	   SELECT job_id, 1, '{\"labels\": {\"bench\": \"1\"}}', now() - interval '1 hour'
	   FROM pgfleet.job, generate_series(1, $depth)" >/dev/null
	q "SELECT count(pgfleet.expand_schedule(schedule_id)) FROM pgfleet.schedule" >/dev/null
	[ "${BENCH_ANALYZE:-yes}" = no ] || q "ANALYZE" >/dev/null
	[ -z "${BENCH_STATEMENTS:-}" ] || q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()" >/dev/null
	total=$(q "SELECT count(*) FROM pgfleet.event")
	{
		printf '\\set batch %s\n\\set f1 %s\n\\set f2 %s\n\\set f3 %s\n' "$BATCH" "''" "''" "''"
		echo "SELECT '{' || string_agg(computer_id::text, ',') || '}' AS cids FROM pgfleet.computer \\gset"
		# the worker's flush (worker/record.c): rows for events still running under
		# our lease, share-locked until the commit, then the ends in one call
		cat <<'EOF'
PREPARE rows(bigint[]) AS
WITH held AS (SELECT e.event_id, e.schedule_id, e.computer_id, e.attempt FROM pgfleet.event e
              WHERE e.event_id = ANY ($1) AND e.state IS NOT DISTINCT FROM 'running'
                AND e.lease_owner = 'bench' ORDER BY e.event_id FOR SHARE OF e)
INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt, status_code,
                                result, module, message)
SELECT h.event_id, h.schedule_id, h.computer_id, 0, h.attempt, k.code, 'Success', 'bench', 'bench'
FROM held h, (VALUES (1, 2501), (2, 2500), (3, 0)) AS k(o, code) ORDER BY h.event_id, k.o;
PREPARE claim(int, bigint[]) AS
SELECT coalesce(string_agg(event_id::text, ','), '') AS ids
FROM pgfleet.claim_events($1, 'bench', interval '60 s', true, NULL, $2);
PREPARE ends(bigint[]) AS
SELECT event_id, applied FROM pgfleet.finish_events($1, array_fill('done'::text, ARRAY[cardinality($1)]),
       array_fill(0, ARRAY[cardinality($1)]), array_fill(0, ARRAY[cardinality($1)]), 'bench');
SELECT pg_backend_pid() AS pid \gset
EOF
		echo "\\o $WORK/pid"
		echo "\\qecho :pid"
		echo "\\o"
		echo "\\! cat /proc/\$(cat $WORK/pid)/stat > $WORK/stat0"
		i=0
		while [ "$i" -lt $((total / BATCH + INFLIGHT + 2)) ]; do cat "$WORK/turn.sql"; i=$((i + 1)); done
		echo "\\! cat /proc/\$(cat $WORK/pid)/stat > $WORK/stat1"
	} > "$WORK/all.sql"
	t0=$(date +%s.%N)
	psql -X -v ON_ERROR_STOP=1 -q -f "$WORK/all.sql" >/dev/null
	t1=$(date +%s.%N)
	n=$(q "SELECT count(*) FROM pgfleet.event WHERE state = 'done'")
	ok=ok
	[ "$n" = "$total" ] || { ok="FAIL: $n of $total done"; rc=1; }
	# fields 14 and 15 of /proc/PID/stat (the command name holds no space: postgres)
	awk -v t0="$t0" -v t1="$t1" -v n="$n" -v tk="$TICK" -v d="$depth" -v ok="$ok" '
		NR == 1 { u0 = $14; s0 = $15 } NR == 2 { u1 = $14; s1 = $15 }
		END { c = (u1 - u0 + s1 - s0) / tk; m = n > 0 ? n : 1
		      printf "| %d | %d | %.2f | %.2f | %.0f (%.0f, %.0f) | %s |\n", d, n, t1 - t0, c,
		             c * 1e6 / m, (u1 - u0) / tk * 1e6 / m, (s1 - s0) / tk * 1e6 / m, ok }' \
		"$WORK/stat0" "$WORK/stat1"
	if [ -n "${BENCH_STATEMENTS:-}" ]; then
		psql -X -qAt -F ' ' -c "SELECT '    ' || CASE WHEN toplevel THEN '' ELSE 'in: ' END
		       || round((total_exec_time * 1000 / $n)::numeric, 1) || ' us, '
		       || round(calls::numeric / $n, 2) || ' calls per event: '
		       || left(regexp_replace(query, '\\s+', ' ', 'g'), 100)
		   FROM pg_stat_statements
		   WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		   ORDER BY total_exec_time DESC LIMIT 20"
	fi
done
exit $rc
