#!/bin/sh
# PostgreSQL fast restart mid-flight (stopped with -m fast, started at once: every
# connection cut, the server back within seconds). The scheduler and its
# workers reconnect by themselves; every event ends done, each task runs once,
# one final row per (event, task, attempt).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
fault_submit 10
sched_start sched-a
wait_runs 12 60
fault_begin "PostgreSQL fast restart"
pg_restart_cluster || fail "pg_ctlcluster restart"
fault_end
fault_finish
