#!/bin/sh
# Enrolment with an auto-approve token: an agent with no certificate and no computer row
# makes its key, enrols over TLS with the token, is registered (the address it connects
# from, the token's group and label), connects and runs a job. Its private key never left
# the host: the key file is the agent's own, and the issued certificate is for it.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
enrol_conf sched-a
sched_start sched-a
tok=$(token_new --uses 2 --expires 1h --group enrolled --label site=lab)
case $tok in pgfe_*) ;; *) fail "token: $tok";; esac
assert_eq "$(sql "select count(*) from pgfleet.enrol_token where token_hash = encode(sha256('$tok'::bytea), 'hex')")" 1 "only the hash is stored"
assert_eq "$(sql "select count(*) from pgfleet.enrol_token where token_hash like '%$tok%'")" 0 "the token itself is not stored"
agent_enrol_start web-01 "$tok"
agent_connected web-01 sched-a
ok "an agent with no certificate enrolled with a token and connected"
assert_eq "$(sql "select host || ' ' || (labels->>'site') from pgfleet.computer where name = 'web-01'")" "127.0.0.1 lab" "registered"
assert_eq "$(sql "select count(*) from pgfleet.computer_group_member m join pgfleet.computer_group g using (group_id) join pgfleet.computer c using (computer_id) where g.name = 'enrolled' and c.name = 'web-01'")" 1 "token group"
assert_eq "$(stat -c %a "$TESTDIR/web-01/tls/agent.key")" 600 "key mode"
openssl x509 -in "$TESTDIR/web-01/tls/agent.crt" -noout -subject | grep -q "OU *= *agent, CN *= *web-01" || fail "subject: $(openssl x509 -in "$TESTDIR/web-01/tls/agent.crt" -noout -subject)"
openssl verify -CAfile "$PKI/ca.crt" "$TESTDIR/web-01/tls/agent.crt" >/dev/null || fail "chain"
kpub=$(openssl pkey -in "$TESTDIR/web-01/tls/agent.key" -pubout | sha256sum)
cpub=$(openssl x509 -in "$TESTDIR/web-01/tls/agent.crt" -noout -pubkey | sha256sum)
assert_eq "$cpub" "$kpub" "certificate for the host's own key"
serial=$(openssl x509 -in "$TESTDIR/web-01/tls/agent.crt" -noout -serial | sed 's/serial=//; s/^0*//')
assert_eq "$(sql "select count(*) from pgfleet.computer_cert where serial = '$serial' and name = 'web-01' and revoked_at is null")" 1 "certificate recorded"
assert_eq "$(sql "select uses from pgfleet.enrol_token")" 1 "one use spent"
ok "registered with the token's group and label; certificate of role agent for the host's own key, recorded"

job_add hello 'echo hello from %COMPNAME%'
sid=$(schedule_add hello '{"groups": ["enrolled"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "event"
ok "the enrolled computer runs a job targeted at the token's group"
