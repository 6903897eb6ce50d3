#!/bin/sh
# The agent's control port refuses, and logs, every client it must not serve:
# a certificate from another CA, an expired one, one of our CA whose name is
# not in tls.allow_clients, no certificate at all (plain TCP, silent or
# talking), and a TLS client sending garbage; after each, a good client is
# still served.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
agent_pki
start_agent a
O=$TESTDIR/out
s=$(script ok.sh 'echo served')
n=0
good_client_served() {
	n=$((n + 1))
	push "$O.good$n" --event $((200 + n)) --script "$s"
	expect_code "$O.good$n" 0 "good client after $1"
	grep -qx served "$O.good$n" || fail "good client after $1: no output"
}
refused_count() { grep -c "connection from 127.0.0.1 refused" "$AGENT_LOG" || true; }

push_as "$P2" sched-a "$O.otherca" --event 190 --script "$s"
grep -q "^final none" "$O.otherca" || fail "client of another CA got a reply: $(cat "$O.otherca")"
wait_for 10 "agent logs the other CA" grep -q "connection from 127.0.0.1 refused: .*certificate" "$AGENT_LOG"
good_client_served "a client of another CA"
ok "a client certificate from another CA is refused and logged ($(grep 'refused' "$AGENT_LOG" | tail -n 1 | sed 's/^.*refused: //'))"

before=$(refused_count)
push_as "$P" old "$O.old" --event 191 --script "$s"
grep -q "^final none" "$O.old" || fail "expired client got a reply"
wait_for 10 "agent logs the expired certificate" grep -q "refused: .*certificate has expired" "$AGENT_LOG"
good_client_served "an expired client"
ok "an expired client certificate is refused and logged"

push_as "$P" sched-x "$O.x" --event 192 --script "$s"
grep -q "^final none" "$O.x" || fail "client not in allow_clients got a reply"
wait_for 10 "agent logs the name" grep -q 'refused: certificate "sched-x" is not in tls.allow_clients' "$AGENT_LOG"
good_client_served "a client not in allow_clients"
ok "a certificate of our CA not in tls.allow_clients is refused, its name logged"


before=$(refused_count)
r=$("$BIN/pgfleet-test-transfer" raw --host 127.0.0.1 --port "$AGENT_PORT" --wait-ms 5000 --send "Request=SendFile
Filename=temp:x.sh

")
echo "$r" | grep -q "^closed by server after" || fail "plain-text client not dropped: $r"
got=$(echo "$r" | awk '$1 == "received" {print $2}')
[ "$got" -lt 100 ] || fail "plain-text client received $got bytes"
wait_for 10 "agent logs the plain client" sh -c "[ \$(grep -c 'connection from 127.0.0.1 refused' '$AGENT_LOG') -gt $before ]"
good_client_served "a plain-text TCP client"
ok "a plain TCP client talking the protocol in clear gets nothing and is logged"

before=$(refused_count)
r=$("$BIN/pgfleet-test-transfer" raw --host 127.0.0.1 --port "$AGENT_PORT" --wait-ms 15000)
echo "$r" | grep -qx "received 0 bytes" || fail "silent plain client: $r"
echo "$r" | grep -q "^closed by server after" || fail "silent plain client not dropped after the handshake timeout: $r"
wait_for 5 "agent logs the silent client" sh -c "[ \$(grep -c 'connection from 127.0.0.1 refused' '$AGENT_LOG') -gt $before ]"
good_client_served "a silent TCP client"
ok "a silent TCP client is dropped after the handshake timeout"

# a verified client sending what the agent does not know gets Reply=Error -11
push "$O.req" --event 193 --script "$s" --request Reboot
expect_code "$O.req" -11 "unknown request"
assert_eq "$(value "$O.req" Reply)" Error "reply to an unknown request"
assert_eq "$(value "$O.req" Error)" 'unknown request "Reboot"' "unknown request Error"
push "$O.nokey" --event 193 --script "$s" --drop Checksum
expect_code "$O.nokey" -11 "SendFile without Checksum"
assert_eq "$(value "$O.nokey" Error)" "SendFile without Checksum" "missing key Error"
grep -q '^transfer:' "$O.nokey.err" && fail "the agent fetched for a request missing a key"
good_client_served "protocol errors"
push "$O.unknown" --event 194 --script "$s" --cancel
assert_eq "$(value "$O.unknown" Reply)" Cancel "Reply to a cancel of nothing"
assert_eq "$(value "$O.unknown" Result)" Failed "cancel of nothing"
assert_eq "$(value "$O.unknown" Error)" "not running" "cancel of nothing"
kill -0 "$AGENT_PID" || fail "agent died"
ok "the agent kept serving through every refusal"

# an agent's certificate of our CA can never push, even with tls.allow_clients unset (the
# documented default): roles are checked in the handshake
NO_ALLOW_CLIENTS=1 start_agent b
"$BIN/pgfleet" pki issue web-02 --dir "$P" --localhost >/dev/null || fail "pki issue web-02"
push_as "$P" web-02 "$O.lateral" --event 195 --script "$(script lateral.sh "touch $TESTDIR/lateral-ran")"
grep -q "^final none" "$O.lateral" || fail "an agent certificate got a reply: $(cat "$O.lateral")"
wait_for 10 "agent logs the agent certificate" grep -q 'refused: .*certificate "web-02" has role agent, not scheduler' "$AGENT_LOG"
[ ! -e "$TESTDIR/lateral-ran" ] || fail "the lateral push ran"
# a certificate of our CA without a role (signed before roles existed) is refused too
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=pgfleet/CN=sched-legacy" \
	-keyout "$P/sched-legacy.key" -out "$TESTDIR/legacy.csr" 2>/dev/null || fail "legacy csr"
openssl x509 -req -in "$TESTDIR/legacy.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
	-out "$P/sched-legacy.crt" 2>/dev/null || fail "legacy certificate"
push_as "$P" sched-legacy "$O.legacy" --event 196 --script "$s"
grep -q "^final none" "$O.legacy" || fail "a certificate without a role got a reply"
wait_for 10 "agent logs the role-less certificate" grep -q 'refused: .*certificate "sched-legacy" has no pgfleet role, scheduler needed' "$AGENT_LOG"
n=20; good_client_served "certificates of the wrong role"
ok "an agent's certificate and a role-less one cannot push: refused in the handshake, the reason logged"
