#!/bin/sh
# Re-enrolment is idempotent: the same host (same key) enrolling again gets a new
# certificate for the same computer row, no duplicate, no extra use of its token; a
# different key asking for a name whose certificate is still valid waits for an operator.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
enrol_conf sched-a
sched_start sched-a
ep=$(cat "$TESTDIR/sched-a.enrolport")
tok=$(token_new --uses 1 --label role=web)
mkdir -p "$TESTDIR/h"
enroll() {
	"$BIN/pgfleet-agent" enroll --server "127.0.0.1:$ep" --token "$tok" --ca "$PKI/ca.crt" --name web-07 \
		--cert "$TESTDIR/h/web-07.crt" --key "$TESTDIR/h/$1" >>"$TESTDIR/h/out" 2>&1
}
wait_for 20 "the enrolment service" sh -c "grep -q 'enrol: service ready' '$TESTDIR/sched-a.log'"
enroll web-07.key || fail "first enrolment: $(cat "$TESTDIR/h/out")"
id1=$(sql "select computer_id from pgfleet.computer where name = 'web-07'")
s1=$(openssl x509 -in "$TESTDIR/h/web-07.crt" -noout -serial)
enroll web-07.key || fail "enrolling again: $(cat "$TESTDIR/h/out")"
s2=$(openssl x509 -in "$TESTDIR/h/web-07.crt" -noout -serial)
[ "$s1" != "$s2" ] || fail "the same certificate twice"
assert_eq "$(sql "select count(*) from pgfleet.computer where name = 'web-07'")" 1 "one row"
assert_eq "$(sql "select computer_id from pgfleet.computer where name = 'web-07'")" "$id1" "same id"
assert_eq "$(sql "select count(*) from pgfleet.enrolment where name = 'web-07'")" 1 "one enrolment"
assert_eq "$(sql "select count(*) from pgfleet.computer_cert where name = 'web-07'")" 2 "two certificates"
assert_eq "$(sql "select uses from pgfleet.enrol_token")" 1 "no second use of a single-use token"
ok "the same host enrolling twice: one computer row, same id, a new certificate, the token used once"

# another key for the same name while the first certificate is valid: an operator decides
tok=$(token_new --uses 1)
set +e
enroll other.key
rc=$?
set -e
assert_eq "$rc" 3 "another key: pending"
grep -q "another key holds a valid certificate of web-07" "$TESTDIR/h/out" || fail "reason: $(cat "$TESTDIR/h/out")"
assert_eq "$(sql "select count(*) from pgfleet.computer where name = 'web-07'")" 1 "still one row"
ok "a different key for an enrolled name waits for pgfleet computer accept"
"$P" computer accept web-07 >/dev/null || fail "accept"
enroll other.key || fail "after accept: $(cat "$TESTDIR/h/out")"
assert_eq "$(sql "select count(*) from pgfleet.computer_cert where name = 'web-07' and revoked_at is not null")" 2 "the old key's certificates revoked"
assert_eq "$(sql "select computer_id from pgfleet.computer where name = 'web-07'")" "$id1" "same id after the new key"
ok "accepted: the new key's certificate issued for the same row, the old key's certificates revoked"
