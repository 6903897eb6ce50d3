#!/bin/sh
# Cancelling a schedule: its pending events become cancelled at once and the
# running ones get Request=Cancel sent to their agent, ending with CANCELLED
# (-8) long before their script would have finished.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
for i in 1 2 3 4; do agent_start "agent-$i"; done
job_add long 'echo started; sleep 60' 'echo never'
sched_start sched-a
sid=$(schedule_add long '{"computers": ["agent-1", "agent-2", "agent-3", "agent-4"]}' 2)
started() { [ "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code = 2501")" = 2 ]; }
wait_for 20 "two scripts started" started
assert_eq "$(sql "select pgfleet.cancel_schedule($sid)")" 2 "pending events cancelled at once"
wait_schedule "$sid" 30
# the running scripts ended by the Request=Cancel, not by their own end (exit 0 after 60 s)
# nor by the agent's timeout (-4): each agent logged the cancel and the script's end by it,
# and the script's process group is gone
for e in $(sql "select event_id from pgfleet.status_log where schedule_id = $sid and status_code = 2501"); do
	# (the agent's main process logs it: signalled, or recorded for the task process, or,
	# when the task process saw the request and ended the script first, "not running:
	# ended with code -8 (cancelled)", which is the cancel too)
	wait_for 10 "the Request=Cancel of event $e in the agents' logs" \
		grep -q "event $e task 0: cancel requested by \(sched-a (.*), \(process group [0-9]*\|recorded for the process that runs it\)\|.*: not running: ended with code -8 (cancelled)\)$" "$TESTDIR"/agent-*.log
	grep -q "event $e task 0: ended with code -8 (Failed) in [0-9]* ms: cancelled$" "$TESTDIR"/agent-*.log ||
		fail "no cancelled end of event $e in the agents' logs"
	spid=$(sed -n "s/.*event $e task 0: started as root, pid \([0-9]*\)$/\1/p" "$TESTDIR"/agent-*.log)
	[ -n "$spid" ] || fail "no start line of event $e in the agents' logs"
	wait_for 10 "the script of event $e and its group gone" sh -c "! kill -0 -- -$spid 2>/dev/null"
done
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" cancelled "schedule cancelled"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'cancelled' and status_code = -8")" 4 "all events cancelled with -8"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and task_seq = 0 and status_code = -8")" 2 "running tasks report -8"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and task_seq = 1")" 0 "no later task ran"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 0 "computers freed"
ok "cancel: pending events at once, running ones through Request=Cancel (-8)"
