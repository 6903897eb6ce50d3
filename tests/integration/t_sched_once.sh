#!/bin/sh
# Exactly one final status row per (event, task, attempt), each task run once, while
# task 1 of a 3-task event runs (it holds until the test creates its gate) and:
# 1. every worker is killed with kill -9: the event resumes at the database's
#    NEXT_TASK_SEQ, so task 0 is never pushed again;
# 2. PostgreSQL restarts (fast);
# 3. another scheduler takes the lease over: the session's writes are dropped and it
#    stops (task 2 is not pushed, the event not ended), until the lease comes back;
# 4. the lease runs out and this scheduler claims the event again: the new attempt
#    replaces the old session, and only the new attempt writes.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
agent_start agent-1
fx="$TESTDIR/effects"
: > "$fx"
gate="$TESTDIR/gate"
job_add once \
	"echo %EVENTID%-%TASKSEQ% >> $fx" \
	"echo %EVENTID%-%TASKSEQ% >> $fx; i=0; while [ ! -e $gate.%EVENTID% ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done" \
	"echo %EVENTID%-%TASKSEQ% >> $fx"
sched_start sched-a

# task 0's final row is written (with NEXT_TASK_SEQ 1, in the same transaction) and
# task 1 has started on the agent
task1_running() {
	[ "$(sql "select count(*) from pgfleet.status_log where event_id = $1 and task_seq = 0 and status_code not in (2500, 2501)")" = 1 ] &&
	[ "$(sql "select next_task_seq from pgfleet.event where event_id = $1")" = 1 ] &&
	grep -qx "$1-1" "$fx"
}

# check EVENT WHAT: the event ended done at seq 2, one final row per (task, attempt),
# task 0 pushed once, and each task's side effect written once
check() {
	e=$1
	assert_eq "$(sql "select state || ' ' || next_task_seq from pgfleet.event where event_id = $e")" "done 2" "$2: event state"
	assert_eq "$(sql "select count(*) from (select 1 from pgfleet.status_log where event_id = $e and status_code not in (2500, 2501)
		group by task_seq, attempt having count(*) > 1) d")" 0 "$2: (task, attempt) with more than one final row"
	assert_eq "$(sql "select string_agg(task_seq || ':' || status_code, ' ' order by task_seq) from pgfleet.status_log
		where event_id = $e and status_code not in (2500, 2501)")" "0:0 1:0 2:0" "$2: final rows"
	assert_eq "$(sql "select count(*) from pgfleet.task_final where event_id = $e")" 3 "$2: task_final rows"
	assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id = $e and task_seq = 0 and not replayed")" 3 \
		"$2: task 0 rows that are not replays (2500, 2501, 0)"
	assert_eq "$(grep -c "event $e task 0: SendFile" "$TESTDIR/agent-1.log")" 1 "$2: pushes of task 0"
	assert_eq "$(grep -c "^$e-" "$fx")" 3 "$2: task runs"
	assert_eq "$(grep "^$e-" "$fx" | sort -u | wc -l)" 3 "$2: distinct task runs"
}

# 1. kill -9 of every worker while task 1 runs
sid=$(schedule_add once '{"computers": ["agent-1"]}')
e1=$(sql "select event_id from pgfleet.event where schedule_id = $sid")
wait_for 30 "event $e1: task 0 recorded, task 1 running" task1_running "$e1"
workers=$(pgrep -P "$PID_sched_a")
[ -n "$workers" ] || fail "no workers"
for w in $workers; do kill -9 "$w"; done
two_workers() { [ "$(pgrep -P "$PID_sched_a" | wc -l)" -eq 2 ]; }
wait_for 20 "workers respawned" two_workers
touch "$gate.$e1"
wait_schedule "$sid" 60
grep -q "killed by signal 9" "$TESTDIR/sched-a.log" || fail "worker death not logged"
check "$e1" "worker killed"
ok "kill -9 of the workers: the event resumed at task 1, one final row per task, each task ran once"

# 2. PostgreSQL fast restart while task 1 runs
sid=$(schedule_add once '{"computers": ["agent-1"]}')
e2=$(sql "select event_id from pgfleet.event where schedule_id = $sid")
wait_for 30 "event $e2: task 0 recorded, task 1 running" task1_running "$e2"
pg_restart_fast || fail "postgresql restart"
touch "$gate.$e2"
wait_schedule "$sid" 60
check "$e2" "database restarted"
ok "postgresql fast restart: one final row per task, each task ran once"

# 3. the lease goes to another scheduler (as if ours had expired and sched-x claimed it)
sid=$(schedule_add once '{"computers": ["agent-1"]}')
e3=$(sql "select event_id from pgfleet.event where schedule_id = $sid")
wait_for 30 "event $e3: task 0 recorded, task 1 running" task1_running "$e3"
sql "update pgfleet.event set lease_owner = 'sched-x', attempt = attempt + 1,
	lease_until = now() + interval '1 hour' where event_id = $e3" >/dev/null
touch "$gate.$e3"
abandoned() { grep -q "event $e3: attempt 0 no longer holds the lease; abandoned before task 2" "$TESTDIR/sched-a.log"; }
wait_for 30 "event $e3: the session of attempt 0 abandoned" abandoned
grep -q "event $e3: attempt 0 no longer holds the lease: 1 status rows not written" "$TESTDIR/sched-a.log" ||
	fail "the dropped result of task 1 not logged"
grep -q "^$e3-2$" "$fx" && fail "task 2 ran without the lease"
assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id = $e3 and task_seq = 1 and status_code not in (2500, 2501)")" 0 \
	"final rows of task 1 written without the lease"
assert_eq "$(sql "select state || ' ' || lease_owner || ' ' || next_task_seq from pgfleet.event where event_id = $e3")" "running sched-x 1" \
	"event left to its new owner"
# sched-x "dies": its lease runs out and sched-a takes the event back as attempt 2
sql "update pgfleet.event set lease_until = now() - interval '1 ms' where event_id = $e3" >/dev/null
wait_schedule "$sid" 60
check "$e3" "lease taken over"
assert_eq "$(sql "select attempt from pgfleet.event where event_id = $e3")" 2 "attempt of event $e3"
assert_eq "$(sql "select string_agg(task_seq || ':' || attempt || ':' || replayed, ' ' order by task_seq) from pgfleet.status_log
	where event_id = $e3 and status_code not in (2500, 2501)")" "0:0:false 1:2:true 2:2:false" "final rows (task:attempt:replayed)"
ok "lease taken over: nothing written or pushed without it; attempt 2 replays task 1 from the journal"

# 4. the lease runs out and sched-a claims the event again, still in the same worker
sid=$(schedule_add once '{"computers": ["agent-1"]}')
e4=$(sql "select event_id from pgfleet.event where schedule_id = $sid")
wait_for 30 "event $e4: task 0 recorded, task 1 running" task1_running "$e4"
sql "update pgfleet.event set lease_until = now() - interval '1 ms' where event_id = $e4;
	select pgfleet.reclaim_leases(3);" >/dev/null
replaced() { grep -q "event $e4: attempt 1 replaces attempt 0" "$TESTDIR/sched-a.log"; }
wait_for 30 "event $e4: attempt 1 replacing attempt 0" replaced
touch "$gate.$e4"
wait_schedule "$sid" 60
check "$e4" "claimed again"
assert_eq "$(sql "select string_agg(task_seq || ':' || attempt || ':' || replayed, ' ' order by task_seq) from pgfleet.status_log
	where event_id = $e4 and status_code not in (2500, 2501)")" "0:0:false 1:1:true 2:1:false" "final rows (task:attempt:replayed)"
ok "claimed again: the new attempt replaces the old session and alone writes"
