#!/bin/sh
# What a claim reads (0039): of each computer it considers, its next event by an index
# probe, however many events wait for it and whatever the statistics say. The claims run
# on generic plans (plan_cache_mode = force_generic_plan, as PL/pgSQL uses from a
# function's sixth call) made with statistics taken while nothing was pending, the state
# in which a first version read every pending event once per computer (bench/fleet.sh,
# 10,000 computers: 5 ms per task). Counted by the transaction's own statistics
# (pg_stat_xact_user_tables): rows the claim fetched from the event table, by index or
# by sequential scan; the rows a claim must touch are a few per computer it considers. And
# the ends of ten of them (finish_events) on such plans: a few rows each (0036).
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate >/dev/null || fail "migrate"

computers=100 depth=30
sql "insert into pgfleet.computer (name, host) select 'c' || i, '127.0.0.1' from generate_series(1, $computers) i" >/dev/null
sql "insert into pgfleet.agent_presence (computer_id, scheduler, worker_slot, link_id)
     select computer_id, 'sched-a', 0, computer_id from pgfleet.computer" >/dev/null
sql "insert into pgfleet.job (name) values ('j')" >/dev/null
sql "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, 0, 'true' from pgfleet.job" >/dev/null
# statistics of a quiet database: no event at all
sql "analyze" >/dev/null
sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at)
     select job_id, 1, '{}'::jsonb, now() - interval '1 hour' from pgfleet.job, generate_series(1, $depth)" >/dev/null
sql "insert into pgfleet.event (schedule_id, computer_id, due_at)
     select s.schedule_id, c.computer_id, now() - interval '1 hour' + s.k * interval '1 second'
     from (select schedule_id, row_number() over (order by schedule_id) as k from pgfleet.schedule) s,
          pgfleet.computer c" >/dev/null
assert_eq "$(sql "select count(*) from pgfleet.event where state = 'pending'")" $((computers * depth)) "events waiting"
cids=$(sql "select string_agg(computer_id::text, ',') from pgfleet.computer")

# claim HINT: one claim of 10 on a generic plan in a transaction of its own; prints
# "claimed fetched" (the event rows it read by index or by scan)
claim() {
	hint=$1
	psql -X -v ON_ERROR_STOP=1 -qAt <<EOF
SET plan_cache_mode = force_generic_plan;
BEGIN;
SELECT count(*) AS n FROM pgfleet.claim_events(10, 'sched-a', interval '60 s', true, NULL, $hint) \gset
SELECT :n || ' ' || (coalesce(idx_tup_fetch, 0) + seq_tup_read)
FROM pg_stat_xact_user_tables WHERE schemaname = 'pgfleet' AND relname = 'event';
COMMIT;
EOF
}
# with the scheduler's list of its computers (up to 1,024 connected: claim_hint), and
# without (the oldest due events first, a larger fleet)
for hint in "'{$cids}'::bigint[]" "NULL::bigint[]"; do
	case "$hint" in NULL*) how="without a list" ;; *) how="with the list of its $computers computers" ;; esac
	for round in 1 2 3; do
		got=$(claim "$hint")
		n=${got% *} fetched=${got#* }
		echo "claim $round $how: took $n, read $fetched event rows"
		assert_eq "$n" 10 "claim $round $how took 10"
		# a probe or two per computer considered and the rows claimed; reading each
		# computer's queue would be 100 x 30
		[ "$fetched" -le $((4 * computers)) ] ||
			fail "claim $round $how read $fetched event rows for $computers computers of $depth events each"
		# from the due events' side, a window of twice the batch (0043): some 50 rows
		# for a claim of 10 (140-160 with the window of 8 x the batch before)
		case "$hint" in NULL*) [ "$fetched" -le 80 ] ||
			fail "claim $round $how read $fetched event rows: more than its window of 20 due events and their computers" ;; esac
	done
done
ok "a claim reads a few event rows per computer, not each computer's queue, on plans made before the events"

# the claims took each computer's oldest event, one per computer
assert_eq "$(sql "select count(*) from (select computer_id, min(due_at) as d from pgfleet.event
	where state = 'running' group by computer_id having count(*) = 1) r
	where r.d = (select min(e.due_at) from pgfleet.event e where e.computer_id = r.computer_id)")" 60 \
	"60 running, each its computer's first"
ok "each claimed computer runs its first event"

# their ends (finish_events, as a worker's flush calls it) find the events by id, on a plan
# made before they ran (0036): a few rows each, not every running or pending event
got=$(psql -X -v ON_ERROR_STOP=1 -qAt <<'EOF2'
SET plan_cache_mode = force_generic_plan;
BEGIN;
SELECT array_agg(event_id ORDER BY event_id) AS ids, array_agg(attempt ORDER BY event_id) AS att
FROM (SELECT event_id, attempt FROM pgfleet.event WHERE state = 'running' ORDER BY event_id LIMIT 10) x \gset
SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read AS before
FROM pg_stat_xact_user_tables WHERE schemaname = 'pgfleet' AND relname = 'event' \gset
SELECT count(*) FILTER (WHERE applied) AS n FROM pgfleet.finish_events(:'ids',
       array_fill('done'::text, ARRAY[10]), array_fill(0, ARRAY[10]), :'att', 'sched-a') \gset
SELECT :n || ' ' || (coalesce(idx_tup_fetch, 0) + seq_tup_read - :before)
FROM pg_stat_xact_user_tables WHERE schemaname = 'pgfleet' AND relname = 'event';
COMMIT;
EOF2
)
n=${got% *} fetched=${got#* }
echo "ten ends read $fetched event rows"
assert_eq "$n" 10 "ten ends applied"
[ "$fetched" -le 100 ] || fail "ten ends read $fetched event rows ($((computers * depth)) events in all)"
ok "ten ends read a few event rows each"

# a worker's statements on its events (pgfleet-test-sql prints them): the load of a batch
# (worker/session_db.c) and a flush's status rows (worker/record.c), prepared on a generic
# plan made before the events ran, find the batch by id: a few rows each, not every running
# event (the load read all of them through the index of running events, 10,000 for a batch
# of 100 in a fan-out of bench/fleet.sh)
load_sql=$("$BIN/pgfleet-test-sql" load-events) || fail "pgfleet-test-sql load-events"
rows_sql=$("$BIN/pgfleet-test-sql" status-rows) || fail "pgfleet-test-sql status-rows"
statement() { # statement NAME SQL EXECUTE-ARGS: "rows fetched"
	psql -X -v ON_ERROR_STOP=1 -qAt <<EOF2
SET plan_cache_mode = force_generic_plan;
BEGIN;
SELECT array_agg(event_id ORDER BY event_id) AS ids, array_agg(attempt ORDER BY event_id) AS att,
       array_agg(schedule_id ORDER BY event_id) AS sids, array_agg(computer_id ORDER BY event_id) AS cids
FROM (SELECT event_id, attempt, schedule_id, computer_id FROM pgfleet.event
      WHERE state = 'running' ORDER BY event_id LIMIT 10) x \gset
PREPARE $1 AS $2;
SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read AS before
FROM pg_stat_xact_user_tables WHERE schemaname = 'pgfleet' AND relname = 'event' \gset
EXECUTE $1($3) \g /dev/null
SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read - :before AS fetched
FROM pg_stat_xact_user_tables WHERE schemaname = 'pgfleet' AND relname = 'event' \gset
SELECT :fetched || ' ' || count(*) FROM pgfleet.event WHERE state = 'running';
COMMIT;
EOF2
}
got=$(statement load "$load_sql" ":'ids', 'sched-a', :'att'")
echo "a load of ten read ${got% *} event rows (${got#* } running)"
[ "${got% *}" -le 20 ] || fail "a load of ten read ${got% *} event rows (${got#* } running)"
got=$(statement rows "$rows_sql" ":'ids', :'sids', :'cids', array_fill(0, ARRAY[10]), :'att',
	array_fill(2501, ARRAY[10]), array_fill('Ok'::text, ARRAY[10]), array_fill('Agent'::text, ARRAY[10]),
	array_fill('started'::text, ARRAY[10]), array_fill(NULL::text, ARRAY[10]), array_fill(NULL::int, ARRAY[10]),
	array_fill(NULL::text, ARRAY[10]), array_fill(false, ARRAY[10]), 'sched-a'")
echo "the status rows of ten read ${got% *} event rows (${got#* } running)"
[ "${got% *}" -le 20 ] || fail "the status rows of ten read ${got% *} event rows (${got#* } running)"
assert_eq "$(sql "select count(*) from pgfleet.status_log where status_code = 2501")" 10 "ten status rows stored"
ok "a worker's load and status rows find their events by id on plans made before the events"

# the search for expired leases (reclaim_leases, every turn of a scheduler's loop) reads the
# expired ones by their index, not every running event (0042), on a plan made with the
# statistics of a fleet between two fan-outs: every event done, none running (so the two
# indexes of running events looked empty, and the old search took the unique one and tested
# each running event's lease: bench/fleet.sh at 10,000 computers, 9,670 buffers a call)
sql "update pgfleet.event set state = 'done', finished_at = now(), lease_owner = null, lease_until = null
     where state in ('pending', 'running')" >/dev/null
sql "update pgfleet.computer set running_event = null" >/dev/null
sql "update pgfleet.schedule set running = 0, state = 'done'" >/dev/null
sql "analyze pgfleet.event" >/dev/null
sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at) select job_id, 1, '{}'::jsonb, now() - interval '1 minute' from pgfleet.job" >/dev/null
sql "insert into pgfleet.event (schedule_id, computer_id, due_at)
     select (select max(schedule_id) from pgfleet.schedule), computer_id, now() - interval '1 minute' from pgfleet.computer" >/dev/null
for round in $(seq 1 $((computers / 10))); do claim "'{$cids}'::bigint[]" >/dev/null; done
running=$(sql "select count(*) from pgfleet.event where state = 'running'")
assert_eq "$running" $computers "the fan-out runs on every computer"
reclaim() {
	psql -X -v ON_ERROR_STOP=1 -qAt <<'EOF2'
SET plan_cache_mode = force_generic_plan;
BEGIN;
SELECT count(*) AS n FROM pgfleet.reclaim_leases(3) \gset
SELECT :n || ' ' || (coalesce(idx_tup_fetch, 0) + seq_tup_read)
FROM pg_stat_xact_user_tables WHERE schemaname = 'pgfleet' AND relname = 'event';
COMMIT;
EOF2
}
for round in 1 2; do
	got=$(reclaim)
	assert_eq "${got% *}" 0 "reclaim $round: nothing expired"
	[ "${got#* }" -le 2 ] || fail "reclaim $round read ${got#* } event rows with nothing expired ($running running)"
done
sql "update pgfleet.event set lease_until = now() - interval '1 second'
     where event_id in (select event_id from pgfleet.event where state = 'running' order by event_id limit 3)"
got=$(reclaim)
assert_eq "${got% *}" 3 "three expired leases taken back"
[ "${got#* }" -le 20 ] || fail "taking back 3 leases read ${got#* } event rows ($running running)"
assert_eq "$(sql "select count(*) from pgfleet.event where state = 'pending' and attempt = 1")" 3 "pending again, attempt 1"
assert_eq "$(sql "select count(*) from pgfleet.event e join pgfleet.computer c on c.running_event = e.event_id")" \
	$((running - 3)) "their computers freed"
ok "expired leases are found by their index: none read when none expired, the expired alone otherwise"
