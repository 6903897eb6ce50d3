#!/bin/sh
# An unauthenticated flood of the scheduler's agent port from 127.0.0.2: 200
# idle TCP connections held (one more for each it drops) while the agents
# reconnect and 40 events run (what the flood of an agent's control port was
# when agents listened). Connections that never complete TLS must not keep the
# agents out: every event ends done. The log must stay readable (at most one
# refusal line a second on average).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
port=$(cat "$TESTDIR/sched-a.agentport")
sched_start sched-a
before=$(grep -c "refused" "$TESTDIR/sched-a.log" || true)
fault_begin "200 idle connections on the scheduler's agent port"
spawn "$BIN/pgfleet-test-flood" --port "$port" --conns 200 --seconds 120 > "$TESTDIR/flood.out"
FLOOD=$LASTPID
wait_for 30 "the flood in place" grep -q "^held" "$TESTDIR/flood.out"
fault_note "held $(sed -n 's/^held //p' "$TESTDIR/flood.out") connections"
flood_start=$(now_ms)
# the agents lose their connections and come back through the flood
for a in $AGENTS; do kill "$(eval echo "\$PID_$(echo "$a" | tr - _)")"; done
for a in $AGENTS; do wait_for 20 "$a stopped" gone "$(eval echo "\$PID_$(echo "$a" | tr - _)")"; fagent_run "$a"; done
fault_submit 10
until_ok "$SETTLE" all_ended || true
kill "$FLOOD"
flood_s=$(secs_since "$flood_start")
fault_end
refusals=$(( $(grep -c "refused" "$TESTDIR/sched-a.log" || true) - before ))
fault_note "$refusals refusal lines logged in $flood_s s of flood"
awk -v n="$refusals" -v s="$flood_s" 'BEGIN { exit !(n > s + 10) }' &&
	fault_break "$refusals refusal lines in $flood_s s: logging is not rate-limited"
fault_finish
