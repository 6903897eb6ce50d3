#!/bin/sh
# Agents connect out (NAT-like use): one agent, no listening socket, connects to the scheduler,
# is written in agent_presence, and runs a two-task event pushed down its own
# connection; computer.last_seen is set.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
agent_start agent-1
job_add hello 'echo hello %NAME% from %AGENTIPADDR%' 'echo second'
sched_start sched-a
agent_connected agent-1 sched-a
sid=$(schedule_add hello '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "event"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code = 0")" 2 "two results"
sql "select output from pgfleet.status_log where schedule_id = $sid and task_seq = 0 and status_code = 0" | grep -q "hello agent-1 from 127.0.0.1" || fail "output"
[ "$(sql "select count(*) from pgfleet.computer where name = 'agent-1' and last_seen is not null")" = 1 ] || fail "last_seen"
ok "an agent that connects out runs a two-task event pushed down its connection"

# NAT-like: the agent opened the connection and holds no listening socket
no_listening_socket "$PID_agent_1" || fail "the agent holds a listening TCP socket"
# every socket of the agent (and its task processes) is a connection it opened to the scheduler
port=$(cat "$TESTDIR/sched-a.agentport")
ss -tnp 2>/dev/null | grep "pid=$PID_agent_1," | grep -q "127.0.0.1:$port" || fail "no connection from the agent to the scheduler's agent port"
ok "the agent reached the scheduler by connecting out; it listens on no port (as behind NAT)"
