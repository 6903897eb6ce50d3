#!/bin/sh
# Two schedulers on one database, the agents listing both (sched-a first);
# sched-a (parent and workers) is killed -9 mid-flight and not restarted. The
# agents fail over to sched-b, which takes the events over when their leases
# expire; every event ends done, each task runs once.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
FAULT_SCHEDS="sched-a sched-b"
fault_setup
fault_submit 10
sched_start sched-a
sched_start sched-b
wait_runs 12 60
fault_begin "kill -9 of sched-a and its workers"
kill -9 "$PID_sched_a" $(pgrep -P "$PID_sched_a")
fault_end
fault_finish
