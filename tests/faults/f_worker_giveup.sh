#!/bin/sh
# A worker slot that keeps dying mid-flight is given up (restart_limit 2 in
# 3 s; its restarts fail because the scheduler's TLS key is moved away): its
# events are handed back at once and run by the live worker; once the key is
# back the slot starts again after the window. Every event ends done, each
# task once.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup "restart_limit: {count: 2, window: 3s}"
log=$TESTDIR/sched-a.log
fault_submit 10
sched_start sched-a
wait_runs 12 60
slot=$(sed -n 's/.*worker \([0-9]*\): event [0-9]*: connected.*/\1/p' "$log" | tail -n 1)
[ -n "$slot" ] || slot=0
pid=$(sed -n "s/.*worker $slot started, pid \([0-9]*\).*/\1/p" "$log" | tail -n 1)
[ -n "$pid" ] || fail "no pid for worker $slot"
key=$PKI/sched-a.key
fault_begin "worker $slot (pid $pid) killed, its restarts failing"
mv "$key" "$key.away"
kill -9 "$pid"
until_ok 30 grep -q "worker $slot: started 2 times within 3 s, giving up" "$log" || fault_break "worker $slot never given up"
mv "$key.away" "$key"
until_ok 30 grep -q "worker $slot: restart window passed, starting it again" "$log" || fault_break "worker $slot not started again after the window"
fault_end
fault_finish
