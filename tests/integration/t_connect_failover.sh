#!/bin/sh
# Failover between two schedulers on one database: an agent lists both and is
# connected to sched-a; sched-a is killed (kill -9, parent and workers) while
# a task of its event runs on the agent. The agent reconnects to sched-b
# (its presence row moves there); the event's lease expires, sched-b claims it
# (attempt + 1) and pushes the same task again, which the agent's journal
# answers (the script still running is waited for, never run twice); the
# event's second task then runs on sched-b, and a new event queued while
# sched-a is dead runs there too.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "lease: 3s" "heartbeat: 1s"
sched_conf sched-b "lease: 3s" "heartbeat: 1s"
fx=$TESTDIR/effects
SERVERS="sched-a sched-b" agent_start agent-1
sched_start sched-a
agent_connected agent-1 sched-a
sched_start sched-b
job_add two "echo %EVENTID%-%TASKSEQ% start >> $fx; sleep 4; echo %EVENTID%-%TASKSEQ% end >> $fx" \
	"echo %EVENTID%-%TASKSEQ% start >> $fx"
sid=$(schedule_add two '{"computers": ["agent-1"]}')
e=$(sql "select event_id from pgfleet.event where schedule_id = $sid")
wait_for 20 "the first task running" grep -q "^$e-0 start" "$fx"
workers=$(pgrep -P "$PID_sched_a")
kill -9 "$PID_sched_a" $workers
wait_for 10 "sched-a gone" gone "$PID_sched_a"
agent_connected agent-1 sched-b
# the presence row is written before the scheduler answers the Hello; the agent logs its
# connection once that answer is in
wait_for 10 "the agent to log its failover" \
	grep -q "connected to 127.0.0.1:$(cat "$TESTDIR/sched-b.agentport") (sched-b)" "$TESTDIR/agent-1.log"
ok "sched-a killed: the agent failed over to sched-b (presence row moved)"

sid2=$(schedule_add two '{"computers": ["agent-1"]}')
wait_schedule "$sid" 60
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "the event sched-a held"
[ "$(sql "select attempt from pgfleet.event where schedule_id = $sid")" -ge 1 ] || fail "the event was not taken back with another attempt"
assert_eq "$(grep -c "^$e-0 start" "$fx")" 1 "runs of the task in flight when sched-a died"
assert_eq "$(grep -c "^$e-0 end" "$fx")" 1 "ends of the task in flight"
assert_eq "$(grep -c "^$e-1 start" "$fx")" 1 "runs of the second task"
grep -Eq "Processing scheduled event: EVENT_ID=$e; NEXT_TASK_SEQ=0" "$TESTDIR/sched-b.log" || fail "sched-b did not claim the event"
assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id = $e and task_seq = 0 and status_code = 0 and replayed")" 1 "the task's result, answered from the journal"
ok "its event, taken back after the lease, finished on sched-b: the task in flight answered by the journal, run once"

wait_schedule "$sid2" 60
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid2")" "done 0" "the event queued after the failover"
e2=$(sql "select event_id from pgfleet.event where schedule_id = $sid2")
grep -q "Processing scheduled event: EVENT_ID=$e2;" "$TESTDIR/sched-b.log" || fail "sched-b did not claim the new event"
ok "an event queued while sched-a is dead runs on sched-b"
