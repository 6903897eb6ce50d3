#!/bin/sh
# The scheduler works with the least privileges docs/reliability.md lists
# ("Database roles"): connected as a role holding only USAGE on the schema,
# SELECT on the inventory, job and schedule tables, UPDATE on event, computer
# and schedule, INSERT on event, schedule and status_log, its heartbeat row
# (scheduler_instance), and SELECT, INSERT, UPDATE and DELETE on agent_presence,
# it claims, runs and records an event; only its janitor (partitions, retention: the owner's
# rights) is refused, and says so.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
psql -X -q -v ON_ERROR_STOP=1 <<'SQL' || fail "role"
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgfleet_sched_least') THEN
		CREATE ROLE pgfleet_sched_least LOGIN PASSWORD 'least';
	END IF;
END $$;
GRANT USAGE ON SCHEMA pgfleet TO pgfleet_sched_least;
GRANT SELECT ON pgfleet.computer, pgfleet.computer_group, pgfleet.computer_group_member,
	pgfleet.job, pgfleet.task, pgfleet.schedule, pgfleet.event TO pgfleet_sched_least;
GRANT UPDATE ON pgfleet.event, pgfleet.computer, pgfleet.schedule TO pgfleet_sched_least;
GRANT INSERT ON pgfleet.event, pgfleet.schedule, pgfleet.status_log TO pgfleet_sched_least;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgfleet.scheduler_instance TO pgfleet_sched_least;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgfleet.agent_presence TO pgfleet_sched_least;
SQL
sched_conf sched-a "database: \"user=pgfleet_sched_least password=least\""
fx="$TESTDIR/effects"
agent_start agent-1
agent_start agent-2
job_add two "echo %EVENTID%-%TASKSEQ% >> $fx" "echo %EVENTID%-%TASKSEQ% >> $fx"
sid=$(schedule_add two '{"computers": ["agent-1", "agent-2"]}')
sched_start sched-a
wait_schedule "$sid" 60
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done'")" 2 "events done"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code = 0")" 4 "final rows"
assert_eq "$(wc -l < "$fx")" 4 "task runs"
[ "$(sql "select count(*) from pgfleet.computer where last_seen is not null")" -ge 1 ] || fail "last_seen not written"
ok "a scheduler with the documented least privileges claims, runs and records events"
wait_for 30 "the janitor refused" grep -Eq "janitor: (permission denied for table status_log|must be owner of table status_log)" "$TESTDIR/sched-a.log"
grep -E "permission denied|must be owner" "$TESTDIR/sched-a.log" | grep -v "janitor: " && fail "something besides the janitor was refused"
ok "only its janitor needs more (the owner's rights), and logs the refusal"
