#!/bin/sh
# PostgreSQL stopped while three agents are connected and their tasks run: the
# worker keeps the agents' connections alive (their keepalives are answered all
# through the outage, no agent reconnects, the worker is the same process), takes
# the tasks' results while the database is away, reconnects with back-off once
# it is back, writes everything, and goes on to the next task. Exactly once: one
# row per status and task, each task ran once, attempt 0, no event handed back.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
# a lease far longer than the outage: the parent cannot renew it meanwhile
mport=$(free_port)
M=http://127.0.0.1:$mport
sched_conf sched-a "workers: 1" "lease: 10m" "metrics: {listen: 127.0.0.1:$mport}"
fx=$TESTDIR/effects
gate=$TESTDIR/gate
: > "$fx"
# keepalives every 300 ms, a connection given up after 1 s of silence; every wire
# message in the agents' logs
for i in 1 2 3; do
	LOGLEVEL=7 agent_start "agent-$i" "keepalive: {interval: 300ms, timeout: 1s}"
done
job_add gated \
	"echo %EVENTID%-%TASKSEQ% >> $fx; i=0; while [ ! -e $gate ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done" \
	"echo %EVENTID%-%TASKSEQ% >> $fx"
sched_start sched-a
for i in 1 2 3; do agent_connected "agent-$i"; done
worker=$(pgrep -P "$PID_sched_a")
sid=$(schedule_add gated '{"computers": ["agent-1", "agent-2", "agent-3"]}')
started() { [ "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and task_seq = 0 and status_code = 2501")" = 3 ]; }
wait_for 60 "task 0 started on the three agents" started
connects() { grep -c 'agent: connected to' "$TESTDIR/$1.log" || true; }
keepalives() { grep -c '^Reply=Keepalive' "$TESTDIR/$1.log" || true; }
for i in 1 2 3; do eval "c$i=$(connects "agent-$i")"; done

pg_stop_fast || fail "stop PostgreSQL"
wait_for 30 "the worker noticing the database is away" grep -q 'worker 0: database: connection lost' "$TESTDIR/sched-a.log"
# the tasks end while the database is away: their results reach the worker
touch "$gate"
got_results() { [ "$(grep -c 'task 0: ended with code 0' "$TESTDIR/sched-a.log")" -ge 3 ]; }
wait_for 60 "the three results taken by the worker" got_results
# and the connections outlive several keepalive timeouts
for i in 1 2 3; do eval "k$i=$(keepalives "agent-$i")"; done
more_keepalives() { [ "$(keepalives "$1")" -ge "$(( $2 + 5 ))" ]; }
wait_for 60 "agent-1's keepalives answered" more_keepalives agent-1 "$k1"
wait_for 60 "agent-2's keepalives answered" more_keepalives agent-2 "$k2"
wait_for 60 "agent-3's keepalives answered" more_keepalives agent-3 "$k3"
grep -q 'attempt [0-9]* failed' "$TESTDIR/sched-a.log" || fail "no reconnect attempt while the database was away"
# the parent's loop goes on too: /healthz answers, and says the database is away (a
# reconnect that failed makes the next statements fail at once for a second, not wait)
healthz() { [ "$(curl -s -o "$TESTDIR/h" -w '%{http_code}' --max-time 10 "$M/healthz")" = "$1" ]; }
wait_for 60 "/healthz answering 503 while the database is away" healthz 503
grep -q 'database' "$TESTDIR/h" || fail "/healthz 503 without the reason: $(cat "$TESTDIR/h")"
ok "database away: the worker took the three results and answered the agents' keepalives"

pg_start || fail "start PostgreSQL"
wait_for 60 "/healthz answering 200 once the database is back" healthz 200
wait_schedule "$sid" 90
grep -q 'worker 0: database: connection re-opened' "$TESTDIR/sched-a.log" || fail "no reconnect logged"
assert_eq "$(pgrep -P "$PID_sched_a")" "$worker" "the worker (same process)"
for i in 1 2 3; do
	eval "before=\$c$i"
	assert_eq "$(connects "agent-$i")" "$before" "agent-$i's connections"
	grep -q 'connection to .* lost' "$TESTDIR/agent-$i.log" && fail "agent-$i lost its connection"
done
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done' and status_code = 0 and attempt = 0")" 3 "events done in attempt 0"
assert_eq "$(sql "select count(*) from (select event_id from pgfleet.status_log where schedule_id = $sid
	group by event_id having string_agg(task_seq || ':' || status_code, ' ' order by task_seq, id) = '0:2500 0:2501 0:0 1:2500 1:2501 1:0') x")" 3 \
	"events with exactly one row per status and task"
assert_eq "$(wc -l < "$fx")" 6 "task runs"
assert_eq "$(sort -u "$fx" | wc -l)" 6 "distinct task runs"
grep -q 'handed back' "$TESTDIR/sched-a.log" && fail "an event was handed back"
ok "after the restart: everything written once, the next tasks ran, no agent reconnected, same worker"
