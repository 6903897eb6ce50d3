#!/bin/sh
# The agent connects out only to a scheduler it must trust, and says why it
# refused every other one: its servers list starts with a scheduler of another
# CA, an expired certificate, one of our CA not in tls.allow_schedulers, a
# computer's certificate posing as a scheduler, a certificate without a role, a
# TCP server that never speaks TLS, and a scheduler that turns the computer
# away; the agent walks the list (failover), logs each refusal, pushes nothing
# to any of them, and connects to the good one at the end of the list, where
# requests it does not know get Reply=Error -11 on a connection that stays up.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
agent_pki
"$BIN/pgfleet" pki issue web-02 --dir "$P" --localhost >/dev/null || fail "pki issue web-02"
# a certificate of our CA without a role (signed before roles existed)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=pgfleet/CN=sched-legacy" \
	-keyout "$P/sched-legacy.key" -out "$TESTDIR/legacy.csr" 2>/dev/null || fail "legacy csr"
openssl x509 -req -in "$TESTDIR/legacy.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
	-out "$P/sched-legacy.crt" 2>/dev/null || fail "legacy certificate"
chmod 600 "$P/sched-legacy.key"

hub_start otherca "$P2" sched-a
hub_start old "$P" old
hub_start x "$P" sched-x
hub_start lateral "$P" web-02
hub_start legacy "$P" sched-legacy
hub_start turnaway "$P" sched-a --refuse 'no computer named "web-01" is registered'
hub_start hub
spawn "$BIN/pgfleet-test-silent" "$TESTDIR/silent.accepts" >"$TESTDIR/silent.out"
wait_for 10 "silent server" grep -q . "$TESTDIR/silent.out"
silent=127.0.0.1:$(head -n 1 "$TESTDIR/silent.out" | tr -dc 0-9)
AGENT_SERVERS="[$(hub_addr otherca), $(hub_addr old), $(hub_addr x), $(hub_addr lateral), $(hub_addr legacy), $silent, $(hub_addr turnaway), $(hub_addr hub)]" \
	start_agent a
O=$TESTDIR/out
refused() { # refused HUB TEXT
	grep -q "connect: $(hub_addr "$1").*$2" "$AGENT_LOG" || { grep "connect:" "$AGENT_LOG" >&2; fail "no refusal of $1 ($2) in the agent's log"; }
}
refused otherca "refused: .*certificate verify failed\|refused: .*unable to get local issuer certificate"
refused old "refused: .*certificate has expired"
refused x 'refused: certificate "sched-x" is not in tls.allow_schedulers'
refused lateral 'refused: certificate "web-02" has role agent, not scheduler'
refused legacy 'refused: certificate "sched-legacy" has no pgfleet role, scheduler needed'
grep -q "connect: $silent: not connected within 2000 ms (connect_timeout)" "$AGENT_LOG" || fail "no refusal of the silent server"
refused turnaway 'refused us: no computer named "web-01" is registered'
for h in otherca old x lateral legacy; do
	grep -q '^hello ' "$TESTDIR/$h.out" && fail "the agent said Hello to $h"
done
grep -q '^hello Computer=web-01' "$TESTDIR/turnaway.out" || fail "the scheduler that turned it away heard no Hello"
# the hub has the Hello; the agent logs its connection once the hub's answer is in
wait_for 10 "the agent connected to the good scheduler after 8 attempts" \
	grep -q "connected to $(hub_addr hub) (sched-a) as computer 5000011 after 8 attempts" "$AGENT_LOG"
ok "another CA, an expired certificate, a name not in allow_schedulers, an agent's and a role-less certificate, a silent server and a refusal: each logged, nothing said to them, the next in the list tried"

s=$(script ok.sh 'echo served')
push "$O.good" --event 201 --script "$s"
expect_code "$O.good" 0 "the good scheduler's push"
grep -qx served "$O.good" || fail "no output from the good scheduler's push"
no_listening_socket "$AGENT_PID" || fail "the agent holds a listening socket"
ok "the good scheduler at the end of the list pushes a task; the agent listens on no port"

# a verified scheduler sending what the agent does not know gets Reply=Error -11; the connection stays
push "$O.req" --event 193 --script "$s" --request Reboot
expect_code "$O.req" -11 "unknown request"
assert_eq "$(value "$O.req" Reply)" Error "reply to an unknown request"
assert_eq "$(value "$O.req" Error)" 'unknown request "Reboot"' "unknown request Error"
push "$O.nokey" --event 193 --script "$s" --drop Checksum
expect_code "$O.nokey" -11 "SendFile without Checksum"
assert_eq "$(value "$O.nokey" Error)" "SendFile without Checksum" "missing key Error"
assert_eq "$(value "$O.nokey" Event-ID)" 193 "Reply=Error names the task"
grep -q '^transfer:' "$O.nokey.err" && fail "the agent fetched for a request missing a key"
push "$O.unknown" --event 194 --script "$s" --cancel
assert_eq "$(value "$O.unknown" Reply)" Cancel "Reply to a cancel of nothing"
assert_eq "$(value "$O.unknown" Result)" Failed "cancel of nothing"
assert_eq "$(value "$O.unknown" Error)" "not running" "cancel of nothing"
push "$O.after" --event 202 --script "$s"
expect_code "$O.after" 0 "a push after the protocol errors"
assert_eq "$(grep -c "connected to $(hub_addr hub)" "$AGENT_LOG")" 1 "connections to the good scheduler"
kill -0 "$AGENT_PID" || fail "agent died"
ok "unknown requests and a SendFile without a key get Reply=Error -11 (with the task's ids) on a connection that stays up"
