#!/bin/sh
# events.offline_expire counts from the event's due time and from the scheduler's start,
# whichever is later: after every scheduler was down longer than offline_expire, events
# long due wait for their computers to connect again instead of failing -24 at the first
# presence check. A computer that never connects still expires, offline_expire after the
# scheduler started.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "events: {offline_expire: 15s}"
for n in agent-1 dead-1; do
	sql "insert into pgfleet.computer (name, host) values ('$n', '127.0.0.1')" >/dev/null
done
job_add grace 'echo back'
# due an hour ago, made while no scheduler runs
sid=$(schedule_add grace '{"computers": ["agent-1", "dead-1"]}')
sql "update pgfleet.event set due_at = now() - interval '1 hour' where schedule_id = $sid" >/dev/null
sql "update pgfleet.schedule set due_at = now() - interval '1 hour' where schedule_id = $sid" >/dev/null
t0=$(sql "select extract(epoch from clock_timestamp())")
sched_start sched-a
wait_for 30 "sched-a started" grep -q "scheduler sched-a:[0-9]* started" "$TESTDIR/sched-a.log"
agent_start agent-1
live_done() { [ "$(sql "select e.state from pgfleet.event e join pgfleet.computer c using (computer_id) where c.name = 'agent-1'")" = done ]; }
wait_for 60 "agent-1's long-due event to run" live_done
wait_schedule "$sid" 90
assert_eq "$(sql "select e.state || ' ' || e.status_code from pgfleet.event e join pgfleet.computer c using (computer_id) where c.name = 'dead-1'")" "failed -24" "the computer that never came expired"
assert_eq "$(sql "select extract(epoch from e.finished_at) - $t0 >= 15 from pgfleet.event e join pgfleet.computer c using (computer_id) where c.name = 'dead-1'")" t "not before offline_expire after the scheduler's start"
ok "long-due events wait offline_expire after the scheduler starts: the agent's ran, the absent one expired"
