#!/bin/sh
# The scheduler's spool (a 256 KiB tmpfs) fills up mid-flight and is freed
# again a few tasks later. Scripts that cannot be rendered to the spool fail
# their events cleanly (or wait), nothing runs twice or half-recorded, nothing
# is stuck, and once there is room new events run by themselves.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
need_root
GOOD=""
fault_setup
tmpfs_on "$TESTDIR/sched-a-spool"
fault_submit 10
sched_start sched-a
wait_runs 12 60
failures() { sql "select count(*) from pgfleet.status_log where $FINAL and status_code <> 0"; }
f0=$(failures)
more_failures() { [ "$(failures)" -gt "$f0" ]; }
fault_begin "the spool full"
fill "$TESTDIR/sched-a-spool"
until_ok 15 more_failures || fault_note "no task failed while the spool was full"
sleep 3 # the fault lasts 3 s more after the first failure
unfill "$TESTDIR/sched-a-spool"
fault_end
fault_finish
