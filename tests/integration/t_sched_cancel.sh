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
t0=$(date +%s)
assert_eq "$(sql "select pgfleet.cancel_schedule($sid)")" 2 "pending events cancelled at once"
wait_schedule "$sid" 30
[ $(( $(date +%s) - t0 )) -lt 20 ] || fail "cancel took too long"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" cancelled "schedule cancelled"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'cancelled' and status_code = -8")" 4 "all events cancelled with -8"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and task_seq = 0 and status_code = -8")" 2 "running tasks report -8"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and task_seq = 1")" 0 "no later task ran"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 0 "computers freed"
ok "cancel: pending events at once, running ones through Request=Cancel (-8)"
