#!/bin/sh
# Revocation: pgfleet computer revoke NAME puts its certificates on the deny-list; its open
# connection is closed, its pending events fail with -26 (CERT_REVOKED), a reconnection is
# refused at Hello, the next push (a new schedule) is refused with -26, and a renewal over
# the revoked certificate is refused by the enrolment service.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
enrol_conf sched-a
sched_start sched-a
tok=$(token_new --uses 2)
agent_enrol_start bad-01 "$tok"
agent_connected bad-01 sched-a
job_add hello 'echo hello'
sid=$(schedule_add hello '{"computers": ["bad-01"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "before"
ok "enrolled and running jobs"

# an event due later: pending when the computer is revoked
pend=$(echo "insert into pgfleet.schedule (job_id, job_version, targets, due_at) select job_id, version, '{\"computers\": [\"bad-01\"]}', now() + interval '1 hour' from pgfleet.job where name = 'hello' returning schedule_id" | psql -X -qAt -v ON_ERROR_STOP=1)
sql "select pgfleet.expand_schedule($pend)" >/dev/null
"$P" computer revoke bad-01 | grep -q "1 pending event(s) failed with -26" || fail "revoke"
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $pend")" "failed -26" "pending event"
assert_eq "$(sql "select message from pgfleet.status_log where schedule_id = $pend")" "refused: the computer's certificate is revoked" "status row"
dropped() { grep -q "agents: computer [0-9]* revoked, its connection closed" "$TESTDIR/sched-a.log"; }
wait_for 20 "the connection closed" dropped
refused() { grep -q "agents: computer bad-01 from 127.0.0.1 refused: certificate [0-9A-F]* is revoked" "$TESTDIR/sched-a.log"; }
wait_for 20 "the reconnection refused at Hello" refused
# the scheduler logs its refusal before the agent has read it
told() { grep -q "refused us: certificate [0-9A-F]* is revoked" "$TESTDIR/bad-01.log"; }
wait_for 10 "the agent told its certificate is revoked" told
is_connected bad-01 && fail "still connected"
ok "revoked: its connection closed, its pending event failed with -26, reconnection refused at Hello"

sid=$(schedule_add hello '{"computers": ["bad-01"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "failed -26" "next push"
"$P" computer list | grep "^ *[0-9]* *| bad-01 " | grep -q revoked || "$P" computer list | grep bad-01 | grep -q revoked || fail "computer list"
ok "the next push to the revoked computer is refused with -26"

set +e
"$BIN/pgfleet-agent" enroll --server "127.0.0.1:$(cat "$TESTDIR/sched-a.enrolport")" --ca "$PKI/ca.crt" --name bad-01 \
	--cert "$TESTDIR/bad-01/tls/agent.crt" --key "$TESTDIR/bad-01/tls/agent.key" >/dev/null 2>"$TESTDIR/renew.err"
rc=$?
set -e
assert_eq "$rc" 1 "renewal exit code"
grep -q "refused (code -26): certificate [0-9A-F]* is revoked" "$TESTDIR/renew.err" || fail "renewal: $(cat "$TESTDIR/renew.err")"
ok "a renewal over the revoked certificate is refused by the enrolment service (-26)"
