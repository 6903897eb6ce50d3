#!/bin/sh
# Renewal: certificates of 60 s (enrol.lifetime), renewed by the agent over its current
# certificate (no token) once enroll.renew_before (capped at two thirds of the lifetime)
# is reached; the new certificate is recorded as a renewal, used for the next connection,
# and the agent keeps running jobs.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
enrol_conf sched-a 60s
sched_start sched-a
tok=$(token_new --uses 1)
agent_enrol_start app-01 "$tok" "enroll: {server: 127.0.0.1:$(cat "$TESTDIR/sched-a.enrolport"), token: \"$tok\", poll: 300ms, renew_before: 50s}"
agent_connected app-01 sched-a
s1=$(sql "select serial from pgfleet.computer_cert where name = 'app-01'")
renewed() { [ "$(sql "select count(*) from pgfleet.computer_cert where name = 'app-01' and renewal")" -ge 1 ]; }
wait_for 60 "a renewal" renewed
s2=$(sql "select serial from pgfleet.computer_cert where name = 'app-01' and renewal order by issued_at limit 1")
[ "$s1" != "$s2" ] || fail "renewed with the same serial"
on_disk() { [ "$(openssl x509 -in "$TESTDIR/app-01/tls/agent.crt" -noout -serial | sed 's/serial=//; s/^0*//')" != "$s1" ]; }
wait_for 20 "the renewed certificate on disk" on_disk
in_use() { grep -q "renew: certificate .* in use from the next connection" "$TESTDIR/app-01.log"; }
wait_for 20 "the agent taking it into use" in_use
assert_eq "$(sql "select count(*) from pgfleet.enrol_log where name = 'app-01' and message like 'renewal:%' and status_code = 0")" \
	"$(sql "select count(*) from pgfleet.computer_cert where name = 'app-01' and renewal")" "renewals logged"
assert_eq "$(sql "select uses from pgfleet.enrol_token")" 1 "renewal needs no token"
ok "the agent renewed its certificate over the current one before expiry, no token spent"

# the next connection presents the renewed certificate
kill "$PID_app_01"
wait_for 20 "agent stopped" gone "$PID_app_01"
sql "delete from pgfleet.agent_presence" >/dev/null
spawn "$BIN/pgfleet-agent" -d -c "$TESTDIR/app-01.yaml" 2>> "$TESTDIR/app-01.log"
PID_app_01=$LASTPID
agent_connected app-01 sched-a
job_add hello 'echo renewed'
sid=$(schedule_add hello '{"computers": ["app-01"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "event"
ok "restarted with the renewed certificate, it connects and runs a job"
