#!/bin/sh
# agent-1's journal (a 256 KiB tmpfs) fills up mid-flight and is freed again a
# few tasks later. With no room to journal a task the agent must not run it
# (or it could run twice): those tasks fail cleanly, nothing runs twice,
# nothing is stuck, and once there is room agent-1 runs new events by itself.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
need_root
tmpfs_on "$TESTDIR/agent-1/journal"
GOOD="agent-2 agent-3 agent-4"
fault_setup
fault_submit 10
sched_start sched-a
wait_runs 12 60
failures() { sql "select count(*) from pgfleet.status_log l join pgfleet.computer c using (computer_id)
	where c.name = 'agent-1' and l.$FINAL and l.status_code <> 0"; }
f0=$(failures)
more_failures() { [ "$(failures)" -gt "$f0" ]; }
fault_begin "agent-1's journal full"
fill "$TESTDIR/agent-1/journal"
until_ok 15 more_failures || fault_note "no task of agent-1 failed while its journal was full"
sleep 3 # the fault lasts 3 s more after the first failure
unfill "$TESTDIR/agent-1/journal"
fault_end
fault_finish
