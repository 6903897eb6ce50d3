#!/bin/sh
# A slow custom token of one event holds up no other session of the same worker:
# one worker, tokens.sql on; event A's script has a %#*"SQL"% token whose query
# waits on an advisory lock the test holds (a sleep that lasts exactly until the
# test says so, well within tokens.sql_timeout). While it waits, event B (two
# tasks, another agent, the same worker) is pushed, runs and ends with every
# status row written; only then is the lock let go, and A's token returns and A
# runs. Proven by order (B done while A's lookup still waits), never by elapsed
# time. The event rows of the events handed over together are read in one query.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "workers: 1" "tokens: {sql: true, sql_timeout: 5m}"
agent_start agent-1
agent_start agent-2
job_add slow 'echo "slow=%#*"SELECT pg_advisory_lock(4711 + 0 * $1)"%"'
job_add fast 'echo fast-0' 'echo fast-1'

# the test holds the lock in a psql session of its own, fed through a fifo
mkfifo "$TESTDIR/lock.in"
spawn sh -c "psql -X -q -v ON_ERROR_STOP=1 < '$TESTDIR/lock.in' > '$TESTDIR/lock.out' 2>&1"
exec 3> "$TESTDIR/lock.in"
echo "SELECT pg_advisory_lock(4711);" >&3
held() { [ "$(sql "select count(*) from pg_locks where locktype = 'advisory' and objid = 4711 and granted")" = 1 ]; }
wait_for 30 "the test holding the lock" held

sched_start sched-a
agent_connected agent-1
agent_connected agent-2
assert_eq "$(pgrep -P "$PID_sched_a" | wc -l)" 1 "workers"

a=$(schedule_add slow '{"computers": ["agent-1"]}')
token_waits() {
	[ "$(sql "select count(*) from pg_stat_activity where application_name = 'pgfleet-worker'
		and wait_event_type = 'Lock' and query like '%token_sql%'")" = 1 ]
}
wait_for 30 "event A's token waiting on the lock" token_waits

b=$(schedule_add fast '{"computers": ["agent-2"]}')
wait_schedule "$b" 60
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $b")" "done 0" "event B"
assert_eq "$(sql "select string_agg(task_seq || ':' || status_code, ' ' order by id) from pgfleet.status_log where schedule_id = $b")" \
	"0:2500 0:2501 0:0 1:2500 1:2501 1:0" "event B's status rows"
assert_eq "$(sql "select output from pgfleet.status_log where schedule_id = $b and task_seq = 1 and status_code = 0")" "fast-1" "event B's output"
# ... while A still waits for its token: nothing of A was sent or written
token_waits || fail "event A's token is not waiting any more"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $a")" 0 "event A's status rows while its token waits"
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $a")" running "event A"
ok "event B ran both tasks and all its status rows were written while event A's token query waited"

echo "SELECT pg_advisory_unlock(4711);" >&3
exec 3>&-
wait_schedule "$a" 60
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $a")" "done 0" "event A"
assert_eq "$(sql "select output from pgfleet.status_log where schedule_id = $a and status_code = 0")" "slow=" "event A's output"
assert_eq "$(sql "select count(*) from pg_locks where locktype = 'advisory' and objid = 4711")" 0 "advisory locks left held"
grep -q "loading 1 events in one query" "$TESTDIR/sched-a.log" || fail "no event load logged"
ok "once the lock was let go, event A's token returned and A ran; no advisory lock left held"

# a fan-out: the events claimed and handed over together are loaded in one query,
# the job's tasks once
job_add fan 'echo fan'
for i in 3 4 5; do agent_start "agent-$i"; done
for i in 3 4 5; do agent_connected "agent-$i"; done
c=$(schedule_add fan '{"computers": ["agent-1", "agent-2", "agent-3", "agent-4", "agent-5"]}')
wait_schedule "$c" 60
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $c and state = 'done'")" 5 "fan-out events done"
grep -q "loading 5 events in one query" "$TESTDIR/sched-a.log" || fail "the 5 events were not loaded in one query"
fan=$(sql "select job_id from pgfleet.job where name = 'fan'")
assert_eq "$(grep -c "loading the tasks of job $fan version 1\$" "$TESTDIR/sched-a.log")" 1 "loads of the fan-out job's tasks"
ok "a fan-out to 5 computers: their events read in one query, the job's tasks once"
