#!/bin/sh
# The scheduler's janitor: at start it creates the coming months' status_log
# partitions and drops a partition wholly older than `retention`, keeping the
# current ones, without anyone running `pgfleet maintain`.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sql "CREATE TABLE pgfleet.status_log_2020_01 PARTITION OF pgfleet.status_log
	FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')" >/dev/null
sql "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code, at)
	select 900000 + i, 0, 0, 0, '2020-01-10 00:00:00+00'::timestamptz + i * interval '1 day' from generate_series(1, 5) i" >/dev/null
# next month's partition as create_status_log_partitions names it (UTC months)
next=$(sql "select to_char(date_trunc('month', now() at time zone 'UTC') + interval '1 month', 'YYYY_MM')")
sql "drop table if exists pgfleet.status_log_$next" >/dev/null
sql "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values (1, 0, 0, 0)" >/dev/null
sched_conf sched-a "retention: 30d"
sched_start sched-a
gone() { [ "$(sql "select to_regclass('pgfleet.status_log_2020_01') is null")" = t ]; }
wait_for 30 "the 2020 partition to be dropped" gone
back() { [ "$(sql "select to_regclass('pgfleet.status_log_$next') is not null")" = t ]; }
wait_for 10 "next month's partition" back
assert_eq "$(sql "select count(*) from pgfleet.status_log")" 1 "the current row kept"
# the line follows the statement's commit: waited for, not read once
wait_for 10 "the janitor's line in the log" grep -q "janitor:" "$TESTDIR/sched-a.log"
ok "the janitor drops partitions past retention and creates the coming months'"
