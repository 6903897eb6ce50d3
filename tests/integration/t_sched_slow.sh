#!/bin/sh
# Hung and impostor agents: an agent that connects and then never answers a
# task ends that task with IDLE_TIMEOUT (-15) after timeouts.idle; a
# connection whose certificate names no registered computer, one whose Hello
# names another computer than its certificate, and one that presents a
# scheduler's certificate are refused (and logged); none of them holds up the
# healthy computers of the schedule.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "timeouts: {idle: 3s}"
agent_start agent-1
agent_start agent-2
"$P" pki issue hung --dir "$PKI" --localhost >/dev/null || fail "pki issue hung"
"$P" pki issue stranger --dir "$PKI" --localhost >/dev/null || fail "pki issue stranger"
sql "insert into pgfleet.computer (name, host) values ('hung', '127.0.0.1')" >/dev/null
job_add hello 'echo hello %NAME%'
sched_start sched-a
port=$(cat "$TESTDIR/sched-a.agentport")
D="$BIN/pgfleet-test-wiredrip"
spawn "$D" agent --ca "$PKI/ca.crt" --cert "$PKI/hung.crt" --key "$PKI/hung.key" --port "$port" \
	--name hung --silent --reconnect > "$TESTDIR/hung.out"
agent_connected hung sched-a
# a certificate the CA signed for a computer nobody registered
spawn "$D" agent --ca "$PKI/ca.crt" --cert "$PKI/stranger.crt" --key "$PKI/stranger.key" --port "$port" \
	--name stranger --silent > "$TESTDIR/stranger.out"
wait_for 20 "the stranger refused" grep -q 'agents: connection from 127.0.0.1 refused: no computer named "stranger" is registered' "$TESTDIR/sched-a.log"
# agent-2's certificate, saying it is agent-1
spawn "$D" agent --ca "$PKI/ca.crt" --cert "$PKI/agent-2.crt" --key "$PKI/agent-2.key" --port "$port" \
	--name agent-1 --silent > "$TESTDIR/impostor.out"
wait_for 20 "the impostor refused" grep -q 'Computer "agent-1" does not match the certificate name "agent-2"' "$TESTDIR/sched-a.log"
# a scheduler's certificate posing as a computer
spawn "$D" agent --ca "$PKI/ca.crt" --cert "$PKI/sched-b.crt" --key "$PKI/sched-b.key" --port "$port" \
	--name sched-b --silent > "$TESTDIR/sched.out"
wait_for 20 "the scheduler's certificate refused" grep -q 'certificate "sched-b" has role scheduler, not agent' "$TESTDIR/sched-a.log"
assert_eq "$(sql "select count(*) from pgfleet.agent_presence p join pgfleet.computer c using (computer_id) where c.name in ('stranger', 'sched-b')")" 0 "presence of refused connections"
ok "unknown computers, a Hello naming another computer and a scheduler's certificate are refused and logged"

agent_connected agent-1 sched-a
agent_connected agent-2 sched-a
sid=$(schedule_add hello '{"computers": ["agent-1", "agent-2", "hung"]}')
healthy() { [ "$(sql "select count(*) from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid and c.name like 'agent-%' and e.state = 'done'")" = 2 ]; }
wait_for 20 "the healthy computers" healthy
wait_schedule "$sid" 60
state() { sql "select e.state || ' ' || e.status_code from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid and c.name = '$1'"; }
assert_eq "$(state hung)" "failed -15" "hung agent"
assert_eq "$(state agent-1)" "done 0" "agent-1 (its name was claimed by an impostor)"
assert_eq "$(sql "select max(e.finished_at) filter (where c.name like 'agent-%') < min(e.finished_at) filter (where c.name = 'hung')
	from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid")" t "healthy computers finished before the hung one gave up"
ok "a hung agent's task times out (-15); the healthy computers finish meanwhile"
