#!/bin/sh
# Enrolment refused, and logged (scheduler log and pgfleet.enrol_log, code -27): an unknown
# token, a used-up one, an expired one, a revoked one. Nothing is registered or signed.
# The agent refuses an enrolment service whose certificate is of another CA, or of the
# right CA without the scheduler role: its log says why, it writes no certificate, the
# service never sees the request (no enrol_log row, the token unspent, no computer row).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
enrol_conf sched-a
sched_start sched-a
ep=$(cat "$TESTDIR/sched-a.enrolport")
mkdir -p "$TESTDIR/e"
# try NAME TOKEN: pgfleet-agent enroll's exit code; its stderr in $TESTDIR/e/NAME.err
try() {
	set +e
	"$BIN/pgfleet-agent" enroll --server "127.0.0.1:$ep" --token "$2" --ca "$PKI/ca.crt" --name "$1" \
		--cert "$TESTDIR/e/$1.crt" --key "$TESTDIR/e/$1.key" >"$TESTDIR/e/$1.out" 2>"$TESTDIR/e/$1.err"
	echo $?
	set -e
}
wait_for 20 "the enrolment service" sh -c "grep -q 'enrol: service ready' '$TESTDIR/sched-a.log'"

assert_eq "$(try h-unknown pgfe_000000000000000000000000000000000000000000000000)" 1 "unknown token"
grep -q "refused (code -27): unknown token" "$TESTDIR/e/h-unknown.err" || fail "unknown: $(cat "$TESTDIR/e/h-unknown.err")"

once=$(token_new --uses 1)
assert_eq "$(try h-first "$once")" 0 "first use"
assert_eq "$(try h-second "$once")" 1 "second use"
grep -q "refused (code -27): token [0-9]* is used up (1 of 1 uses)" "$TESTDIR/e/h-second.err" || fail "used: $(cat "$TESTDIR/e/h-second.err")"

old=$(token_new --uses 5 --expires 1h)
sql "update pgfleet.enrol_token set expires_at = now() - interval '1 minute' where token_hash = encode(sha256('$old'::bytea), 'hex')" >/dev/null
assert_eq "$(try h-late "$old")" 1 "expired token"
grep -q "refused (code -27): token [0-9]* expired at" "$TESTDIR/e/h-late.err" || fail "expired: $(cat "$TESTDIR/e/h-late.err")"

gone=$(token_new --uses 5)
id=$(sql "select token_id from pgfleet.enrol_token where token_hash = encode(sha256('$gone'::bytea), 'hex')")
"$P" token revoke "$id" >/dev/null || fail "token revoke"
assert_eq "$(try h-revoked "$gone")" 1 "revoked token"
grep -q "refused (code -27): token $id is revoked" "$TESTDIR/e/h-revoked.err" || fail "revoked: $(cat "$TESTDIR/e/h-revoked.err")"
"$P" token list | grep -q "revoked" || fail "token list"

for h in h-unknown h-second h-late h-revoked; do
	[ ! -e "$TESTDIR/e/$h.crt" ] || fail "$h: certificate written"
	assert_eq "$(sql "select count(*) from pgfleet.computer where name = '$h'")" 0 "$h registered"
	assert_eq "$(sql "select count(*) from pgfleet.enrol_log where name = '$h' and status_code = -27")" 1 "$h in enrol_log"
	grep -q "enrol: computer $h from 127.0.0.1 refused" "$TESTDIR/sched-a.log" || fail "$h not in the scheduler's log"
done
grep -q "$once\|$old\|$gone" "$TESTDIR/sched-a.log" && fail "a token in the log"
assert_eq "$(sql "select count(*) from pgfleet.computer_cert")" 1 "one certificate signed (h-first)"
ok "unknown, used-up, expired and revoked tokens refused with -27, logged, nothing registered or signed"

# The agent refuses an enrolment service it cannot trust: sched-x presents a scheduler
# certificate of another CA, sched-y an agent certificate of the right CA. Both would sign
# with the right CA key and the token is good: the agent's check is all that stands between.
"$P" pki init --dir "$TESTDIR/other" >/dev/null || fail "pki init other"
"$P" pki issue sched-x --role scheduler --dir "$TESTDIR/other" --localhost >/dev/null || fail "pki issue sched-x"
"$P" pki issue sched-y --dir "$PKI" --localhost >/dev/null || fail "pki issue sched-y (agent role)"
enrol_conf sched-x
sed -i "s|^tls: .*|tls: {ca: $PKI/ca.crt, cert: $TESTDIR/other/sched-x.crt, key: $TESTDIR/other/sched-x.key}|" "$TESTDIR/sched-x.yaml"
enrol_conf sched-y
sed -i "s|^tls: .*|tls: {ca: $PKI/ca.crt, cert: $PKI/sched-y.crt, key: $PKI/sched-y.key}|" "$TESTDIR/sched-y.yaml"
sched_start sched-x
sched_start sched-y
for s in sched-x sched-y; do
	wait_for 20 "the enrolment service of $s" sh -c "grep -q 'enrol: service ready' '$TESTDIR/$s.log'"
done
good=$(token_new --uses 5)
computers=$(sql "select string_agg(computer_id || ' ' || name || ' ' || host, ',' order by computer_id) from pgfleet.computer")
ENROL_SCHED=sched-x agent_enrol_start h-otherca "$good"
ENROL_SCHED=sched-y agent_enrol_start h-agentrole "$good"
told() { grep -q "enroll: not yet: connect 127.0.0.1:$(cat "$TESTDIR/$1.enrolport"): .*$2" "$TESTDIR/$3.log"; }
wait_for 30 "h-otherca refusing sched-x's certificate" told sched-x \
	"certificate verify failed: unable to get local issuer certificate" h-otherca
wait_for 30 "h-agentrole refusing sched-y's certificate" told sched-y \
	"certificate \"sched-y\" has role agent, not scheduler" h-agentrole
for h in h-otherca h-agentrole; do
	[ ! -e "$TESTDIR/$h/tls/agent.crt" ] || fail "$h: a certificate written"
	gone "$(eval echo "\$PID_$(echo "$h" | tr - _)")" && fail "$h gave up (it asks again every enroll.poll)"
	assert_eq "$(sql "select count(*) from pgfleet.enrol_log where name = '$h'")" 0 "$h reached the service"
	assert_eq "$(sql "select count(*) from pgfleet.enrolment where name = '$h'")" 0 "$h enrolment"
done
assert_eq "$(sql "select string_agg(computer_id || ' ' || name || ' ' || host, ',' order by computer_id) from pgfleet.computer")" \
	"$computers" "the computer table"
assert_eq "$(sql "select uses from pgfleet.enrol_token where token_hash = encode(sha256('$good'::bytea), 'hex')")" 0 "uses of the token"
assert_eq "$(sql "select count(*) from pgfleet.computer_cert")" 1 "certificates signed"
ok "the agent refuses an enrolment service with another CA's certificate or an agent's: no certificate, no request, no computer"
kill "$PID_h_otherca" "$PID_h_agentrole"
wait_for 20 "h-otherca stopped" gone "$PID_h_otherca"
wait_for 20 "h-agentrole stopped" gone "$PID_h_agentrole"
ep=$(cat "$TESTDIR/sched-a.enrolport") # enrol_conf set it to sched-y's
assert_eq "$(try h-otherca "$good")" 0 "the same name and token at sched-a"
ok "the same name and token enrol at the scheduler with the right certificate"
