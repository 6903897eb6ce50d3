#!/bin/sh
# After PostgreSQL restarts, the scheduler's parent hears its NOTIFY again: a schedule
# submitted once the parent has re-opened its connection starts at once, with
# poll_interval at an hour (so no poll can start it). The parent watches the re-opened
# connection's socket anew even when it has the old one's number (db_reconnects).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "poll_interval: 1h"
agent_start agent-1
job_add hello "echo hello"
sched_start sched-a
agent_connected agent-1
sid=$(schedule_add hello '{"computers": ["agent-1"]}')
wait_schedule "$sid" 20
ok "a schedule starts on its NOTIFY (poll_interval 1h)"

pg_restart_fast || fail "postgresql restart"
reopened() { grep -q "\[$PID_sched_a\] database: connection re-opened" "$TESTDIR/sched-a.log"; }
wait_for 60 "the parent's connection re-opened" reopened
sid=$(schedule_add hello '{"computers": ["agent-1"]}')
wait_schedule "$sid" 20
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" done "schedule after the restart"
ok "after a PostgreSQL restart a schedule starts on its NOTIFY again"
