#!/bin/sh
# kill -9 of the whole scheduler mid-run, then a restart: the leases expire,
# the events are taken back (attempt + 1) and finish, every task exactly once.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "lease: 3s" "heartbeat: 1s"
fx="$TESTDIR/effects"
: > "$fx"
for i in 1 2 3 4; do agent_start "agent-$i"; done
job_add slow "echo %EVENTID%-%TASKSEQ% >> $fx; sleep 1" "echo %EVENTID%-%TASKSEQ% >> $fx; sleep 1"
sched_start sched-a
sid=$(schedule_add slow '{"computers": ["agent-1", "agent-2", "agent-3", "agent-4"]}')
runs() { [ "$(wc -l < "$fx")" -ge "$1" ]; }
wait_for 20 "tasks running" runs 2
workers=$(pgrep -P "$PID_sched_a")
kill -9 "$PID_sched_a" $workers
wait_for 10 "the old scheduler to be gone" sh -c "! kill -0 $PID_sched_a 2>/dev/null"
assert_eq "$(sql "select count(*) > 0 from pgfleet.event where schedule_id = $sid and state = 'running'")" t "leases held by the dead scheduler"
sched_start sched-a
wait_schedule "$sid" 60
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done'")" 4 "events done"
[ "$(sql "select max(attempt) from pgfleet.event where schedule_id = $sid")" -ge 1 ] || fail "no event was taken back"
assert_eq "$(wc -l < "$fx")" 8 "task runs"
assert_eq "$(sort -u "$fx" | wc -l)" 8 "no task ran twice"
ok "after kill -9 and restart, expired leases are taken back and every task runs once"
