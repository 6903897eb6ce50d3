#!/bin/sh
# Two schedulers on one database, 200 events over 10 agents (20 schedules),
# five agents connected to each: none runs twice (the side-effect file and the
# agents' journals agree), no event is claimed by both, no computer runs two
# events at once; then, with sched-a stopped, its agents fail over to sched-b,
# which alone carries the next schedule.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
LOGLEVEL=5
sched_conf sched-a
sched_conf sched-b
fx="$TESTDIR/effects"
: > "$fx"
targets='{"computers": ['
# half the agents prefer sched-a, half sched-b; each fails over to the other
for i in $(seq 1 10); do
	if [ "$i" -le 5 ]; then SERVERS="sched-a sched-b"; else SERVERS="sched-b sched-a"; fi
	SERVERS=$SERVERS agent_start "agent-$i"
	targets="$targets\"agent-$i\","
done
targets="${targets%,}]}"
job_add once "echo %EVENTID% %NAME% start >> $fx; sleep 0.05; echo %EVENTID% %NAME% end >> $fx"
sched_start sched-a
sched_start sched-b
ids=""
for k in $(seq 1 20); do ids="$ids $(schedule_add once "$targets")"; done
for sid in $ids; do wait_schedule "$sid" 180; done
assert_eq "$(sql "select count(*) from pgfleet.event where state = 'done'")" 200 "200 events done"
assert_eq "$(grep -c ' start$' "$fx")" 200 "200 script runs"
assert_eq "$(grep ' start$' "$fx" | sort -u | wc -l)" 200 "no event ran twice"
# per computer, the lines alternate start/end of one event: never two at once
awk '{ if ($3 == "start") { if (cur[$2] != "") bad = bad " " $2; cur[$2] = $1 }
	else { if (cur[$2] != $1) bad = bad " " $2; cur[$2] = "" } } END { if (bad != "") { print bad; exit 1 } }' "$fx" \
	|| fail "a computer ran two events at once"
journals=$(ls "$TESTDIR"/agent-*/journal/*.j | wc -l)
assert_eq "$journals" 200 "journal entries"
claims() { grep "Processing scheduled event" "$TESTDIR/$1.log" | sed 's/.*EVENT_ID=\([0-9]*\);.*/\1/' | sort -u; }
claims sched-a > "$TESTDIR/a.ids"
claims sched-b > "$TESTDIR/b.ids"
a=$(wc -l < "$TESTDIR/a.ids") b=$(wc -l < "$TESTDIR/b.ids")
assert_eq "$((a + b))" 200 "claims across both schedulers"
assert_eq "$(comm -12 "$TESTDIR/a.ids" "$TESTDIR/b.ids" | wc -l)" 0 "events claimed by both schedulers"
ok "two schedulers, 200 events: each ran exactly once, one scheduler each, one at a time per computer (sched-a $a, sched-b $b)"

# sched-a stops; sched-b alone runs the next schedule
kill "$PID_sched_a"
wait_for 30 "sched-a to exit" gone "$PID_sched_a"
sid=$(schedule_add once "$targets")
wait_schedule "$sid" 60
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done'")" 10 "events done by sched-b alone"
assert_eq "$(claims sched-b | wc -l)" "$((b + 10))" "sched-b claimed the 10 new events"
ok "with sched-a stopped, sched-b alone ran the next 10 events"
