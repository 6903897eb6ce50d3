#!/bin/sh
# bench/claim.sh: throughput and invariants of pgfleet.claim_events() under
# concurrent claimers, against a throwaway PostgreSQL from pg_virtualenv.
#
# For each number of claimers (BENCH_CLAIMERS) and each max_concurrent
# (BENCH_MAXCONC, "none" = unlimited): a fresh database, `pgfleet migrate`,
# BENCH_COMPUTERS computers and BENCH_SCHEDULES due schedules over all of them
# (2,000 x 10 = 20,000 pending events). Each claimer is one psql session that
# loops: claim_events(BENCH_BATCH, its owner, 60 s) in one transaction, then
# ends exactly the ids it got 'done' in one statement, finish_events() (like
# worker/record.c since 0029), until no event is pending or running. The ids each
# claim returned are logged client-side; a sampler checks the counters every 100 ms.
# Prints one table row per run; exits 1 if any invariant failed.
# BENCH_SQL=FILE is applied after migrate (to measure a candidate fix).
# BENCH_FINISH=each: one finish_event() per id instead, in (schedule, event) order
# (record.c before 0029; the only choice for a tree without 0029).
#   bench/claim.sh                      (or: make bench)
#   BENCH_CLAIMERS="4" BENCH_MAXCONC="none" bench/claim.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
export BIN

if [ -z "${PGFLEET_IN_VIRTUALENV:-}" ]; then
	for c in pg_virtualenv psql flock; do
		command -v "$c" >/dev/null || { echo "bench: $c missing (postgresql, postgresql-common; run scripts/deps.sh)" >&2; exit 1; }
	done
	[ -x "$BIN/pgfleet" ] || { echo "bench: $BIN/pgfleet missing: run make all first" >&2; exit 1; }
	# same lock as tests/integration/run.sh: one pg_virtualenv at a time
	exec flock -o /tmp/pgfleet-pg_virtualenv.lock env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -o fsync=off -o max_connections=100 "$0" "$@"
fi

export PGHOST=127.0.0.1
CLAIMERS=${BENCH_CLAIMERS:-2 4 8}
MAXCONC=${BENCH_MAXCONC:-none 50}
COMPUTERS=${BENCH_COMPUTERS:-2000}
SCHEDULES=${BENCH_SCHEDULES:-10}
BATCH=${BENCH_BATCH:-50}
EACH=$([ "${BENCH_FINISH:-}" = each ] && echo true || echo false)
TIMEOUT=${BENCH_TIMEOUT:-900}
WORK=$(mktemp -d /tmp/pgfleet-bench.XXXXXX)
failed=0

cleanup() {
	rc=$?
	if [ "$rc" = 0 ] && [ "$failed" = 0 ]; then rm -rf "$WORK"; else echo "bench files kept in $WORK" >&2; fi
	exit "$rc"
}
trap cleanup EXIT INT TERM

q() { psql -X -v ON_ERROR_STOP=1 -qAt -c "$1"; }

# One claimer's loop body; psql reads it over and over from a pipe (it quits
# with \q when everything is done, which ends the pipe).
cat > "$WORK/claimer.sql" <<'EOF'
\set ids ''
\set n 0
\set empty true
SELECT coalesce(string_agg(event_id::text, ','), '') AS ids, count(*) AS n, count(*) = 0 AS empty
FROM pgfleet.claim_events(:batch, :'owner', interval '60 s') \gset
\echo C :n :ids
\if :empty
SELECT pg_sleep(0.005), NOT EXISTS (SELECT 1 FROM pgfleet.event WHERE state IN ('pending', 'running')) AS alldone \gset
\if :alldone
\q
\endif
\else
\if :each
SELECT count(*) FILTER (WHERE x.ok) AS fin
FROM (SELECT pgfleet.finish_event(v.id, :'owner', 'done', 0) AS ok
      FROM unnest(string_to_array(:'ids', ',')::bigint[]) AS v(id)
      JOIN pgfleet.event e ON e.event_id = v.id
      ORDER BY e.schedule_id, v.id) x \gset
\else
SELECT count(*) FILTER (WHERE f.applied) AS fin
FROM (SELECT string_to_array(:'ids', ',')::bigint[] AS ids) v,
     pgfleet.finish_events(v.ids, array_fill('done'::text, ARRAY[cardinality(v.ids)]),
       array_fill(0, ARRAY[cardinality(v.ids)]),
       ARRAY(SELECT e.attempt FROM unnest(v.ids) WITH ORDINALITY u(id, o)
             JOIN pgfleet.event e ON e.event_id = u.id ORDER BY u.o), :'owner') f \gset
\endif
\echo F :fin
\endif
EOF

# The sampler: one snapshot of the counters (a single statement, so consistent).
cat > "$WORK/sampler.sql" <<'EOF'
SELECT (SELECT count(*) FROM pgfleet.event WHERE state = 'running'),
       (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM pgfleet.event
         WHERE state = 'running' GROUP BY computer_id) x),
       (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM pgfleet.event
         WHERE state = 'running' GROUP BY schedule_id) x),
       (SELECT count(*) FROM pgfleet.event e JOIN pgfleet.computer c USING (computer_id)
         WHERE e.state = 'running' AND c.running_event IS DISTINCT FROM e.event_id)
     + (SELECT count(*) FROM pgfleet.computer c WHERE c.running_event IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM pgfleet.event e WHERE e.event_id = c.running_event
                         AND e.state = 'running')),
       (SELECT count(*) FROM pgfleet.schedule s WHERE s.running <> (SELECT count(*)
         FROM pgfleet.event e WHERE e.schedule_id = s.schedule_id AND e.state = 'running')
         OR (s.max_concurrent IS NOT NULL AND s.running > s.max_concurrent));
SELECT pg_sleep(0.1);
EOF

# feed FILE STOPFILE: FILE over and over until psql stops reading or STOPFILE appears
feed() { while [ ! -e "$2" ] && cat "$1" 2>/dev/null; do :; done; }

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%s\", $1 }"; }

# check NAME GOT WANT: one invariant of the current run
check() {
	if [ "$2" = "$3" ]; then
		echo "    ok   $1: $2"
	else
		echo "    FAIL $1: got $2, expected $3"
		run_ok=0
	fi
}

run_one() { # run_one CLAIMERS MAXCONC
	nc=$1 mc=$2
	db=bench_c${nc}_m${mc}
	dir=$WORK/$db
	mkdir -p "$dir"
	run_ok=1
	psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" \
		-c "CREATE DATABASE $db" >/dev/null
	export PGDATABASE=$db
	"$BIN/pgfleet" migrate >/dev/null
	[ -z "${BENCH_SQL:-}" ] || psql -X -q -v ON_ERROR_STOP=1 -f "$BENCH_SQL" >/dev/null
	mcsql=NULL
	[ "$mc" = none ] || mcsql=$mc
	q "INSERT INTO pgfleet.computer (name, host, labels)
	   SELECT 'bench' || i, '127.0.0.1', '{\"bench\": \"1\"}' FROM generate_series(1, $COMPUTERS) i" >/dev/null
	q "INSERT INTO pgfleet.job (name) VALUES ('bench')" >/dev/null
	q "INSERT INTO pgfleet.task (job_id, version, seq, script) SELECT job_id, 1, 0, 'true' FROM pgfleet.job" >/dev/null
	q "INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, max_concurrent)
	   SELECT job_id, 1, '{\"labels\": {\"bench\": \"1\"}}', now() - interval '1 hour', $mcsql
	   FROM pgfleet.job, generate_series(1, $SCHEDULES)" >/dev/null
	q "SELECT sum(pgfleet.expand_schedule(schedule_id)) FROM pgfleet.schedule" >/dev/null
	q "VACUUM ANALYZE" >/dev/null
	total=$(q "SELECT count(*) FROM pgfleet.event WHERE state = 'pending' AND due_at <= now()")

	rm -f "$dir/stop"
	feed "$WORK/sampler.sql" "$dir/stop" | psql -X -qAt -F ' ' >"$dir/samples" 2>"$dir/sampler.err" &
	sampler=$!
	t0=$(now)
	pids=""
	i=1
	while [ "$i" -le "$nc" ]; do
		feed "$WORK/claimer.sql" "$dir/stop" | timeout "$TIMEOUT" psql -X -qAt \
			-v batch="$BATCH" -v owner="bench-$i" -v each="$EACH" >"$dir/claimer$i.log" 2>"$dir/claimer$i.err" &
		pids="$pids $!"
		i=$((i + 1))
	done
	timed_out=0
	for p in $pids; do wait "$p" || timed_out=1; done
	t1=$(now)
	touch "$dir/stop"
	wait "$sampler" || true

	# what the claimers saw
	cat "$dir"/claimer*.log > "$dir/all.log"
	awk '$1 == "C" && NF > 2 { n = split($3, a, ","); for (k = 1; k <= n; k++) print a[k] }' \
		"$dir/all.log" | sort -n > "$dir/claimed"
	claims=$(awk '$1 == "C" && $2 > 0' "$dir/all.log" | wc -l)
	empty=$(awk '$1 == "C" && $2 == 0' "$dir/all.log" | wc -l)
	finished=$(awk '$1 == "F" { s += $2 } END { print s + 0 }' "$dir/all.log")
	nclaimed=$(wc -l < "$dir/claimed")
	nunique=$(sort -u "$dir/claimed" | wc -l)
	errors=$(cat "$dir"/claimer*.err | grep -c 'ERROR' || true)
	cat "$dir"/claimer*.err | sed -n 's/^.*ERROR: *//p' | sort | uniq -c | sed 's/^ */    error: /'
	secs=$(calc "$t1 - $t0")

	echo "  $nc claimers, max_concurrent $mc: $total events in $(calc "sprintf(\"%.2f\", $secs)") s"
	check "claimers finished before the ${TIMEOUT}s timeout" "$timed_out" 0
	check "SQL errors in the claimers (unique index, deadlock, ...)" "$errors" 0
	check "ids returned by claim_events" "$nclaimed" "$total"
	check "distinct ids (none claimed twice)" "$nunique" "$total"
	check "ends that returned true" "$finished" "$total"
	q "SELECT event_id FROM pgfleet.event ORDER BY 1" > "$dir/all_ids"
	check "claimed ids = the events' ids" "$(sort -n -u "$dir/claimed" | cmp -s - "$dir/all_ids" && echo same || echo different)" same
	check "events done" "$(q "SELECT count(*) FROM pgfleet.event WHERE state = 'done' AND attempt = 0")" "$total"
	check "events not done" "$(q "SELECT count(*) FROM pgfleet.event WHERE state <> 'done'")" 0
	check "schedules done with running = 0, failures = 0" \
		"$(q "SELECT count(*) FROM pgfleet.schedule WHERE state = 'done' AND running = 0 AND failures = 0")" "$SCHEDULES"
	check "computers with a running_event left" "$(q "SELECT count(*) FROM pgfleet.computer WHERE running_event IS NOT NULL")" 0
	nsamples=$(wc -l < "$dir/samples")
	peak=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$dir/samples")
	percomp=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$dir/samples")
	persched=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$dir/samples")
	badcomp=$(awk '{ s += $4 } END { print s + 0 }' "$dir/samples")
	badsched=$(awk '{ s += $5 } END { print s + 0 }' "$dir/samples")
	check "sampler errors" "$(grep -c ERROR "$dir/sampler.err" || true)" 0
	check "max running events per computer in any sample" "$([ "$percomp" -le 1 ] && echo "<= 1" || echo "$percomp")" "<= 1"
	check "samples where computer.running_event and running events disagree" "$badcomp" 0
	check "samples where schedule.running is off or over max_concurrent" "$badsched" 0
	if [ "$mc" != none ]; then
		check "max running per schedule <= $mc" "$([ "$persched" -le "$mc" ] && echo yes || echo "no ($persched)")" yes
	fi
	echo "    $nsamples samples: peak running $peak, peak per schedule $persched"
	echo "    after the run: pgfleet.schedule ($SCHEDULES rows) takes $(q "SELECT pg_relation_size('pgfleet.schedule') / 8192") pages," \
		"pgfleet.computer $(q "SELECT pg_relation_size('pgfleet.computer') / 8192") pages"
	[ "$run_ok" = 1 ] || failed=1
	row=$(printf '| %8s | %14s | %6s | %8s | %9s | %8s | %8s | %12s | %6s | %2s |' \
		"$nc" "$mc" "$(calc "sprintf(\"%.2f\", $secs)")" "$claims" "$empty" \
		"$(calc "sprintf(\"%.0f\", $claims / $secs)")" "$(calc "sprintf(\"%.0f\", $nclaimed / $secs)")" \
		"$peak/$persched" "$errors" "$([ "$run_ok" = 1 ] && echo ok || echo NO)")
	echo "$row" >> "$WORK/table"
}

pgver=$(q "SHOW server_version" 2>/dev/null || psql -X -qAt -d postgres -c "SHOW server_version")
echo "pgfleet claim benchmark: $COMPUTERS computers, $SCHEDULES schedules, batch $BATCH"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n 1)),"\
" load before: $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $pgver (pg_virtualenv, fsync=off)"
: > "$WORK/table"
for mc in $MAXCONC; do
	for nc in $CLAIMERS; do
		run_one "$nc" "$mc"
	done
done
echo
echo "| claimers | max_concurrent | time s | claim tx | empty tx | claim tx/s | events/s | peak running/per schedule | errors | ok |"
echo "|---------:|---------------:|-------:|---------:|---------:|-----------:|---------:|-------------:|-------:|---:|"
cat "$WORK/table"
[ "$failed" = 0 ] || { echo "bench: an invariant failed (see above)" >&2; exit 1; }
