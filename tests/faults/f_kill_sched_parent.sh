#!/bin/sh
# kill -9 of the scheduler parent mid-flight. Its workers must not outlive it
# (they get SIGTERM from the kernel when it dies); it is started again after
# 2 s, as systemd's Restart=on-failure with RestartSec=2s would. The leases of
# the dead scheduler expire (lease 4s), the events are taken back and every
# task still runs once, with one final row per (event, task, attempt).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
fault_submit 10
sched_start sched-a
wait_runs 12 60
workers=$(pgrep -P "$PID_sched_a")
fault_begin "kill -9 of the scheduler parent $PID_sched_a"
kill -9 "$PID_sched_a"
workers_gone() { for w in $workers; do gone "$w" || return 1; done; }
until_ok 15 workers_gone || fault_break "workers $workers still running 15 s after their parent died"
sleep 2 # systemd's RestartSec
sched_start sched-a
fault_end
fault_finish
