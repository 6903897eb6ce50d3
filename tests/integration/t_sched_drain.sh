#!/bin/sh
# SIGTERM drains: the scheduler stops claiming, lets in-flight tasks finish
# within drain_grace and exits 0; with a grace shorter than the task, the
# unfinished events are released (pending again, lease cleared) for the next
# scheduler, which finishes them without running a task twice.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
fx="$TESTDIR/effects"
: > "$fx"
sched_conf sched-a "drain_grace: 10s"
sched_conf sched-b "drain_grace: 1s"
# the agents fail over to sched-b once sched-a is gone
SERVERS="sched-a sched-b" agent_start agent-1
SERVERS="sched-a sched-b" agent_start agent-2
job_add short "echo %EVENTID% >> $fx; sleep 1"
sched_start sched-a
sid=$(schedule_add short '{"computers": ["agent-1", "agent-2"]}')
runs() { [ "$(wc -l < "$fx")" -ge "$1" ]; }
wait_for 20 "both tasks started" runs 2
kill -TERM "$PID_sched_a"
rc=0; wait "$PID_sched_a" || rc=$?
assert_eq "$rc" 0 "scheduler exit code after drain"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" done "in-flight events finished during the drain"
grep -q "draining" "$TESTDIR/sched-a.log" || fail "no draining line"
ok "SIGTERM lets in-flight events finish within drain_grace, then exits 0"

job_add long "echo %EVENTID% >> $fx; sleep 4"
sid=$(schedule_add long '{"computers": ["agent-1", "agent-2"]}')
sched_start sched-b
wait_for 20 "long tasks started" runs 4
kill -TERM "$PID_sched_b"
rc=0; wait "$PID_sched_b" || rc=$?
assert_eq "$rc" 0 "scheduler exit code after a short drain"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'pending' and lease_owner is null")" 2 "unfinished events released"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 0 "computers freed"
sched_start sched-b
wait_schedule "$sid" 30
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" done "finished by the next scheduler"
assert_eq "$(wc -l < "$fx")" 4 "no task ran twice"
ok "past drain_grace the unfinished events are released and finish once under the next scheduler"
