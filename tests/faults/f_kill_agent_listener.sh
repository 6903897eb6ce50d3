#!/bin/sh
# kill -9 of the agent's main process on two computers mid-flight (its task
# processes live on and finish what they carry, into the journal), started
# again after 2 s (RestartSec=2s). Their connections are lost: the workers hand
# their events back, the agents reconnect, the tasks in flight are pushed again
# and answered from the journal; every event ends done and every task runs once.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
fault_submit 10
sched_start sched-a
wait_runs 12 60
fault_begin "kill -9 of the main processes of agent-1 and agent-2"
kill -9 "$PID_agent_1" "$PID_agent_2"
wait_for 10 "the main processes gone" sh -c "! kill -0 $PID_agent_1 2>/dev/null && ! kill -0 $PID_agent_2 2>/dev/null"
sleep 2 # systemd's RestartSec
fagent_run agent-1
fagent_run agent-2
fault_end
fault_finish
