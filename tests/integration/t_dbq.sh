#!/bin/sh
# common/dbq against the real server. Units pipelined at once are answered in order,
# an error skips the rest of its segment only, a deadline becomes a statement timeout
# (pgfleet-test-dbq pipeline). Then an outage: PostgreSQL stopped and started under a
# loop that keeps sending: the loop's own timer ticks on while the database is away
# (reconnecting is a state of the loop, not a sleep), the reads that wait are answered
# after the reconnect, each once and in the order sent, and writes in flight end lost.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet-test-dbq" pipeline > "$TESTDIR/pipeline" 2>&1 || { cat "$TESTDIR/pipeline" >&2; fail "pipeline"; }
cat "$TESTDIR/pipeline"
ok "pipelined units: results, errors per segment, statement timeout from a deadline, cancel, order"

out=$TESTDIR/outage
spawn "$BIN/pgfleet-test-dbq" outage "$TESTDIR/stop" > "$out" 2>&1
tool=$LASTPID
lines() { grep -c "^$1" "$out" || true; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }
wait_for 30 "connected" grep -q '^connected 1$' "$out"
wait_for 30 "reads answered" at_least 'read ' 10
pg_stop_fast || fail "stop PostgreSQL"
wait_for 30 "the loss noticed" grep -q 'connection lost' "$out"
reads=$(lines 'read ')
ticks=$(lines tick)
wait_for 30 "the loop ticking while the database is away" at_least tick $((ticks + 20))
assert_eq "$(lines 'read ')" "$reads" "reads answered while the database is away"
grep -q 'attempt [0-9]* failed' "$out" || fail "no reconnect attempt while the database was away"
pg_start || fail "start PostgreSQL"
wait_for 60 "reconnected" grep -q '^connected 2$' "$out"
wait_for 30 "reads answered after the reconnect" at_least 'read ' $((reads + 20))
touch "$TESTDIR/stop"
wait_for 10 "the tool to stop" gone "$tool"
grep -q '^read-failed' "$out" && fail "a read failed: $(grep '^read-failed' "$out" | head -n 1)"
inorder=$(grep '^read ' "$out" | awk '$2 != NR { print "read " $2 " answered as the " NR "th"; exit }')
[ -z "$inorder" ] || fail "$inorder"
echo "reads: $(lines 'read '), writes lost in flight: $(lines write-lost), ticks: $(lines tick)"
ok "outage: the loop ticked on, reads waited and were answered once each in order, writes in flight ended lost"
