#!/bin/sh
# The reconnect herd: 50 agents connected to a scheduler lose it at once (it
# is stopped and started again) and come back spread out, as their back-off
# schedule says: before attempt n each waits a delay drawn from
# [0, min(max_backoff, backoff * 2^n)] (full jitter). Asserted from every
# agent's log lines (not from timing): each delay within its window, the
# windows doubling up to the cap, the first delays not all the same; then all
# 50 are connected again and a one-task job fanned out to them runs.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
N=50
# the pace-only timeouts grow with SLOW: with 50 agents handshaking at once under make asan's
# sanitizers a 2 s connect_timeout expired before most handshakes were done
CT=$((2 * SLOW))
sched_conf sched-a "workers: 2" "sessions_per_worker: 64" "log: {level: 5}" "timeouts: {idle: $((10 * SLOW))s}"
targets='{"computers": ['
for i in $(seq 1 $N); do
	LOGLEVEL=4 agent_start "h-$i" "reconnect: {backoff: 200ms, max_backoff: 1600ms}" "connect_timeout: ${CT}s"
	targets="$targets\"h-$i\","
done
targets="${targets%,}]}"
job_add hello 'echo hello %NAME%'
connected_count() { [ "$(sql "select count(*) from pgfleet.agent_presence")" -ge "$1" ]; }
sched_start sched-a
wait_for 60 "$N agents connected" connected_count $N
# a connection counts as up (its loss then starts again at attempt 0) once it has lasted connect_timeout
settled() { [ "$(sql "select count(*) from pgfleet.agent_presence where connected_at < now() - interval '$CT s'")" -ge $N ]; }
wait_for 30 "$N connections up for connect_timeout" settled
ok "$N agents connected"

# the scheduler goes away and comes back: every agent reconnects on its own schedule
for i in $(seq 1 $N); do grep -c "reconnect: attempt" "$TESTDIR/h-$i.log" > "$TESTDIR/h-$i.before"; done
kill -TERM "$PID_sched_a"
wait_for 30 "sched-a stopped" gone "$PID_sched_a"
assert_eq "$(sql "select count(*) from pgfleet.agent_presence")" 0 "presence rows after the stop"
lost() { [ "$(grep -l "connection to .* lost" "$TESTDIR"/h-*.log | wc -l)" -ge "$N" ]; }
wait_for 30 "every agent lost its connection" lost
sched_start sched-a
wait_for 120 "$N agents connected again" connected_count $N
ok "all $N agents reconnected after the restart"

# every attempt after the loss: "reconnect: attempt N to H in D ms (window W ms)"
: > "$TESTDIR/firsts"
for i in $(seq 1 $N); do
	skip=$(cat "$TESTDIR/h-$i.before")
	grep "reconnect: attempt" "$TESTDIR/h-$i.log" | tail -n +"$((skip + 1))" |
		sed 's/.*reconnect: attempt \([0-9]*\) to .* in \([0-9]*\) ms (window \([0-9]*\) ms)$/\1 \2 \3/' > "$TESTDIR/h-$i.sched"
	[ -s "$TESTDIR/h-$i.sched" ] || fail "h-$i logged no reconnection attempt"
	awk -v who="h-$i" '
		{ want = 200; for (k = 0; k < $1 && want < 1600; k++) want *= 2; if (want > 1600) want = 1600
		  if ($3 != want) { print who ": attempt " $1 " window " $3 ", want " want; bad = 1 }
		  if ($2 < 0 || $2 > $3) { print who ": delay " $2 " outside its window " $3; bad = 1 } }
		NR == 1 && $1 != 0 { print who ": the first attempt after the loss is attempt " $1; bad = 1 }
		END { exit bad }' "$TESTDIR/h-$i.sched" || fail "back-off schedule of h-$i: $(cat "$TESTDIR/h-$i.sched" | tr '\n' ';')"
	head -n 1 "$TESTDIR/h-$i.sched" | awk '{print $2}' >> "$TESTDIR/firsts"
done
distinct=$(sort -u "$TESTDIR/firsts" | wc -l)
[ "$distinct" -ge 2 ] || fail "all $N agents waited the same delay before their first attempt: $(sort -u "$TESTDIR/firsts")"
max=$(awk '$1 > 0 {print $1}' "$TESTDIR"/h-*.sched | sort -n | tail -n 1)
echo "first delays: $distinct distinct values in [0, 200] ms; highest attempt number: ${max:-0}"
ok "each agent's delays lie within windows doubling from 200 ms to the 1600 ms cap; the first ones are spread ($distinct distinct values)"

sid=$(schedule_add hello "$targets")
wait_schedule "$sid" 120
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done'")" "$N" "events done"
ok "a one-task job fanned out to the $N reconnected agents ran on each"
