#!/bin/sh
# Retention: pgfleet maintain (and pgfleet.maintain()) creates the coming partitions,
# drops a status_log partition wholly past the retention and keeps the recent ones,
# deletes old finished events and schedules in batches, and leaves alone what is
# still in use. A partition someone is reading is kept for a later call.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
report_demo

# status_log: a partition of January 2020 (5 rows), one of two months ago (4 rows),
# 3 rows of 2019 and one two years ahead in the default partition
sql "CREATE TABLE pgfleet.status_log_2020_01 PARTITION OF pgfleet.status_log
	FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')"
recent=$(sql "select 'status_log_' || to_char(date_trunc('month', now() at time zone 'UTC') - interval '2 months', 'YYYY_MM')")
sql "select format('CREATE TABLE pgfleet.%I PARTITION OF pgfleet.status_log FOR VALUES FROM (%L) TO (%L)', '$recent',
	(date_trunc('month', now() at time zone 'UTC') - interval '2 months') at time zone 'UTC',
	(date_trunc('month', now() at time zone 'UTC') - interval '1 month') at time zone 'UTC')" > "$TESTDIR/create.sql"
psql -X -q -v ON_ERROR_STOP=1 -f "$TESTDIR/create.sql" || fail "create $recent"
sql "insert into pgfleet.status_log (event_id, status_code, at)
	select 900000 + i, 0, '2020-01-10 00:00:00+00'::timestamptz + i * interval '1 day' from generate_series(1, 5) i;
	insert into pgfleet.status_log (event_id, status_code, at)
	select 910000 + i, 0, (date_trunc('month', now() at time zone 'UTC') - interval '2 months' + i * interval '1 day') at time zone 'UTC' from generate_series(1, 4) i;
	insert into pgfleet.status_log (event_id, status_code, at)
	select 920000 + i, 0, '2019-06-01 00:00:00+00'::timestamptz + i * interval '1 day' from generate_series(1, 3) i;
	insert into pgfleet.status_log (event_id, status_code, at) values (930000, 0, now() + interval '2 years')"
assert_eq "$(sql "select count(*) from pgfleet.status_log_2020_01")" 5 "rows in the 2020 partition"
# (the demo's rows of 30 and 54 hours ago are there too in the first days of a month: a
# fresh database has no partition for the month before; only these rows are counted)
assert_eq "$(sql "select count(*) from pgfleet.status_log_default where event_id >= 900000")" 4 "rows in the default partition"
# the furthest future partition is missing: maintain makes it
future=$(sql "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
	where i.inhparent = 'pgfleet.status_log'::regclass and c.relname <> 'status_log_default' order by 1 desc limit 1")
sql "drop table pgfleet.$future"

# old history: 2500 events finished 400 days ago on 3 schedules (1000 computers), and
# what must stay: an old event of a schedule still running, an old event a computer
# still names as running_event; an old event-less schedule whose child is schedule C
sql "insert into pgfleet.computer (name, host) select 'old-' || i, 'h' from generate_series(1, 1000) i;
	insert into pgfleet.job (name) values ('old-job');
	insert into pgfleet.schedule (schedule_id, job_id, job_version, due_at, state, created_at, finished_at)
	select 200000000 + s, job_id, 1, now() - interval '401 days', 'done', now() - interval '402 days', now() - interval '400 days'
	from pgfleet.job, generate_series(1, 3) s where name = 'old-job';
	insert into pgfleet.event (schedule_id, computer_id, due_at, state, status_code, started_at, finished_at)
	select 200000000 + (i % 3) + 1, 5000000 + 4 + (i / 3) + 1, now() - interval '401 days', 'done', 0,
		now() - interval '401 days', (date_trunc('day', now() at time zone 'UTC') - interval '400 days' + interval '1 hour') at time zone 'UTC' + i * interval '1 s'
	from generate_series(0, 2499) i;
	insert into pgfleet.schedule (schedule_id, job_id, job_version, due_at, state, finished_at)
	select 300000001, job_id, 1, now() - interval '401 days', 'running', NULL from pgfleet.job where name = 'old-job'
	union all
	select 300000002, job_id, 1, now() - interval '401 days', 'done', now() - interval '400 days' from pgfleet.job where name = 'old-job'
	union all
	select 300000003, job_id, 1, now() - interval '401 days', 'done', now() - interval '400 days' from pgfleet.job where name = 'old-job';
	insert into pgfleet.event (event_id, schedule_id, computer_id, due_at, state, status_code, started_at, finished_at)
	select 800000000 + s, 300000000 + s, (select computer_id from pgfleet.computer where name = 'web-01'),
		now() - interval '401 days', 'done', 0, now() - interval '401 days', now() - interval '400 days'
	from generate_series(1, 2) s;
	update pgfleet.computer set running_event = 800000002 where name = 'old-1';
	update pgfleet.schedule set parent_schedule_id = 300000003 where schedule_id = 100000003"
assert_eq "$(sql "select count(*) from pgfleet.event where finished_at < now() - interval '180 days'")" 2502 "old events"
# the old events span 41 minutes from 01:00 UTC of one day, whatever the hour the test
# runs: the first call below rolls that day up (one group, above its batch), the CLI's
# step 2 the demo's two job days
assert_eq "$(sql "select count(distinct (finished_at at time zone 'UTC')::date) from pgfleet.event
	where finished_at < now() - interval '180 days' and event_id < 800000000")" 1 "the old events' UTC days"
later=2

# a reader holding status_log_2020_01: the drop gives up after lock_timeout, the rest goes on
spawn psql -X -q -c "BEGIN" -c "SET application_name = 'report_reader'" -c "SELECT count(*) FROM pgfleet.status_log_2020_01" -c "SELECT pg_sleep(60)" > /dev/null 2>&1
wait_for 10 "the reader's lock" sh -c "[ \"\$(psql -X -qAt -c \"select count(*) from pg_locks where relation = 'pgfleet.status_log_2020_01'::regclass and granted\")\" = 1 ]"
assert_eq "$(sql "select concat_ws(' ', partitions_created, partitions_dropped, status_rows_deleted, events_deleted, schedules_deleted, job_days_rolled_up, detail)
	from pgfleet.maintain('180 days', 10)")" \
	"1 0 3 10 1 1 status_log_2020_01 is in use, kept for a later call" "maintain while the partition is read"
sql "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'report_reader'" > /dev/null
wait_for 10 "the reader to go" sh -c "[ \"\$(psql -X -qAt -c \"select count(*) from pg_stat_activity where application_name = 'report_reader'\")\" = 0 ]"
ok "a partition in use is kept (lock_timeout); the call still makes the missing partition, rolls up the oldest day (one group of 2,502 events) and deletes its batches"

"$P" maintain --retention 180d --batch 1000 > "$TESTDIR/out" || fail "pgfleet maintain: $(cat "$TESTDIR/out")"
assert_eq "$(head -n 1 "$TESTDIR/out")" "retention 180d, batch 1000" "first line"
grep -Eq '^step 1: 0 partitions created, 1 dropped, deleted 0 events, 0 schedules, 0 status rows, rolled up 0 job days \([0-9]+ ms\): dropped status_log_2020_01$' "$TESTDIR/out" \
	|| fail "step 1 drops the old partition alone"
grep -Eq "^step 2: 0 partitions created, 0 dropped, deleted 1000 events, 0 schedules, 0 status rows, rolled up $later job days " "$TESTDIR/out" || fail "step 2"
grep -Eq '^step 3: 0 partitions created, 0 dropped, deleted 1000 events, 0 schedules, 0 status rows, rolled up 0 job days ' "$TESTDIR/out" || fail "step 3"
grep -Eq '^step 4: 0 partitions created, 0 dropped, deleted 490 events, 3 schedules, 0 status rows, rolled up 0 job days ' "$TESTDIR/out" || fail "step 4"
assert_eq "$(grep -c '^step' "$TESTDIR/out")" 4 "steps printed (the last, empty one is not)"
assert_eq "$(tail -n 1 "$TESTDIR/out")" "done: 0 partitions created, 1 dropped, deleted 2490 events, 3 schedules, 0 status rows, rolled up $later job days" "totals"
ok "pgfleet maintain: one step per batch of 1000, the partition first, totals last; the days over rolled up before their events go"

assert_eq "$(sql "select to_regclass('pgfleet.status_log_2020_01') is null")" t "old partition dropped"
assert_eq "$(sql "select count(*) from pgfleet.$recent")" 4 "partition of two months ago kept with its rows"
assert_eq "$(sql "select count(*) from pgfleet.status_log_default where event_id >= 900000")" 1 "default partition keeps the future row only"
want=""
for m in 0 1 2 3; do
	want="$want status_log_$(sql "select to_char(date_trunc('month', now() at time zone 'UTC') + interval '$m month', 'YYYY_MM')")"
done
assert_eq "$(sql "select string_agg(c.relname, ' ' order by c.relname) from pg_inherits i join pg_class c on c.oid = i.inhrelid
	where i.inhparent = 'pgfleet.status_log'::regclass and c.relname > '$recent' and c.relname <> 'status_log_default'")" "${want# }" "this month's and the next 3 partitions"
ok "retention dropped the 2020 partition, kept the recent ones, made the missing future one"

assert_eq "$(sql "select string_agg(event_id::text, ' ' order by event_id) from pgfleet.event where finished_at < now() - interval '180 days'")" \
	"800000001 800000002" "old events left: the running schedule's and the running_event's"
assert_eq "$(sql "select string_agg(schedule_id::text, ' ' order by schedule_id) from pgfleet.schedule where schedule_id > 200000000")" \
	"300000001 300000002" "schedules left: the running one and the one with an event"
assert_eq "$(sql "select coalesce(parent_schedule_id::text, 'null') from pgfleet.schedule where schedule_id = 100000003")" null "child's parent set NULL"
assert_eq "$(sql "select count(*) from pgfleet.job_history where job <> 'old-job'")" 8 "recent history untouched"
assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id < 900000")" "$(sql "select count(*) from pgfleet.status_log where event_id < 900000 and at > now() - interval '30 days'")" "recent status rows untouched"
assert_eq "$(sql "select running_event from pgfleet.computer where name = 'old-1'")" 800000002 "running_event kept"
assert_eq "$(sql "select sum(runs) from pgfleet.job_daily where job = 'old-job'")" 2502 "job_daily keeps the old days"
ok "old finished events and schedules deleted; in-use ones and recent history kept; job_daily keeps the deleted day"

"$P" maintain > "$TESTDIR/out2" || fail "second maintain"
assert_eq "$(grep -c '^step' "$TESTDIR/out2")" 0 "nothing left to do"
assert_eq "$(tail -n 1 "$TESTDIR/out2")" "done: 0 partitions created, 0 dropped, deleted 0 events, 0 schedules, 0 status rows, rolled up 0 job days" "second totals"
ok "a second maintain finds nothing to do"

expect() { # expect CODE MESSAGE ARGS...
	want=$1 msg=$2; shift 2
	rc=0; "$P" "$@" > /dev/null 2> "$TESTDIR/err" || rc=$?
	assert_eq "$rc" "$want" "exit code of pgfleet $*"
	assert_eq "$(head -n 1 "$TESTDIR/err")" "$msg" "message of pgfleet $*"
}
expect 2 "pgfleet maintain: --retention: 1h is shorter than 1d" maintain --retention 1h
expect 2 "pgfleet maintain: --retention: \"ten\" is not a duration (examples: 500ms, 10s, 5m, 2h, 1d)" maintain --retention ten
expect 2 "pgfleet maintain: --batch: 0 is out of range 1..100000" maintain --batch=0
expect 2 "pgfleet maintain: --batch needs a value" maintain --batch
expect 2 "pgfleet maintain: --keep: unknown argument" maintain --keep
rc=0; "$P" -d "host=/nonexistent-socket-dir" maintain > /dev/null 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "exit code when the database is down"
grep -q '^pgfleet maintain: database: connection to server on socket "/nonexistent-socket-dir/' "$TESTDIR/err" || fail "database down: $(cat "$TESTDIR/err")"
"$P" maintain --help | grep -q '^usage: pgfleet maintain \[--retention DURATION\] \[--batch N\]' || fail "maintain --help"
rc=0; sql "select * from pgfleet.maintain('1 hour')" 2> "$TESTDIR/err" || rc=$?
grep -q 'retention must be at least 1 day, not 01:00:00' "$TESTDIR/err" || fail "maintain('1 hour'): $(cat "$TESTDIR/err")"
rc=0; sql "select * from pgfleet.maintain('1 day', 0)" 2> "$TESTDIR/err" || rc=$?
grep -q 'batch must be between 1 and 100000, not 0' "$TESTDIR/err" || fail "maintain batch 0: $(cat "$TESTDIR/err")"
ok "maintain refuses a retention under 1d, a bad batch, unknown arguments (exit 2); database down (exit 1)"
