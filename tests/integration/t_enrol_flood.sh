#!/bin/sh
# The scheduler's enrolment listener under an unauthenticated flood (issue 11):
# plain TCP connections that never start TLS. The enrolment service keeps them
# in a pre-TLS budget of its own (common/gate.c: 64 at once, an idle one makes
# room; 16 per address, more refused at once; 2 s to finish the handshake),
# logs a refusal once per address, then counts. 30 connections from one
# address: 16 held, 14 closed at once, one log line; a silent client is closed
# at the handshake deadline; and with 1,040 idle connections from 65 addresses
# thrown at it, an agent still enrols with a token and connects.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
F="$BIN/pgfleet-test-wireflood"
L=$TESTDIR/sched-a.log
fleet_init
enrol_conf sched-a
sched_start sched-a
port=$(cat "$TESTDIR/sched-a.enrolport")
wait_for 20 "the enrolment service ready" grep -q "enrol: service ready" "$L"

# --- one address: 16 at once without TLS, the other 14 closed at once, logged once
spawn "$F" --port "$port" --from 127.0.0.200 --sources 1 --each 30 >"$TESTDIR/flood1.out"
wait_for 30 "the per-address flood to connect" grep -qx 'opened 30 of 30' "$TESTDIR/flood1.out"
wait_for 10 "the per-address refusal" \
	grep -q "enrol: connection from 127.0.0.200 refused: 16 connections without tls from it (limit 16)$" "$L"
# the flood sees what the service kept: 14 closed at once, 16 held (until the deadline)
wait_for 10 "16 of the 30 held, 14 closed" grep -qx 'held 16 closed 14' "$TESTDIR/flood1.out"
assert_eq "$(grep -c 'enrol: connection from 127\.0\.0\.200' "$L")" 1 \
	"log lines about 127.0.0.200 (the other refusals are counted)"
# the 16 held never start TLS either: the 2 s handshake deadline closes them too
wait_for 20 "the 16 held closed at the handshake deadline" grep -qx 'held 0 closed 30' "$TESTDIR/flood1.out"
ok "16 connections per address without TLS, the other 14 refused at once and logged once"

# --- a silent client is closed at the handshake deadline, not left to hang
r=$("$BIN/pgfleet-test-transfer" raw --host 127.0.0.1 --port "$port" --wait-ms $((15000 * SLOW)))
echo "$r" | grep -q "^closed by server after [0-9]* ms$" || fail "a silent TCP client not dropped: $r"
echo "$r" | grep -qx "received 0 bytes" || fail "the service sent something before TLS: $r"
ms=$(echo "$r" | sed -n 's/^closed by server after \([0-9]*\) ms$/\1/p')
[ "$ms" -ge 1900 ] || fail "dropped after $ms ms, before the 2 s handshake deadline"
grep -q "enrol: connection from 127.0.0.1 refused: no tls handshake in time$" "$L" ||
	fail "no handshake deadline logged for 127.0.0.1"
ok "a connection that never starts TLS is closed at the 2 s handshake deadline (after $ms ms)"

# --- 1,040 idle connections from 127.0.0.2 .. 127.0.0.66 (16 each): a real agent still enrols.
# The agent starts once the flood has filled the budget, while the flood is still connecting
# (the listen queue paces it), and its enrolment competes with it.
spawn "$F" --port "$port" --from 127.0.0.2 --sources 65 --each 16 >"$TESTDIR/flood2.out"
wait_for 60 "the pre-TLS budget full" grep -q "enrol: connection from 127\.0\.0\.[0-9]* refused: .* (limit 64)" "$L"
tok=$(token_new --uses 1 --expires 1h)
agent_enrol_start web-01 "$tok"
agent_connected web-01 sched-a
openssl verify -CAfile "$PKI/ca.crt" "$TESTDIR/web-01/tls/agent.crt" >/dev/null || fail "the enrolled certificate"
assert_eq "$(sql "select uses || ' of ' || max_uses from pgfleet.enrol_token")" "1 of 1" "the token's uses"
grep -q "enrol: computer web-01 ([0-9]*) from 127.0.0.1: enrolled" "$L" || fail "no enrolment logged"
wait_for 60 "the big flood to connect" grep -qx 'opened 1040 of 1040' "$TESTDIR/flood2.out"
ok "an agent enrols with a token and connects while 1,040 unauthenticated connections flood the listener"
