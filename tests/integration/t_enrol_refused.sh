#!/bin/sh
# Enrolment refused, and logged (scheduler log and pgfleet.enrol_log, code -27): an unknown
# token, a used-up one, an expired one, a revoked one. Nothing is registered or signed.
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
