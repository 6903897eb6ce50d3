#!/bin/sh
# kill -9 of a worker mid-run: the parent logs it, forks a new one, gives it the
# dead worker's events, and every task runs exactly once (the agents' journals
# replay what had already run).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
fx="$TESTDIR/effects"
: > "$fx"
for i in 1 2 3 4; do agent_start "agent-$i"; done
job_add slow "echo %EVENTID%-%TASKSEQ% >> $fx; sleep 1" "echo %EVENTID%-%TASKSEQ% >> $fx; sleep 1"
sched_start sched-a
sid=$(schedule_add slow '{"computers": ["agent-1", "agent-2", "agent-3", "agent-4"]}')
runs() { [ "$(wc -l < "$fx")" -ge "$1" ]; }
wait_for 20 "tasks running" runs 2
workers=$(pgrep -P "$PID_sched_a")
[ -n "$workers" ] || fail "no workers"
for w in $workers; do kill -9 "$w"; done
wait_schedule "$sid" 60
grep -q "killed by signal 9" "$TESTDIR/sched-a.log" || fail "worker death not logged"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done'")" 4 "events done"
assert_eq "$(wc -l < "$fx")" 8 "task runs"
assert_eq "$(sort -u "$fx" | wc -l)" 8 "no task ran twice"
[ "$(pgrep -P "$PID_sched_a" | wc -l)" -eq 2 ] || fail "workers not respawned"
ok "killed workers are respawned and their tasks finish exactly once"
