#!/bin/sh
# Computers whose agent never connects are offline: their events wait,
# pending, while a connected computer of the same schedule runs; with
# events.offline_expire set short they then fail with OFFLINE_EXPIRED (-24),
# one status row each saying why, and the schedule ends failed. The scheduler
# logs the seed's "Processing scheduled event" line for each event it claims.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "events: {offline_expire: 3s}"
for i in 1 2 3; do
	sql "insert into pgfleet.computer (name, host) values ('dead-$i', '127.0.0.1')" >/dev/null
done
agent_start agent-1
job_add unreachable 'echo reached'
# agent-1 connected first: offline_expire counts from the due time, and a
# scheduler slow to start on a loaded machine expired agent-1's event too
sched_start sched-a
agent_connected agent-1
sid=$(schedule_add unreachable '{"computers": ["dead-1", "dead-2", "dead-3", "agent-1"]}')
live_done() { [ "$(sql "select e.state from pgfleet.event e join pgfleet.computer c using (computer_id) where c.name = 'agent-1'")" = done ]; }
wait_for 30 "the connected computer's event" live_done
# offline events are never claimed: no lease, no attempt, no status row while they wait
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state in ('pending', 'failed') and attempt = 0 and started_at is null")" 3 "offline events untouched"
wait_schedule "$sid" 60
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" failed "schedule state"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'failed' and status_code = -24")" 3 "events expired offline"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code = -24 and module = 'Scheduler' and message like 'offline: not connected within%'")" 3 "one -24 status row per event"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and finished_at - due_at >= interval '3 s' and status_code = -24")" 3 "expired only after offline_expire"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 0 "computers freed"
e=$(sql "select e.event_id from pgfleet.event e join pgfleet.computer c using (computer_id) where c.name = 'agent-1'")
grep -Eq "Processing scheduled event: EVENT_ID=$e; NEXT_TASK_SEQ=0; STATUS_CODE=0; COMPUTER_ID=[0-9]+$" "$TESTDIR/sched-a.log" \
	|| fail "no Processing line for event $e"
# logged after the expiry's commit: waited for
wait_for 10 "the expiry in the log" grep -q "3 pending events expired" "$TESTDIR/sched-a.log"
ok "offline computers' events wait, then expire with -24 after events.offline_expire; the connected one ran"
