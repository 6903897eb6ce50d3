#!/bin/sh
# An unauthenticated flood of the workers' transfer ports from 127.0.0.2: 1,100 idle TCP
# connections held on each (one more for each the worker drops) while 40
# events run. Connections that never complete TLS must not take the agents'
# fetches' place: every event ends done. The worker's log must stay readable
# (at most one refusal line a second on average).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
sched_start sched-a
two_ports() { [ "$(transfer_ports | wc -l)" -ge 2 ]; }
wait_for 20 "both workers' transfer ports" two_ports
before=$(grep -c "refused" "$TESTDIR/sched-a.log" || true)
fault_begin "1,100 idle connections on each transfer port"
for port in $(transfer_ports); do
	spawn "$BIN/pgfleet-test-flood" --port "$port" --conns 1100 --rate 300 --seconds 120 > "$TESTDIR/flood-$port.out"
	FLOODS="${FLOODS:-} $LASTPID"
done
flooding() { for port in $(transfer_ports); do grep -q "^held" "$TESTDIR/flood-$port.out" || return 1; done; }
wait_for 30 "the floods in place" flooding
fault_note "held $(cat "$TESTDIR"/flood-*.out | sed -n 's/^held //p' | tr '\n' '+' | sed 's/+$//') connections"
flood_start=$(now_ms)
fault_submit 10
until_ok "$SETTLE" all_ended || true
kill $FLOODS
flood_s=$(secs_since "$flood_start")
fault_end
refusals=$(( $(grep -c "refused" "$TESTDIR/sched-a.log" || true) - before ))
fault_note "$refusals refusal lines logged in $flood_s s of flood"
awk -v n="$refusals" -v s="$flood_s" 'BEGIN { exit !(n > s + 10) }' &&
	fault_break "$refusals refusal lines in $flood_s s: logging is not rate-limited"
fault_finish
