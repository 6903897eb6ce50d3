#!/bin/sh
# A token with --approve manual: the agent's enrolment waits (pgfleet computer pending lists
# it; the agent asks again every enroll.poll, with no certificate and no computer row), until
# pgfleet computer accept NAME: then it gets its certificate and connects. A rejected one
# is refused for good (the agent stops, code -29). pgfleet-agent enroll exits 3 while pending.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
enrol_conf sched-a
sched_start sched-a
tok=$(token_new --uses 5 --approve manual --group lab)
agent_enrol_start db-01 "$tok"
listed() { "$P" computer pending | grep -q "^db-01 "; }
wait_for 30 "db-01 pending" listed
[ ! -e "$TESTDIR/db-01/tls/agent.crt" ] || fail "a certificate before acceptance"
assert_eq "$(sql "select count(*) from pgfleet.computer where name = 'db-01'")" 0 "no computer row while pending"
asked() { [ "$(sql "select count(*) from pgfleet.enrol_log where name = 'db-01' and status_code = -28")" -ge 2 ]; }
wait_for 30 "db-01 asking again" asked
assert_eq "$(sql "select uses from pgfleet.enrol_token")" 1 "asking again spends no use"
ok "a manual token's enrolment waits: listed by computer pending, no certificate, no row, one use"

"$P" computer accept db-01 | grep -q "accepted" || fail "accept"
agent_connected db-01 sched-a
assert_eq "$(sql "select count(*) from pgfleet.computer_group_member m join pgfleet.computer_group g using (group_id) join pgfleet.computer c using (computer_id) where g.name = 'lab' and c.name = 'db-01'")" 1 "group of the token"
"$P" computer pending | grep -q "^db-01 " && fail "still pending"
ok "pgfleet computer accept: the agent got its certificate at its next try and connected"

# the command-line enrolment: pending is exit 3, and a rejection is final
mkdir -p "$TESTDIR/cli"
set +e
"$BIN/pgfleet-agent" enroll --server "127.0.0.1:$(cat "$TESTDIR/sched-a.enrolport")" --token "$tok" \
	--ca "$PKI/ca.crt" --name db-02 --cert "$TESTDIR/cli/db-02.crt" --key "$TESTDIR/cli/db-02.key" \
	>"$TESTDIR/cli/out" 2>"$TESTDIR/cli/err"
rc=$?
set -e
assert_eq "$rc" 3 "enroll exit code while pending"
grep -q "pending (code -28)" "$TESTDIR/cli/err" || fail "pending message: $(cat "$TESTDIR/cli/err")"
"$P" computer reject db-02 | grep -q "1 pending" || fail "reject"
set +e
"$BIN/pgfleet-agent" enroll --server "127.0.0.1:$(cat "$TESTDIR/sched-a.enrolport")" --token "$tok" \
	--ca "$PKI/ca.crt" --name db-02 --cert "$TESTDIR/cli/db-02.crt" --key "$TESTDIR/cli/db-02.key" \
	>"$TESTDIR/cli/out" 2>"$TESTDIR/cli/err"
rc=$?
set -e
assert_eq "$rc" 1 "enroll exit code once rejected"
grep -q "refused (code -29)" "$TESTDIR/cli/err" || fail "rejected message: $(cat "$TESTDIR/cli/err")"
[ ! -e "$TESTDIR/cli/db-02.crt" ] || fail "a certificate after rejection"
assert_eq "$(stat -c %a "$TESTDIR/cli/db-02.key")" 600 "the key made on the host"
ok "pgfleet-agent enroll: exit 3 while pending (-28), exit 1 once rejected (-29), no certificate"
