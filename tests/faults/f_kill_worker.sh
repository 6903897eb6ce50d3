#!/bin/sh
# kill -9 of both workers mid-flight, at a moment when at least two events
# have their first task recorded and their second running: the scheduler
# parent forks new workers, they take the dead workers' events over, the
# agents' journals keep each task to one run, and each (event, task, attempt)
# gets one final row (a task already recorded is not recorded again).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
fault_submit 10
sched_start sched-a
wait_runs 12 60
between() { [ "$(sql "select count(*) from pgfleet.event e where e.state = 'running'
	and exists (select 1 from pgfleet.status_log l where l.event_id = e.event_id and l.task_seq = 0 and l.$FINAL)
	and not exists (select 1 from pgfleet.status_log l where l.event_id = e.event_id and l.task_seq = 1 and l.$FINAL)")" -ge 2 ]; }
until_ok 30 between || fault_note "never saw two events between their tasks"
fault_begin "kill -9 of every worker"
workers=$(pgrep -P "$PID_sched_a")
[ -n "$workers" ] || fail "no workers"
kill -9 $workers
fault_end
fault_finish
