#!/bin/sh
# An unresolvable scheduler in an agent's list (what an unresolvable agent host
# was when the scheduler dialled agents): agent-1's servers are
# [gone-1.pgfleet.invalid:4020, sched-a]. Its attempts at the first entry fail
# at name resolution; it fails over to sched-a, and its events end done like
# the others'.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
kill "$PID_agent_1"
wait_for 10 "agent-1 stopped" gone "$PID_agent_1"
FAGENT_SERVERS="[gone-1.pgfleet.invalid:4020, 127.0.0.1:$(cat "$TESTDIR/sched-a.agentport")]" fagent_conf agent-1
fault_begin "an unresolvable scheduler first in agent-1's list"
fagent_run agent-1
fault_submit 10
sched_start sched-a
fault_end
resolved() { grep -q "connect: gone-1.pgfleet.invalid:4020: " "$TESTDIR/agent-1.log"; }
until_ok 30 resolved || fault_break "agent-1 never tried the unresolvable entry"
fault_finish
