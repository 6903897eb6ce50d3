#!/bin/sh
# Slow, hung and impostor agents: a peer that accepts TCP but never answers
# the TLS handshake ends with AGENT_UNREACHABLE after the handshake timeout and
# its retries; an agent whose certificate names another computer is refused
# (TLS_REFUSED, -2); neither holds up the healthy computers of the schedule.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "timeouts: {connect: 1s, handshake: 1s, idle: 10s}"
agent_start agent-1
agent_start agent-2
"$BIN/pgfleet-test-silent" > "$TESTDIR/silent.port" &
PIDS="$PIDS $!"
wait_for 10 "the silent peer" test -s "$TESTDIR/silent.port"
sql "insert into pgfleet.computer (name, host, port) values ('hung', '127.0.0.1', $(cat "$TESTDIR/silent.port"))" >/dev/null
# "impostor" is reached at agent-2's port, whose certificate names agent-2
sql "insert into pgfleet.computer (name, host, port) select 'impostor', host, port from pgfleet.computer where name = 'agent-2'" >/dev/null
job_add hello 'echo hello %COMPNAME%'
sched_start sched-a
t0=$(date +%s)
sid=$(schedule_add hello '{"computers": ["agent-1", "agent-2", "hung", "impostor"]}')
healthy() { [ "$(sql "select count(*) from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid and c.name like 'agent-%' and e.state = 'done'")" = 2 ]; }
wait_for 20 "the healthy computers" healthy
wait_schedule "$sid" 60
state() { sql "select e.state || ' ' || e.status_code from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid and c.name = '$1'"; }
assert_eq "$(state hung)" "failed -1" "hung peer"
assert_eq "$(state impostor)" "failed -2" "impostor"
grep -q "TLS refused" "$TESTDIR/sched-a.log" || fail "no TLS refusal logged"
assert_eq "$(sql "select max(e.finished_at) filter (where c.name like 'agent-%') < min(e.finished_at) filter (where c.name = 'hung')
	from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid")" t "healthy computers finished before the hung one gave up"
ok "a hung peer times out (-1) and an impostor is refused (-2); the healthy computers finish meanwhile"
