#!/bin/sh
# The scheduler's agent listener under an unauthenticated flood (issue 11
# point 2): plain TCP connections that never start TLS, 16 from one address
# and 1,040 from 65 addresses, do not keep a real agent out. Connections that
# have not finished TLS are in a budget of their own per worker (64 at once,
# an idle connection makes room; 16 per address, more refused at once; 2 s to finish
# the handshake); refusals are logged once per address, then counted. A real
# agent connects and runs a task while the flood is held open.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
F="$BIN/pgfleet-test-wireflood"
fleet_init
sched_conf sched-a "workers: 1"
job_add hello 'echo hello %NAME%'
sched_start sched-a
port=$(cat "$TESTDIR/sched-a.agentport")
wait_for 20 "the worker ready" grep -q "ready: transfer port" "$TESTDIR/sched-a.log"

# --- one address: 16 at once without TLS, the rest refused, logged once
spawn "$F" --port "$port" --from 127.0.0.200 --sources 1 --each 30 >"$TESTDIR/flood1.out"
wait_for 30 "the per-address flood" grep -q '^opened' "$TESTDIR/flood1.out"
wait_for 10 "the per-address refusal" grep -q "agents: connection from 127.0.0.200 refused: 16 connections without tls from it (limit 16)" "$TESTDIR/sched-a.log"
assert_eq "$(grep -c 'agents: connection from 127\.0\.0\.200' "$TESTDIR/sched-a.log")" 1 "log lines about 127.0.0.200 (the other refusals are counted)"
ok "16 connections per address without TLS, the rest refused and logged once"

# --- a silent client, before the big flood fills the table of refusing addresses
r=$("$BIN/pgfleet-test-transfer" raw --host 127.0.0.1 --port "$port" --wait-ms 15000)
echo "$r" | grep -q "^closed by server after" || fail "a silent TCP client not dropped: $r"
ms=$(echo "$r" | sed -n 's/^closed by server after \([0-9]*\) ms$/\1/p')
[ "$ms" -ge 1900 ] || fail "dropped after $ms ms, before the 2 s handshake deadline"
# logged before the close, and 127.0.0.1 has no refusal yet: its line is written out, not counted
grep -q "agents: connection from 127.0.0.1 refused: no tls handshake within 2000 ms$" "$TESTDIR/sched-a.log" || fail "no handshake deadline logged"
ok "a connection that never starts TLS is closed after 2 s"

# --- 1,040 idle connections from 127.0.0.2 .. 127.0.0.66: the budget of 64 makes room
spawn "$F" --port "$port" --from 127.0.0.2 --sources 65 --each 16 >"$TESTDIR/flood2.out"
wait_for 60 "the big flood to connect" grep -q '^opened' "$TESTDIR/flood2.out"
cat "$TESTDIR/flood2.out"
wait_for 10 "the pre-TLS budget full" grep -q "agents: connection from .* refused: .*connections without tls (limit 64), an idle one closed" "$TESTDIR/sched-a.log"
agent_start agent-1
agent_connected agent-1 sched-a
sid=$(schedule_add hello '{"computers": ["agent-1"]}')
wait_schedule "$sid" 60
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "the real agent's event"
ok "a real agent connects and runs a task while 1,040 unauthenticated connections are held open"
