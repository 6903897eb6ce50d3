#!/bin/sh
# Re-enrolment is idempotent: the same host (same key) enrolling again gets a new
# certificate for the same computer row, no duplicate, no extra use of its token; a
# different key asking for a name whose certificate is still valid waits for an operator.
# A computer registered by hand (pgfleet computer add) whose agent then enrols keeps its
# row and id; the enrolment sets its host, adds the token's labels and groups.
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

# a computer registered by hand beforehand: its agent enrolling updates that row
"$P" group add hand >/dev/null || fail "group add"
"$P" computer add db-09 --host db-09.corp.example --os Linux --label owner=ops --label role=old --group hand >/dev/null ||
	fail "computer add"
sql "update pgfleet.computer set dept = 'storage' where name = 'db-09'" >/dev/null
id=$(sql "select computer_id from pgfleet.computer where name = 'db-09'")
[ -n "$id" ] || fail "db-09 not registered"
assert_eq "$(sql "select count(*) from pgfleet.computer_cert where computer_id = $id")" 0 "certificates before"
tok=$(token_new --uses 1 --label role=db --group enrolled)
agent_enrol_start db-09 "$tok"
agent_connected db-09 sched-a
assert_eq "$(sql "select count(*) from pgfleet.computer where name = 'db-09'")" 1 "one row"
assert_eq "$(sql "select computer_id from pgfleet.computer where name = 'db-09'")" "$id" "the hand-registered id"
assert_eq "$(sql "select host || ' ' || (labels->>'owner') || ' ' || (labels->>'role') || ' ' || dept || ' ' || os from pgfleet.computer where name = 'db-09'")" \
	"127.0.0.1 ops db storage Linux" "host from the enrolment, the token's label over the old one, the rest kept"
assert_eq "$(sql "select string_agg(g.name, ' ' order by g.name) from pgfleet.computer_group_member m join pgfleet.computer_group g using (group_id) where m.computer_id = $id")" \
	"enrolled hand" "the token's group added to the hand-made one"
assert_eq "$(sql "select count(*) from pgfleet.computer_cert where computer_id = $id and name = 'db-09' and revoked_at is null")" 1 "certificate for the row"
assert_eq "$(sql "select computer_id || ' ' || state from pgfleet.enrolment where name = 'db-09'")" "$id issued" "enrolment"
serial=$(openssl x509 -in "$TESTDIR/db-09/tls/agent.crt" -noout -serial | sed 's/serial=//; s/^0*//')
assert_eq "$(sql "select computer_id from pgfleet.computer_cert where serial = '$serial'")" "$id" "the agent's certificate"
ok "a computer added by hand, then enrolled by its agent: the same row and id, host, labels and groups of the enrolment"
