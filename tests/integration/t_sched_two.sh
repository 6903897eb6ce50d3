#!/bin/sh
# Two schedulers on one database, 200 events over 10 agents (20 schedules):
# none runs twice (the side-effect file and the agents' journals agree), both
# schedulers did work.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
LOGLEVEL=5
sched_conf sched-a
sched_conf sched-b
fx="$TESTDIR/effects"
: > "$fx"
targets='{"computers": ['
for i in $(seq 1 10); do agent_start "agent-$i"; targets="$targets\"agent-$i\","; done
targets="${targets%,}]}"
job_add once "echo %EVENTID% >> $fx; sleep 0.05"
sched_start sched-a
sched_start sched-b
ids=""
for k in $(seq 1 20); do ids="$ids $(schedule_add once "$targets")"; done
for sid in $ids; do wait_schedule "$sid" 180; done
assert_eq "$(sql "select count(*) from pgfleet.event where state = 'done'")" 200 "200 events done"
assert_eq "$(wc -l < "$fx")" 200 "200 script runs"
assert_eq "$(sort -u "$fx" | wc -l)" 200 "no event ran twice"
journals=$(ls "$TESTDIR"/agent-*/journal/*.j | wc -l)
assert_eq "$journals" 200 "journal entries"
a=$(grep -c "Processing scheduled event" "$TESTDIR/sched-a.log" || true)
b=$(grep -c "Processing scheduled event" "$TESTDIR/sched-b.log" || true)
assert_eq "$((a + b))" 200 "claims across both schedulers"
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || fail "one scheduler did nothing: a=$a b=$b"
ok "two schedulers, 200 events: each ran exactly once (sched-a $a, sched-b $b)"
