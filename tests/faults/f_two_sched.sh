#!/bin/sh
# Two schedulers on one database; sched-a (parent and workers) is killed -9
# mid-flight and not restarted. sched-b takes its events over when their
# leases expire; every event ends done, each task runs once.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
sched_conf sched-b "lease: 4s" "heartbeat: 1s" "retry: {max: 5, backoff: 500ms, max_backoff: 2s}"
fault_submit 10
sched_start sched-a
sched_start sched-b
wait_runs 12 60
fault_begin "kill -9 of sched-a and its workers"
kill -9 "$PID_sched_a" $(pgrep -P "$PID_sched_a")
fault_end
fault_finish
