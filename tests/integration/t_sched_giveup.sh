#!/bin/sh
# A worker slot that keeps dying is given up, and does not strand its events:
# the event it held is handed back at once for another attempt (attempt 1), run
# to its end by the other worker, and the task ran once; the slot starts again
# once restart_limit.window has passed. When no worker is left at all, the
# scheduler says so and exits non-zero, for systemd to restart it.
# Workers are made to die at start by moving the scheduler's TLS key away
# (a worker loads it when it starts): each restart then fails at once.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "restart_limit: {count: 2, window: 3s}"
log="$TESTDIR/sched-a.log"
fx="$TESTDIR/effects"
: > "$fx"
agent_start agent-1
job_add hold "touch $TESTDIR/started; while [ ! -f $TESTDIR/go ]; do sleep 0.1; done; echo %EVENTID%-%TASKSEQ% >> $fx"
sched_start sched-a
sid=$(schedule_add hold '{"computers": ["agent-1"]}')
eid=$(sql "select event_id from pgfleet.event where schedule_id = $sid")
wait_for 20 "the task to start" test -f "$TESTDIR/started"
slot=$(sed -n "s/.*worker \([0-9]*\): event $eid: connected.*/\1/p" "$log" | head -n 1)
[ -n "$slot" ] || fail "no worker line for event $eid"
pid=$(sed -n "s/.*worker $slot started, pid \([0-9]*\).*/\1/p" "$log" | tail -n 1)
kill -0 "$pid" || fail "worker $slot (pid $pid) is not running"

key="$PKI/sched-a.key"
mv "$key" "$key.away"
kill -9 "$pid"
wait_for 20 "worker $slot given up" grep -q "worker $slot: started 2 times within 3 s, giving up" "$log"
wait_for 20 "event $eid handed back" grep -q "event $eid: its worker $slot is gone, lease ended" "$log"
# another attempt, taken by the live worker (not stranded running under the given-up slot)
attempt_is_1() { [ "$(sql "select attempt from pgfleet.event where event_id = $eid")" = 1 ]; }
wait_for 20 "event $eid on its second attempt" attempt_is_1
touch "$TESTDIR/go"
wait_schedule "$sid" 60
assert_eq "$(sql "select state from pgfleet.event where event_id = $eid")" done "event state"
assert_eq "$(wc -l < "$fx")" 1 "task runs"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 0 "computers blocked"
ok "a given-up worker's event is handed back at once and finished by another attempt, run once"

mv "$key.away" "$key"
wait_for 20 "worker $slot restarted after the window" grep -q "worker $slot: restart window passed, starting it again" "$log"
nworkers() { [ "$(pgrep -P "$PID_sched_a" | wc -l)" -eq 2 ]; }
wait_for 20 "2 workers again" nworkers
# and the new one has loaded its certificate (else it dies of the key moved away below)
wpid=$(sed -n "s/.*worker $slot started, pid \([0-9]*\).*/\1/p" "$log" | tail -n 1)
wait_for 20 "worker $slot (pid $wpid) ready" grep -q "\[$wpid\] worker $slot: ready" "$log"
kill -0 "$PID_sched_a" || fail "scheduler gone"
ok "the given-up slot starts again once restart_limit.window has passed"

mv "$key" "$key.away"
for w in $(pgrep -P "$PID_sched_a"); do kill -9 "$w" 2>/dev/null || :; done # one may be gone already
wait_for 20 "the scheduler to exit" sh -c "! kill -0 $PID_sched_a"
rc=0; wait "$PID_sched_a" || rc=$?
mv "$key.away" "$key"
assert_eq "$rc" 1 "scheduler exit code with no live worker"
grep -q "no live worker left: exiting with code 1" "$log" || fail "no-worker exit not logged"
ok "with no live worker left the scheduler says so and exits 1"
