#!/bin/sh
# kill -9 of both workers mid-flight: the scheduler parent forks new ones,
# they take the dead workers' events over, the agents' journals keep each
# task to one run, and each (event, task, attempt) gets one final row.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
fault_submit 10
sched_start sched-a
wait_runs 12 60
fault_begin "kill -9 of every worker"
workers=$(pgrep -P "$PID_sched_a")
[ -n "$workers" ] || fail "no workers"
kill -9 $workers
fault_end
fault_finish
