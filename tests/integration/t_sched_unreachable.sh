#!/bin/sh
# Computers whose agent cannot be reached end with AGENT_UNREACHABLE (-1) after
# the configured retries while a live computer of the same schedule finishes;
# the scheduler logs the seed's "Processing scheduled event" line for each
# claimed event and the schedule ends failed.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
for i in 1 2 3; do
	port=$("$BIN/pgfleet-test-freeport")
	sql "insert into pgfleet.computer (name, host, port) values ('dead-$i', '127.0.0.1', $port)" >/dev/null
done
agent_start agent-1
job_add unreachable 'echo reached'
sid=$(schedule_add unreachable '{"computers": ["dead-1", "dead-2", "dead-3", "agent-1"]}')
sched_start sched-a
wait_schedule "$sid" 60
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" failed "schedule state"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'failed' and status_code = -1")" 3 "events unreachable"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code = -1")" 3 "one -1 status row per event"
assert_eq "$(sql "select e.state || ' ' || e.status_code from pgfleet.event e join pgfleet.computer c using (computer_id) where c.name = 'agent-1'")" "done 0" "the live computer finished"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 0 "computers freed"
for e in $(sql "select event_id from pgfleet.event where schedule_id = $sid"); do
	grep -Eq "Processing scheduled event: EVENT_ID=$e; NEXT_TASK_SEQ=0; STATUS_CODE=0; COMPUTER_ID=[0-9]+$" "$TESTDIR/sched-a.log" \
		|| fail "no Processing line for event $e"
done
n=$(grep -c "retry [0-9] in" "$TESTDIR/sched-a.log" || true)
[ "$n" -ge 6 ] || fail "expected 2 retries per event, log shows $n"
ok "unreachable agents end with -1 after their retries; the claim logs the seed's line"
