#!/bin/sh
# The scheduler's janitor: at start it creates the coming months' status_log
# partitions and drops a partition wholly older than `retention`, keeping the
# current ones, without anyone running `pgfleet maintain`. Its retention does not cut
# the audit log short of the owner's floor (0037), and what it removes of the log is
# recorded under its login.
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
# a status row of 40 days (always before this month's partition: status_log_default) and
# audit rows of 40 and 400 days (audit_default), gone in one call of maintain() or kept
sql "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code, at) values (2, 0, 0, 0, now() - interval '40 days');
	insert into pgfleet.audit (at, action) values (now() - interval '40 days', 'fixture.young'), (now() - interval '400 days', 'fixture.old')" >/dev/null
sched_conf sched-a "retention: 30d"
sched_start sched-a
gone() { [ "$(sql "select to_regclass('pgfleet.status_log_2020_01') is null")" = t ]; }
wait_for 30 "the 2020 partition to be dropped" gone
back() { [ "$(sql "select to_regclass('pgfleet.status_log_$next') is not null")" = t ]; }
wait_for 10 "next month's partition" back
status_old_gone() { [ "$(sql "select count(*) from pgfleet.status_log where event_id = 2")" = 0 ]; }
wait_for 10 "the status row of 40 days to be deleted" status_old_gone
assert_eq "$(sql "select count(*) from pgfleet.status_log")" 1 "the current row kept"
# the line follows the statement's commit: waited for, not read once
wait_for 10 "the janitor's line in the log" grep -q "janitor:" "$TESTDIR/sched-a.log"
ok "the janitor drops partitions past retention and creates the coming months'"

# the status row went in the same call (and transaction) as the audit rows past the floor
assert_eq "$(sql "select string_agg(action, ' ' order by at) from pgfleet.audit where action like 'fixture.%'")" "fixture.young" \
	"the audit row of 40 days kept with retention 30d, that of 400 days deleted"
assert_eq "$(sql "select actor || ' ' || object || ' ' || (args->>'rows') || ' ' || ((args->>'retention')::interval = interval '30 days')
	|| ' ' || (args->>'keep') from pgfleet.audit where action = 'audit.delete'")" "$SCHED_DB_USER audit_default 1 true 365 days" "the janitor's deletion recorded"
ok "the janitor keeps audit rows younger than the floor and records those it deletes under its login"
