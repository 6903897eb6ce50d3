#!/bin/sh
# PostgreSQL down for 10 s mid-flight (stopped -m fast, started again): longer
# than the 4 s lease, so leases are lost and events are taken back. The
# scheduler and workers reconnect by themselves; every event ends done, each
# task runs once, one final row per (event, task, attempt).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
fault_submit 10
sched_start sched-a
wait_runs 12 60
fault_begin "PostgreSQL stopped for 10 s"
pg_stop_cluster || fail "pg_ctlcluster stop"
sleep 10 # the outage itself
pg_start_cluster || fail "pg_ctlcluster start"
fault_end
# the scheduler itself must survive the outage
gone "$PID_sched_a" && fault_break "the scheduler exited during the outage"
fault_finish
